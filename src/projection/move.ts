import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { projectShards, shardMoves } from "../db/schema";
import { bumpEpoch, DIRECTORY_TTL_MS, shard, shardNames } from "../db/shards";
import { ApiError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { type ReplayCursor, replayPage } from "./replay";
import { prepare } from "./statements";
import { deleteStrayPage, type StrayCursor } from "./stray-rows";

/*
 * A project's move to another placement (one shard, or k shards by fnv1a(profile_id) mod k:
 * a split), SPEC §11, one bounded step per queue message:
 *   dual     writes land under both placements (reads on the old one); wait one directory TTL
 *            so every isolate writes both before the copy reads;
 *   copy     replay each old shard's profiles into their new shard, a page a message (./replay.ts);
 *   flipped  the directory names the new placement (reads move), writes still both; wait a TTL;
 *   cleanup  writes on the new placement only; wait a TTL so no isolate writes the old one;
 *   delete   the old shards' rows the new placement does not put there, a page a message; done.
 * A move that has not flipped can be rolled back: `rollback` ends the dual writes, waits a TTL,
 * deletes what the new placement's shards hold that the old one does not put there, and ends
 * `rolled_back` (status `failed`).
 * Each step is conditional on the row's phase, cursor and status, so a redelivered message does
 * nothing twice; a move that stopped resumes from its row when its message runs again.
 */

export type MoveMessage = { type: "shard_move"; move_id: string };

/** How long a move waits for every isolate to see a directory change (tests shorten it). */
export const movePacing = { waitSeconds: Math.ceil(DIRECTORY_TTL_MS / 1000) + 1 };

type Move = typeof shardMoves.$inferSelect;

/** The placement a move leaves, by position. */
export const fromOf = (m: Move): string[] => m.fromShards ?? [m.fromShard];
/** The placement a move goes to, by position. */
export const toOf = (m: Move): string[] => m.toShards ?? [m.toShard];

/** The copy's cursor: the replay's, on the old placement's shard at `from` (absent: 0). */
type CopyCursor = ReplayCursor & { from?: number };

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, k) => x === b[k]);

/** Moves run on the purge's queue: one message a batch, retried with backoff, like its pages. */
async function send(env: Env, move: Move, wait = false): Promise<void> {
  const body: MoveMessage = { type: "shard_move", move_id: move.id };
  await env.PURGE.send(body as never, wait ? { delaySeconds: movePacing.waitSeconds } : {});
}

/** Where a move goes: one shard (`{shard}`) or a placement by position (`{shards}`). */
export type MoveTarget = { shard: string } | { shards: string[] };

/** The target's shard names, or a 400 naming each unknown or repeated one (nothing written). */
function targetShards(env: Env, target: MoveTarget): string[] {
  const names = "shards" in target ? target.shards : [target.shard];
  const bound = shardNames(env);
  const issues = names.flatMap((name, k) => {
    const path = "shards" in target ? `shards.${k}` : "shard";
    if (!bound.includes(name)) return [{ path, message: `No projection shard ${name}: one of ${bound.join(", ")}.` }];
    if (names.indexOf(name) !== k) return [{ path, message: `${name} is listed twice.` }];
    return [];
  });
  if (issues.length) throw new ApiError("VALIDATION_FAILED", "The move names shards it cannot use.", { issues });
  return names;
}

/** Records a move of `projectId` to `target` and queues its first step; returns its ID. */
export async function startMove(env: Env, projectId: string, target: MoveTarget): Promise<string> {
  const to = targetShards(env, target);
  const db = drizzle(env.DB);
  const placed = await db
    .select()
    .from(projectShards)
    .where(eq(projectShards.projectId, projectId))
    .orderBy(asc(projectShards.position));
  const from = placed.map((r) => r.shard);
  if (!from.length) throw new ApiError("NOT_FOUND", `No project ${projectId}.`);
  const now = new Date().toISOString();
  const under = await db
    .select()
    .from(shardMoves)
    .where(
      and(
        eq(shardMoves.projectId, projectId),
        sql`${shardMoves.status} <> 'done'`,
        sql`${shardMoves.phase} <> 'rolled_back'`,
      ),
    )
    .get();
  if (under?.status === "failed" && under.phase !== "rollback" && same(toOf(under), to)) {
    // The same move asked again resumes where it stopped.
    await db
      .update(shardMoves)
      .set({ status: "pending", error: null, updatedAt: now })
      .where(eq(shardMoves.id, under.id));
    await send(env, under);
    return under.id;
  }
  if (under) throw new ApiError("CONFLICT", `Project ${projectId} has a move under way (${under.id}).`);
  // After the resume: a move that failed after its flip finds the project on its target already.
  if (same(from, to)) throw new ApiError("CONFLICT", `Project ${projectId} is already on ${to.join(", ")}.`);
  const move: Move = {
    id: uuidv7(),
    projectId,
    fromShard: from[0] as string,
    toShard: to[0] as string,
    fromShards: from.length > 1 ? from : null,
    // Asked as a list, reported as a list.
    toShards: "shards" in target ? to : null,
    phase: "dual",
    cursor: null,
    status: "pending",
    error: null,
    createdAt: now,
    updatedAt: now,
  };
  await db.batch([db.insert(shardMoves).values(move), bumpEpoch(env)]);
  await send(env, move, true);
  return move.id;
}

