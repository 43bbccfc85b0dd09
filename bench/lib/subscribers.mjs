// Web Push subscribers for the messaging benchmarks: N browsers' subscriptions (a P-256 key pair
// and a 16-byte auth secret each, the endpoint on the local push service), each registered on an
// installation of its own by one SDK batch (push_token, push_optin, identify, attributes), the
// batches sent at `concurrency`. Each installation carries the attribute `bench_group = <group>`,
// so a campaign's segment selects it, and is signed in to a custom ID, so a send can name it
// (unless `identify: false`: a campaign reaches installations, and anonymous ones register
// about twice as fast). The first `sample` subscriptions are given to the push service to decrypt.
import { createECDH, randomBytes } from "node:crypto";
import { op } from "./ops.mjs";

/** A browser's PushSubscription on `service`, and its private key (kept for the sampled ones). */
function subscription(service, key) {
  const ecdh = createECDH("prime256v1");
  const p256dh = ecdh.generateKeys().toString("base64url");
  const auth = randomBytes(16).toString("base64url");
  const token = JSON.stringify({ endpoint: service.endpoint(key), keys: { p256dh, auth } });
  return { token, privateKey: ecdh.getPrivateKey(), auth };
}

/**
 * Makes `count` subscribed, opted-in installations signed in as `<group>-<k>`, through
 * `POST /v1/sdk/batch` with `headers` (an SDK key). Answers their custom IDs and installation
 * IDs, and how long the registering took.
 */
export async function subscribe(
  ctx,
  service,
  { count, group, headers = ctx.sdk, concurrency = 16, sample = 5, identify = true },
) {
  const customIds = Array.from({ length: count }, (_, k) => `${group}-${k}`);
  const installations = Array.from({ length: count }, () => crypto.randomUUID());
  const started = performance.now();
  let next = 0;
  let failures = 0;
  const worker = async () => {
    while (next < count) {
      const k = next++;
      const key = `${group}-${k}`;
      const sub = subscription(service, key);
      if (k < sample) service.verify(key, { privateKey: sub.privateKey, auth: sub.auth });
      const body = {
        installation_id: installations[k],
        ops: [
          op({ type: "push_token", provider: "webpush", token: sub.token }),
          op({ type: "push_optin", opted_in: true }),
          ...(identify ? [op({ type: "identify", custom_id: customIds[k] })] : []),
          op({ type: "attributes", attributes: { bench_group: group } }),
        ],
      };
      for (let attempt = 0; ; attempt++) {
        try {
          await ctx.api("POST", "/v1/sdk/batch", body, headers);
          break;
        } catch (error) {
          // A 429 under this load is the rate limiter doing its job: wait, and send it again.
          if (attempt >= 5) throw error;
          failures++;
          await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { customIds, installations, seconds, per_s: Math.round(count / seconds), retried: failures };
}

/**
 * Waits until a `count_only` segment of `bench_group = group` and opted in counts `count`
 * profiles (the projection has them all), polling every 2 s; answers the seconds waited.
 */
export async function untilProjected(ctx, group, count, { headers = ctx.rest, timeoutMs = 1_800_000 } = {}) {
  const started = performance.now();
  const where = { and: [{ attribute: "bench_group", op: "eq", value: group }, { push_optin: true }] };
  for (;;) {
    let counted = 0;
    try {
      counted = (await ctx.api("POST", "/v1/segments/query", { where, count_only: true }, headers)).count;
    } catch {}
    if (counted >= count) return Math.round((performance.now() - started) / 1000);
    if (performance.now() - started > timeoutMs) throw new Error(`projection: ${counted} of ${count} after the wait`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/**
 * A project of its own with a web app, so that what a scenario sends and targets is only its
 * subscribers (a campaign walks every profile of its project). Answers the headers to use.
 */
export async function webProject(ctx, name) {
  const project = await ctx.api("POST", "/v1/admin/projects", { name }, ctx.admin);
  const app = await ctx.api(
    "POST",
    `/v1/admin/projects/${project.project_id}/apps`,
    { name: "web", platform: "web" },
    ctx.admin,
  );
  return {
    project,
    app,
    rest: { Authorization: `Bearer ${project.rest_api_key}`, "X-Project-Id": project.project_id },
    sdk: { "X-Api-Key": app.sdk_api_key },
  };
}

/**
 * A web project of the scenario's own named `name`, with `count` subscribers in a new group
 * (`<prefix>-<random>`) registered from the bench's connections; logs how long that took.
 */
export async function subscribedProject(ctx, service, name, prefix, count, { identify = true } = {}) {
  const bench = await webProject(ctx, name);
  const group = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  const made = await subscribe(ctx, service, {
    count,
    group,
    headers: bench.sdk,
    concurrency: ctx.env.connections,
    identify,
  });
  console.error(`  ${count} subscribers in ${made.seconds.toFixed(1)} s (${made.per_s}/s)`);
  return { bench, group, made };
}
