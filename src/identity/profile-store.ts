import { chunkBy } from "../lib/chunk";
import type { EventAttributes } from "../lib/json";
import type {
  EventsMessage,
  Holder,
  ProfileProjection,
  ProjectionMessage,
  QueuedEvent,
  QueueMessage,
} from "../queue/messages";
import { type AttributeWrite, LIMITS, type Source } from "./attributes";
import { reconcile, type StoredAttribute } from "./reconcile";

export type OutboxQueue = "events" | "projection";

/** A message waiting in the outbox; `bytes` is its JSON size, for sending in batches. */
export interface OutboxEntry {
  seq: number;
  queue: OutboxQueue;
  dedupe: string | null;
  body: QueueMessage;
  bytes: number;
}

const encoder = new TextEncoder();

/** An event queue message stays well under the 128 KB a message may carry. */
const MAX_EVENTS_MESSAGE_BYTES = 90 * 1024;

/**
 * A data write applied to a profile, in the order the caller sent it. Ops sharing a `group`
 * (one Profile API operation) stand or fall together: once one is refused, the rest are skipped.
 */
export type DataOp =
  | { type: "attributes"; id: string | null; group?: string; time: string; source: Source; writes: AttributeWrite[] }
  | {
      type: "event";
      group?: string;
      id: string;
      time: string;
      source: "api" | "sdk";
      name: string;
      attributes: EventAttributes;
      label: string | null;
      tags: string[];
    };

export type HistoryKind =
  | "created"
  | "sign_in"
  | "login"
  | "logout"
  | "switch_user"
  | "orphaned"
  | "created_by_custom_id";

export interface HistoryEntry {
  time: string;
  kind: HistoryKind;
  installation_id: string | null;
  custom_id: string | null;
  source: "sdk" | "api";
  request_id: string | null;
}

/** An event as a profile keeps it: what travels on the queue, plus where and when it came in. */
export interface StoredEvent extends QueuedEvent {
  installation_id: string | null;
  received_at: string;
}

/** Everything a profile holds: what moves from an installation to its custom ID at sign-in. */
export interface ProfileSnapshot {
  profileId: string;
  version: number;
  createdAt: string;
  lastActivityAt: string;
  attributes: StoredAttribute[];
  events: StoredEvent[];
  history: HistoryEntry[];
  processed: { opId: string; at: number }[];
}

export interface ProfileRow {
  profile_id: string;
  custom_id: string | null;
  state: "active" | "orphaned";
  created_at: string;
  last_activity_at: string;
  orphaned_at: string | null;
  version: number;
}

/** Who is writing: carried into the events the profile publishes. */
export interface WriteContext {
  projectId: string;
  customId: string | null;
  installationId: string | null;
  appId: string | null;
  requestId: string;
  receivedAt: string;
}

