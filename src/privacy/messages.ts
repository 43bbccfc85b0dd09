/** Messages on the privacy queue: carry out a request, or deliver its callback. */
export type PrivacyMessage =
  | { type: "privacy_request"; project_id: string; request_id: string }
  | { type: "privacy_callback"; project_id: string; request_id: string };

export const PRIVACY_QUEUE = "edge-cdp-privacy";
export const PRIVACY_DLQ = "edge-cdp-privacy-dlq";
