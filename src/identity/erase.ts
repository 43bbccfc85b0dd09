import { forgetOpsOf } from "./commit-log";
import { OWN_TABLES } from "./lazy-schema";
/*
 * Erasure inside a Durable Object: a privacy remove or a purge deletes everything the object
 * holds, in one synchronous transaction, and remembers the answer under the request's ID so a
 * retried call returns the same receipt without deleting anything a second time (a freed
 * installation may hold a new profile by then). Only the `erasures` table survives: it holds
 * request IDs, times and counts, nothing about the person.
 */

export const ERASURES = `CREATE TABLE IF NOT EXISTS erasures (request_id TEXT PRIMARY KEY, receipt TEXT NOT NULL)`;

/** What an object deleted: its profiles (the removed one and any orphans it kept), rows per table. */
export interface ObjectErasure {
  erased: true;
  at: string;
  profiles: { profile_id: string; state: string }[];
  /** Installations attached to a custom ID's profile, as the object held them. */
  members: string[];
  rows: Record<string, number>;
}

/** Why an object kept what it holds. */
export interface ObjectSpared {
  erased: false;
  reason: "not_held" | "active" | "moved" | "not_orphaned_long_enough" | "custom_id_required";
  last_activity_at?: string;
}

export type EraseOutcome = ObjectErasure | ObjectSpared;

export interface EraseRequest {
  /** The idempotency key: the privacy request, or the purge job. */
  requestId: string;
  at: string;
  /** Erase only while the object still holds this profile (it may have moved since it was found). */
  profileId?: string;
  /** Purge: erase only if the profile's own last activity is older than this (ISO 8601). */
  inactiveBefore?: string;
  /** As Batch: an installation whose profile holds a custom ID is reached through the custom ID only. */
  anonymousOnly?: boolean;
  /** Count what would go, delete nothing. */
  dryRun?: boolean;
}

function previous(sql: SqlStorage, requestId: string): ObjectErasure | null {
  sql.exec(ERASURES);
  const row = sql
    .exec<{ receipt: string }>("SELECT receipt FROM erasures WHERE request_id = ?", requestId)
    .toArray()[0];
  return row ? (JSON.parse(row.receipt) as ObjectErasure) : null;
}

/**
 * Every table the object keeps, whichever module created it, except the erasure log and the
 * runtime's own (`_cf_…`, and `__miniflare_do_name`, which a local run re-creates on start):
 * a receipt names only our tables.
 */
