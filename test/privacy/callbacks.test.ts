import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it, vi } from "vitest";
import { generateSigningSecret } from "../../src/lib/signing";
import { deliverCallback } from "../../src/privacy/callbacks";
import { adminHeaders, call, createProject, errorOf, restHeaders } from "../support/harness";
import { attributes, batch, identify } from "../support/identity";
import { getRequest, type PrivacyRequestBody, run, settled, submit } from "./support";

interface Received {
  headers: Record<string, string>;
  body: string;
  status: number;
}

async function receivedAt(key: string): Promise<Received[]> {
  const res = await fetch(`https://receiver.test/received/${key}`);
  return res.json<Received[]>();
}

/** The project's signing secret, as the admin API showed it (read from D1 here). */
async function secretOf(projectId: string): Promise<string> {
  const row = await env.DB.prepare("SELECT signing_secret FROM projects WHERE id = ?")
    .bind(projectId)
    .first<{ signing_secret: string }>();
  if (!row) throw new Error("no project");
  return row.signing_secret;
}

describe("privacy callbacks", () => {
  it("POSTs the final state, signed so the standardwebhooks library verifies it", async () => {
    const p = await createProject();
    await batch(p, crypto.randomUUID(), [identify("called-back"), attributes({ a: 1 })]);
    const key = crypto.randomUUID();
    const done = await run(p, {
      type: "remove",
      identifier: { type: "custom_id", value: "called-back" },
      callback_url: `https://receiver.test/ok/${key}`,
    });
    const calls = await vi.waitFor(
      async () => {
        const calls = await receivedAt(key);
        expect(calls.length).toBe(1);
        return calls;
      },
      { timeout: 20_000, interval: 100 },
    );
    const call0 = calls[0] as Received;
    const secret = await secretOf(p.projectId);
    const payload = new Webhook(secret).verify(call0.body, call0.headers) as PrivacyRequestBody;
    expect(payload.request_id).toBe(done.request_id);
    expect(payload.status).toBe("done");
    expect(payload.receipt?.profile_id).toBe(done.receipt?.profile_id);
    expect(call0.headers["webhook-id"]).toBe(`privacy_${done.request_id}`);
    // Another secret, or a changed body, does not verify.
    expect(() => new Webhook(generateSigningSecret()).verify(call0.body, call0.headers)).toThrow();
    expect(() => new Webhook(secret).verify(call0.body.replace('"done"', '"failed"'), call0.headers)).toThrow();
    await vi.waitFor(async () => expect((await getRequest(p, done.request_id)).callback?.state).toBe("delivered"), {
      timeout: 20_000,
      interval: 100,
    });
  });

  it("a failing receiver is retried, with the same webhook-id, until it accepts", async () => {
    const p = await createProject();
    const key = crypto.randomUUID();
    const id = await submit(p, {
      type: "review",
      identifier: { type: "custom_id", value: "nobody-here" },
      callback_url: `https://receiver.test/fail/2/${key}`,
    });
    const calls = await vi.waitFor(
      async () => {
        const calls = await receivedAt(key);
        expect(calls.map((c) => c.status)).toEqual([500, 500, 204]);
        return calls;
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(new Set(calls.map((c) => c.headers["webhook-id"]))).toEqual(new Set([`privacy_${id}`]));
    const secret = await secretOf(p.projectId);
    for (const c of calls) expect(new Webhook(secret).verify(c.body, c.headers)).toMatchObject({ error: "not_found" });
    const body = await vi.waitFor(
      async () => {
        const body = await getRequest(p, id);
        expect(body.callback?.state).toBe("delivered");
        return body;
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(body.callback).toMatchObject({ attempts: 3, last_error: null });
  });

  it("a receiver that never accepts is given up after the queue's retries, and the request says so", async () => {
    const p = await createProject();
    const key = crypto.randomUUID();
    const id = await submit(p, {
      type: "review",
      identifier: { type: "custom_id", value: "nobody-either" },
      callback_url: `https://receiver.test/fail/1000/${key}`,
    });
    const body = await vi.waitFor(
      async () => {
        const body = await getRequest(p, id);
        expect(body.callback?.state).toBe("failed");
        return body;
      },
      { timeout: 45_000, interval: 200 },
    );
    // The first attempt and the queue's 8 retries (wrangler.toml), then the dead-letter queue.
    expect(body.callback).toMatchObject({ attempts: 9, last_error: "HTTP 500" });
    expect(body.status).toBe("done");
    expect((await receivedAt(key)).length).toBe(9);
  }, 60_000);

  it("after a rotation, callbacks are signed with the new secret", async () => {
    const p = await createProject();
    const rotated = await call("POST", `/v1/admin/projects/${p.projectId}/signing-secret`, { headers: adminHeaders });
    const { signing_secret } = await rotated.json<{ signing_secret: string }>();
    const key = crypto.randomUUID();
    await submit(p, {
      type: "review",
      identifier: { type: "custom_id", value: "whoever" },
      callback_url: `https://receiver.test/ok/${key}`,
    });
    const calls = await vi.waitFor(
      async () => {
        const calls = await receivedAt(key);
        expect(calls.length).toBe(1);
        return calls;
      },
      { timeout: 20_000, interval: 100 },
    );
    const c = calls[0] as Received;
    expect(new Webhook(signing_secret).verify(c.body, c.headers)).toMatchObject({ status: "done" });
  });

  /** URLs a callback may not aim at (SPEC §5: the webhook URL rules), under `key` where a host is ours. */
  const refusedUrls = (key: string) => [
    "https://127.0.0.1/cb",
    "https://169.254.169.254/latest/meta-data",
    "https://localhost/cb",
    "https://[::1]/cb",
    "https://[::7f00:1]/cb",
    "https://[64:ff9b::a9fe:a9fe]/cb",
    "https://10.0.0.1/cb",
    "https://metadata.google.internal/cb",
    `https://user:pass@receiver.test/ok/${key}`,
    `http://receiver.test/ok/${key}`,
  ];

  it("a callback_url against the URL rules is refused, naming callback_url, in both body shapes, and nothing is written", async () => {
    const p = await createProject();
    const key = crypto.randomUUID();
    for (const url of refusedUrls(key)) {
      for (const body of [
        { type: "remove", identifier: { type: "custom_id", value: "cb-user" }, callback_url: url },
        { request_type: "remove", id: { type: "custom_id", value: "cb-user" }, callback_url: url },
      ]) {
        const res = await call("POST", "/v1/privacy/requests", { headers: restHeaders(p), body });
        expect(res.status, url).toBe(400);
        const error = await errorOf(res);
        expect(error.code).toBe("VALIDATION_FAILED");
        expect(error.issues?.map((i) => i.path)).toEqual(["callback_url"]);
      }
    }
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM privacy_requests WHERE project_id = ?")
      .bind(p.projectId)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
    expect(await receivedAt(key)).toEqual([]);
  });

  it("a stored callback URL is checked again before the POST: one against the rules is never called", async () => {
    const p = await createProject();
    const key = crypto.randomUUID();
    const id = await submit(p, { type: "review", identifier: { type: "custom_id", value: "nobody-stored" } });
    await settled(p, id);
    // As a row written before the rules held, or under another setting of ALLOW_HTTP_WEBHOOKS.
    await env.DB.prepare("UPDATE privacy_requests SET callback_url = ?, callback_state = 'pending' WHERE id = ?")
      .bind(`https://user:pass@receiver.test/ok/${key}`, id)
      .run();
    expect(await deliverCallback(env, p.projectId, id, new Date())).toBe("skipped");
    expect(await receivedAt(key)).toEqual([]);
    const body = await getRequest(p, id);
    expect(body.callback?.state).toBe("failed");
    expect(body.callback?.last_error).toMatch(/credentials/);
  });
});
