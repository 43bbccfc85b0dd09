import { signatureHeaders } from "../lib/signing";
import type { WebhookItem } from "./items";
import { webhookRuntime } from "./runtime";

/** Response bodies are not kept: only this many characters, for the delivery log. */
export const EXCERPT_CHARS = 200;

export interface Attempt {
  ok: boolean;
  status: number | null;
  error: string | null;
  latencyMs: number;
  excerpt: string | null;
}

/**
 * POSTs `{webhook_id, items}` to a receiver, signed with the project's secret (Standard Webhooks
 * headers; `deliveryId` is `webhook-id`, the same on every attempt). Never throws: a receiver that
 * does not answer within the runtime's timeout, or answers anything but 2xx, failed.
 */
export async function deliver(
  url: string,
  secret: string,
  deliveryId: string,
  webhookId: string,
  items: WebhookItem[],
): Promise<Attempt> {
  const rt = webhookRuntime;
  const body = JSON.stringify({ webhook_id: webhookId, items });
  const started = Date.now();
  const at = new Date(rt.now());
  try {
    const res = await rt.fetch(url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "User-Agent": "edge-cdp-webhooks/1",
        ...signatureHeaders(secret, deliveryId, at, body),
      },
      body,
      // A redirect is the receiver's answer, not an invitation to POST elsewhere.
      redirect: "manual",
      signal: AbortSignal.timeout(rt.timeoutMs),
    });
    const excerpt = await readExcerpt(res);
    const ok = res.status >= 200 && res.status < 300;
    return {
      ok,
      status: res.status,
      error: ok ? null : `HTTP ${res.status}`,
      latencyMs: Date.now() - started,
      excerpt,
    };
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    return {
      ok: false,
      status: null,
      error: timedOut ? `no answer within ${rt.timeoutMs} ms` : err instanceof Error ? err.message : String(err),
      latencyMs: Date.now() - started,
      excerpt: null,
    };
  }
}

/** The first characters of a response body; the rest is never read. */
async function readExcerpt(res: Response): Promise<string | null> {
  if (!res.body) return null;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < EXCERPT_CHARS) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // A body cut short still has the excerpt read so far.
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text.length > 0 ? text.slice(0, EXCERPT_CHARS) : null;
}
