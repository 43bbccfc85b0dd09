// A Web Push service for the tests, in Node (the Worker's outbound service, see receiver.ts). It
// checks each delivery with code that is not ours: the VAPID JWT's ES256 signature with Node's
// crypto against the project's public key, and the aes128gcm body decrypted by `http_ece` (the
// `web-push` package's own implementation) with the subscription's private key.
//
// - `POST https://receiver.test/push-register` `{key, p256dh_private, p256dh, auth, vapid_public_key, answers?}`
//   registers a subscription; `answers` is a list of `{status, retry_after?}` given in order, then 201;
// - `POST https://fcm.googleapis.com/wp/{key}` is the subscription's endpoint;
// - `GET https://receiver.test/pushes/{key}` lists what arrived: `{status, verified, payload, ttl, urgency, jwt, error?}`.
import { createECDH, createPublicKey, verify } from "node:crypto";
import ece from "http_ece";

const subscriptions = new Map();
const pushes = new Map();

const b64url = (buf) => Buffer.from(buf).toString("base64url");

function verifyVapid(header, sub, endpoint) {
  const match = /^vapid t=([^,]+),\s*k=(.+)$/.exec(header ?? "");
  if (!match) return "no vapid authorization";
  const [, jwt, k] = match;
  if (k !== sub.vapid_public_key) return "k is not the project's VAPID key";
  const [h, p, s] = jwt.split(".");
  const point = Buffer.from(k, "base64url");
  const key = createPublicKey({
    key: { kty: "EC", crv: "P-256", x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33, 65)) },
    format: "jwk",
  });
  const ok = verify(
    "sha256",
    Buffer.from(`${h}.${p}`),
    { key, dsaEncoding: "ieee-p1363" },
    Buffer.from(s, "base64url"),
  );
  if (!ok) return "bad JWT signature";
  const claims = JSON.parse(Buffer.from(p, "base64url").toString());
  if (claims.aud !== new URL(endpoint).origin) return `aud ${claims.aud}`;
  if (!(claims.exp > Date.now() / 1000) || claims.exp > Date.now() / 1000 + 86400) return "exp";
  if (!/^(mailto:|https:)/.test(claims.sub ?? "")) return "sub";
  return null;
}

// An FCM HTTP v1 stub: `POST https://receiver.test/fcm-register` `{client_email, public_jwk, unregistered}`;
// the OAuth token endpoint `https://oauth-stub.test/token` checks the RS256 JWT with that key;
// `https://fcm-stub.test/v1/projects/{id}/messages:send` checks the access token and answers
// UNREGISTERED for the listed tokens; `GET https://receiver.test/fcm/{client_email}` reports.
const fcmAccounts = new Map();
const accessTokens = new Map();

async function fcmStub(request, url) {
  if (url.hostname === "receiver.test" && url.pathname === "/fcm-register") {
    const account = await request.json();
    fcmAccounts.set(account.client_email, { ...account, exchanges: 0, sends: [] });
    return new Response(null, { status: 204 });
  }
  if (url.hostname === "receiver.test" && url.pathname.startsWith("/fcm/")) {
    const account = fcmAccounts.get(decodeURIComponent(url.pathname.slice(5)));
    return Response.json(account ? { exchanges: account.exchanges, sends: account.sends } : null);
  }
  if (url.hostname === "oauth-stub.test" && url.pathname === "/token") {
    const form = new URLSearchParams(await request.text());
    const [h, p, s] = (form.get("assertion") ?? "").split(".");
    const claims = JSON.parse(Buffer.from(p ?? "", "base64url").toString() || "{}");
    const account = fcmAccounts.get(claims.iss);
    if (!account || form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      return Response.json({ error: "invalid_grant" }, { status: 400 });
    }
    const key = createPublicKey({ key: account.public_jwk, format: "jwk" });
    const ok = verify("sha256", Buffer.from(`${h}.${p}`), key, Buffer.from(s, "base64url"));
    const header = JSON.parse(Buffer.from(h, "base64url").toString());
    if (
      !ok ||
      header.alg !== "RS256" ||
      claims.aud !== url.href ||
      !String(claims.scope).includes("firebase.messaging")
    ) {
      return Response.json({ error: "invalid_grant" }, { status: 400 });
    }
    account.exchanges++;
    const token = `at-${crypto.randomUUID()}`;
    accessTokens.set(token, account);
    return Response.json({ access_token: token, expires_in: 3600, token_type: "Bearer" });
  }
  if (url.hostname === "fcm-stub.test" && url.pathname.endsWith("/messages:send")) {
    const account = accessTokens.get((request.headers.get("authorization") ?? "").replace(/^Bearer /, ""));
    if (!account) return Response.json({ error: { code: 401, status: "UNAUTHENTICATED" } }, { status: 401 });
    const body = await request.json();
    account.sends.push({ path: url.pathname, message: body.message });
    if (account.unregistered?.includes(body.message?.token)) {
      return Response.json(
        {
          error: {
            code: 404,
            status: "NOT_FOUND",
            details: [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode: "UNREGISTERED" }],
          },
        },
        { status: 404 },
      );
    }
    return Response.json({ name: `${url.pathname.split("/messages")[0]}/messages/${account.sends.length}` });
  }
  return null;
}

/** Handles the push service's requests; null for a request that is not one of them. */
export async function pushService(request) {
  const url = new URL(request.url);
  const fcm = await fcmStub(request, url);
  if (fcm) return fcm;
  if (url.hostname === "receiver.test" && url.pathname === "/push-register") {
    const sub = await request.json();
    subscriptions.set(sub.key, { ...sub, answers: [...(sub.answers ?? [])] });
    return new Response(null, { status: 204 });
  }
  if (url.hostname === "receiver.test" && url.pathname.startsWith("/pushes/")) {
    return Response.json(pushes.get(url.pathname.slice("/pushes/".length)) ?? []);
  }
  if (url.hostname !== "fcm.googleapis.com" || !url.pathname.startsWith("/wp/")) return null;
  const key = url.pathname.slice("/wp/".length);
  const sub = subscriptions.get(key);
  const list = pushes.get(key) ?? [];
  pushes.set(key, list);
  const answer = sub?.answers.shift() ?? { status: sub ? 201 : 404 };
  const record = {
    status: answer.status,
    ttl: request.headers.get("ttl"),
    urgency: request.headers.get("urgency"),
    encoding: request.headers.get("content-encoding"),
    jwt: /^vapid t=([^,]+),/.exec(request.headers.get("authorization") ?? "")?.[1] ?? null,
    verified: false,
    payload: null,
  };
  list.push(record);
  if (sub) {
    const error = verifyVapid(request.headers.get("authorization"), sub, request.url);
    if (error) record.error = error;
    try {
      const ecdh = createECDH("prime256v1");
      ecdh.setPrivateKey(Buffer.from(sub.p256dh_private, "base64url"));
      const plain = ece.decrypt(Buffer.from(await request.arrayBuffer()), {
        version: "aes128gcm",
        privateKey: ecdh,
        authSecret: sub.auth,
      });
      record.payload = JSON.parse(plain.toString("utf8"));
      record.verified = !error && record.encoding === "aes128gcm";
    } catch (e) {
      record.error = `decrypt: ${e}`;
    }
  }
  const headers = answer.retry_after === undefined ? {} : { "Retry-After": String(answer.retry_after) };
  return new Response(null, { status: answer.status, headers });
}
