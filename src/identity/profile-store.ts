import { uuidv7 } from "../lib/ids";
import { hourOf } from "../lib/time";
import type { Holder, ProfileProjection, QueuedEvent } from "../queue/messages";
import { identityMessage } from "../webhooks/items";
import { AttributeChanges, withClears } from "./attribute-changes";
import { AttributeTable } from "./attribute-table";
import { CommitLog } from "./commit-log";
import { type EventOrigin, EventTable, eventMessages, type RowEventsHeld, type StoredEvent } from "./event-table";
import { type HistoryEntry, HistoryTable } from "./history-table";
import { ProcessedOps } from "./processed-ops";
import { PROFILE_COLUMNS } from "./profile-schema";
import type { ApplyResult, DataOp, NewProfile, ProfileRow, WriteContext } from "./profile-types";
import type { StoredAttribute } from "./reconcile";

export { PROFILE_SCHEMA, PROFILE_TABLES, upgradeProfileTables } from "./profile-schema";

const NO_EVENTS: RowEventsHeld = { held: 0, chars: 0, inRow: 0 };

/**
 * The profile tables both Durable Object classes keep, and the synchronous operations on
 * them. Each table has its module; this one keeps the profile row and what spans the tables.
 * Nothing here awaits: callers wrap calls in `transaction` so each step is atomic.
 */
