import { and, eq, sql } from "drizzle-orm";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import { audienceFeedRuns, audiences } from "../db/schema";
import { FeedFileError, splitLine } from "./feed-file";
import {
  type AudienceType,
  checkMember,
  claimGeneration,
  commitGeneration,
  deleteGenerations,
  GenerationWriter,
} from "./members";
import { audienceWriteDb, CopiesWriter, patchAudienceMembers } from "./store";

/*
 * A flat file is read in pieces: each piece is a byte range of the R2 object, cut after its last
 * whole line, read by one invocation, which then queues the next. So no invocation holds or
 * parses more than one piece, whatever the file's size, and a piece that fails is retried alone.
 * The message carries everything the next piece needs (where it starts, the column, the counts).
 */

export const MAX_FEED_LINES = 1_000_000;
/** Bytes one piece reads: about 110,000 lines of UUIDs, a few hundred ms of CPU and ~25 MB. */
export const PIECE_BYTES = 4 * 1024 * 1024;
/** Members an `add` file sends to D1 at once. */
const ADD_BATCH = 10_000;

export interface Counts {
  lines: number;
  ids: number;
  rejected: number;
}

/** How the file is read: the feed's settings as they were when its run started. */
export interface FeedSettings {
  projectId: string;
  name: string;
  header: boolean;
  delimiter: string;
  column: number | string;
  type: AudienceType;
  mode: "replace" | "add";
}

/** One piece of a file's run, as queued on the inbox queue. */
export interface FeedPiece {
  type: "feed_piece";
  runId: string;
  key: string;
  /** The object read: a file replaced meanwhile is not mixed with the new one. */
  etag: string;
  size: number;
  pieceBytes: number;
  feed: FeedSettings;
  /** `add` checks the whole file before it adds anything; `replace` writes a new generation. */
  phase: "check" | "apply";
  /** Pieces done before this one, across both phases: the run's `progress` when it starts. */
  seq: number;
  offset: number;
  /** The number of this piece's first line. */
  line: number;
  /** The column read, once known (-1 until the header names it). */
  column: number;
  headerSeen: boolean;
  counts: Counts;
  /**
   * `replace`: the generation written and the one it replaces, on the audience's first database,
   * and on each copy (a split project's other shards) in `copies`.
   */
  generation?: Claim & { copies?: Claim[] };
}

interface Claim {
  claimed: number;
  previous: number;
}

/** Each database with its claim (the first, then the copies). */
const claimsOn = (members: readonly DrizzleD1Database[], generation: Claim & { copies?: Claim[] }) =>
  members.map((db, k) => ({ db, claim: k === 0 ? generation : generation.copies?.[k - 1] }));

/** The first piece of a run. */
export function firstPiece(
  run: { runId: string; key: string; etag: string; size: number },
  feed: FeedSettings,
  pieceBytes = PIECE_BYTES,
): FeedPiece {
  return {
    type: "feed_piece",
    ...run,
    pieceBytes,
    feed,
    phase: feed.mode === "add" ? "check" : "apply",
    seq: 0,
    ...startOfFile(feed),
  };
}

function startOfFile(feed: FeedSettings) {
  return {
    offset: 0,
    line: 1,
    column: typeof feed.column === "number" ? feed.column : -1,
    headerSeen: !feed.header,
    counts: { lines: 0, ids: 0, rejected: 0 },
  };
}

/** What a piece left: the next piece, or the run's end. */
export type PieceOutcome =
  | { next: FeedPiece }
  | { done: Counts }
  | { failed: string; deleteFile: boolean }
  | { superseded: true };

/**
 * Reads and applies one piece. A structural problem anywhere ends the run `failed` with its
 * audience as it was (a replace's new generation is dropped; `add` fails in its check phase,
 * before anything is added). Another error throws: the piece is retried as it was.
 */
