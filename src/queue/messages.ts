import type { EventAttributes } from "../lib/json";

/** One event as it travels on the event queue. */
export interface QueuedEvent {
  id: string;
  name: string;
  time: string;
  attributes: EventAttributes;
  label: string | null;
  tags: string[];
  source: "api" | "sdk";
}

/**
 * What the Durable Objects publish on the event queue: the events one call added to one
 * profile, as many as fit in a message (a few dozen KB; one event's attributes up to 64 KB).
 */
export interface EventsMessage {
  type: "events";
  project_id: string;
  profile_id: string;
  custom_id: string | null;
  installation_id: string | null;
  app_id: string | null;
  received_at: string;
  events: QueuedEvent[];
}

/**
 * An identity transition (created, sign-in, login, logout, orphaned), staged on the event queue
 * in the same commit as the history entry that records it, for webhooks (src/webhooks/items.ts).
 */
export interface IdentityMessage {
  type: "identity";
  /** Stable across redeliveries: the webhook item's ID. */
  id: string;
  project_id: string;
  profile_id: string;
  custom_id: string | null;
  installation_id: string | null;
  kind: "created" | "sign_in" | "login" | "logout" | "orphaned";
  time: string;
  source: "sdk" | "api";
  request_id: string | null;
}

/** One message of the event queue's own: a profile's events, or an identity transition. */
export type EventQueueItem = EventsMessage | IdentityMessage;

/**
 * The event queue messages one outbox flush owes, sent as one (a queue message is billed as
 * three operations, whatever it carries; a first contact owes its events and its "created").
 * A type of its own, so a consumer older than it fails the message (retried, then
 * dead-lettered and replayable) rather than reading none of it.
 */
export interface EventBundle {
  type: "bundle";
  messages: EventQueueItem[];
  /**
   * The projection changes of the same flush, projected by the event queue's consumer: a flush
   * that owes both queues sends one message rather than two (src/identity/outbox-messages.ts,
   * `carried`). Absent when the flush owed the projection nothing.
   */
  projection?: ProjectionMessage[];
}

/** What the event queue carries. */
export type EventQueueMessage = EventQueueItem | EventBundle;

/** The messages a bundle carries, or the message itself. */
export function unbundled(message: EventQueueMessage): EventQueueItem[] {
  return message.type === "bundle" ? message.messages : [message];
}

/** The projection changes a bundle carries (none for any other message). */
export function carriedProjection(message: EventQueueMessage): ProjectionMessage[] {
  return message.type === "bundle" ? (message.projection ?? []) : [];
}

export type QueueMessage = EventQueueMessage | ProjectionMessage;

/** One chunk of a mass update, on the task queue. */
export interface ProfileOpsMessage {
  type: "profile_ops";
  request_id: string;
  project_id: string;
  chunk: number;
  received_at: string;
  items: { bulk_index: number; op: import("../profiles/operations").ProfileOperation }[];
  /** When set, `items` is empty: the chunk's operations are stored in D1 `chunk_parts`, in this many parts. */
  parts?: number;
  /** How many times the pace put this chunk back (src/profiles/pace.ts); apart from its retries. */
  deferrals?: number;
}

export type TaskMessage = ProfileOpsMessage;

/** Where a profile is held: the object the projection consumer reads it from. */
export interface Holder {
  projectId: string;
  kind: "installation" | "custom_id";
  id: string;
}

/** "Re-read this profile / installation": the projection consumer fetches the current state. */
export type ProjectionMessage =
  | { type: "profile_changed"; project_id: string; profile_id: string; holder: Holder }
  | { type: "installation_changed"; project_id: string; installation_id: string }
  | InstallationAndProfileChanged
  | CustomIdsChanged;

/** A message naming one profile or one installation: what an object's commit stages. */
export type ChangedSubject = Extract<ProjectionMessage, { type: "profile_changed" | "installation_changed" }>;

/**
 * "Re-read the profiles these custom IDs hold": queued, delayed, by a synchronous update before
 * it applies (src/profiles/apply-projected.ts), which then writes those profiles to D1 itself. The
 * message projects them should the update stop between its objects' commits and its D1 write.
 */
export interface CustomIdsChanged {
  type: "custom_ids_changed";
  /** Its row in `projected_checks` once the update wrote the profiles itself: then nothing is read. */
  check_id: string;
  project_id: string;
  custom_ids: string[];
}

/**
 * An installation and a profile its object holds, changed and sent together (as on first
 * contact): one message rather than two. A type of its own, so a consumer older than it fails
 * the message (retried, then dead-lettered and replayable) rather than reading half of it.
 */
export interface InstallationAndProfileChanged {
  type: "installation_and_profile_changed";
  project_id: string;
  installation_id: string;
  profile_id: string;
}

/** A profile as the D1 projection stores it. */
export interface ProfileProjection {
  profile_id: string;
  custom_id: string | null;
  state: "active" | "orphaned";
  created_at: string;
  last_activity_at: string;
  version: number;
  attributes: { name: string; type: string; value: import("../lib/json").FlatValue }[];
}

/** An installation as the D1 projection stores it. */
export interface InstallationProjection {
  installation_id: string;
  profile_id: string;
  custom_id: string | null;
  app_id: string | null;
  platform: string | null;
  push_optin: boolean | null;
  last_seen_at: string;
  /** Absent in messages from before it was projected: read as null. */
  push_token_key?: string | null;
  version: number;
}