/**
 * Moves the row from `move`'s phase and cursor to the next; false when another delivery did, or
 * the move stopped or was rolled back meanwhile. `flip` writes the new placement into the
 * directory in the same transaction, only if this very update applied.
 */
async function advance(
  env: Env,
  move: Move,
  next: Partial<Move>,
  how: "flip" | "epoch" | null = null,
): Promise<boolean> {
  const db = drizzle(env.DB);
  const cursor = move.cursor === null ? null : JSON.stringify(move.cursor);
  const stamp = new Date().toISOString();
  const updated = db
    .update(shardMoves)
    .set({ ...next, updatedAt: stamp })
    .where(
      and(
        eq(shardMoves.id, move.id),
        eq(shardMoves.phase, move.phase),
        sql`${shardMoves.cursor} IS ${cursor}`,
        eq(shardMoves.status, "pending"),
      ),
    )
    .returning({ id: shardMoves.id });
  const statements = [prepare(env.DB, updated)];
  if (how === "flip") {
    // Conditional on the update above (its phase and stamp): a stale delivery, or one that lost
    // to a rollback, flips nothing.
    const applied = "EXISTS (SELECT 1 FROM shard_moves WHERE id = ?2 AND phase = 'flipped' AND updated_at = ?3)";
    statements.push(
      env.DB.prepare(`DELETE FROM project_shards WHERE project_id = ?1 AND ${applied}`).bind(
        move.projectId,
        move.id,
        stamp,
      ),
      env.DB.prepare(
        `INSERT INTO project_shards (project_id, position, shard)
         SELECT ?1, key, value FROM json_each(?4) WHERE ${applied}`,
      ).bind(move.projectId, move.id, stamp, JSON.stringify(toOf(move))),
    );
  }
  if (how) statements.push(prepare(env.DB, bumpEpoch(env)));
  const [first] = await env.DB.batch(statements);
  return (first?.results.length ?? 0) > 0;
}

/** One page of the copy: the replay of the old placement's shards, one after the other. */
async function copyPage(env: Env, move: Move): Promise<CopyCursor | null> {
  const from = fromOf(move);
  const { from: position = 0, ...cursor } = (move.cursor as CopyCursor | null) ?? { step: "profiles", after: null };
  const to = toOf(move).map((n) => shard(env, n));
  // Each old shard holds every audience: the first one's copy goes to the targets without one.
  const audiencesTo = position === 0 ? to.filter((t) => !from.includes(t.name)) : [];
  const next = await replayPage(
    env,
    move.projectId,
    shard(env, from[position] as string),
    to,
    cursor as ReplayCursor,
    audiencesTo,
  );
  if (next) return { ...next, from: position };
  return position + 1 < from.length ? { step: "profiles", after: null, from: position + 1 } : null;
}

const strayCursor = (move: Move): StrayCursor =>
  (move.cursor as StrayCursor | null) ?? { shard: 0, step: "profiles", after: null };

