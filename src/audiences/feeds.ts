import { and, eq } from "drizzle-orm";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import { audienceFeedRuns, audienceFeeds } from "../db/schema";
import { uuidv7 } from "../lib/ids";
import { FeedFileError, readDelimited } from "./feed-file";
import { type AudienceType, checkMember } from "./members";
import { audienceWriteDb, patchAudienceMembers, replaceAudienceMembers } from "./store";

/** Where a project drops its audience files, in the EXPORTS bucket (SPEC §9). */
export const INBOX_PREFIX = "inbox/";
export const MAX_FEED_LINES = 1_000_000;
/** Members an `add` file sends to D1 at once. */
const ADD_BATCH = 10_000;
/** Files one sweep takes on; the next sweep (5 minutes later) takes the rest. */
const FILES_PER_SWEEP = 50;

const FILE_KEY = /^inbox\/([0-9a-f-]{36})\/audiences\/([A-Za-z0-9_-]{1,100})\.csv$/;

export type Feed = typeof audienceFeeds.$inferSelect;
interface Counts {
  lines: number;
  ids: number;
  rejected: number;
}

/** The project and audience a dropped file is for; null for a key outside the inbox layout. */
export function feedFileOf(key: string): { projectId: string; name: string } | null {
  const m = FILE_KEY.exec(key);
  return m?.[1] && m[2] ? { projectId: m[1], name: m[2] } : null;
}

/**
 * Streams a feed's file, calling `onMember` for each valid ID and `onChunk` after each decoded
 * chunk (where the caller writes what it holds). Invalid IDs are counted as rejected; a file
 * whose structure is wrong throws {@link FeedFileError}.
 */
async function readFeedFile(
  body: ReadableStream<Uint8Array>,
  feed: Feed,
  type: AudienceType,
  onMember: (member: string) => void,
  onChunk: () => Promise<void>,
): Promise<Counts> {
  const counts: Counts = { lines: 0, ids: 0, rejected: 0 };
  let column = typeof feed.column === "number" ? feed.column : -1;
  let headerSeen = !feed.header;
  if (!feed.header && typeof feed.column === "string") {
    throw new FeedFileError(`The column is named "${feed.column}" but the feed has no header: give its position.`);
  }
  for await (const lines of readDelimited(body, feed.delimiter)) {
    for (const { line, fields } of lines) {
      if (++counts.lines > MAX_FEED_LINES) throw new FeedFileError(`More than ${MAX_FEED_LINES} lines.`);
      if (fields.length === 0) continue;
      if (!headerSeen) {
        headerSeen = true;
        if (typeof feed.column === "string") {
          column = fields.indexOf(feed.column);
          if (column < 0) throw new FeedFileError(`No column "${feed.column}" in the header.`);
        }
        continue;
      }
      const value = fields[column];
      if (value === undefined) throw new FeedFileError(`Line ${line} has no column ${column}.`);
      const checked = checkMember(type, value);
      if ("member" in checked) {
        counts.ids++;
        onMember(checked.member);
      } else counts.rejected++;
    }
    await onChunk();
  }
  // An empty export or a wrong column: do not wipe the audience for it.
  if (counts.ids === 0) throw new FeedFileError("The file has no valid ID.");
  return counts;
}

async function applyFile(env: Env, db: DrizzleD1Database, key: string, feed: Feed, body: ReadableStream<Uint8Array>) {
  const { projectId, name } = feed;
  if (feed.mode === "replace") {
    let counts: Counts | undefined;
    await replaceAudienceMembers(db, projectId, name, async (writer, type) => {
      counts = await readFeedFile(
        body,
        feed,
        type,
        (m) => writer.add(m),
        () => writer.write(),
      );
      await writer.flush();
    });
    return counts as Counts;
  }
  // `add` writes into the live members: the whole file is checked first, so a malformed one adds nothing.
  await readFeedFile(
    body,
    feed,
    feed.type,
    () => {},
    async () => {},
  );
  const again = await env.EXPORTS.get(key);
  if (!again) throw new FeedFileError("The file was removed while it was read.");
  let pending: string[] = [];
  const flush = async () => {
    if (pending.length >= ADD_BATCH) {
      await patchAudienceMembers(db, projectId, name, pending, []);
      pending = [];
    }
  };
  const counts = await readFeedFile(again.body, feed, feed.type, (m) => pending.push(m), flush);
  if (pending.length) await patchAudienceMembers(db, projectId, name, pending, []);
  return counts;
}

/**
 * Ingests one dropped file: read with its feed's settings, applied, then deleted. The run is
 * recorded; a malformed file ends `failed` with the reason, its audience unchanged, and is
 * deleted too. A file with no feed configured is left for when one is. The project comes from
 * the file's key only, so a file never reaches another project's audiences.
 */
export async function ingestInboxFile(env: Env, key: string): Promise<"done" | "failed" | "no_feed" | "skipped"> {
  const target = feedFileOf(key);
  if (!target) return "skipped";
  const db = drizzle(env.DB);
  const feed = await db
    .select()
    .from(audienceFeeds)
    .where(and(eq(audienceFeeds.projectId, target.projectId), eq(audienceFeeds.name, target.name)))
    .get();
  if (!feed) return "no_feed";
  const object = await env.EXPORTS.get(key);
  if (!object) return "skipped";
  const runId = uuidv7();
  await db.insert(audienceFeedRuns).values({
    runId,
    projectId: feed.projectId,
    name: feed.name,
    file: key,
    status: "running",
    startedAt: new Date().toISOString(),
  });
  try {
    const counts = await applyFile(env, await audienceWriteDb(env, feed.projectId), key, feed, object.body);
    await db
      .update(audienceFeedRuns)
      .set({ ...counts, status: "done" })
      .where(eq(audienceFeedRuns.runId, runId));
  } catch (error) {
    const reason = error instanceof FeedFileError ? error.message : "Internal error; the file is retried.";
    await db.update(audienceFeedRuns).set({ status: "failed", reason }).where(eq(audienceFeedRuns.runId, runId));
    if (!(error instanceof FeedFileError)) throw error;
    await env.EXPORTS.delete(key);
    return "failed";
  }
  await env.EXPORTS.delete(key);
  return "done";
}

/** Catches files the notifications missed: every file under the inbox, a bounded number per sweep. */
export async function sweepAudienceInbox(env: Env): Promise<{ files: number; done: number; failed: number }> {
  const result = { files: 0, done: 0, failed: 0 };
  let cursor: string | undefined;
  do {
    const page = await env.EXPORTS.list({ prefix: INBOX_PREFIX, ...(cursor ? { cursor } : {}) });
    for (const object of page.objects) {
      if (result.files >= FILES_PER_SWEEP) return result;
      const outcome = await ingestInboxFile(env, object.key);
      if (outcome === "done" || outcome === "failed") {
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

/** The consumer of the bucket's event notifications on `inbox/`: one file per message. */
export async function consumeAudienceInbox(batch: MessageBatch<R2Notification>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    const key = message.body?.object?.key;
    try {
      if (key && message.body.action !== "DeleteObject") await ingestInboxFile(env, key);
      message.ack();
    } catch (error) {
      console.error(JSON.stringify({ level: "error", msg: "audience file failed", key, error: String(error) }));
      message.retry({ delaySeconds: Math.min(600, 30 * message.attempts) });
    }
  }
}
