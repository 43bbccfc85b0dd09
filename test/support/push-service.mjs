// A Web Push service for the tests, in Node (the Worker's outbound service, see receiver.ts). It
// checks each delivery with code that is not ours: the VAPID JWT's ES256 signature with Node's
// crypto against the project's public key, and the aes128gcm body decrypted by `http_ece` (the
// `web-push` package's own implementation) with the subscription's private key.
//
// - `POST https://receiver.test/push-register` `{key, p256dh_private, p256dh, auth, vapid_public_key, answers?}`
//   registers a subscription; `answers` is a list of `{status, retry_after?}` given in order, then 201;
// - `POST https://fcm.googleapis.com/wp/{key}` is the subscription's endpoint;
// - `GET https://receiver.test/pushes/{key}` lists what arrived: `{status, verified, payload, ttl, urgency, error?}`.
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

/** Handles the push service's requests; null for a request that is not one of them. */
export async function pushService(request) {
  const url = new URL(request.url);
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
