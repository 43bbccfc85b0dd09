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
