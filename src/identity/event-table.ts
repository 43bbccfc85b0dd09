import { chunkBy } from "../lib/chunk";
import type { EventsMessage, QueuedEvent } from "../queue/messages";
import { LIMITS } from "./attributes";
import { MAX_PIECE_BYTES } from "./json-pieces";
import { OnDemandTable, tableExists } from "./on-demand-table";

/**
 * A profile's events, one row per write: the events it brought, as a JSON list, with the time
 * of the most recent (for trimming) and their count. One row written per call, however many
 * events it carries, and no index beyond the key.
 */
export const EVENTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS event_batches (
  profile_id TEXT NOT NULL, seq INTEGER NOT NULL, latest TEXT NOT NULL, n INTEGER NOT NULL, events TEXT NOT NULL,
  PRIMARY KEY (profile_id, seq)) WITHOUT ROWID;
`;

/** An event as a profile keeps it: what travels on the queue, plus where and when it came in. */
export interface StoredEvent extends QueuedEvent {
  installation_id: string | null;
  received_at: string;
}

/** Who sent events, as the event queue's messages name them. */
export interface EventOrigin {
  projectId: string;
  customId: string | null;
  installationId: string | null;
  appId: string | null;
  receivedAt: string;
}

/**
 * How much of a profile's most recent events its row keeps (`profiles.events`, a JSON list), in
 * UTF-16 units: a write whose events fit goes in the row it writes anyway, not in a row of its
 * own. About a hundred events of a few attributes each.
 */
export const ROW_EVENTS_CHARS = 16 * 1024;

/** What a profile row holds of its events, as `placeEvents` needs it. */
export interface RowEventsHeld {
  /** All the profile's events, in its row and in `event_batches`. */
  held: number;
  /** The length of its row's list (0: none), and how many events it holds. */
  chars: number;
  inRow: number;
}

/** What a write does to the profile row's list of events. */
export type RowEventsWrite = { mode: "none" } | { mode: "append" | "replace"; text: string };

/**
 * Where a write's events went: what to write in the profile row, how many more events the
 * profile holds, how many its row will hold, and (read when trimming) their latest time.
 */
export interface PlacedEvents {
  write: RowEventsWrite;
  added: number;
  inRow: number;
  latest: () => string;
}

const latestOf = (events: StoredEvent[]) => events.reduce((max, e) => (e.time > max ? e.time : max), "");

/** An event queue message stays well under the 128 KB a message may carry. */
const MAX_EVENTS_MESSAGE_BYTES = 90 * 1024;

/** Objects from before kept a row per event (and an index on time): their events move to batches. */
export function upgradeEvents(sql: SqlStorage): void {
  if (!tableExists(sql, "events")) return;
  const table = new EventTable(sql);
  const profiles = sql.exec<{ profile_id: string }>("SELECT DISTINCT profile_id FROM events").toArray();
  for (const { profile_id } of profiles) {
    const events = sql
      .exec<Record<string, string | null>>("SELECT * FROM events WHERE profile_id = ? ORDER BY time", profile_id)
      .toArray()
      .map(
        (r): StoredEvent => ({
          id: r.event_id as string,
          name: r.name as string,
          time: r.time as string,
          attributes: JSON.parse(r.attributes as string),
          label: r.label ?? null,
          tags: JSON.parse(r.tags as string) as string[],
          source: r.source as QueuedEvent["source"],
          installation_id: r.installation_id ?? null,
          received_at: r.received_at as string,
        }),
      );
    table.store(profile_id, events);
  }
  sql.exec("DROP TABLE events");
}

/**
 * The most recent events of each profile (SPEC §4); the queue and R2 keep the full stream.
 * The most recent of them are in the profile row (`place`); this table holds the rest, a row
 * per write that did not fit there. It is made by the first such write: a profile whose events
 * all fit in its row, or that only ever gets attributes, pays none of its rows.
 */
export class EventTable {
  private readonly table: OnDemandTable;

  constructor(private readonly sql: SqlStorage) {
    this.table = new OnDemandTable(sql, "event_batches", EVENTS_SCHEMA);
  }

  /** Whether the table exists, as the object's schema read it on waking (`OnDemandTable`). */
  assume(exists: boolean): void {
    this.table.assume(exists);
  }

  /** A rollback may have undone the table's creation: ask again. */
  forget(): void {
    this.table.forget();
  }

  /**
   * Stores events in one row (more only past 1 MB, see json-pieces.ts); returns how many more
   * events the profile holds. A profile that already holds `held` events, a tenth over the
   * number kept, gets the new row in place of its oldest (by arrival) when the rest still hold
   * that number: one row written rather than one inserted and one deleted by `trim`.
   */
  store(profileId: string, events: StoredEvent[], held = 0): number {
    if (events.length === 0) return 0;
    this.table.make();
    const whole = JSON.stringify(events);
    // A UTF-16 unit is at most 3 bytes of UTF-8: most calls are one piece without counting bytes.
    const pieces =
      whole.length * 3 <= MAX_PIECE_BYTES ? [events] : chunkBy(events, Number.POSITIVE_INFINITY, MAX_PIECE_BYTES);
    let holding = held;
    for (const piece of pieces) {
      const text = piece === events ? whole : JSON.stringify(piece);
      const latest = latestOf(piece);
      const oldest = holding + piece.length > LIMITS.eventsKeptPerProfile * 1.1 ? this.oldest(profileId) : undefined;
      if (oldest && holding - oldest.n >= LIMITS.eventsKeptPerProfile) {
        this.sql.exec(
          `UPDATE event_batches SET seq = (SELECT max(seq) + 1 FROM event_batches WHERE profile_id = ?1),
             latest = ?2, n = ?3, events = ?4
           WHERE profile_id = ?1 AND seq = ?5`,
          profileId,
          latest,
          piece.length,
          text,
          oldest.seq,
        );
        holding += piece.length - oldest.n;
        continue;
      }
      this.sql.exec(
        `INSERT INTO event_batches (profile_id, seq, latest, n, events)
         VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM event_batches WHERE profile_id = ?1), ?2, ?3, ?4)`,
        profileId,
        latest,
        piece.length,
        text,
      );
      holding += piece.length;
    }
    return holding - held;
  }

  /**
   * Places a write's events: after those the profile row holds, when they fit there (the row is
   * written by the same call anyway: no row of their own); else the row's events move to a row
   * of this table (made then) and the new ones take their place; a write too large for the row
   * goes to this table whole. Returns what to write in the row, how many more events the
   * profile holds, how many its row will hold, and how to read their latest time (`trim`).
   */
  place(profileId: string, events: StoredEvent[], row: RowEventsHeld): PlacedEvents {
    const listed = () => this.rowLatest(profileId);
    if (events.length === 0) return { write: { mode: "none" }, added: 0, inRow: row.inRow, latest: listed };
    const text = JSON.stringify(events);
    const newest = latestOf(events);
    if (text.length > ROW_EVENTS_CHARS) {
      const added = this.store(profileId, events, row.held);
      return { write: { mode: "none" }, added, inRow: row.inRow, latest: listed };
    }
    if (row.chars + text.length - 1 <= ROW_EVENTS_CHARS) {
      const latest = () => {
        const stored = row.inRow === 0 ? "" : listed();
        return stored > newest ? stored : newest;
      };
      return { write: { mode: "append", text }, added: events.length, inRow: row.inRow + events.length, latest };
    }
    // The row's list moves to a row of the table: the events it holds were counted already.
    const moving = JSON.parse(
      this.sql.exec<{ events: string }>("SELECT events FROM profiles WHERE profile_id = ?", profileId).one().events,
    ) as StoredEvent[];
    const moved = this.store(profileId, moving, row.held - row.inRow) - moving.length;
    return {
      write: { mode: "replace", text },
      added: events.length + moved,
      inRow: events.length,
      latest: () => newest,
    };
  }

  /** The time of the most recent event in the profile row's list as stored ('' for none). */
  private rowLatest(profileId: string): string {
    return this.sql
      .exec<{ latest: string }>(
        `SELECT coalesce(max(e.value->>'$.time'), '') AS latest
           FROM profiles, json_each(profiles.events) AS e WHERE profile_id = ?`,
        profileId,
      )
      .one().latest;
  }

  /** The profile's first row still held, by arrival (one row read, through the key). */
  private oldest(profileId: string): { seq: number; n: number } | undefined {
    return this.sql
      .exec<{ seq: number; n: number }>(
        "SELECT seq, n FROM event_batches WHERE profile_id = ? ORDER BY seq LIMIT 1",
        profileId,
      )
      .toArray()[0];
  }

  /**
   * Keeps the most recent events: once the profile holds a tenth too many (`held`, counted on
   * the profile row, makes the check O(1)), deletes its oldest rows, by their most recent event's
   * time, while those left and the profile row's list hold at least the number kept. The list
   * (`row`: how many events it will hold, and their latest time, read only when trimming) ranks
   * by its own latest time, and first among equals as the latest arrival; it is never deleted
   * here, so a list of older events (a backfill) keeps the newer rows of the table. Returns how
   * many events went.
   */
  trim(profileId: string, held: number, row: Pick<PlacedEvents, "inRow" | "latest">): number {
    if (held <= LIMITS.eventsKeptPerProfile * 1.1 || !this.table.exists) return 0;
    const gone = this.sql
      .exec<{ n: number }>(
        `DELETE FROM event_batches WHERE profile_id = ?1 AND seq IN (
           SELECT seq FROM (
             SELECT seq, coalesce(sum(n) OVER (ORDER BY latest DESC, seq IS NULL DESC, seq DESC
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS newer
             FROM (SELECT seq, latest, n FROM event_batches WHERE profile_id = ?1
                   UNION ALL SELECT NULL, ?4, ?3 WHERE ?3 > 0))
           WHERE seq IS NOT NULL AND newer >= ?2) RETURNING n`,
        profileId,
        LIMITS.eventsKeptPerProfile,
        row.inRow,
        row.inRow > 0 ? row.latest() : "",
      )
      .toArray();
    return gone.reduce((sum, r) => sum + r.n, 0);
  }

  /** The profile's `limit` most recent events, most recent first: its row's and this table's. */
  list(profileId: string, limit: number): StoredEvent[] {
    const inRow = `SELECT e.value AS event, e.value->>'$.time' AS time, e.value->>'$.id' AS id
      FROM profiles, json_each(profiles.events) AS e WHERE profile_id = ?1`;
    const inTable = `SELECT e.value, e.value->>'$.time', e.value->>'$.id'
      FROM event_batches, json_each(event_batches.events) AS e WHERE profile_id = ?1`;
    return this.sql
      .exec<{ event: string }>(
        `${this.table.exists ? `${inRow} UNION ALL ${inTable}` : inRow} ORDER BY time DESC, id DESC LIMIT ?2`,
        profileId,
        limit,
      )
      .toArray()
      .map((r) => JSON.parse(r.event) as StoredEvent);
  }

  remove(profileId: string): void {
    if (this.table.exists) this.sql.exec("DELETE FROM event_batches WHERE profile_id = ?", profileId);
  }
}

/** Events as event queue messages, as few as fit. */
export function eventMessages(profileId: string, events: QueuedEvent[], origin: EventOrigin): EventsMessage[] {
  return chunkBy(events, Number.POSITIVE_INFINITY, MAX_EVENTS_MESSAGE_BYTES).map((group) => ({
    type: "events",
    project_id: origin.projectId,
    profile_id: profileId,
    custom_id: origin.customId,
    installation_id: origin.installationId,
    app_id: origin.appId,
    received_at: origin.receivedAt,
    events: group.map((e) => ({
      id: e.id,
      name: e.name,
      time: e.time,
      attributes: e.attributes,
      label: e.label,
      tags: e.tags,
      source: e.source,
    })),
  }));
}
