import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { handlePiece } from "../../src/messaging/fanout";
import type { MessagePieceMessage } from "../../src/messaging/send";
import { insertMessage } from "../../src/messaging/store";
import { countingD1, envWith } from "../support/counting-d1";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { pushesTo, subscribedInstallation, subscription, type TestSubscription } from "../support/webpush";

let project: Project;
beforeAll(async () => {
  project = await createProject("web");
});

/** A message recorded as the send route records it, with nothing queued: the test hands its piece over. */
async function storedMessage(recipients: number): Promise<string> {
  const token = crypto.randomUUID();
  const now = new Date();
  await insertMessage(
    env,
    {
      token,
      projectId: project.projectId,
      groupId: "g",
      payload: { message: { title: "Hello", body: "There", ttl: 3600, priority: "normal" }, appIds: null },
      recipients,
      pieces: 1,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + 3_600_000).toISOString(),
    },
    null,
  );
  return token;
}

const pieceOf = (token: string, installIds: string[]): MessagePieceMessage => ({
  type: "message_piece",
  token,
  project_id: project.projectId,
  piece: 0,
  custom_ids: [],
  install_ids: installIds,
  tokens: [],
});

async function subscribers(n: number): Promise<{ subs: TestSubscription[]; ids: string[] }> {
  const subs = await Promise.all(Array.from({ length: n }, () => subscription(project)));
  const ids = await Promise.all(subs.map((s) => subscribedInstallation(project, s)));
  return { subs, ids };
}

/** Sends one piece to `n` new subscribers with a counted control database; answers its round trips. */
async function countedPiece(n: number) {
  const { subs, ids } = await subscribers(n);
  const token = await storedMessage(n);
  const { db, tally } = countingD1();
  const step = await handlePiece(envWith(db), pieceOf(token, ids), "req-1");
  return { step, subs, token, roundTrips: tally.roundTrips };
}

const deliveryRow = (token: string, installationId: string) =>
  env.DB.prepare("SELECT state, error, recorded FROM message_deliveries WHERE token = ? AND installation_id = ?")
    .bind(token, installationId)
    .first<{ state: string; error: string | null; recorded: number }>();

describe("a piece's deliveries", () => {
  it("ask the control database as often for ten deliveries as for two: claimed, settled and marked together", async () => {
    await countedPiece(1);
    const two = await countedPiece(2);
    const ten = await countedPiece(10);
    expect(ten.step).toEqual({ settled: true });
    expect(ten.roundTrips).toBe(two.roundTrips);
    for (const sub of [...two.subs, ...ten.subs]) {
      const pushes = await pushesTo(sub);
      expect(pushes).toHaveLength(1);
      expect(pushes[0]?.verified).toBe(true);
    }
    const states = await env.DB.prepare(
      "SELECT state, recorded, count(*) AS n FROM message_deliveries WHERE token = ? GROUP BY state, recorded",
    )
      .bind(ten.token)
      .all();
    expect(states.results).toEqual([{ state: "sent", recorded: 1, n: 10 }]);
  });

  it("share one VAPID JWT per push service, which the service verifies", async () => {
    const { subs } = await countedPiece(3);
    const jwts = await Promise.all(subs.map(async (s) => (await pushesTo(s))[0]?.jwt));
    expect(jwts[0]).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(new Set(jwts).size).toBe(1);
  });

  it("one left `sending` by an attempt that died is waited for, then ends as outcome_unknown, never sent", async () => {
    const [young, old] = [await subscription(project), await subscription(project)];
    const ids = [await subscribedInstallation(project, young), await subscribedInstallation(project, old)];
    const token = await storedMessage(2);
    const claim = env.DB.prepare(
      "INSERT INTO message_deliveries (token, installation_id, state, attempts, recorded, updated_at) VALUES (?, ?, 'sending', 1, 0, ?)",
    );
    const longAgo = new Date(Date.now() - 10 * 60_000).toISOString();
    await env.DB.batch([claim.bind(token, ids[0], new Date().toISOString()), claim.bind(token, ids[1], longAgo)]);
    const step = await handlePiece(env, pieceOf(token, ids), "req-2");
    expect(step).toEqual({ settled: false, retryAfter: 60 });
    expect(await pushesTo(young)).toHaveLength(0);
    expect(await pushesTo(old)).toHaveLength(0);
    expect(await deliveryRow(token, ids[0] as string)).toMatchObject({ state: "sending", recorded: 0 });
    expect(await deliveryRow(token, ids[1] as string)).toEqual({
      state: "error",
      error: "outcome_unknown",
      recorded: 1,
    });
    const res = await call("GET", `/v1/profiles?installation_id=${ids[1]}`, { headers: restHeaders(project) });
    const view = await res.json<{ events: { name: string; attributes: Record<string, unknown> }[] }>();
    const errors = view.events.filter((e) => e.name === "push_error");
    expect(errors).toHaveLength(1);
    expect(errors[0]?.attributes).toMatchObject({ transactional_token: token, error: "outcome_unknown" });
  });
});