/** Runs one step of a move (see the top of this file). */
export async function runMove(env: Env, msg: MoveMessage): Promise<void> {
  const move = await drizzle(env.DB).select().from(shardMoves).where(eq(shardMoves.id, msg.move_id)).get();
  if (move?.status !== "pending") return;
  switch (move.phase) {
    case "dual":
      if (await advance(env, move, { phase: "copy", cursor: null })) await send(env, move);
      return;
    case "copy": {
      const next = await copyPage(env, move);
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
      if (await advance(env, move, { phase: "delete", cursor: null })) await send(env, move);
      return;
    case "delete":
    case "rollback": {
      const forward = move.phase === "delete";
      if (!forward && move.cursor === null && Date.now() - Date.parse(move.updatedAt) < movePacing.waitSeconds * 1000) {
        // A copy message still in flight when the rollback began: the deletion waits its TTL.
        await send(env, move, true);
        return;
      }
      const [clean, keep] = forward ? [fromOf(move), toOf(move)] : [toOf(move), fromOf(move)];
      const next = await deleteStrayPage(env, move.projectId, clean, keep, strayCursor(move));
      if (next) {
        if (await advance(env, move, { cursor: next })) await send(env, move);
      } else if (forward) {
        await advance(env, move, { phase: "done", status: "done", cursor: null });
      } else {
        // With the epoch: isolates stop holding the project's audience changes for the move.
        const error = `Rolled back: the project stays on ${fromOf(move).join(", ")}.`;
        await advance(env, move, { phase: "rolled_back", status: "failed", cursor: null, error }, "epoch");
      }
      return;
    }
    case "done":
    case "rolled_back":
      return;
  }
}

/**
 * Rolls back a move that has not flipped (SPEC §11: "resumed or rolled back"): the dual writes
 * end, then the new placement's shards lose the rows the copy and the writes put there that the
 * old placement does not. After the flip the new placement holds the project whole: a rollback
 * is refused, and the way back is to let the move finish (resume it) and move the project back.
 */
export async function rollbackMove(env: Env, id: string): Promise<void> {
  const db = drizzle(env.DB);
  const move = await db.select().from(shardMoves).where(eq(shardMoves.id, id)).get();
  if (!move) throw new ApiError("NOT_FOUND", `No move ${id}.`);
  if (move.phase === "rollback" && move.status === "pending") return;
  const refused = () =>
    new ApiError(
      "CONFLICT",
      move.phase === "rolled_back"
        ? `Move ${id} is rolled back already.`
        : `Move ${id} has flipped the directory to ${toOf(move).join(", ")}: resume it to its end, then move the project back.`,
    );
  if (!["dual", "copy", "rollback"].includes(move.phase)) throw refused();
  const [updated] = await db.batch([
    db
      .update(shardMoves)
      .set({
        phase: "rollback",
        status: "pending",
        error: null,
        updatedAt: new Date().toISOString(),
        // A rollback that failed goes on from its cursor; a move's starts from the first shard.
        ...(move.phase === "rollback" ? {} : { cursor: null }),
      })
      .where(
        and(
          eq(shardMoves.id, id),
          inArray(shardMoves.phase, ["dual", "copy", "rollback"]),
          inArray(shardMoves.status, ["pending", "failed"]),
        ),
      )
      .returning({ id: shardMoves.id }),
    // Every isolate stops writing the new placement within a TTL: the first step waits that out.
    bumpEpoch(env),
  ]);
  // The copy flipped the directory between the read and this update.
  if (!updated.length) throw refused();
  await send(env, move, true);
}

/** A step that failed every retry: the move says so, and the same request resumes it. */
export async function failMove(env: Env, msg: MoveMessage): Promise<void> {
  const db = drizzle(env.DB);
  const move = await db
    .select({ phase: shardMoves.phase })
    .from(shardMoves)
    .where(eq(shardMoves.id, msg.move_id))
    .get();
  await db
    .update(shardMoves)
    .set({
      status: "failed",
      error:
        move?.phase === "rollback"
          ? "A step failed every retry; ask for the rollback again to resume it."
          : "A step failed every retry; resume it with the same move, or roll it back if it has not flipped.",
      updatedAt: new Date().toISOString(),
    })
    .where(and(eq(shardMoves.id, msg.move_id), eq(shardMoves.status, "pending")));
}

/**
 * A move's status, as `GET /v1/admin/jobs/move/{request_id}` shows it: `from` a shard's name
 * when the project was on one, else the list; `to` as the move was asked (a name or a list).
 */
export async function moveStatus(env: Env, id: string) {
  const move = await drizzle(env.DB).select().from(shardMoves).where(eq(shardMoves.id, id)).get();
  if (!move) return null;
  return {
    request_id: move.id,
    project_id: move.projectId,
    from: move.fromShards ?? move.fromShard,
    to: move.toShards ?? move.toShard,
    status: move.status,
    phase: move.phase,
    ...(move.error ? { error: move.error } : {}),
  };
}
