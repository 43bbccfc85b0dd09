import { and, asc, eq, inArray, ne, sql } from "drizzle-orm";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import { SharedFlight } from "../lib/shared-flight";
import { directoryEpoch, projectShards, shardMoves } from "./schema";

/**
 * The projection directory (SPEC §11): which D1 database (`PROJECTION_<n>`) holds a project's
 * projection rows (profiles, attributes, installations, audiences). Control tables (projects,
 * apps, keys, requests, jobs, webhooks, dead letters) stay on `env.DB`. Every reader and writer
 * of projection rows reaches them through `projectionFor`, never through `env.DB`.
 */

/** A drizzle handle on one D1 database. */
export type Db = DrizzleD1Database;

/** One projection shard: its binding name, the D1 binding itself, and drizzle over it. */
export interface Shard {
  readonly name: string;
  readonly d1: D1Database;
  readonly db: Db;
}

/**
 * Where one project's projection lives. Today every project is on one shard (`one()`); a
 * project split over several (a later step) lists them in `shards` by position, and whatever
 * fans out over a split project does it here, through `shards` and `forProfile`.
 */
export interface Projection {
  readonly projectId: string;
  /** The directory epoch this was resolved at: a move bumps it. */
  readonly epoch: number;
  /** The project's shards, by position (hash(profile_id) mod k picks one in a split project). */
  readonly shards: readonly Shard[];
  /** The project's only shard. Throws for a split project: such a caller must fan out. */
  one(): Shard;
  /** The shard that holds `profileId`. */
  forProfile(profileId: string): Shard;
  /**
   * Where a write of `profileId`'s rows goes: its shard, and while the project moves
   * (the `shard_moves` row of a move under way) its shard under the move's other placement
   * too, so neither misses a write.
   */
  writesFor(profileId: string): Shard[];
  /** Every shard a write of the project may land on: its own, and the other placement's while it moves. */
  readonly writeShards: readonly Shard[];
  /** A move of the project is under way (or stopped part-way). */
  readonly moving: boolean;
}

/** Binding names of projection shards: `PROJECTION` alone is the projection queue. */
const SHARD_NAME = /^PROJECTION_(\d+)$/;

/**
 * How long an isolate trusts its cached directory before reading the epoch again. A move
 * bumps the epoch when it flips a project, then keeps the old shard's rows (and dual writes)
 * for longer than this, so a reader on a stale entry still reads correct rows.
 */
export const DIRECTORY_TTL_MS = 10_000;

/** The TTL in force: tests of moves shorten it (a move waits it out between its steps). */
export const directoryTiming = { ttlMs: DIRECTORY_TTL_MS };

/** Thrown when a project has no directory row (it does not exist, or was never placed). */
export class UnplacedProjectError extends Error {
  constructor(readonly projectId: string) {
    super(`Project ${projectId} has no projection shard in the directory.`);
  }
}

interface Cache {
  epoch: number;
  checkedAt: number;
  /** Shard names by project, by position, and the move under way. */
  projects: Map<string, Placement>;
}

// Per isolate: one epoch read per DIRECTORY_TTL_MS, one directory read per project and epoch.
let cache: Cache = { epoch: -1, checkedAt: 0, projects: new Map() };

/**
 * Concurrent requests of an isolate share one read of the epoch and one of each placement
 * (src/lib/shared-flight.ts); a request waits this long for another's read before its own.
 */
const READ_PATIENCE_MS = 2_000;
const epochReads = new SharedFlight<number>(READ_PATIENCE_MS);
const placementReads = new SharedFlight<Placement>(READ_PATIENCE_MS);

/** Every projection shard bound to this Worker, by name (PROJECTION_0, PROJECTION_1, …), in order. */
export function shardNames(env: Env): string[] {
  return Object.keys(env)
    .filter((k) => SHARD_NAME.test(k))
    .sort((a, b) => Number(SHARD_NAME.exec(a)?.[1]) - Number(SHARD_NAME.exec(b)?.[1]));
}

/** The shard of that binding name; throws when the Worker has no such binding. */
export function shard(env: Env, name: string): Shard {
  const d1 = SHARD_NAME.test(name) ? (env as unknown as Record<string, D1Database | undefined>)[name] : undefined;
  if (!d1) throw new Error(`No projection shard bound as ${name}.`);
  return { name, d1, db: drizzle(d1) };
}

/** Every projection shard bound to this Worker. */
export function allShards(env: Env): Shard[] {
  return shardNames(env).map((name) => shard(env, name));
}

async function readEpoch(env: Env): Promise<number> {
  const row = await drizzle(env.DB).select({ epoch: directoryEpoch.epoch }).from(directoryEpoch).get();
  return row?.epoch ?? 0;
}

/** Drops the cached directory when its epoch changed, checking at most once per TTL. */
async function fresh(env: Env): Promise<Cache> {
  const now = Date.now();
  if (now - cache.checkedAt < directoryTiming.ttlMs) return cache;
  const current = cache;
  const epoch = await epochReads.run("epoch", () => readEpoch(env));
  if (cache !== current) return cache;
  if (epoch !== current.epoch) cache = { epoch, checkedAt: now, projects: new Map() };
  else current.checkedAt = now;
  return cache;
}

interface Placement {
  names: string[];
  /** The move's other placement (by position), which writes also go to while a move writes both. */
  alsoWrite: string[] | null;
  moving: boolean;
}

/** The move phases in which writes land on both shards. */
const DUAL_PHASES = ["dual", "copy", "flipped"] as const;

