import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Webhook } from "standardwebhooks";
import { projects } from "../db/schema";

/** Standard Webhooks secrets are `whsec_` + base64 of the raw key; 32 bytes match HMAC-SHA256's block use. */
export const SIGNING_SECRET_PREFIX = "whsec_";

/** A new project signing secret in the Standard Webhooks format. */
export function generateSigningSecret(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return `${SIGNING_SECRET_PREFIX}${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * The three Standard Webhooks headers for one delivery: `webhook-id` (stable across retries, so a
 * receiver can deduplicate), `webhook-timestamp` (seconds) and `webhook-signature` (`v1,<base64>`
 * over `id.timestamp.body`), computed by the `standardwebhooks` package itself.
 */
export function signatureHeaders(secret: string, messageId: string, at: Date, body: string): Record<string, string> {
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(messageId, at, body),
  };
}

export interface SignedPost {
  url: string;
  secret: string;
  /** Stable across retries of the same message. */
  messageId: string;
  body: string;
  at: Date;
  /** Outbound calls never hang a consumer: 10 s is ample for a receiver to answer. */
  timeoutMs?: number;
}

/** What an outbound POST came to: `ok` for any 2xx, otherwise the status or the network error. */
export interface DeliveryResult {
  ok: boolean;
  status: number | null;
  error: string | null;
}

/** POSTs a JSON body signed with the project's secret; never throws. */
export async function postSigned(post: SignedPost, fetcher: typeof fetch = fetch): Promise<DeliveryResult> {
  try {
    const res = await fetcher(post.url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "User-Agent": "edge-cdp-webhooks/1",
        ...signatureHeaders(post.secret, post.messageId, post.at, post.body),
      },
      body: post.body,
      redirect: "manual",
      signal: AbortSignal.timeout(post.timeoutMs ?? 10_000),
    });
    // The body is not needed; cancel it so the connection is released.
    await res.body?.cancel();
    const ok = res.status >= 200 && res.status < 300;
    return { ok, status: res.status, error: ok ? null : `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, status: null, error: err instanceof Error ? err.message : String(err) };
  }
}

/** The project's current signing secret, or null for a project that does not exist. */
export async function projectSigningSecret(env: Env, projectId: string): Promise<string | null> {
  const row = await drizzle(env.DB)
    .select({ secret: projects.signingSecret })
    .from(projects)
    .where(eq(projects.id, projectId))
    .get();
  return row?.secret ?? null;
}
