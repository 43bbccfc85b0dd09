import { abortAllDurableObjects, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MAX_INTENT_ATTEMPTS, planAbandon } from "../../src/identity/transitions";
import { enforceSqlLimits, failStatements } from "../support/faults";
import { createProject, type Project } from "../support/harness";
import {
  attributes,
  batch,
  customIdStub,
  event,
  HELD_EVENTS,
  identify,
  installationStub,
  invariantViolations,
  logout,
  type Op,
  profileBy,
  querySql,
  readWorld,
  sendBatch,
} from "../support/identity";

const uuid = () => crypto.randomUUID();

/** Sends `ops` until a batch is answered 200; how many answers were errors before it. */
async function untilAccepted(p: Project, i: string, ops: Op[]): Promise<number> {
  for (let failures = 0; failures <= MAX_INTENT_ATTEMPTS + 1; failures++) {
    const res = await sendBatch(p, i, ops);
    if (res.status === 200) return failures;
    expect(res.status).toBe(500);
  }
  throw new Error("the installation never took a batch again");
}

describe("a transition that can never complete", () => {
  it("ends a sign-in that fails every attempt as abandoned, and the installation keeps working", async () => {
    const p = await createProject();
    const i = uuid();
    const anon = await batch(p, i, [attributes({ plan: "pro" })]);
    await failStatements(customIdStub(p.projectId, "user-doomed"), /INSERT INTO profiles/);
    const signIn = [identify("user-doomed")];
    const failures = await untilAccepted(p, i, signIn);
    expect(failures).toBe(MAX_INTENT_ATTEMPTS - 1);

    const after = await batch(p, i, [event("still_here")]);
    expect(after).toMatchObject({ profile_id: anon.profile_id, custom_id: null });
    const { body } = await profileBy(p, { installation_id: i });
    expect(body?.custom_id).toBeNull();
    expect(body?.attributes.plan?.value).toBe("pro");
    expect(body?.events.map((e) => e.name)).toContain("still_here");
    expect(body?.identity_history.map((h) => h.kind)).toEqual(["created", "transition_abandoned"]);
    expect(body?.identity_history[1]).toMatchObject({ custom_id: "user-doomed", installation_id: i });
    // The SDK's resend of the identify is acknowledged, not tried again.
    expect(await batch(p, i, signIn)).toMatchObject({ duplicates: 1, custom_id: null });
    expect(await querySql(installationStub(p.projectId, i), "SELECT * FROM intent")).toEqual([]);
  });

  it("counts the alarm's attempts too, and ends the transition from the alarm", async () => {
    const p = await createProject();
    const i = uuid();
    await batch(p, i, [attributes({ plan: "pro" })]);
    await failStatements(customIdStub(p.projectId, "user-alarmed"), /INSERT INTO profiles/);
    expect((await sendBatch(p, i, [identify("user-alarmed")])).status).toBe(500);
    for (let k = 1; k < MAX_INTENT_ATTEMPTS; k++) {
      expect(await runDurableObjectAlarm(installationStub(p.projectId, i))).toBe(true);
    }
    expect(await querySql(installationStub(p.projectId, i), "SELECT * FROM intent")).toEqual([]);
    const { body } = await profileBy(p, { installation_id: i });
    expect(body?.identity_history.map((h) => h.kind)).toEqual(["created", "transition_abandoned"]);
  });

  it("goes on anonymous, on a fresh profile, when switching user left the first and cannot reach the second", async () => {
    const p = await createProject();
    const i = uuid();
    await batch(p, i, [identify("user-first")]);
    await failStatements(customIdStub(p.projectId, "user-second"), /INSERT INTO profiles/);
    expect(await untilAccepted(p, i, [identify("user-second")])).toBe(MAX_INTENT_ATTEMPTS - 1);
    const { body } = await profileBy(p, { installation_id: i });
    expect(body?.custom_id).toBeNull();
    expect(body?.identity_history.map((h) => h.kind)).toEqual(["created", "transition_abandoned"]);
    const first = await profileBy(p, { custom_id: "user-first" });
    expect(first.body?.installations).toEqual([]);
    await abortAllDurableObjects();
    const world = await readWorld(p.projectId, [i], ["user-first", "user-second"]);
    expect(invariantViolations(world)).toEqual([]);
  });

  it("stays signed in when a logout can never reach its custom ID", async () => {
    const p = await createProject();
    const i = uuid();
    const signedIn = await batch(p, i, [identify("user-stuck")]);
    await failStatements(customIdStub(p.projectId, "user-stuck"), /DELETE FROM members/);
    expect(await untilAccepted(p, i, [logout()])).toBe(MAX_INTENT_ATTEMPTS - 1);
    const answer = await batch(p, i, []);
    expect(answer).toMatchObject({ profile_id: signedIn.profile_id, custom_id: "user-stuck" });
  });
});

describe("the terminal outcome of a transition, as a pure decision", () => {
  const base = { opId: "o", key: "k", time: "t", requestId: "r" };
  it("keeps an anonymous installation where it is, and records the outcome on its profile", () => {
    const intent = {
      ...base,
      kind: "identify" as const,
      customId: "c",
      detachFrom: null,
      candidateProfileId: "p",
      fresh: false,
    };
    expect(planAbandon(intent, { profileId: "p", customId: null }, false)).toEqual({
      binding: { profileId: "p", customId: null },
      newProfileId: null,
      recordOn: "p",
    });
  });

  it("moves an installation that already left its user to the fresh profile the intent named", () => {
    const intent = {
      ...base,
      kind: "identify" as const,
      customId: "c2",
      detachFrom: "c1",
      candidateProfileId: "fresh",
      fresh: true,
    };
    expect(planAbandon(intent, { profileId: "q1", customId: "c1" }, true)).toEqual({
      binding: { profileId: "fresh", customId: null },
      newProfileId: "fresh",
      recordOn: "fresh",
    });
    expect(planAbandon(intent, { profileId: "q1", customId: "c1" }, false)).toEqual({
      binding: { profileId: "q1", customId: "c1" },
      newProfileId: null,
      recordOn: null,
    });
  });
});

describe("a sign-in that carries a large anonymous history", () => {
  it("moves it whole, in statements within the Durable Object SQLite limits", async () => {
    const p = await createProject();
    const i = uuid();
    // 20 attributes of 300 characters: about 6 KB an event; 420 events pass 2 MB as one value.
    const wide = Object.fromEntries(Array.from({ length: 20 }, (_, k) => [`a${k}`, `${k}`.padEnd(300, "x")]));
    const ids: string[] = [];
    for (let b = 0; b < 7; b++) {
      const ops = Array.from({ length: 60 }, () => event("viewed", wide));
      ids.push(...ops.map((o) => String(o.id)));
      await batch(p, i, ops);
    }
    await enforceSqlLimits(installationStub(p.projectId, i));
    await enforceSqlLimits(customIdStub(p.projectId, "user-big"));
    const answer = await batch(p, i, [identify("user-big")]);
    expect(answer.custom_id).toBe("user-big");
    const held = await querySql(customIdStub(p.projectId, "user-big"), `SELECT event_id FROM ${HELD_EVENTS}`);
    expect(held.map((r) => String(r.event_id)).sort()).toEqual([...ids].sort());
  });
});