export async function runPiece(env: Env, piece: FeedPiece): Promise<PieceOutcome> {
  const db = drizzle(env.DB);
  const members = await membersDb(env, piece.feed.projectId);
  const run = await db
    .select({ status: audienceFeedRuns.status, progress: audienceFeedRuns.progress })
    .from(audienceFeedRuns)
    .where(eq(audienceFeedRuns.runId, piece.runId))
    .get();
  // A second delivery of a piece already done, or of a run that ended.
  if (run?.status !== "running" || run.progress !== piece.seq) return { superseded: true };
  try {
    return await readPiece(env, db, members, piece);
  } catch (error) {
    if (!(error instanceof FeedFileError)) throw error;
    for (const { db: on, claim } of piece.generation ? claimsOn(members, piece.generation) : []) {
      if (claim) await deleteGenerations(on, piece.feed.projectId, piece.feed.name, sql`generation = ${claim.claimed}`);
    }
    await endRun(db, piece, { status: "failed", reason: error.message });
    return { failed: error.message, deleteFile: !(error instanceof FileReplaced) };
  }
}

/** The object changed under the run: the run fails, and the new file stays for its own run. */
class FileReplaced extends FeedFileError {}

async function readPiece(
  env: Env,
  db: DrizzleD1Database,
  members: readonly DrizzleD1Database[],
  piece: FeedPiece,
): Promise<PieceOutcome> {
  const { feed } = piece;
  // R2 refuses a range of an empty object.
  if (piece.size === 0) throw new FeedFileError("The file has no valid ID.");
  const object = await env.EXPORTS.get(piece.key, {
    range: { offset: piece.offset, length: piece.pieceBytes },
    onlyIf: { etagMatches: piece.etag },
  });
  if (!object) throw new FeedFileError("The file was removed while it was read.");
  if (!("body" in object)) throw new FileReplaced("The file was replaced while it was read; the new one is read next.");
  const bytes = new Uint8Array(await object.arrayBuffer());
  const last = piece.offset + bytes.length >= piece.size;
  // A newline byte never occurs inside a UTF-8 sequence, so a cut after one splits no character.
  const cut = last ? bytes.length : bytes.lastIndexOf(10) + 1;
  if (cut === 0) throw new FeedFileError(`Line ${piece.line} is longer than ${piece.pieceBytes} bytes.`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes.subarray(0, cut));
  } catch {
    throw new FeedFileError(`Not valid UTF-8 (line ${piece.line} or later).`);
  }
  const lines = text.split("\n");
  // The text after the last newline: nothing, or (at the end of the file) an unterminated last line.
  const tail = lines.pop() ?? "";
  if (tail.replace(/\r$/, "") !== "") lines.push(tail);

  const state = { column: piece.column, headerSeen: piece.headerSeen, counts: { ...piece.counts } };
  const write = piece.phase === "apply";
  // Set on the piece at once: if this piece then fails, the failure path drops the claimed rows.
  if (write && feed.mode === "replace" && !piece.generation) piece.generation = await claim_(members, feed);
  const claim = piece.generation;
  const writer = claim
    ? new CopiesWriter(
        claimsOn(members, claim).map(
          (c) => new GenerationWriter(c.db, feed.projectId, feed.name, (c.claim as Claim).claimed),
        ),
      )
    : null;
  let pending: string[] = [];
  try {
    lines.forEach((raw, i) => {
      const member = readLine(feed, state, raw, piece.line + i);
      if (member === null || !write) return;
      if (writer) writer.add(member);
      else pending.push(member);
    });
    if (writer) await writer.flush();
    while (pending.length > 0) {
      await patchAudienceMembers(members, feed.projectId, feed.name, pending.slice(0, ADD_BATCH), []);
      pending = pending.slice(ADD_BATCH);
    }
  } catch (error) {
    await writer?.settle();
    throw error;
  }

  const after: FeedPiece = {
    ...piece,
    offset: piece.offset + cut,
    line: piece.line + lines.length,
    ...state,
  };
  if (!last) return advance(db, after);
  // An empty export or a wrong column: do not wipe the audience for it.
  if (state.counts.ids === 0) throw new FeedFileError("The file has no valid ID.");
  if (piece.phase === "check") return advance(db, { ...after, phase: "apply", ...startOfFile(feed) });
  // The copies switch first, the first last (src/audiences/store.ts).
  if (claim) for (const c of claimsOn(members, claim).reverse()) await commitOnce(c.db, feed, c.claim as Claim);
  await endRun(db, after, { status: "done", ...state.counts });
  return { done: state.counts };
}

