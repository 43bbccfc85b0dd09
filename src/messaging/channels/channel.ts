/**
 * One interface for every channel (STYLE.md, "Channels behind one interface"): send one message
 * to one address and say what became of it. The fan-out (../fanout.ts) and campaigns never
 * know which channel they use.
 */

/** What a message says, whatever carries it. */
export interface OutgoingMessage {
  title: string;
  body: string;
  deeplink?: string;
  icon?: string;
  image?: string;
  /** `custom_payload`, parsed. */
  data?: unknown;
  /** Names the send in the payload, so an open is reported against it. */
  tokenField: "transactional_token" | "campaign_token";
  token: string;
  /** Seconds the push service keeps it for an offline device. */
  ttl: number;
  priority: "normal" | "high";
  email?: { subject: string; text?: string; html?: string };
}

/**
 * The provider's answer, in three kinds: sent; the address is gone for good (404/410, FCM
 * UNREGISTERED: the token is removed); or an error, which `retryAfter` says may be tried again
 * (429 and 5xx, in that many seconds).
 */
export type SendOutcome =
  | { status: "sent" }
  | { status: "token_gone"; reason: string }
  | { status: "error"; reason: string; retryAfter?: number };

export interface Channel {
  send(address: string, message: OutgoingMessage): Promise<SendOutcome>;
}

/** Seconds from a Retry-After header (seconds or an HTTP date); `fallback` when absent or unreadable. */
export function retryAfterSeconds(header: string | null, fallback: number, now = Date.now()): number {
  if (header) {
    const seconds = Number(header);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
    const date = Date.parse(header);
    if (Number.isFinite(date)) return Math.max(0, Math.ceil((date - now) / 1000));
  }
  return fallback;
}

/** Seconds before retrying a push service that answered 429 or 5xx without Retry-After. */
export const DEFAULT_RETRY_SECONDS = 30;

/** Maps a push service's HTTP answer: the part every HTTP channel shares. */
export function outcomeOfStatus(response: Response, reason: string): SendOutcome {
  const status = response.status;
  if (status >= 200 && status < 300) return { status: "sent" };
  if (status === 404 || status === 410) return { status: "token_gone", reason: `http_${status}` };
  if (status === 429 || status >= 500) {
    return {
      status: "error",
      reason: reason || `http_${status}`,
      retryAfter: retryAfterSeconds(response.headers.get("Retry-After"), DEFAULT_RETRY_SECONDS),
    };
  }
  return { status: "error", reason: reason || `http_${status}` };
}
