import { toBase64Url } from "../secrets";
import { type Channel, type OutgoingMessage, outcomeOfStatus, type SendOutcome } from "./channel";

/** The fields of a Google service account JSON that FCM HTTP v1 needs. */
export interface ServiceAccount {
  project_id: string;
  client_email: string;
  private_key: string;
  token_uri: string;
}

const SCOPE = "https://www.googleapis.com/auth/firebase.messaging";

/** Imports the service account's PEM (PKCS #8) private key for RS256. */
export async function importServiceAccountKey(pem: string): Promise<CryptoKey> {
  const body = pem
    .replace(/-----BEGIN PRIVATE KEY-----/, "")
    .replace(/-----END PRIVATE KEY-----/, "")
    .replace(/\s+/g, "");
  const der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  return crypto.subtle.importKey("pkcs8", der, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
}

/**
 * Access tokens by service account and token URI, per isolate, until a minute before they
 * expire. Only tokens are kept, never an exchange in flight: that belongs to the request that
 * started it, and workerd delivers its result to no other (see `FcmChannel.exchanging`).
 */
const accessTokens = new Map<string, { token: string; expiresAt: number }>();

const accountKey = (account: ServiceAccount) => `${account.client_email}\n${account.token_uri}`;

/** Exchanges a signed JWT (RS256) for an OAuth access token at the account's token_uri (RFC 7523). */
async function exchange(account: ServiceAccount): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const encode = (value: unknown) => toBase64Url(new TextEncoder().encode(JSON.stringify(value)));
  const unsigned = `${encode({ alg: "RS256", typ: "JWT" })}.${encode({
    iss: account.client_email,
    scope: SCOPE,
    aud: account.token_uri,
    iat: now,
    exp: now + 3600,
  })}`;
  const key = await importServiceAccountKey(account.private_key);
  const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, new TextEncoder().encode(unsigned));
  const response = await fetch(account.token_uri, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      assertion: `${unsigned}.${toBase64Url(new Uint8Array(signature))}`,
    }),
  });
  if (!response.ok) throw new FcmAuthError(`token exchange answered ${response.status}`);
  const body = await response.json<{ access_token: string; expires_in: number }>();
  accessTokens.set(accountKey(account), {
    token: body.access_token,
    expiresAt: Date.now() + (body.expires_in - 60) * 1000,
  });
  return body.access_token;
}

class FcmAuthError extends Error {}

/** FCM's error code, in `error.details[].errorCode` (FCM HTTP v1 `FcmError`). */
function fcmErrorCode(body: unknown): string | null {
  const details = (body as { error?: { details?: { errorCode?: string }[] } } | null)?.error?.details ?? [];
  return details.find((d) => typeof d.errorCode === "string")?.errorCode ?? null;
}

/**
 * Firebase Cloud Messaging HTTP v1: one `messages:send` per token, with the project's service
 * account. `UNREGISTERED` (and 404) means the token is gone.
 */
export class FcmChannel implements Channel {
  /**
   * The exchange this channel has in flight. A channel serves one piece, in one request, so a
   * piece's concurrent sends make one exchange; no other request awaits it.
   */
  private exchanging: Promise<string> | null = null;

  constructor(
    private readonly account: ServiceAccount,
    private readonly apiBase: string,
  ) {}

  private accessToken(): Promise<string> {
    const kept = accessTokens.get(accountKey(this.account));
    if (kept && kept.expiresAt > Date.now()) return Promise.resolve(kept.token);
    this.exchanging ??= exchange(this.account).finally(() => {
      this.exchanging = null;
    });
    return this.exchanging;
  }

  async send(address: string, message: OutgoingMessage): Promise<SendOutcome> {
    let token: string;
    try {
      token = await this.accessToken();
    } catch (error) {
      return { status: "error", reason: `auth: ${String(error).slice(0, 200)}`, retryAfter: 60 };
    }
    const data: Record<string, string> = { [message.tokenField]: message.token };
    if (message.deeplink) data.deeplink = message.deeplink;
    if (message.data !== undefined) data.custom_payload = JSON.stringify(message.data);
    const body = {
      message: {
        token: address,
        notification: {
          title: message.title,
          body: message.body,
          ...(message.image ? { image: message.image } : {}),
        },
        data,
        android: { priority: message.priority === "high" ? "HIGH" : "NORMAL", ttl: `${message.ttl}s` },
        apns: { headers: { "apns-priority": message.priority === "high" ? "10" : "5" } },
      },
    };
    const url = `${this.apiBase.replace(/\/$/, "")}/v1/projects/${encodeURIComponent(this.account.project_id)}/messages:send`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (error) {
      return { status: "error", reason: `network: ${String(error).slice(0, 200)}`, retryAfter: 30 };
    }
    if (response.ok) {
      await response.body?.cancel();
      return { status: "sent" };
    }
    const answer = await response.json().catch(() => null);
    const code = fcmErrorCode(answer);
    if (code === "UNREGISTERED") return { status: "token_gone", reason: "UNREGISTERED" };
    if (response.status === 401) accessTokens.delete(accountKey(this.account));
    return outcomeOfStatus(response, code ?? "");
  }
}