const claim_ = async (members: readonly DrizzleD1Database[], feed: FeedSettings) => {
  const claims: Claim[] = [];
  for (const db of members) {
    const claimed = await claimGeneration(db, feed.projectId, feed.name);
    if (!claimed) throw new FeedFileError(`The audience "${feed.name}" was deleted.`);
    claims.push({ claimed: claimed.generation, previous: claimed.audience.generation });
  }
  const [first, ...copies] = claims as [Claim, ...Claim[]];
  return copies.length ? { ...first, copies } : first;
};

/**
 * The database of a project's audience members (the run records stay in the control database,
 * `env.DB`). One place to change where members live.
 */
function membersDb(env: Env, projectId: string): Promise<readonly DrizzleD1Database[]> {
  return audienceWriteDb(env, projectId);
}

/** One line: its member, or null (a header, a blank line, a rejected ID, or the check phase's). */
function readLine(
  feed: FeedSettings,
  state: { column: number; headerSeen: boolean; counts: Counts },
  raw: string,
  line: number,
) {
  if (++state.counts.lines > MAX_FEED_LINES) throw new FeedFileError(`More than ${MAX_FEED_LINES} lines.`);
  const fields = splitLine(raw, feed.delimiter, line);
  if (fields.length === 0) return null;
  if (!state.headerSeen) {
    state.headerSeen = true;
    if (typeof feed.column === "string") {
      state.column = fields.indexOf(feed.column);
      if (state.column < 0) throw new FeedFileError(`No column "${feed.column}" in the header.`);
    }
    return null;
  }
  const value = fields[state.column];
  if (value === undefined) throw new FeedFileError(`Line ${line} has no column ${state.column}.`);
  const checked = checkMember(feed.type, value);
  if (!("member" in checked)) {
    state.counts.rejected++;
    return null;
  }
  state.counts.ids++;
  return checked.member;
}

/**
 * Moves the run on to the next piece: only from this piece's own number, so a second delivery
 * of a piece never starts a second chain. The counts so far are shown on the run meanwhile.
 */
async function advance(db: DrizzleD1Database, next: FeedPiece): Promise<PieceOutcome> {
  const moved = await db
    .update(audienceFeedRuns)
    .set({ progress: next.seq + 1, ...next.counts })
    .where(and(eq(audienceFeedRuns.runId, next.runId), eq(audienceFeedRuns.progress, next.seq)))
    .returning({ runId: audienceFeedRuns.runId });
  if (moved.length === 0) return { superseded: true };
  return { next: { ...next, seq: next.seq + 1 } };
}

/**
 * Makes the claimed generation the members, once: a twin delivery of the last piece, or its
 * retry after the switch, finds it already current and leaves it (commitGeneration would read
 * that as a conflict and drop it).
 */
async function commitOnce(db: DrizzleD1Database, feed: FeedSettings, claim: Claim) {
  const current = await db
    .select({ generation: audiences.generation })
    .from(audiences)
    .where(and(eq(audiences.projectId, feed.projectId), eq(audiences.name, feed.name)))
    .get();
  if (current?.generation === claim.claimed) return;
  try {
    await commitGeneration(db, feed.projectId, feed.name, claim.previous, claim.claimed);
  } catch (error) {
    // Replaced or deleted by someone else meanwhile (commitGeneration dropped the rows): the run fails.
    if (error instanceof Error && "code" in error) throw new FeedFileError(error.message);
    throw error;
  }
}

async function endRun(
  db: DrizzleD1Database,
  piece: FeedPiece,
  end: { status: "done" | "failed"; reason?: string } & Partial<Counts>,
) {
  await db
    .update(audienceFeedRuns)
    .set({ ...end, progress: piece.seq + 1 })
    .where(and(eq(audienceFeedRuns.runId, piece.runId), eq(audienceFeedRuns.status, "running")));
}