async function readPlacement(env: Env, projectId: string): Promise<Placement> {
  const db = drizzle(env.DB);
  const [rows, moves] = await db.batch([
    db
      .select({ shard: projectShards.shard })
      .from(projectShards)
      .where(eq(projectShards.projectId, projectId))
      .orderBy(asc(projectShards.position)),
    db
      .select({
        from: shardMoves.fromShard,
        to: shardMoves.toShard,
        fromShards: shardMoves.fromShards,
        toShards: shardMoves.toShards,
        phase: shardMoves.phase,
      })
      .from(shardMoves)
      .where(
        and(
          eq(shardMoves.projectId, projectId),
          inArray(shardMoves.status, ["pending", "failed"]),
          ne(shardMoves.phase, "rolled_back"),
        ),
      ),
  ]);
  if (!rows.length) throw new UnplacedProjectError(projectId);
  const names = rows.map((r) => r.shard);
  const move = moves[0];
  const dual = move && (DUAL_PHASES as readonly string[]).includes(move.phase);
  // The flip changes the directory and the phase in one batch: before it reads go `from`.
  const other = !dual
    ? null
    : move.phase === "flipped"
      ? (move.fromShards ?? [move.from])
      : (move.toShards ?? [move.to]);
  return { names, alsoWrite: other, moving: moves.length > 0 };
}

/** The position of `profileId` in a placement of `k` shards: fnv1a(profile_id) mod k. */
export function positionOf(profileId: string, k: number): number {
  return profileHash(profileId) % k;
}

/** FNV-1a over the profile ID: stable across isolates and releases, which a split relies on. */
function profileHash(profileId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < profileId.length; i++) {
    h ^= profileId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function projection(env: Env, projectId: string, epoch: number, placement: Placement): Projection {
  const shards = placement.names.map((n) => shard(env, n));
  const also = placement.alsoWrite?.map((n) => shard(env, n)) ?? null;
  const forProfile = (profileId: string) => shards[positionOf(profileId, shards.length)] as Shard;
  const writeShards = [...shards];
  for (const s of also ?? []) if (!writeShards.some((w) => w.name === s.name)) writeShards.push(s);
  return {
    projectId,
    epoch,
    shards,
    one() {
      const [only] = shards;
      if (!only || shards.length > 1) throw new Error(`Project ${projectId} is split over ${shards.length} shards.`);
      return only;
    },
    forProfile,
    writesFor(profileId) {
      const own = forProfile(profileId);
      const other = also?.[positionOf(profileId, also.length)];
      return other && other.name !== own.name ? [own, other] : [own];
    },
    writeShards,
    moving: placement.moving,
  };
}

/**
 * Where `projectId`'s projection lives, from the directory, cached in the isolate (see
 * DIRECTORY_TTL_MS). Throws UnplacedProjectError for a project the directory does not know.
 */
export async function projectionFor(env: Env, projectId: string): Promise<Projection> {
  const current = await fresh(env);
  let placement = current.projects.get(projectId);
  if (!placement) {
    // A failed read (or an unknown project) is not remembered: the next call asks again.
    placement = await placementReads.run(`${current.epoch}:${projectId}`, () => readPlacement(env, projectId));
    current.projects.set(projectId, placement);
  }
  return projection(env, projectId, current.epoch, placement);
}

/** Shorthand for the one shard of a project that is not split: `(await projectionFor(…)).one()`. */
export async function projectShard(env: Env, projectId: string): Promise<Shard> {
  return (await projectionFor(env, projectId)).one();
}

/** A shard's size in bytes, from D1's own figure for the database (no rows read). */
export async function shardBytes(s: Shard): Promise<number> {
  const { meta } = await s.d1.prepare("SELECT 1").run();
  return Number((meta as { size_after?: number }).size_after ?? 0);
}

/**
 * The shard a new project goes to: the emptiest by bytes (what fills a D1 database), then the
 * one holding the fewest projects, then the first by name.
 */
export async function emptiestShard(env: Env): Promise<string> {
  const shards = allShards(env);
  if (!shards.length) throw new Error("No projection shard is bound (PROJECTION_0…).");
  const [bytes, counts] = await Promise.all([
    Promise.all(shards.map(shardBytes)),
    drizzle(env.DB)
      .select({ shard: projectShards.shard, projects: sql<number>`count(*)` })
      .from(projectShards)
      .groupBy(projectShards.shard),
  ]);
  const projects = new Map(counts.map((c) => [c.shard, c.projects]));
  const ranked = shards
    .map((s, k) => ({ name: s.name, bytes: bytes[k] ?? 0, projects: projects.get(s.name) ?? 0, k }))
    .sort((a, b) => a.bytes - b.bytes || a.projects - b.projects || a.k - b.k);
  return (ranked[0] as { name: string }).name;
}

/**
 * The statement that places a new project on `shardName`, to run in the same batch as the
 * project's own row so no project exists without a shard. A new project needs no epoch bump:
 * no isolate can have cached it.
 */
export function placeProject(env: Env, projectId: string, shardName: string) {
  return drizzle(env.DB).insert(projectShards).values({ projectId, position: 0, shard: shardName });
}

/** The statement that makes every isolate read the directory again (within `directoryTiming.ttlMs`). */
export function bumpEpoch(env: Env) {
  return drizzle(env.DB)
    .update(directoryEpoch)
    .set({ epoch: sql`${directoryEpoch.epoch} + 1` })
    .where(eq(directoryEpoch.id, 0));
}
