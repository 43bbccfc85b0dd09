import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { expect, vi } from "vitest";
import type { WebhookItem } from "../../src/webhooks/items";
import { type WebhookRuntime, webhookRuntime } from "../../src/webhooks/runtime";
import { call, type Project, restHeaders } from "./harness";

/** What a simulated receiver got: one POST. */
export interface Received {
  url: string;
  headers: Record<string, string>;
  body: string;
  webhook_id: string;
  items: WebhookItem[];
}

/** How a receiver answers its `n`th POST (from 1): a response, or never ("hang"). */
export type Behaviour = (n: number) => Response | "hang";

/**
 * The customers' receivers, simulated: the only outside party in these tests. Installs itself as
 * the webhook runtime's network; each URL answers 200 unless given a behaviour. Also lets a test
 * move the delivery clock and shorten the wait for an answer.
 */
export class Receivers {
  readonly received: Received[] = [];
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly saved: WebhookRuntime = { ...webhookRuntime };
  private offsetMs = 0;

  install(options: Partial<Pick<WebhookRuntime, "timeoutMs" | "retryDelaySeconds">> = {}): this {
    webhookRuntime.fetch = (input, init) => this.answer(String(input), init ?? {});
    webhookRuntime.now = () => Date.now() + this.offsetMs;
    Object.assign(webhookRuntime, options);
    return this;
  }

  restore(): void {
    Object.assign(webhookRuntime, this.saved);
  }

  /** A fresh receiver URL, answering as `behaviour` says. */
  url(behaviour?: Behaviour): string {
    const url = `https://hooks.example.com/${crypto.randomUUID()}`;
    if (behaviour) this.behaviours.set(url, behaviour);
    return url;
  }

  /** Moves the delivery clock forward. */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  at(url: string): Received[] {
    return this.received.filter((r) => r.url === url);
  }

  /** Every item `url` received, in order, retries included. */
  itemsAt(url: string): WebhookItem[] {
    return this.at(url).flatMap((r) => r.items);
  }

  private async answer(url: string, init: RequestInit): Promise<Response> {
    const body = String(init.body);
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const parsed = JSON.parse(body) as { webhook_id: string; items: WebhookItem[] };
    this.received.push({ url, headers, body, ...parsed });
    const answer = this.behaviours.get(url)?.(this.at(url).length) ?? new Response("ok");
    if (answer !== "hang") return answer;
    const signal = init.signal;
    return new Promise((_resolve, reject) => {
      signal?.addEventListener("abort", () => reject(signal.reason));
    });
  }
}

/** The project's signing secret, as the admin API showed it once. */
export async function signingSecret(projectId: string): Promise<string> {
  const row = await env.DB.prepare("SELECT signing_secret FROM projects WHERE id = ?")
    .bind(projectId)
    .first<{ signing_secret: string }>();
  if (!row) throw new Error("no project");
  return row.signing_secret;
}

/** Verifies a received POST with the `standardwebhooks` package, as a receiver would; throws if invalid. */
export function verify(secret: string, received: Received): unknown {
  return new Webhook(secret).verify(received.body, received.headers);
}

export interface WebhookBody {
  webhook_id: string;
  url: string;
  topics: string[];
  description: string | null;
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: string | null;
}

export async function createWebhook(p: Project, url: string, topics: string[], description?: string) {
  const res = await call("POST", "/v1/webhooks", { headers: restHeaders(p), body: { url, topics, description } });
  if (res.status !== 201) throw new Error(`webhook ${res.status}: ${await res.text()}`);
  return res.json<WebhookBody>();
}

export interface AttemptBody {
  delivery_id: string;
  attempt: number;
  time: string;
  outcome: "delivered" | "retrying" | "failed";
  status: number | null;
  latency_ms: number;
  error: string | null;
  response_excerpt: string | null;
  items: number;
}

export async function deliveries(p: Project, webhookId: string): Promise<AttemptBody[]> {
  const res = await call("GET", `/v1/webhooks/${webhookId}/deliveries?limit=100`, { headers: restHeaders(p) });
  if (res.status !== 200) throw new Error(`deliveries ${res.status}: ${await res.text()}`);
  return (await res.json<{ deliveries: AttemptBody[] }>()).deliveries;
}

/** Waits until `check` passes (the queues drained far enough). */
export function eventually(check: () => Promise<void> | void, timeout = 15_000): Promise<void> {
  return vi.waitFor(check, { timeout, interval: 50 });
}

export { expect };