export interface ApplyResult {
  accepted: number;
  duplicates: number;
  rejected: { op_id: string | null; code: string; message: string }[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS profiles (
  profile_id TEXT PRIMARY KEY, custom_id TEXT, state TEXT NOT NULL, created_at TEXT NOT NULL,
  last_activity_at TEXT NOT NULL, orphaned_at TEXT, version INTEGER NOT NULL DEFAULT 0,
  events_held INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS attributes (
  profile_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT, value TEXT, updated_at TEXT NOT NULL,
  source TEXT NOT NULL, PRIMARY KEY (profile_id, name));
CREATE TABLE IF NOT EXISTS events (
  profile_id TEXT NOT NULL, event_id TEXT NOT NULL, name TEXT NOT NULL, time TEXT NOT NULL,
  attributes TEXT NOT NULL, label TEXT, tags TEXT NOT NULL, source TEXT NOT NULL,
  installation_id TEXT, received_at TEXT NOT NULL, PRIMARY KEY (profile_id, event_id));
CREATE INDEX IF NOT EXISTS events_by_time ON events (profile_id, time);
CREATE TABLE IF NOT EXISTS history (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, profile_id TEXT NOT NULL, time TEXT NOT NULL, kind TEXT NOT NULL,
  installation_id TEXT, custom_id TEXT, source TEXT NOT NULL, request_id TEXT);
CREATE INDEX IF NOT EXISTS history_by_profile ON history (profile_id, seq);
CREATE TABLE IF NOT EXISTS processed (op_id TEXT PRIMARY KEY, profile_id TEXT, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS processed_by_time ON processed (at);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, dedupe TEXT UNIQUE, body TEXT NOT NULL);
`;

const isNativeName = (name: string) => name.startsWith("$");

/**
 * The profile tables both Durable Object classes keep, and the synchronous operations on
 * them. Nothing here awaits: callers wrap calls in `transaction` so each step is atomic.
 */
export class ProfileStore {
  /** Which object this is, set by it before it writes: projection messages name it. */
  holder: Holder | null = null;
  private staged: OutboxEntry[] = [];
  private stagedValid = true;
  private prunedAt = 0;
  /**
   * The hour of each profile's last activity, which is what the projection shows of it: every
   * move into a new hour is projected. A cache of `last_activity_at`, read again when missing, so
   * an object woken from eviction does not project a profile that has not moved.
   */
  private readonly projectedHour = new Map<string, string>();
  /**
   * Attributes as stored (null: none), by profile and name, for the names read or written since
   * the object started: a busy object reconciles its writes without reading them back. Every
   * write to the table keeps it; a removed profile drops its part, a rollback all of it.
   */
  private readonly storedAttributes = new Map<string, Map<string, StoredAttribute | null>>();
  private readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
  }

  private profileChanged(profileId: string): void {
    if (!this.holder) throw new Error("the profile store's holder is not set");
    this.markChanged({
      type: "profile_changed",
      project_id: this.holder.projectId,
      profile_id: profileId,
      holder: this.holder,
    });
  }

  migrate(): void {
    this.sql.exec(SCHEMA);
  }

  profile(profileId: string): ProfileRow | null {
    return (this.sql.exec("SELECT * FROM profiles WHERE profile_id = ?", profileId).toArray()[0] ??
      null) as ProfileRow | null;
  }

  createProfile(profileId: string, customId: string | null, time: string, history: HistoryEntry): void {
    this.sql.exec(
      "INSERT INTO profiles (profile_id, custom_id, state, created_at, last_activity_at, version) VALUES (?, ?, 'active', ?, ?, 1)",
      profileId,
      customId,
      time,
      time,
    );
    this.appendHistory(profileId, history);
  }

  appendHistory(profileId: string, entry: HistoryEntry): void {
    this.sql.exec(
      "INSERT INTO history (profile_id, time, kind, installation_id, custom_id, source, request_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
      profileId,
      entry.time,
      entry.kind,
      entry.installation_id,
      entry.custom_id,
      entry.source,
      entry.request_id,
    );
    this.bump(profileId);
  }

  /** Any call counts as activity (SPEC §5); activity only moves forward, and a new hour is projected. */
  touch(profileId: string, time: string): void {
    const newHour = this.sql.exec(
      `UPDATE profiles SET last_activity_at = ?, version = version + 1
         WHERE profile_id = ? AND substr(last_activity_at, 1, 13) < substr(?, 1, 13)`,
      time,
      profileId,
      time,
    ).rowsWritten;
    if (newHour > 0) {
      this.profileChanged(profileId);
      this.projectedHour.set(profileId, time.slice(0, 13));
      return;
    }
    this.sql.exec(
      "UPDATE profiles SET last_activity_at = max(last_activity_at, ?) WHERE profile_id = ?",
      time,
      profileId,
    );
  }

  /** The hour the projection shows of a profile's activity (see `projectedHour`). */
  private activityHour(profileId: string): string | undefined {
    return (
      this.projectedHour.get(profileId) ??
      this.sql
        .exec<{ hour: string }>(
          "SELECT substr(last_activity_at, 1, 13) AS hour FROM profiles WHERE profile_id = ?",
          profileId,
        )
        .toArray()[0]?.hour
    );
  }

  /** Every change moves the version on and tells the projection. */
  private bump(profileId: string): void {
    this.sql.exec("UPDATE profiles SET version = version + 1 WHERE profile_id = ?", profileId);
    this.profileChanged(profileId);
  }

  /** Those of `opIds` applied here within the idempotency window. */
  processedAmong(opIds: string[]): Set<string> {
    if (opIds.length === 0) return new Set();
    const rows = this.sql
      .exec<{ op_id: string }>(
        "SELECT op_id FROM processed WHERE op_id IN (SELECT value FROM json_each(?))",
        JSON.stringify(opIds),
      )
      .toArray();
    return new Set(rows.map((r) => r.op_id));
  }

  markProcessed(opId: string, profileId: string | null, at: number): void {
    this.sql.exec("INSERT OR IGNORE INTO processed (op_id, profile_id, at) VALUES (?, ?, ?)", opId, profileId, at);
  }

  /** Forgets idempotency keys older than the 7-day window of SPEC §4; at most once a minute. */
  pruneProcessed(now: number): void {
    if (now - this.prunedAt < 60_000) return;
    this.prunedAt = now;
    this.sql.exec("DELETE FROM processed WHERE at < ?", now - LIMITS.idempotencyWindowMs);
  }

  /** The stored attributes (tombstones included) among `names`, by name. */
  private attributesNamed(profileId: string, names: string[]): Map<string, StoredAttribute> {
    let known = this.storedAttributes.get(profileId);
    if (!known) {
      known = new Map();
      this.storedAttributes.set(profileId, known);
    }
    const missing = [...new Set(names)].filter((name) => !known.has(name));
    if (missing.length) {
      const rows = this.sql
        .exec<{ name: string; type: string | null; value: string | null; updated_at: string; source: string }>(
          `SELECT name, type, value, updated_at, source FROM attributes
           WHERE profile_id = ? AND name IN (SELECT value FROM json_each(?))`,
          profileId,
          JSON.stringify(missing),
        )
        .toArray();
      for (const name of missing) known.set(name, null);
      for (const row of rows) known.set(row.name, toStored(row));
    }
    const found = new Map<string, StoredAttribute>();
    for (const name of names) {
      const stored = known.get(name);
      if (stored) found.set(name, stored);
    }
    return found;
  }

  private customAttributeCount(profileId: string): number {
    const row = this.sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM attributes WHERE profile_id = ? AND value IS NOT NULL AND name NOT LIKE '$%'",
        profileId,
      )
      .one();
    return row.n;
  }

  private putAttributes(profileId: string, attributes: StoredAttribute[]): void {
    if (attributes.length === 0) return;
    const rows = attributes.map((a) => [
      a.name,
      a.type,
      a.value === null ? null : JSON.stringify(a.value),
      a.updatedAt,
      a.source,
    ]);
    this.sql.exec(
      `INSERT OR REPLACE INTO attributes (profile_id, name, type, value, updated_at, source)
       SELECT ?, value->>'$[0]', value->>'$[1]', value->>'$[2]', value->>'$[3]', value->>'$[4]' FROM json_each(?)`,
      profileId,
      JSON.stringify(rows),
    );
    const known = this.storedAttributes.get(profileId);
    if (known) for (const a of attributes) known.set(a.name, a);
  }

  /**
   * Applies data ops in order: attribute writes reconciled (SPEC §3), events stored and put in
   * the outbox, op IDs already seen in the last 7 days acknowledged as duplicates. Reads what it
   * needs up front and writes each table once, whatever the number of ops.
   */
  applyData(profileId: string, ops: DataOp[], ctx: WriteContext, now: number): ApplyResult {
    const result: ApplyResult = { accepted: 0, duplicates: 0, rejected: [] };
    const claimed = this.claim(
      ops.flatMap((op) => (op.id === null ? [] : [op.id])),
      profileId,
      now,
    );
    const unclaim: string[] = [];
    const attributes = new AttributeChanges(
      this.attributesNamed(
        profileId,
        ops.flatMap((op) => (op.type === "attributes" ? op.writes.map((w) => w.name) : [])),
      ),
    );
    let initialCount: number | undefined;
    const customCount = () => (initialCount ??= this.customAttributeCount(profileId));
    const refusedGroups = new Set<string>();
    const events: StoredEvent[] = [];
    for (const op of ops) {
      if (op.group !== undefined && refusedGroups.has(op.group)) {
        if (op.id !== null && claimed.delete(op.id)) unclaim.push(op.id);
        continue;
      }
      // The claim was the duplicate check: an ID it did not take was seen before (or earlier here).
      if (op.id !== null && !claimed.delete(op.id)) {
        result.duplicates++;
        continue;
      }
      if (op.type === "attributes") {
        const outcome = attributes.apply(op, customCount);
        if (outcome !== true) {
          if (op.id !== null) unclaim.push(op.id);
          result.rejected.push({ op_id: op.id, code: "LIMIT_EXCEEDED", message: outcome });
          if (op.group !== undefined) refusedGroups.add(op.group);
          continue;
        }
      } else {
        events.push({
          id: op.id,
          name: op.name,
          time: op.time,
          attributes: op.attributes,
          label: op.label,
          tags: op.tags,
          source: op.source,
          installation_id: ctx.installationId,
          received_at: ctx.receivedAt,
        });
      }
      // Ops without an ID are the SDK context's automatic writes, not ops the caller counts.
      if (op.id !== null) result.accepted++;
    }
    if (unclaim.length) {
      this.sql.exec("DELETE FROM processed WHERE op_id IN (SELECT value FROM json_each(?))", JSON.stringify(unclaim));
    }
    this.putAttributes(profileId, attributes.changed());
    const projected = this.activityHour(profileId);
    const added = this.storeEvents(profileId, events);
    this.enqueueEvents(profileId, events, ctx);
    const row = this.sql
      .exec<{ held: number; activity: string }>(
        `UPDATE profiles SET version = version + 1, last_activity_at = max(last_activity_at, ?),
           events_held = events_held + ? WHERE profile_id = ? RETURNING events_held AS held, last_activity_at AS activity`,
        ctx.receivedAt,
        added,
        profileId,
      )
      .one();
    if (added > 0) this.trimEvents(profileId, row.held);
    // The projection shows attribute values and the hour of the last activity; events reach D1
    // on their own queue. A call that moves neither (events only, values sent again) projects nothing.
    const hour = row.activity.slice(0, 13);
    if (attributes.visible() || projected !== hour) this.profileChanged(profileId);
    this.projectedHour.set(profileId, hour);
    return result;
  }

  /**
   * Records op IDs as applied in one statement; returns those it took, so an ID already applied
   * (within the idempotency window), or repeated in `opIds`, comes back once at most.
   */
  private claim(opIds: string[], profileId: string, now: number): Set<string> {
    if (opIds.length === 0) return new Set();
    const rows = this.sql
      .exec<{ op_id: string }>(
        "INSERT OR IGNORE INTO processed (op_id, profile_id, at) SELECT value, ?, ? FROM json_each(?) RETURNING op_id",
        profileId,
        now,
        JSON.stringify(opIds),
      )
      .toArray();
    return new Set(rows.map((r) => r.op_id));
  }

  /**
   * Keeps the most recent events only (SPEC §4); the queue and D1 keep the full stream. A counter
   * (`held`) makes the check O(1); trimming runs once the profile holds a tenth too many.
   */
  private trimEvents(profileId: string, held: number): void {
    if (held <= LIMITS.eventsKeptPerProfile * 1.1) return;
    this.sql.exec(
      `DELETE FROM events WHERE profile_id = ?1 AND event_id IN (
         SELECT event_id FROM events WHERE profile_id = ?1 ORDER BY time DESC, event_id DESC LIMIT -1 OFFSET ?2)`,
      profileId,
      LIMITS.eventsKeptPerProfile,
    );
    this.sql.exec("UPDATE profiles SET events_held = ? WHERE profile_id = ?", LIMITS.eventsKeptPerProfile, profileId);
  }

  /** Stores events on the profile in one statement; how many were new (a repeat is ignored). */
  private storeEvents(profileId: string, events: StoredEvent[]): number {
    if (events.length === 0) return 0;
    const rows = events.map((e) => [
      e.id,
      e.name,
      e.time,
      JSON.stringify(e.attributes),
      e.label,
      JSON.stringify(e.tags),
      e.source,
      e.installation_id,
      e.received_at,
    ]);
    return this.sql.exec(
      `INSERT OR IGNORE INTO events (profile_id, event_id, name, time, attributes, label, tags, source, installation_id, received_at)
       SELECT ?, value->>'$[0]', value->>'$[1]', value->>'$[2]', value->>'$[3]', value->>'$[4]', value->>'$[5]',
              value->>'$[6]', value->>'$[7]', value->>'$[8]' FROM json_each(?)`,
      profileId,
      JSON.stringify(rows),
    ).rowsWritten;
  }

  /** Puts events in the outbox for the event queue, as few messages as fit. */
  enqueueEvents(profileId: string, events: QueuedEvent[], ctx: Omit<WriteContext, "requestId">): void {
    for (const group of chunkBy(events, Number.POSITIVE_INFINITY, MAX_EVENTS_MESSAGE_BYTES)) {
      const message: EventsMessage = {
        type: "events",
        project_id: ctx.projectId,
        profile_id: profileId,
        custom_id: ctx.customId,
        installation_id: ctx.installationId,
        app_id: ctx.appId,
        received_at: ctx.receivedAt,
        events: group.map((e) => ({
          id: e.id,
          name: e.name,
          time: e.time,
          attributes: e.attributes,
          label: e.label,
          tags: e.tags,
          source: e.source,
        })),
      };
      this.stage("events", null, message);
    }
  }

  /**
   * Says the projection must re-read this profile or installation. One pending message per
   * subject: the consumer reads the current state, so later changes ride on the same message.
   * REPLACE gives the row a new sequence number, so a flush already sending the old row does
   * not acknowledge this newer change with it.
   */
  markChanged(message: ProjectionMessage): void {
    const key = message.type === "profile_changed" ? `p:${message.profile_id}` : `i:${message.installation_id}`;
    this.stage("projection", key, message);
  }

  /**
   * Writes an outbox row and keeps it in memory too, so the flush right after the write sends
   * it without reading it back. A repeated key replaces the pending entry.
   */
  private stage(queue: OutboxQueue, dedupe: string | null, body: QueueMessage): void {
    const text = JSON.stringify(body);
    const { seq } = this.sql
      .exec<{ seq: number }>(
        "INSERT OR REPLACE INTO outbox (queue, dedupe, body) VALUES (?, ?, ?) RETURNING seq",
        queue,
        dedupe,
        text,
      )
      .one();
    if (dedupe !== null) this.staged = this.staged.filter((e) => e.dedupe !== dedupe);
    this.staged.push({ seq, queue, dedupe, body, bytes: encoder.encode(text).byteLength });
  }

  /** The outbox rows numbered after `after`, oldest first. */
  outbox(after: number, limit: number): OutboxEntry[] {
    return this.sql
      .exec<{ seq: number; queue: string; dedupe: string | null; body: string }>(
        "SELECT seq, queue, dedupe, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
        after,
        limit,
      )
      .toArray()
      .map((r) => ({
        seq: r.seq,
        queue: r.queue as OutboxQueue,
        dedupe: r.dedupe,
        body: JSON.parse(r.body) as QueueMessage,
        bytes: encoder.encode(r.body).byteLength,
      }));
  }

  /** Forgets the outbox rows numbered up to `upTo`: they were sent. */
  ackOutbox(upTo: number): void {
    this.sql.exec("DELETE FROM outbox WHERE seq <= ?", upTo);
  }

  /** What the projection reads for a profile held here; null when it is not (any more). */
  projection(profileId: string): ProfileProjection | null {
    const row = this.profile(profileId);
    if (!row) return null;
    return {
      ...profileHeader(row),
      attributes: this.attributes(profileId).map((a) => ({ name: a.name, type: a.type ?? "string", value: a.value })),
    };
  }

  /**
   * The outbox rows written since the last call, in order; null when a rolled-back transaction
   * may have left the memory and the table apart, and only the table can say.
   */
  takeStaged(): OutboxEntry[] | null {
    const staged = this.staged;
    this.staged = [];
    if (!this.stagedValid) {
      this.stagedValid = true;
      return null;
    }
    return staged;
  }

  /** Whether rows were staged since the last `takeStaged`. */
  hasStaged(): boolean {
    return this.staged.length > 0 || !this.stagedValid;
  }

  /** `transactionSync` for every write through this store: a rollback also voids what was staged. */
  transaction<T>(fn: () => T): T {
    try {
      return this.storage.transactionSync(fn);
    } catch (error) {
      this.staged = [];
      this.stagedValid = false;
      this.projectedHour.clear();
      this.storedAttributes.clear();
      throw error;
    }
  }

  snapshot(profileId: string): ProfileSnapshot {
    const row = this.profile(profileId);
    if (!row) throw new Error(`profile ${profileId} is not held here`);
    return {
      profileId,
      version: row.version,
      createdAt: row.created_at,
      lastActivityAt: row.last_activity_at,
      attributes: this.attributes(profileId, true),
      events: this.events(profileId, LIMITS.eventsKeptPerProfile),
      history: this.history(profileId),
      processed: this.sql
        .exec<{ op_id: string; at: number }>("SELECT op_id, at FROM processed WHERE profile_id = ?", profileId)
        .toArray()
        .map((r) => ({ opId: r.op_id, at: r.at })),
    };
  }

  /** Takes in a profile offered at sign-in, under its own ID, now holding `customId`. */
  adopt(snapshot: ProfileSnapshot, customId: string): void {
    const id = snapshot.profileId;
    this.sql.exec(
      "INSERT INTO profiles (profile_id, custom_id, state, created_at, last_activity_at, version, events_held) VALUES (?, ?, 'active', ?, ?, ?, ?)",
      id,
      customId,
      snapshot.createdAt,
      snapshot.lastActivityAt,
      snapshot.version + 1,
      snapshot.events.length,
    );
    this.profileChanged(id);
    this.putAttributes(id, snapshot.attributes);
    this.storeEvents(id, snapshot.events);
    for (const h of snapshot.history) this.appendHistory(id, h);
    for (const p of snapshot.processed) this.markProcessed(p.opId, id, p.at);
  }

  /** Removes a profile and everything on it from this object (it moved, or it was purged). */
  remove(profileId: string): void {
    for (const table of ["attributes", "events", "history", "processed", "profiles"]) {
      this.sql.exec(`DELETE FROM ${table} WHERE profile_id = ?`, profileId);
    }
    this.projectedHour.delete(profileId);
    this.storedAttributes.delete(profileId);
    this.profileChanged(profileId);
  }

  orphan(profileId: string, entry: HistoryEntry): void {
    this.sql.exec(
      "UPDATE profiles SET state = 'orphaned', orphaned_at = ? WHERE profile_id = ?",
      entry.time,
      profileId,
    );
    this.appendHistory(profileId, entry);
  }

  attributes(profileId: string, withTombstones = false): StoredAttribute[] {
    return this.sql
      .exec<{ name: string; type: string | null; value: string | null; updated_at: string; source: string }>(
        `SELECT name, type, value, updated_at, source FROM attributes WHERE profile_id = ?${
          withTombstones ? "" : " AND value IS NOT NULL"
        } ORDER BY name`,
        profileId,
      )
      .toArray()
      .map(toStored);
  }

  events(profileId: string, limit: number): StoredEvent[] {
    return this.sql
      .exec<Record<string, string | null>>(
        "SELECT * FROM events WHERE profile_id = ? ORDER BY time DESC, event_id DESC LIMIT ?",
        profileId,
        limit,
      )
      .toArray()
      .map((r) => ({
        id: r.event_id as string,
        name: r.name as string,
        time: r.time as string,
        attributes: JSON.parse(r.attributes as string) as EventAttributes,
        label: r.label ?? null,
        tags: JSON.parse(r.tags as string) as string[],
        source: r.source as QueuedEvent["source"],
        installation_id: r.installation_id ?? null,
        received_at: r.received_at as string,
      }));
  }

  history(profileId: string): HistoryEntry[] {
    return this.sql
      .exec<Record<string, string | null>>(
        "SELECT time, kind, installation_id, custom_id, source, request_id FROM history WHERE profile_id = ? ORDER BY seq",
        profileId,
      )
      .toArray() as unknown as HistoryEntry[];
  }
}

/**
 * One call's attribute writes, reconciled against what the profile held before it and against
 * each other, and written once at the end. `written` names those an earlier op of the call set.
 */
class AttributeChanges {
  private readonly written = new Map<string, StoredAttribute>();
  /** Net change in the number of custom attributes holding a value, over the ops applied. */
  private growth = 0;

  constructor(private readonly stored: Map<string, StoredAttribute>) {}

  private current(name: string): StoredAttribute | undefined {
    return this.written.get(name) ?? this.stored.get(name);
  }

  /** True when applied; otherwise why the whole op was refused. `count` is the custom attributes held before the call. */
  apply(op: Extract<DataOp, { type: "attributes" }>, count: () => number): true | string {
    const next: StoredAttribute[] = [];
    let growth = 0;
    for (const write of op.writes) {
      const current = this.current(write.name);
      const stored = reconcile(current, write, op.time, op.source, this.written.has(write.name));
      if (!stored) continue;
      next.push(stored);
      if (!isNativeName(stored.name)) growth += Number(stored.value !== null) - Number(current?.value != null);
    }
    const overfull = next.find((a) => Array.isArray(a.value) && a.value.length > LIMITS.arrayItems);
    if (overfull) return `"${overfull.name}" would hold more than ${LIMITS.arrayItems} items.`;
    if (growth > 0 && count() + this.growth + growth > LIMITS.customAttributesPerProfile) {
      return `A profile holds at most ${LIMITS.customAttributesPerProfile} custom attributes.`;
    }
    for (const a of next) this.written.set(a.name, a);
    this.growth += growth;
    return true;
  }

  changed(): StoredAttribute[] {
    return [...this.written.values()];
  }

  /** Whether a write changed what the projection shows: a value or a type, not just its time. */
  visible(): boolean {
    for (const [name, next] of this.written) {
      const before = this.stored.get(name);
      if ((before?.type ?? null) !== (next.type ?? null)) return true;
      if (JSON.stringify(before?.value ?? null) !== JSON.stringify(next.value ?? null)) return true;
    }
    return false;
  }
}

/** The identifying fields of a profile row, as both the debug view and the projection show them. */
export function profileHeader(row: ProfileRow) {
  const { profile_id, custom_id, state, created_at, last_activity_at, version } = row;
  return { profile_id, custom_id, state, created_at, last_activity_at, version };
}

function toStored(row: {
  name: string;
  type: string | null;
  value: string | null;
  updated_at: string;
  source: string;
}): StoredAttribute {
  return {
    name: row.name,
    type: row.type as StoredAttribute["type"],
    value: row.value === null ? null : (JSON.parse(row.value) as StoredAttribute["value"]),
    updatedAt: row.updated_at,
    source: row.source as Source,
  };
}
