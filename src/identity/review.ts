import { LIMITS } from "./attributes";
import type { StoredEvent } from "./event-table";
import type { HistoryEntry } from "./history-table";
import { type ProfileStore, profileHeader } from "./profile-store";

/** Everything a profile holds in its object, for a privacy review's archive. */
export interface ProfileRecord {
  profile_id: string;
  custom_id: string | null;
  state: string;
  created_at: string;
  last_activity_at: string;
  attributes: Record<string, { value: unknown; type: string | null; updated_at: string; source: string }>;
  /** Every event the object keeps (the most recent 1,000), with where and when each came in. */
  events: StoredEvent[];
  identity_history: HistoryEntry[];
}

/** Reads a profile held in `store` in full; null when it is not held there. */
export function profileRecord(store: ProfileStore, profileId: string): ProfileRecord | null {
  const row = store.profile(profileId);
  if (!row) return null;
  const { version: _version, ...header } = profileHeader(row);
  return {
    ...header,
    attributes: Object.fromEntries(
      store.attributeTable
        .list(profileId)
        .map((a) => [a.name, { value: a.value, type: a.type, updated_at: a.updatedAt, source: a.source }]),
    ),
    events: store.eventTable.list(profileId, LIMITS.eventsKeptPerProfile),
    identity_history: store.historyTable.list(profileId),
  };
}
