import type { EventAttributes } from "../lib/json";

/** What the Durable Objects publish on the event queue. */
export interface EventMessage {
  type: "event";
  project_id: string;
  profile_id: string;
  custom_id: string | null;
  installation_id: string | null;
  app_id: string | null;
  source: "api" | "sdk";
  received_at: string;
  event: {
    id: string;
    name: string;
    time: string;
    attributes: EventAttributes;
    label: string | null;
    tags: string[];
  };
}

export type QueueMessage = EventMessage;

/** One chunk of a mass update, on the task queue. */
export interface ProfileOpsMessage {
  type: "profile_ops";
  request_id: string;
  project_id: string;
  chunk: number;
  received_at: string;
  items: { bulk_index: number; op: import("../profiles/operations").ProfileOperation }[];
}

export type TaskMessage = ProfileOpsMessage;
