import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { allShards } from "../../src/db/shards";
import { call, type Project, restHeaders, sdkHeaders } from "./harness";

const b64url = (bytes: ArrayBuffer | Uint8Array) => {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
};

export interface TestSubscription {
  key: string;
  token: string;
}

/**
 * A browser's subscription on the test push service (test/support/push-service.mjs): a fresh
 * P-256 key pair and auth secret, registered there with the project's VAPID key and the answers
 * the service gives in order (201 after them).
 */
export async function subscription(
  project: Project,
  answers: { status: number; retry_after?: number }[] = [],
): Promise<TestSubscription> {
  const config = await call("GET", "/v1/sdk/push-config", { headers: sdkHeaders(project) });
  const { vapid_public_key } = await config.json<{ vapid_public_key: string }>();
  const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, [
    "deriveBits",
  ])) as CryptoKeyPair;
  const p256dh = b64url((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const jwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  const auth = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const key = crypto.randomUUID();
  const registered = await fetch("https://receiver.test/push-register", {
    method: "POST",
    body: JSON.stringify({ key, p256dh_private: jwk.d, p256dh, auth, vapid_public_key, answers }),
  });
  if (registered.status !== 204) throw new Error(`push-register: ${registered.status}`);
  const token = JSON.stringify({ endpoint: `https://fcm.googleapis.com/wp/${key}`, keys: { p256dh, auth } });
  return { key, token };
}

export interface Push {
  status: number;
  verified: boolean;
  payload: Record<string, unknown> | null;
  ttl: string | null;
  urgency: string | null;
  /** The VAPID JWT the push was signed with. */
  jwt: string | null;
  error?: string;
}

export async function pushesTo(sub: TestSubscription): Promise<Push[]> {
  return (await fetch(`https://receiver.test/pushes/${sub.key}`)).json<Push[]>();
}

/** An installation that subscribed (and opted in unless told), optionally signed in as `customId`. */
export async function subscribedInstallation(
  project: Project,
  sub: TestSubscription,
  options: { optedIn?: boolean; customId?: string } = {},
): Promise<string> {
  const installationId = crypto.randomUUID();
  const ops: unknown[] = [
    { id: "t", type: "push_token", provider: "webpush", token: sub.token },
    { id: "o", type: "push_optin", opted_in: options.optedIn ?? true },
  ];
  if (options.customId) ops.push({ id: "i", type: "identify", custom_id: options.customId });
  const res = await call("POST", "/v1/sdk/batch", {
    headers: sdkHeaders(project),
    body: { installation_id: installationId, ops },
  });
  if (res.status !== 200) throw new Error(`batch: ${res.status} ${await res.text()}`);
  return installationId;
}

export interface MessageStatus {
  token: string;
  status: "sending" | "done";
  recipients: number;
  sent: number;
  errors: number;
  tokens_deleted: number;
  unreachable: number;
  completed_at: string | null;
}

/** Polls `GET /v1/messages/{token}` until the message is done (the real queue consumer sends it). */
export async function untilDone(project: Project, token: string, timeoutMs = 20_000): Promise<MessageStatus> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await call("GET", `/v1/messages/${token}`, { headers: restHeaders(project) });
    const body = await res.json<MessageStatus>();
    if (body.status === "done") return body;
    if (Date.now() > until) throw new Error(`message not done: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function send(project: Project, body: unknown, headers: Record<string, string> = {}) {
  return call("POST", "/v1/messages/transactional", { headers: { ...restHeaders(project), ...headers }, body });
}

/** Waits until the projection indexes a push token key for the project (the projection queue drained). */
export async function untilTokenIndexed(project: Project, installationId: string, key: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const rows = await Promise.all(
        allShards(env).map((s) =>
          s.d1
            .prepare("SELECT push_token_key FROM installations WHERE project_id = ? AND installation_id = ?")
            .bind(project.projectId, installationId)
            .first<{ push_token_key: string | null }>(),
        ),
      );
      expect(rows.find((r) => r !== null)?.push_token_key).toBe(key);
    },
    { timeout: 20_000, interval: 100 },
  );
}
