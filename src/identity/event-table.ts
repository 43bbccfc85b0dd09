import { chunkBy } from "../lib/chunk";
import type { EventAttributes } from "../lib/json";
import type { EventsMessage, QueuedEvent } from "../queue/messages";
import { LIMITS } from "./attributes";
import { jsonPieces } from "./json-pieces";

export const EVENTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  profile_id TEXT NOT NULL, event_id TEXT NOT NULL, name TEXT NOT NULL, time TEXT NOT NULL,
  attributes TEXT NOT NULL, label TEXT, tags TEXT NOT NULL, source TEXT NOT NULL,
  installation_id TEXT, received_at TEXT NOT NULL, PRIMARY KEY (profile_id, event_id));
CREATE INDEX IF NOT EXISTS events_by_time ON events (profile_id, time);
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

/** An event queue message stays well under the 128 KB a message may carry. */
const MAX_EVENTS_MESSAGE_BYTES = 90 * 1024;

/** The most recent events of each profile (SPEC §4); the queue and D1 keep the full stream. */
export class EventTable {
  constructor(private readonly sql: SqlStorage) {}

  /** Stores events, one statement per piece (see json-pieces.ts); how many were new (a repeat is ignored). */
  store(profileId: string, events: StoredEvent[]): number {
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
    let added = 0;
    for (const piece of jsonPieces(rows)) {
      added += this.sql.exec(
        `INSERT OR IGNORE INTO events (profile_id, event_id, name, time, attributes, label, tags, source, installation_id, received_at)
         SELECT ?, value->>'$[0]', value->>'$[1]', value->>'$[2]', value->>'$[3]', value->>'$[4]', value->>'$[5]',
                value->>'$[6]', value->>'$[7]', value->>'$[8]' FROM json_each(?)`,
        profileId,
        piece,
      ).rowsWritten;
    }
    return added;
  }

  /**
   * Keeps the most recent events only. A counter (`held`, kept on the profile row) makes the
   * check O(1); trimming runs once the profile holds a tenth too many. True when it trimmed.
   */
  trim(profileId: string, held: number): boolean {
    if (held <= LIMITS.eventsKeptPerProfile * 1.1) return false;
    this.sql.exec(
      `DELETE FROM events WHERE profile_id = ?1 AND event_id IN (
         SELECT event_id FROM events WHERE profile_id = ?1 ORDER BY time DESC, event_id DESC LIMIT -1 OFFSET ?2)`,
      profileId,
      LIMITS.eventsKeptPerProfile,
    );
    return true;
  }

  list(profileId: string, limit: number): StoredEvent[] {
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

  remove(profileId: string): void {
    this.sql.exec("DELETE FROM events WHERE profile_id = ?", profileId);
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
