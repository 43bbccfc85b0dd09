import type { EventAttributes } from "../lib/json";
import type { AttributeWrite, Source } from "./attributes";
import type { EventOrigin, StoredEvent } from "./event-table";
import type { HistoryEntry } from "./history-table";
import type { ProcessedOp } from "./processed-ops";
import type { StoredAttribute } from "./reconcile";

/* What a profile's store takes and gives (`ProfileStore`, profile-store.ts). */

/**
 * A data write applied to a profile, in the order the caller sent it. Ops sharing a `group`
 * (one Profile API operation) stand or fall together: once one is refused, the rest are skipped.
 */
export type DataOp =
  | {
      type: "attributes";
      id: string | null;
      group?: string;
      time: string;
      source: Source;
      writes: AttributeWrite[];
      /** Also deletes, at `time`, every custom attribute the op does not write (Batch's `overwrite`). */
      clearCustom?: boolean;
    }
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

/** Everything a profile holds: what moves from an installation to its custom ID at sign-in. */
export interface ProfileSnapshot {
  profileId: string;
  version: number;
  createdAt: string;
  lastActivityAt: string;
  attributes: StoredAttribute[];
  events: StoredEvent[];
  history: HistoryEntry[];
  processed: ProcessedOp[];
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
export interface WriteContext extends EventOrigin {
  requestId: string;
}

export interface ApplyResult {
  accepted: number;
  duplicates: number;
  rejected: { op_id: string | null; code: string; message: string }[];
}

/** A profile whose row a write is about to create: its custom ID, and its creation as its first history entry. */
export interface NewProfile {
  customId: string | null;
  origin: HistoryEntry;
}