function tables(sql: SqlStorage): string[] {
  return sql
    .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE ${OWN_TABLES} AND name <> 'erasures'`)
    .toArray()
    .map((r) => r.name);
}

/**
 * Tables that keep several items in a row, counted by item in a receipt under the name the
 * items had when each took a row: a receipt says how many events went, not how many writes.
 */
const ITEMS: Record<string, { name: string; count: string }> = {
  event_batches: { name: "events", count: "coalesce(sum(n), 0)" },
  commits: { name: "processed", count: "coalesce(sum(json_array_length(ops)), 0)" },
};

/** How many items `table` holds (those of `profileId` only, when given), under the receipt's name. */
function countItems(sql: SqlStorage, table: string, profileId?: string): { name: string; n: number } {
  const items = ITEMS[table];
  const where = profileId === undefined ? "" : " WHERE profile_id = ?";
  const { n } = sql
    .exec<{ n: number }>(
      `SELECT ${items?.count ?? "count(*)"} AS n FROM "${table}"${where}`,
      ...(profileId === undefined ? [] : [profileId]),
    )
    .one();
  return { name: items?.name ?? table, n };
}

/**
 * Counts what profile rows keep of other tables (of `profileId` only, when given), as the rows
 * of those tables they once were: the attributes of their documents under `attributes`, their
 * first history entries under `history`, their most recent events under `events`. A receipt
 * counts them either way.
 */
function addInline(rows: Record<string, number>, sql: SqlStorage, profileId?: string): void {
  const where = profileId === undefined ? "" : " WHERE profile_id = ?";
  const bound = profileId === undefined ? [] : [profileId];
  const { n } = sql
    .exec<{ n: number }>(`SELECT count(*) AS n FROM profiles, json_each(profiles.attributes)${where}`, ...bound)
    .one();
  if (n > 0) rows.attributes = (rows.attributes ?? 0) + n;
  const origins = sql.exec<{ n: number }>(`SELECT count(origin) AS n FROM profiles${where}`, ...bound).one().n;
  if (origins > 0) rows.history = (rows.history ?? 0) + origins;
  const events = sql
    .exec<{ n: number }>(`SELECT coalesce(sum(json_array_length(events)), 0) AS n FROM profiles${where}`, ...bound)
    .one().n;
  if (events > 0) rows.events = (rows.events ?? 0) + events;
}

/** What the object says about itself, for the guard: its current profile, the installations it lists. */
export interface ErasureHooks {
  /** The profile the object currently stands for, with its own last activity; null if none. */
  target(): { profileId: string; customId: string | null; lastActivityAt: string } | null;
  /** Installations attached to the profile (a custom ID's members); empty for an installation. */
  members(): string[];
}

/**
 * Deletes everything in the object's storage, unless the guard says otherwise. Call inside the
 * object's `transactionSync`: the check and the delete see the same state.
 */
export function eraseObject(storage: DurableObjectStorage, req: EraseRequest, hooks: ErasureHooks): EraseOutcome {
  const sql = storage.sql;
  const seen = previous(sql, req.requestId);
  if (seen) return seen;
  const target = hooks.target();
  if (!target) return { erased: false, reason: "not_held" };
  if (req.profileId !== undefined && target.profileId !== req.profileId) return { erased: false, reason: "moved" };
  if (req.anonymousOnly && target.customId !== null) return { erased: false, reason: "custom_id_required" };
  if (req.inactiveBefore !== undefined && !(target.lastActivityAt < req.inactiveBefore)) {
    return { erased: false, reason: "active", last_activity_at: target.lastActivityAt };
  }
  const profiles = sql
    .exec<{ profile_id: string; state: string }>("SELECT profile_id, state FROM profiles ORDER BY profile_id")
    .toArray()
    .map((r) => ({ profile_id: r.profile_id, state: r.state }));
  const memberIds = hooks.members();
  const rows: Record<string, number> = {};
  const held = tables(sql);
  if (held.includes("profiles")) addInline(rows, sql);
  for (const table of held) {
    const { name, n } = countItems(sql, table);
    if (n > 0) rows[name] = (rows[name] ?? 0) + n;
    if (!req.dryRun) sql.exec(`DELETE FROM "${table}"`);
  }
  const receipt: ObjectErasure = { erased: true, at: req.at, profiles, members: memberIds, rows };
  if (!req.dryRun) {
    sql.exec("INSERT INTO erasures (request_id, receipt) VALUES (?, ?)", req.requestId, JSON.stringify(receipt));
  }
  return receipt;
}

/** Per-profile tables of the profile store: an orphan's rows are removed from each it holds. */
const PER_PROFILE_TABLES = ["attributes", "event_batches", "history", "commits", "profiles"] as const;

/** Deletes a profile's rows of `table`; in the commit log, its op IDs (messages owed stay to be sent). */
function deleteOfProfile(sql: SqlStorage, table: (typeof PER_PROFILE_TABLES)[number], profileId: string): void {
  if (table !== "commits") {
    sql.exec(`DELETE FROM ${table} WHERE profile_id = ?`, profileId);
    return;
  }
  forgetOpsOf(sql, profileId);
}

/**
 * Deletes one orphaned profile an installation's object keeps, once it has been orphaned
 * longer than `orphanedBefore` allows; the installation and its current profile stay.
 */
export function eraseOrphan(
  storage: DurableObjectStorage,
  req: EraseRequest & { profileId: string; orphanedBefore: string },
): EraseOutcome {
  const sql = storage.sql;
  const seen = previous(sql, `${req.requestId}:${req.profileId}`);
  if (seen) return seen;
  const row = sql
    .exec<{ state: string; orphaned_at: string | null }>(
      "SELECT state, orphaned_at FROM profiles WHERE profile_id = ?",
      req.profileId,
    )
    .toArray()[0];
  if (!row) return { erased: false, reason: "not_held" };
  if (row.state !== "orphaned" || row.orphaned_at === null || !(row.orphaned_at < req.orphanedBefore)) {
    return { erased: false, reason: "not_orphaned_long_enough" };
  }
  const rows: Record<string, number> = {};
  addInline(rows, sql, req.profileId);
  const held = new Set(tables(sql));
  for (const table of PER_PROFILE_TABLES) {
    if (!held.has(table)) continue;
    const { name, n } = countItems(sql, table, req.profileId);
    if (n > 0) rows[name] = (rows[name] ?? 0) + n;
    if (!req.dryRun) deleteOfProfile(sql, table, req.profileId);
  }
  const receipt: ObjectErasure = {
    erased: true,
    at: req.at,
    profiles: [{ profile_id: req.profileId, state: "orphaned" }],
    members: [],
    rows,
  };
  if (!req.dryRun) {
    sql.exec(
      "INSERT INTO erasures (request_id, receipt) VALUES (?, ?)",
      `${req.requestId}:${req.profileId}`,
      JSON.stringify(receipt),
    );
  }
  return receipt;
}

/** The custom ID object's hooks: its active profile and its member installations (none before its first). */
export function customIdHooks(sql: SqlStorage, hasMembers: boolean): ErasureHooks {
  return {
    target: () => {
      const row = sql
        .exec<{ profile_id: string; custom_id: string | null; last_activity_at: string }>(
          "SELECT profile_id, custom_id, last_activity_at FROM profiles WHERE state = 'active' LIMIT 1",
        )
        .toArray()[0];
      return row ? { profileId: row.profile_id, customId: row.custom_id, lastActivityAt: row.last_activity_at } : null;
    },
    members: () =>
      hasMembers
        ? sql
            .exec<{ installation_id: string }>("SELECT installation_id FROM members ORDER BY attached_at")
            .toArray()
            .map((r) => r.installation_id)
        : [],
  };
}

/**
 * The installation object's hooks: the profile it is bound to. While anonymous that profile
 * lives here and its activity is read from it; once signed in, the custom ID's object decides.
 */
export function installationHooks(sql: SqlStorage): ErasureHooks {
  return {
    target: () => {
      const row = sql
        .exec<{ profile_id: string; custom_id: string | null; last_seen_at: string }>(
          "SELECT profile_id, custom_id, last_seen_at FROM installation",
        )
        .toArray()[0];
      if (!row) return null;
      const local = sql
        .exec<{ last_activity_at: string }>(
          "SELECT last_activity_at FROM profiles WHERE profile_id = ?",
          row.profile_id,
        )
        .toArray()[0];
      return {
        profileId: row.profile_id,
        customId: row.custom_id,
        lastActivityAt: local?.last_activity_at ?? row.last_seen_at,
      };
    },
    members: () => [],
  };
}
