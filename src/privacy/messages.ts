import type { PurgeMessage } from "../purge/purge";

/** Messages on the privacy queue: carry out a request, deliver its callback, or run a page of a purge. */
export type PrivacyMessage =
  | PurgeMessage
  | { type: "privacy_request"; project_id: string; request_id: string }
  | { type: "privacy_callback"; project_id: string; request_id: string };

export const PRIVACY_QUEUE = "edge-cdp-privacy";
export const PRIVACY_DLQ = "edge-cdp-privacy-dlq";
