import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/* The directory (SPEC §11), in the control database: which projection shard holds each project. */

/**
 * One row per shard of a project, at `position` 0…k-1. A project on one shard has one row at
 * position 0; a project split over k shards (a later step) places a profile at
 * position = hash(profile_id) mod k.
 */
export const projectShards = sqliteTable(
  "project_shards",
  {
    projectId: text("project_id").notNull(),
    position: integer("position").notNull(),
    shard: text("shard").notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.position] }), index("project_shards_shard_idx").on(t.shard)],
);

/**
 * One row (`id` 0): bumped by every change of a project's shards, so every isolate's cached
 * directory can see at one cheap read that it must forget what it holds.
 */
export const directoryEpoch = sqliteTable("directory_epoch", {
  id: integer("id").primaryKey(),
  epoch: integer("epoch").notNull(),
});

/**
 * A project's move to another shard or shards (SPEC §11), a job with a status. `phase` says where
 * the writes go (both placements until `cleanup`) and where the reads go (the old placement until
 * `flip`); `cursor` is where the copy or the deletion of old rows goes on, so a stopped move
 * resumes. `from_shards`/`to_shards` are the placements by position when either lists several
 * shards (a split), or when the move was asked as a list; null means the one shard of
 * `from_shard`/`to_shard`, which always hold the position-0 shard. `rollback` then `rolled_back`:
 * a move that had not flipped, undone (status `failed`).
 */
export const shardMoves = sqliteTable(
  "shard_moves",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id").notNull(),
    fromShard: text("from_shard").notNull(),
    toShard: text("to_shard").notNull(),
    fromShards: text("from_shards", { mode: "json" }).$type<string[]>(),
    toShards: text("to_shards", { mode: "json" }).$type<string[]>(),
    phase: text("phase", {
      enum: ["dual", "copy", "flipped", "cleanup", "delete", "done", "rollback", "rolled_back"],
    }).notNull(),
    cursor: text("cursor", { mode: "json" }),
    status: text("status", { enum: ["pending", "done", "failed"] }).notNull(),
    error: text("error"),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [index("shard_moves_project_idx").on(t.projectId, t.status)],
);