export class ProfileStore {
  /** Which object this is, set by it before it writes: projection messages name it. */
  holder: Holder | null = null;
  /**
   * Set for a write whose caller projects the profile itself (a mass-update chunk writes all its
   * profiles to D1 in one round trip): no projection message is staged for it.
   */
  callerProjects = false;
  readonly attributeTable: AttributeTable;
  readonly eventTable: EventTable;
  readonly historyTable: HistoryTable;
  readonly processed: ProcessedOps;
  readonly commits: CommitLog;
  /**
   * The hour of each profile's last activity, which is what the projection shows of it: every
   * move into a new hour is projected. A cache of `last_activity_at`, read again when missing, so
   * an object woken from eviction does not project a profile that has not moved.
   */
  private readonly projectedHour = new Map<string, string>();
  /** The object's SQLite: the store's own tables, for the modules that work on them with it. */
  readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.attributeTable = new AttributeTable(this.sql);
    this.eventTable = new EventTable(this.sql);
    this.historyTable = new HistoryTable(this.sql);
    this.commits = new CommitLog(this.sql);
    this.processed = new ProcessedOps(this.sql, this.commits);
  }

  /** The lazily made tables that exist, as the object's schema read them on waking. */
  assumeTables(has: (table: string) => boolean): void {
    this.attributeTable.assume(has("attributes"));
    this.eventTable.assume(has("event_batches"));
    this.historyTable.assume(has("history"));
  }

  /** `transactionSync` for every write through this store: a rollback also voids what was staged. */
  transaction<T>(fn: () => T): T {
    try {
      return this.storage.transactionSync(() => this.commits.within(fn));
    } catch (error) {
      this.commits.rolledBack();
      this.projectedHour.clear();
      this.attributeTable.forget();
      this.eventTable.forget();
      this.historyTable.forget();
      this.processed.forget();
      throw error;
    }
  }

  /** Tells the projection the profile changed (a message in the commit), unless the caller projects it. */
  profileChanged(profileId: string): void {
    if (!this.holder) throw new Error("the profile store's holder is not set");
    if (this.callerProjects) return;
    this.commits.changed({
      type: "profile_changed",
      project_id: this.holder.projectId,
      profile_id: profileId,
      holder: this.holder,
    });
  }

  profile(profileId: string): ProfileRow | null {
    // Not the attributes document: most callers need the header alone.
    return (this.sql.exec(`SELECT ${PROFILE_COLUMNS} FROM profiles WHERE profile_id = ?`, profileId).toArray()[0] ??
      null) as ProfileRow | null;
  }

  /**
   * Creates a profile with its first history entry, at that entry's time; its version counts
   * both, in one row written.
   */
  createProfile(profileId: string, customId: string | null, history: HistoryEntry): void {
    this.insertProfile(
      profileId,
      { customId, origin: history },
      { version: 2, activity: history.time, eventsHeld: 0, attributes: null },
    );
    this.profileChanged(profileId);
    this.publishHistory(profileId, history, customId);
  }

  /** A new profile's row; returns its last activity. */
  private insertProfile(
    profileId: string,
    created: NewProfile,
    row: { version: number; activity: string; eventsHeld: number; attributes: string | null; events?: string | null },
  ): string {
    this.sql.exec(
      `INSERT INTO profiles (profile_id, custom_id, state, created_at, last_activity_at, version, events_held,
         attributes, origin, events)
       VALUES (?, ?, 'active', ?, ?, ?, ?, ?, ?, ?)`,
      profileId,
      created.customId,
      created.origin.time,
      row.activity,
      row.version,
      row.eventsHeld,
      row.attributes,
      HistoryTable.origin(created.origin),
      row.events ?? null,
    );
    return row.activity;
  }

  /** `createProfile` then `applyData`, the row written once rather than created then updated. */
  createWithData(
    profileId: string,
    customId: string | null,
    history: HistoryEntry,
    ops: DataOp[],
    ctx: WriteContext,
    now: number,
  ): ApplyResult {
    if (ops.length === 0) {
      this.createProfile(profileId, customId, history);
      return this.applyData(profileId, ops, ctx, now);
    }
    this.profileChanged(profileId);
    this.publishHistory(profileId, history, customId);
    return this.apply(profileId, ops, ctx, now, { customId, origin: history });
  }

  /**
   * Records a history entry and, in the same commit, stages its webhook message on the event
   * queue. `copied` entries (a profile's history moving at sign-in) were published when they
   * happened.
   */
  appendHistory(profileId: string, entry: HistoryEntry, copied = false): void {
    this.bump(profileId);
    this.recordHistory(profileId, entry, copied);
  }

  private recordHistory(profileId: string, entry: HistoryEntry, copied: boolean): void {
    this.historyTable.append(profileId, entry);
    if (!copied) this.publishHistory(profileId, entry);
  }

  /** Stages a history entry's webhook message on the event queue, in the commit that records it. */
  private publishHistory(
    profileId: string,
    entry: HistoryEntry,
    /** The profile's custom ID, when the caller knows it (a profile not written yet has no row to read). */
    customId?: string | null,
  ): void {
    if (!this.holder) return;
    const message = identityMessage(
      uuidv7(),
      this.holder.projectId,
      profileId,
      customId === undefined ? (this.profile(profileId)?.custom_id ?? null) : customId,
      entry,
    );
    if (message) this.commits.stage("events", null, message);
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
      this.projectedHour.set(profileId, hourOf(time));
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

  /**
   * Applies data ops in order: attribute writes reconciled (SPEC §3), events stored and put in
   * the outbox, op IDs already seen in the last 7 days acknowledged as duplicates. Reads what it
   * needs up front and writes each table once, whatever the number of ops.
   */
  applyData(profileId: string, ops: DataOp[], ctx: WriteContext, now: number): ApplyResult {
    return this.apply(profileId, ops, ctx, now, null);
  }

  /** `applyData`, on a profile whose row this write creates when `created` is set. */
  private apply(profileId: string, ops: DataOp[], ctx: WriteContext, now: number, created: NewProfile | null) {
    const result: ApplyResult = { accepted: 0, duplicates: 0, rejected: [] };
    // No data: the call only counts as activity.
    if (ops.length === 0) {
      this.touch(profileId, ctx.receivedAt);
      return result;
    }
    // The op IDs not applied before; each op that applies takes its own, and only those are recorded.
    const claimed = this.processed.unseen(ops.flatMap((op) => (op.id === null ? [] : [op.id])));
    const applied: string[] = [];
    const expanded = withClears(ops, () => this.attributeTable.list(profileId));
    const attributes = new AttributeChanges(
      this.attributeTable.named(
        profileId,
        expanded.flatMap((op) => (op.type === "attributes" ? op.writes.map((w) => w.name) : [])),
      ),
      now,
    );
    let initialCount: number | undefined;
    const customCount = () => (initialCount ??= this.attributeTable.customCount(profileId));
    const refusedGroups = new Set<string>();
    const events: StoredEvent[] = [];
    for (const op of expanded) {
      if (op.group !== undefined && refusedGroups.has(op.group)) {
        if (op.id !== null) claimed.delete(op.id);
        continue;
      }
      // An ID not left to take was seen before (or earlier here).
      if (op.id !== null && !claimed.delete(op.id)) {
        result.duplicates++;
        continue;
      }
      if (op.type === "attributes") {
        const outcome = attributes.apply(op, customCount);
        if (outcome !== true) {
          result.rejected.push({ op_id: op.id, code: "LIMIT_EXCEEDED", message: outcome });
          if (op.group !== undefined) refusedGroups.add(op.group);
          continue;
        }
      } else {
        const { id, name, time, attributes, label, tags, source } = op;
        events.push({ id, name, time, attributes, label, tags, source, ...origin(ctx) });
      }
      // Ops without an ID are the SDK context's automatic writes, not ops the caller counts.
      if (op.id !== null) {
        result.accepted++;
        applied.push(op.id);
      }
    }
    this.processed.record(applied, profileId, now);
    const doc = this.attributeTable.put(profileId, attributes.changed());
    const projected = this.activityHour(profileId);
    const held = events.length > 0 ? this.eventsHeld(profileId) : NO_EVENTS;
    const placed = this.eventTable.place(profileId, events, held);
    this.enqueueEvents(profileId, events, ctx);
    // Trimmed before the profile row is written, so the row is written once.
    const trimmed = events.length > 0 ? this.eventTable.trim(profileId, held.held + placed.added, placed) : 0;
    const eventsHeld = placed.added - trimmed;
    const rowEvents = placed.write.mode === "none" ? null : placed.write.text;
    const activity = created
      ? // Its version counts the creation, its history entry and this write, as the update would.
        this.insertProfile(profileId, created, {
          version: 3,
          activity: created.origin.time > ctx.receivedAt ? created.origin.time : ctx.receivedAt,
          eventsHeld,
          attributes: doc,
          events: rowEvents,
        })
      : this.sql
          .exec<{ activity: string }>(
            `UPDATE profiles SET version = version + 1, last_activity_at = max(last_activity_at, ?1),
               events_held = events_held + ?2, attributes = coalesce(?3, attributes),
               events = CASE ?4 WHEN 'replace' THEN ?5
                 WHEN 'append' THEN coalesce(substr(nullif(events, '[]'), 1, length(events) - 1) || ',' || substr(?5, 2), ?5)
                 ELSE events END
             WHERE profile_id = ?6 RETURNING last_activity_at AS activity`,
            ctx.receivedAt,
            eventsHeld,
            doc,
            placed.write.mode,
            rowEvents,
            profileId,
          )
          .one().activity;
    // The projection shows attribute values and the hour of the last activity; events reach D1
    // on their own queue. A call that moves neither (events only, values sent again) projects nothing.
    const hour = hourOf(activity);
    if (attributes.visible() || projected !== hour) this.profileChanged(profileId);
    this.projectedHour.set(profileId, hour);
    return result;
  }

  /** The events a profile holds, and those of its row (none for a profile this write creates). */
  private eventsHeld(profileId: string): RowEventsHeld {
    return (
      this.sql
        .exec<{ held: number; chars: number; inRow: number }>(
          `SELECT events_held AS held, coalesce(length(events), 0) AS chars,
             coalesce(json_array_length(events), 0) AS inRow FROM profiles WHERE profile_id = ?`,
          profileId,
        )
        .toArray()[0] ?? NO_EVENTS
    );
  }

  /** Puts events in the outbox for the event queue, as few messages as fit. */
  enqueueEvents(profileId: string, events: QueuedEvent[], origin: EventOrigin): void {
    for (const message of eventMessages(profileId, events, origin)) this.commits.stage("events", null, message);
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

  /** Removes a profile and everything on it from this object (it moved, or it was purged). */
  remove(profileId: string): void {
    this.attributeTable.remove(profileId);
    this.eventTable.remove(profileId);
    this.historyTable.remove(profileId);
    this.processed.remove(profileId);
    this.sql.exec("DELETE FROM profiles WHERE profile_id = ?", profileId);
    this.projectedHour.delete(profileId);
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

  attributes(profileId: string): StoredAttribute[] {
    return this.attributeTable.list(profileId);
  }
}

/** Where and when an event came in, as the profile stores it. */
function origin(ctx: WriteContext): Pick<StoredEvent, "installation_id" | "received_at"> {
  return { installation_id: ctx.installationId, received_at: ctx.receivedAt };
}

/** The identifying fields of a profile row, as both the debug view and the projection show them. */
export function profileHeader(row: ProfileRow) {
  const { profile_id, custom_id, state, created_at, last_activity_at, version } = row;
  return { profile_id, custom_id, state, created_at, last_activity_at, version };
}
