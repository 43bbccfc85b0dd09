// A Web Push service on 127.0.0.1 for the messaging benchmarks: answers 201 to every POST on
// `/wp/<key>` (edge-cdp's deliveries, one endpoint a subscription) and `/yard/<k>` (the
// yardstick Worker's), counts them, and notes when the first and last arrived and how large
// the bodies were. It does not decrypt everything: a few subscriptions are registered as a
// sample (`verify(key, {privateKey, auth})`), and their deliveries are decrypted with
// `http_ece` (the `web-push` package's implementation), so a run shows that what it counted
// were real aes128gcm pushes. edge-cdp runs with ALLOW_HTTP_WEBHOOKS on, so an
// `http://127.0.0.1` endpoint is allowed.
import { createECDH, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import ece from "http_ece";

/** What arrived on one path prefix since the window began. */
const emptyWindow = () => ({ count: 0, first: 0, last: 0, bytes: 0, keys: new Set(), duplicates: 0 });

export async function startPushService(port) {
  const windows = { wp: emptyWindow(), yard: emptyWindow() };
  const sample = new Map();
  const checked = { verified: 0, failed: 0, payloads: [] };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const at = performance.now();
      const [, prefix, key] = /^\/(wp|yard)\/([^/?]+)/.exec(req.url ?? "") ?? [];
      const w = prefix ? windows[prefix] : null;
      if (!w || req.method !== "POST") {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks);
      w.count++;
      w.bytes += body.length;
      if (!w.first) w.first = at;
      w.last = at;
      if (w.keys.has(key)) w.duplicates++;
      else w.keys.add(key);
      const keys = sample.get(key);
      if (keys) {
        try {
          const ecdh = createECDH("prime256v1");
          ecdh.setPrivateKey(keys.privateKey);
          const plain = ece.decrypt(body, { version: "aes128gcm", privateKey: ecdh, authSecret: keys.auth });
          const payload = JSON.parse(plain.toString("utf8"));
          checked.verified++;
          if (checked.payloads.length < 3) checked.payloads.push(payload);
        } catch {
          checked.failed++;
        }
      }
      res.writeHead(201, { Location: `/msg/${w.count}` }).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    /** A subscription's endpoint on this service. */
    endpoint: (key) => `${base}/wp/${key}`,
    /** Where the yardstick POSTs (it appends the delivery's number). */
    yardstick: `${base}/yard/`,
    /** Decrypts deliveries to this subscription (its ECDH private key and auth secret, base64url). */
    verify: (key, keys) => sample.set(key, keys),
    checked,
    /** Starts counting `prefix`'s deliveries afresh. */
    reset: (prefix) => {
      windows[prefix] = emptyWindow();
    },
    /** What arrived on `prefix` since its reset: count, first/last arrival (performance.now()), bytes. */
    seen: (prefix) => {
      const w = windows[prefix];
      return {
        count: w.count,
        first: w.first,
        last: w.last,
        bytes_per_delivery: w.count ? Math.round(w.bytes / w.count) : 0,
        distinct: w.keys.size,
        duplicates: w.duplicates,
      };
    },
    close: () =>
      new Promise((r) => {
        server.close(r);
        server.closeAllConnections();
      }),
  };
}

/** Waits until `count` deliveries arrived on `prefix`, or the deliveries stopped for `quietMs`, or `timeoutMs` passed. */
export async function untilArrived(service, prefix, count, { timeoutMs = 600_000, quietMs = 30_000 } = {}) {
  const started = performance.now();
  let last = -1;
  let movedAt = performance.now();
  for (;;) {
    const seen = service.seen(prefix);
    if (seen.count >= count) return seen;
    if (seen.count !== last) {
      last = seen.count;
      movedAt = performance.now();
    }
    if (performance.now() - movedAt > quietMs || performance.now() - started > timeoutMs) return seen;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What arrived of a send started at `t0` (performance.now()): times, counts, size, rate. */
export function arrivals(seen, t0) {
  return {
    first_delivery_ms: Math.round(seen.first - t0),
    last_delivery_ms: Math.round(seen.last - t0),
    arrived: seen.count,
    duplicates: seen.duplicates,
    bytes_per_delivery: seen.bytes_per_delivery,
    per_s: Math.round(seen.count / Math.max(0.001, (seen.last - t0) / 1000)),
  };
}

/**
 * The yardstick's run (bench/baseline/worker.ts, `/push`): `count` deliveries of `payload` to
 * this service, each encrypted for one browser subscription's keys and signed with a VAPID JWT,
 * queued and POSTed by the yardstick Worker as edge-cdp's fan-out does (pieces of 25, the same
 * queue settings, 6 POSTs in flight a piece). Answers the deliveries a second from the call to
 * the last arrival, and what arrived.
 */
export async function yardstickPush(ctx, service, count, payload) {
  service.reset("yard");
  const tag = crypto.randomUUID().slice(0, 8);
  const ecdh = createECDH("prime256v1");
  const keys = { p256dh: ecdh.generateKeys().toString("base64url"), auth: randomBytes(16).toString("base64url") };
  const t0 = performance.now();
  const res = await fetch(`${ctx.urls.base}/push`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ to: service.yardstick, tag, count, payload, keys }),
  });
  if (!res.ok) throw new Error(`yardstick /push: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
  const seen = await untilArrived(service, "yard", count);
  const spanS = (seen.last - t0) / 1000;
  return {
    arrived: seen.count,
    first_ms: Math.round(seen.first - t0),
    last_ms: Math.round(seen.last - t0),
    per_s: Math.round(seen.count / Math.max(0.001, spanS)),
  };
}
