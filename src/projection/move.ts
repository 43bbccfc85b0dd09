import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { projectShards, shardMoves } from "../db/schema";
import { bumpEpoch, DIRECTORY_TTL_MS, shard, shardNames } from "../db/shards";
import { ApiError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { type ReplayCursor, replayPage } from "./replay";

/*
 * A project's move to another shard (SPEC §11), one bounded step per queue message:
 *   dual     writes land on both shards (reads on the old one); wait one directory TTL so every
 *            isolate writes both before the copy reads;
 *   copy     replay the project into the new shard, a page a message (./replay.ts);
 *   flipped  the directory names the new shard (reads move), writes still both; wait a TTL;
 *   cleanup  writes on the new shard only; wait a TTL so no isolate writes the old one;
 *   delete   the old shard's rows deleted a page a message; then done.
 * Each step is conditional on the row's phase and cursor, so a redelivered message does nothing
 * twice; a move that stopped resumes from its row when its message runs again.
 */

export type MoveMessage = { type: "shard_move"; move_id: string };

/** How long a move waits for every isolate to see a directory change (tests shorten it). */
export const movePacing = { waitSeconds: Math.ceil(DIRECTORY_TTL_MS / 1000) + 1, deleteRows: 1000 };

const TABLES = [
  "profiles",
  "profile_attributes",
  "profile_attribute_items",
  "installations",
  "audiences",
  "audience_members",
];

type Move = typeof shardMoves.$inferSelect;

/** Moves run on the purge's queue: one message a batch, retried with backoff, like its pages. */
async function send(env: Env, move: Move, wait = false): Promise<void> {
  const body: MoveMessage = { type: "shard_move", move_id: move.id };
  await env.PURGE.send(body as never, wait ? { delaySeconds: movePacing.waitSeconds } : {});
}

/** Records a move of `projectId` to `to` and queues its first step; returns its ID. */
export async function startMove(env: Env, projectId: string, to: string): Promise<string> {
  if (!shardNames(env).includes(to)) {
    throw new ApiError("VALIDATION_FAILED", `No projection shard ${to}.`, {
      issues: [{ path: "shard", message: `One of ${shardNames(env).join(", ")}.` }],
    });
  }
  const db = drizzle(env.DB);
  const placed = await db.select().from(projectShards).where(eq(projectShards.projectId, projectId));
  const [from] = placed;
  if (!from) throw new ApiError("NOT_FOUND", `No project ${projectId}.`);
  if (placed.length > 1) throw new ApiError("CONFLICT", `Project ${projectId} is split over several shards.`);
  const now = new Date().toISOString();
  if (from.shard === to) throw new ApiError("CONFLICT", `Project ${projectId} is already on ${to}.`);
  const move: Move = {
    id: uuidv7(),
    projectId,
    fromShard: from.shard,
    toShard: to,
    phase: "dual",
    cursor: null,
    status: "pending",
    error: null,
    createdAt: now,
    updatedAt: now,
  };
  const under = await db
    .select()
    .from(shardMoves)
    .where(and(eq(shardMoves.projectId, projectId), sql`${shardMoves.status} <> 'done'`))
    .get();
  if (under?.status === "failed" && under.toShard === to) {
    // The same move asked again resumes where it stopped.
    await db
      .update(shardMoves)
      .set({ status: "pending", error: null, updatedAt: now })
      .where(eq(shardMoves.id, under.id));
    await send(env, under);
    return under.id;
  }
  if (under) throw new ApiError("CONFLICT", `Project ${projectId} has a move under way (${under.id}).`);
  await db.batch([db.insert(shardMoves).values(move), bumpEpoch(env)]);
  await send(env, move, true);
  return move.id;
}

/** Moves the row from `move`'s phase and cursor to the next; false when another delivery did. */
async function advance(
  env: Env,
  move: Move,
  next: Partial<Move>,
  how: "flip" | "epoch" | null = null,
): Promise<boolean> {
  const db = drizzle(env.DB);
  const cursor = move.cursor === null ? null : JSON.stringify(move.cursor);
  const updated = db
    .update(shardMoves)
    .set({ ...next, updatedAt: new Date().toISOString() })
    .where(
      and(
        eq(shardMoves.id, move.id),
        eq(shardMoves.phase, move.phase),
        sql`${shardMoves.cursor} IS ${cursor}`,
        sql`${shardMoves.status} <> 'done'`,
      ),
    )
    .returning({ id: shardMoves.id });
  const flip = db
    .update(projectShards)
    .set({ shard: move.toShard })
    .where(and(eq(projectShards.projectId, move.projectId), eq(projectShards.position, 0)));
  const results =
    how === "flip"
      ? await db.batch([updated, flip, bumpEpoch(env)])
      : how === "epoch"
        ? await db.batch([updated, bumpEpoch(env)])
        : [await updated];
  return (results[0] as unknown[]).length > 0;
}

/** Deletes a page of the project's rows from the old shard; true when none was left. */
async function deletePage(move: Move, env: Env): Promise<boolean> {
  const old = shard(env, move.fromShard);
  const results = await old.d1.batch(
    TABLES.map((t) =>
      old.d1
        .prepare(`DELETE FROM ${t} WHERE rowid IN (SELECT rowid FROM ${t} WHERE project_id = ? LIMIT ?)`)
        .bind(move.projectId, movePacing.deleteRows),
    ),
  );
  return results.every((r) => (r.meta.changes ?? 0) === 0);
}

/** Runs one step of a move (see the top of this file). */
export async function runMove(env: Env, msg: MoveMessage): Promise<void> {
  const move = await drizzle(env.DB).select().from(shardMoves).where(eq(shardMoves.id, msg.move_id)).get();
  if (!move || move.status === "done") return;
  switch (move.phase) {
    case "dual":
      if (await advance(env, move, { phase: "copy", cursor: null })) await send(env, move);
      return;
    case "copy": {
      const from = shard(env, move.fromShard);
      const to = shard(env, move.toShard);
      const cursor = (move.cursor as ReplayCursor | null) ?? undefined;
      const next = await replayPage(env, move.projectId, from, to, cursor);
      if (next) {
        if (await advance(env, move, { cursor: next })) await send(env, move);
      } else if (await advance(env, move, { phase: "flipped", cursor: null }, "flip")) {
        await send(env, move, true);
      }
      return;
    }
    case "flipped":
      if (await advance(env, move, { phase: "cleanup" }, "epoch")) await send(env, move, true);
      return;
    case "cleanup":
      if (await advance(env, move, { phase: "delete" })) await send(env, move);
      return;
    case "delete":
      if (!(await deletePage(move, env))) {
        await send(env, move);
        return;
      }
      await advance(env, move, { phase: "done", status: "done" });
      return;
    case "done":
      return;
  }
}

/** A step that failed every retry: the move says so, and the same request resumes it. */
export async function failMove(env: Env, msg: MoveMessage): Promise<void> {
  await drizzle(env.DB)
    .update(shardMoves)
    .set({
      status: "failed",
      error: "A step failed every retry; resume it with the same move.",
      updatedAt: new Date().toISOString(),
    })
    .where(and(eq(shardMoves.id, msg.move_id), sql`${shardMoves.status} <> 'done'`));
}

/** A move's status, as `GET /v1/admin/jobs/move/{request_id}` shows it. */
export async function moveStatus(env: Env, id: string) {
  const move = await drizzle(env.DB).select().from(shardMoves).where(eq(shardMoves.id, id)).get();
  if (!move) return null;
  return {
    request_id: move.id,
    project_id: move.projectId,
    from: move.fromShard,
    to: move.toShard,
    status: move.status,
    phase: move.phase,
    ...(move.error ? { error: move.error } : {}),
  };
}
