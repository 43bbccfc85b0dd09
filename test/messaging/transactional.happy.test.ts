import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { deliverTo } from "../support/queues";
import { pushesTo, send, subscribedInstallation, subscription, untilDone } from "../support/webpush";

let project: Project;
beforeAll(async () => {
  project = await createProject("web");
});

const message = { title: "Your order", body: "It has shipped" };

/** The profile's events, as the debug view shows them. */
async function eventsOf(query: string) {
  const res = await call("GET", `/v1/profiles?${query}`, { headers: restHeaders(project) });
  const view = await res.json<{
    events: { name: string; attributes: Record<string, unknown> }[];
    installations: { installation_id: string; push: { token: string | null } }[];
  }>();
  return view;
}

describe("POST /v1/messages/transactional", () => {
  it("reaches a signed-in user's subscription: VAPID verified, body decrypted by http_ece, one push_sent", async () => {
    const sub = await subscription(project);
    await subscribedInstallation(project, sub, { customId: "buyer-1" });
    const res = await send(project, {
      group_id: "orders",
      recipients: { custom_ids: ["buyer-1"] },
      message,
      deeplink: "https://shop.example/orders/1",
      custom_payload: '{"order":1}',
      time_to_live: 3600,
      priority: "high",
    });
    expect(res.status).toBe(201);
    const { token } = await res.json<{ token: string }>();
    const done = await untilDone(project, token);
    expect(done).toMatchObject({ recipients: 1, sent: 1, errors: 0, tokens_deleted: 0, unreachable: 0 });
    const pushes = await pushesTo(sub);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]).toMatchObject({ status: 201, verified: true, urgency: "high" });
    expect(Number(pushes[0]?.ttl)).toBeGreaterThan(3000);
    expect(pushes[0]?.payload).toEqual({
      title: "Your order",
      body: "It has shipped",
      deeplink: "https://shop.example/orders/1",
      data: { order: 1 },
      transactional_token: token,
    });
    const view = await eventsOf("custom_id=buyer-1");
    const sent = view.events.filter((e) => e.name === "push_sent");
    expect(sent).toHaveLength(1);
    expect(sent[0]?.attributes.transactional_token).toBe(token);
  });

  it("skips opted-out installations and counts identifiers that reach nobody", async () => {
    const inSub = await subscription(project);
    const outSub = await subscription(project);
    const optedIn = await subscribedInstallation(project, inSub);
    const optedOut = await subscribedInstallation(project, outSub, { optedIn: false });
    const res = await send(project, {
      group_id: "g",
      recipients: { install_ids: [optedIn, optedOut], custom_ids: ["nobody-here"] },
      message,
    });
    const { token } = await res.json<{ token: string }>();
    const done = await untilDone(project, token);
    expect(done).toMatchObject({ recipients: 3, sent: 1, unreachable: 2 });
    expect(await pushesTo(outSub)).toHaveLength(0);
    expect(await pushesTo(inSub)).toHaveLength(1);
  });

  it("410 deletes the token, records token_deleted, and the next send skips the installation", async () => {
    const sub = await subscription(project, [{ status: 410 }]);
    const installationId = await subscribedInstallation(project, sub);
    const first = await send(project, { group_id: "g", recipients: { install_ids: [installationId] }, message });
    const { token } = await first.json<{ token: string }>();
    expect(await untilDone(project, token)).toMatchObject({ sent: 0, tokens_deleted: 1 });
    const view = await eventsOf(`installation_id=${installationId}`);
    expect(view.installations[0]?.push.token).toBeNull();
    expect(view.events.find((e) => e.name === "token_deleted")?.attributes).toMatchObject({
      transactional_token: token,
      error: "http_410",
    });
    const second = await send(project, { group_id: "g", recipients: { install_ids: [installationId] }, message });
    const again = await untilDone(project, (await second.json<{ token: string }>()).token);
    expect(again).toMatchObject({ sent: 0, unreachable: 1 });
    expect(await pushesTo(sub)).toHaveLength(1);
  });

  it("429 with Retry-After then 201: sent once, one push_sent", async () => {
    const sub = await subscription(project, [{ status: 429, retry_after: 1 }]);
    const installationId = await subscribedInstallation(project, sub);
    const res = await send(project, { group_id: "g", recipients: { install_ids: [installationId] }, message });
    const { token } = await res.json<{ token: string }>();
    expect(await untilDone(project, token, 25_000)).toMatchObject({ sent: 1, errors: 0 });
    const pushes = await pushesTo(sub);
    expect(pushes.map((p) => p.status)).toEqual([429, 201]);
    const view = await eventsOf(`installation_id=${installationId}`);
    expect(view.events.filter((e) => e.name === "push_sent")).toHaveLength(1);
  });

  it("a piece retried after a partial failure (503 for one installation) re-sends nothing already sent", async () => {
    const fine = await subscription(project);
    const flaky = await subscription(project, [{ status: 503, retry_after: 1 }]);
    const fineId = await subscribedInstallation(project, fine);
    const flakyId = await subscribedInstallation(project, flaky);
    const res = await send(project, { group_id: "g", recipients: { install_ids: [fineId, flakyId] }, message });
    const { token } = await res.json<{ token: string }>();
    expect(await untilDone(project, token, 25_000)).toMatchObject({ sent: 2, errors: 0 });
    expect((await pushesTo(fine)).map((p) => p.status)).toEqual([201]);
    expect((await pushesTo(flaky)).map((p) => p.status)).toEqual([503, 201]);
    for (const id of [fineId, flakyId]) {
      const view = await eventsOf(`installation_id=${id}`);
      expect(view.events.filter((e) => e.name === "push_sent")).toHaveLength(1);
    }
  });

  it("a queue message delivered again sends nothing twice", async () => {
    const sub = await subscription(project);
    const installationId = await subscribedInstallation(project, sub);
    const res = await send(project, { group_id: "g", recipients: { install_ids: [installationId] }, message });
    const { token } = await res.json<{ token: string }>();
    await untilDone(project, token);
    const piece = {
      type: "message_piece",
      token,
      project_id: project.projectId,
      piece: 0,
      custom_ids: [],
      install_ids: [installationId],
      tokens: [],
    };
    const result = await deliverTo("edge-cdp-messages", [piece], { attempts: 2 });
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(await pushesTo(sub)).toHaveLength(1);
    const view = await eventsOf(`installation_id=${installationId}`);
    expect(view.events.filter((e) => e.name === "push_sent")).toHaveLength(1);
  });

  it("an Idempotency-Key repeated answers 200 with the same token and sends nothing again", async () => {
    const sub = await subscription(project);
    const installationId = await subscribedInstallation(project, sub);
    const body = { group_id: "g", recipients: { install_ids: [installationId] }, message };
    const first = await send(project, body, { "Idempotency-Key": "k-1" });
    expect(first.status).toBe(201);
    const { token } = await first.json<{ token: string }>();
    await untilDone(project, token);
    const second = await send(project, body, { "Idempotency-Key": "k-1" });
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ token });
    expect(await pushesTo(sub)).toHaveLength(1);
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM messages WHERE project_id = ?")
      .bind(project.projectId)
      .first<{ n: number }>();
    expect(rows?.n).toBeGreaterThan(0);
  });
});
