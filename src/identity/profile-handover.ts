import { LIMITS } from "./attributes";
import { ROW_EVENTS_CHARS } from "./event-table";
import type { ProfileStore } from "./profile-store";
import type { ProfileSnapshot } from "./profile-types";

/*
 * A profile handed over at sign-in (transitions.ts): the object that holds it takes its
 * snapshot, and the custom ID's object adopts it under the same profile ID.
 */

/** Everything a profile holds here, as the object that adopts it needs it. */
export function snapshotOf(store: ProfileStore, profileId: string): ProfileSnapshot {
  const row = store.profile(profileId);
  if (!row) throw new Error(`profile ${profileId} is not held here`);
  return {
    profileId,
    version: row.version,
    createdAt: row.created_at,
    lastActivityAt: row.last_activity_at,
    attributes: store.attributeTable.list(profileId, true),
    events: store.eventTable.list(profileId, LIMITS.eventsKeptPerProfile),
    history: store.historyTable.list(profileId),
    processed: store.processed.ofProfile(profileId),
  };
}

/** Takes in a profile offered at sign-in, under its own ID, now holding `customId`. */
export function adoptProfile(store: ProfileStore, snapshot: ProfileSnapshot, customId: string): void {
  const id = snapshot.profileId;
  // The attributes first: their document goes in the profile row as it is made.
  const doc = store.attributeTable.put(id, snapshot.attributes);
  // Its events in its row as well, when they fit there (oldest first, as a row keeps them).
  const events = snapshot.events.length > 0 ? JSON.stringify(snapshot.events.toReversed()) : null;
  const inRow = events !== null && events.length <= ROW_EVENTS_CHARS;
  store.sql.exec(
    `INSERT INTO profiles (profile_id, custom_id, state, created_at, last_activity_at, version, events_held,
       attributes, events) VALUES (?, ?, 'active', ?, ?, ?, ?, ?, ?)`,
    id,
    customId,
    snapshot.createdAt,
    snapshot.lastActivityAt,
    snapshot.version + 1,
    snapshot.events.length,
    doc,
    inRow ? events : null,
  );
  store.profileChanged(id);
  if (!inRow) store.eventTable.store(id, snapshot.events);
  for (const h of snapshot.history) store.appendHistory(id, h, true);
  store.processed.adopt(id, snapshot.processed);
}
