import type { FlatValue } from "../lib/json";
import type { QueuedEvent } from "../queue/messages";
import type { Source } from "./attributes";
import type { HistoryEntry } from "./history-table";
import { type ProfileStore, profileHeader } from "./profile-store";
import type { ProfileRow } from "./profile-types";

export interface InstallationView {
  installation_id: string;
  app_id: string | null;
  platform: string | null;
  app_version: string | null;
  sdk_version: string | null;
  os_version: string | null;
  device_model: string | null;
  push: { provider: string | null; token: string | null; opted_in: boolean | null };
  first_seen_at: string | null;
  last_seen_at: string | null;
}

/** The debug view of SPEC §5, less the installations (each lives in its own object). */
export interface ProfileView {
  profile_id: string;
  custom_id: string | null;
  state: "active" | "orphaned";
  created_at: string;
  last_activity_at: string;
  version: number;
  attributes: Record<string, { value: FlatValue; type: string | null; updated_at: string; source: Source }>;
  events: Omit<QueuedEvent, "source">[];
  identity_history: HistoryEntry[];
}

export const VIEW_EVENTS = 50;

export function profileView(store: ProfileStore, row: ProfileRow): ProfileView {
  return {
    ...profileHeader(row),
    attributes: Object.fromEntries(
      store.attributeTable
        .list(row.profile_id)
        .map((a) => [a.name, { value: a.value, type: a.type, updated_at: a.updatedAt, source: a.source }]),
    ),
    events: store.eventTable
      .list(row.profile_id, VIEW_EVENTS)
      .map(({ id, name, time, attributes, label, tags }) => ({ id, name, time, attributes, label, tags })),
    identity_history: store.historyTable.list(row.profile_id),
  };
}
