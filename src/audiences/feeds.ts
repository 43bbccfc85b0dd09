import { and, eq } from "drizzle-orm";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import { audienceFeedRuns, audienceFeeds } from "../db/schema";
import { uuidv7 } from "../lib/ids";
import { type FeedPiece, firstPiece, runPiece } from "./feed-pieces";

/** Where a project drops its audience files, in the EXPORTS bucket (SPEC §9). */
export const INBOX_PREFIX = "inbox/";
/** Files one sweep takes on; the next sweep (5 minutes later) takes the rest. */
const FILES_PER_SWEEP = 50;

const FILE_KEY = /^inbox\/([0-9a-f-]{36})\/audiences\/([A-Za-z0-9_-]{1,100})\.csv$/;

export type Feed = typeof audienceFeeds.$inferSelect;

/** The project and audience a dropped file is for; null for a key outside the inbox layout. */
export function feedFileOf(key: string): { projectId: string; name: string } | null {
  const m = FILE_KEY.exec(key);
  return m?.[1] && m[2] ? { projectId: m[1], name: m[2] } : null;
}

/** Bytes of pieces read in the invocation that found the file; the rest go through the queue. */
export const INLINE_BYTES = 1024 * 1024;
/** A run still `running` this long after it started lost its chain of pieces: the file is read again. */
const STALLED_MS = 3600_000;

/** Where a run's pieces are read: `inline` bytes here, the rest one piece per queue message. */
export interface IngestOptions {
  pieceBytes?: number;
  inlineBytes?: number;
}

/**
 * Ingests one dropped file: read with its feed's settings in pieces (src/audiences/feed-pieces.ts),
 * applied, then deleted. A small file is done before this returns (`done`/`failed`); a larger
 * one goes on through the inbox queue (`queued`). The run is recorded; a malformed file ends
 * `failed` with the reason, its audience unchanged, and is deleted too. A file with no feed
 * configured is left for when one is. The project comes from the file's key only, so a file
 * never reaches another project's audiences.
 */
export async function ingestInboxFile(
  env: Env,
  key: string,
  options: IngestOptions = {},
): Promise<"done" | "failed" | "queued" | "no_feed" | "skipped"> {
  const target = feedFileOf(key);
  if (!target) return "skipped";
  const db = drizzle(env.DB);
  const feed = await db
    .select()
    .from(audienceFeeds)
    .where(and(eq(audienceFeeds.projectId, target.projectId), eq(audienceFeeds.name, target.name)))
    .get();
  if (!feed) return "no_feed";
  const object = await env.EXPORTS.head(key);
  if (!object) return "skipped";
  if (await runUnderWay(db, feed, key)) return "skipped";
  const runId = uuidv7();
  await db.insert(audienceFeedRuns).values({
    runId,
    projectId: feed.projectId,
    name: feed.name,
    file: key,
    status: "running",
    startedAt: new Date().toISOString(),
  });
  const { updatedAt: _, ...settings } = feed;
  const piece = firstPiece({ runId, key, etag: object.etag, size: object.size }, settings, options.pieceBytes);
  return continuePieces(env, piece, options.inlineBytes ?? INLINE_BYTES);
}

/**
 * Whether another run reads this file now (the notification and the sweep may both find it).
 * A run that has stalled for an hour is ended, so the file is read again.
 */
async function runUnderWay(db: DrizzleD1Database, feed: Feed, key: string): Promise<boolean> {
  const running = await db
    .select({ runId: audienceFeedRuns.runId, startedAt: audienceFeedRuns.startedAt })
    .from(audienceFeedRuns)
    .where(
      and(
        eq(audienceFeedRuns.projectId, feed.projectId),
        eq(audienceFeedRuns.name, feed.name),
        eq(audienceFeedRuns.file, key),
        eq(audienceFeedRuns.status, "running"),
      ),
    );
  const stalled = running.filter((r) => Date.parse(r.startedAt) < Date.now() - STALLED_MS);
  for (const r of stalled) {
    await db
      .update(audienceFeedRuns)
      .set({ status: "failed", reason: "Stalled; the file is read again." })
      .where(and(eq(audienceFeedRuns.runId, r.runId), eq(audienceFeedRuns.status, "running")));
  }
  return running.length > stalled.length;
}

/**
 * Runs pieces here while they have read fewer than `inlineBytes`, then queues the next one.
 * Ends the run's file: deleted once applied or malformed (not when it was replaced meanwhile).
 */
async function continuePieces(
  env: Env,
  first: FeedPiece,
  inlineBytes: number,
): Promise<"done" | "failed" | "queued" | "skipped"> {
  let piece = first;
  let spent = 0;
  for (;;) {
    const outcome = await runPiece(env, piece);
    if ("superseded" in outcome) return "skipped";
    if ("done" in outcome || "failed" in outcome) {
      if (!("failed" in outcome) || outcome.deleteFile) await deleteIfUnchanged(env, piece.key, piece.etag);
      return "done" in outcome ? "done" : "failed";
    }
    const next = outcome.next;
    spent += (next.phase === piece.phase ? next.offset : piece.size) - piece.offset;
    if (spent >= inlineBytes) {
      await env.AUDIENCE_INBOX.send(next);
      return "queued";
    }
    piece = next;
  }
}

/** Deletes the file read, unless a new one was dropped under its name meanwhile. */
async function deleteIfUnchanged(env: Env, key: string, etag: string): Promise<void> {
  const now = await env.EXPORTS.head(key);
  if (now?.etag === etag) await env.EXPORTS.delete(key);
}

/** Catches files the notifications missed: every file under the inbox, a bounded number per sweep. */
export async function sweepAudienceInbox(
  env: Env,
): Promise<{ files: number; done: number; failed: number; queued: number }> {
  const result = { files: 0, done: 0, failed: 0, queued: 0 };
  let cursor: string | undefined;
  do {
    const page = await env.EXPORTS.list({ prefix: INBOX_PREFIX, ...(cursor ? { cursor } : {}) });
    for (const object of page.objects) {
      if (result.files >= FILES_PER_SWEEP) return result;
      const outcome = await ingestInboxFile(env, object.key);
      if (outcome === "done" || outcome === "failed" || outcome === "queued") {
        result.files++;
        result[outcome]++;
      }
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return result;
}

/** What an R2 event notification carries (the fields read here). */
interface R2Notification {
  action?: string;
  object?: { key?: string };
}

/**
 * The inbox queue's consumer: the bucket's event notifications on `inbox/` (one file each) and
 * the pieces of files being read (one piece each).
 */
export async function consumeAudienceInbox(batch: MessageBatch<R2Notification | FeedPiece>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    const body = message.body;
    const key = body && "key" in body ? body.key : body?.object?.key;
    try {
      if (body && "type" in body && body.type === "feed_piece") await continuePieces(env, body, 0);
      else if (key && "action" in body && body.action !== "DeleteObject") await ingestInboxFile(env, key);
      message.ack();
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "audience file failed", key, error: String(error) }));
      message.retry({ delaySeconds: Math.min(600, 30 * message.attempts) });
    }
  }
}
