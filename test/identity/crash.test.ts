import { abortAllDurableObjects, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { VIEW_INSTALLATIONS } from "../../src/identity/custom-id-members";
import type { Intent } from "../../src/identity/transitions";
import { attachFirstHalf, recordIntent } from "../support/half-transitions";
import { createProject } from "../support/harness";
import {
  attributes,
  batch,
  customIdStub,
  event,
  identify,
  installationStub,
  invariantViolations,
  logout,
  profileBy,
  querySql,
  readWorld,
  sendBatch,
} from "../support/identity";

const uuid = () => crypto.randomUUID();

describe("transitions survive crashes and retries", () => {
  it("resumes a sign-in recorded but never sent to the custom ID, from the alarm", async () => {
    const p = await createProject();
    const i = uuid();
    const anon = await batch(p, i, [attributes({ plan: "pro" })]);
    const time = new Date().toISOString();
    await recordIntent(p.projectId, i, {
      kind: "identify",
      opId: "op-crashed",
      key: `${i}:op-crashed`,
      customId: "user-1",
      detachFrom: null,
      candidateProfileId: anon.profile_id,
      fresh: false,
      time,
      requestId: "req-crashed",
    });

    expect(await runDurableObjectAlarm(installationStub(p.projectId, i))).toBe(true);
    const { body } = await profileBy(p, { custom_id: "user-1" });
    expect(body?.profile_id).toBe(anon.profile_id);
    expect(body?.attributes.plan?.value).toBe("pro");
    expect(body?.installations.map((x) => x.installation_id)).toEqual([i]);
    expect(await querySql(installationStub(p.projectId, i), "SELECT * FROM intent")).toEqual([]);
  });

  it("completes a sign-in the custom ID already applied, without a second profile", async () => {
    const p = await createProject();
    const i = uuid();
    const anon = await batch(p, i, [event("opened")]);
    // The custom ID answered, then the installation died before writing the outcome.
    const { intent, answer: first } = await attachFirstHalf(p.projectId, i, anon.profile_id, {
      customId: "user-2",
      opId: "op-half",
      requestId: "req-half",
    });
    expect(first.outcome).toBe("sign_in");
    await recordIntent(p.projectId, i, intent);

    // The next batch resumes the transition before applying its own ops.
    const answer = await batch(p, i, [attributes({ after: true })]);
    expect(answer).toMatchObject({ profile_id: anon.profile_id, custom_id: "user-2" });
    const { body } = await profileBy(p, { custom_id: "user-2" });
    expect(body?.identity_history.filter((h) => h.kind === "sign_in")).toHaveLength(1);
    expect(body?.events.map((e) => e.name)).toEqual(["opened"]);
    expect(body?.attributes.after?.value).toBe(true);
    const world = await readWorld(p.projectId, [i], ["user-2"]);
    expect(invariantViolations(world)).toEqual([]);
  });

  it("resumes a logout whose detach reached the custom ID", async () => {
    const p = await createProject();
    const i = uuid();
    const q = await batch(p, i, [identify("user-3")]);
    const time = new Date().toISOString();
    const intent: Intent = {
      kind: "logout",
      opId: "op-out",
      key: `${i}:op-out`,
      customId: "user-3",
      newProfileId: uuid(),
      time,
      requestId: "req-out",
    };
    await customIdStub(p.projectId, "user-3").detach({
      projectId: p.projectId,
      customId: "user-3",
      installationId: i,
      key: intent.key,
      kind: "logout",
      time,
      requestId: "req-out",
    });
    await recordIntent(p.projectId, i, intent);

    expect(await runDurableObjectAlarm(installationStub(p.projectId, i))).toBe(true);
    const device = await profileBy(p, { installation_id: i });
    expect(device.body).toMatchObject({ profile_id: intent.newProfileId, custom_id: null });
    const user = await profileBy(p, { custom_id: "user-3" });
    expect(user.body?.profile_id).toBe(q.profile_id);
    expect(user.body?.installations).toEqual([]);
    expect(user.body?.identity_history.filter((h) => h.kind === "logout")).toHaveLength(1);
  });

  it("converges when every object is aborted while logins are in flight, and the SDK retries", async () => {
    const p = await createProject();
    const installations = Array.from({ length: 12 }, () => uuid());
    const batches = installations.map((_i, k) => [
      attributes({ k }),
      identify(k % 2 ? "shared" : `solo-${k}`),
      event("after"),
    ]);
    await Promise.all(installations.map((i) => batch(p, i, [])));

    const inFlight = installations.map((i, k) => sendBatch(p, i, batches[k] ?? []).catch(() => null));
    await abortAllDurableObjects();
    await Promise.all(inFlight);

    // The SDK resends each batch unchanged until it is acknowledged.
    for (const [k, i] of installations.entries()) {
      const answer = await batch(p, i, batches[k] ?? []);
      expect(answer.custom_id).toBe(k % 2 ? "shared" : `solo-${k}`);
    }
    const customIds = ["shared", ...installations.map((_, k) => `solo-${k}`)];
    const world = await readWorld(p.projectId, installations, customIds);
    expect(invariantViolations(world)).toEqual([]);
    const shared = world.customIds.get("shared");
    expect(shared?.members.sort()).toEqual(installations.filter((_, k) => k % 2).sort());
    for (const ops of batches) expect(world.events.get(String(ops[2]?.id))).toHaveLength(1);
  });

  it("acknowledges a duplicated batch without applying it twice", async () => {
    const p = await createProject();
    const i = uuid();
    const ops = [identify("user-4"), attributes({ visits: 1 }), event("purchase"), logout()];
    const first = await batch(p, i, ops);
    expect(first).toMatchObject({ accepted: 4, duplicates: 0 });
    const again = await batch(p, i, ops);
    expect(again).toMatchObject({ accepted: 0, duplicates: 4, profile_id: first.profile_id });
    const { body } = await profileBy(p, { custom_id: "user-4" });
    expect(body?.events.filter((e) => e.name === "purchase")).toHaveLength(1);
    expect(body?.identity_history.filter((h) => h.kind === "sign_in")).toHaveLength(1);
    expect(body?.identity_history.filter((h) => h.kind === "logout")).toHaveLength(1);
  });

  it("ends 50 installations logging in to the same new custom ID at once on one profile", async () => {
    const p = await createProject();
    const installations = Array.from({ length: 50 }, () => uuid());
    await Promise.all(installations.map((i) => batch(p, i, [attributes({ before: true })])));
    const answers = await Promise.all(installations.map((i) => batch(p, i, [identify("crowd")])));
    const profiles = new Set(answers.map((a) => a.profile_id));
    expect(profiles.size).toBe(1);

    const { body } = await profileBy(p, { custom_id: "crowd" });
    expect(body?.installations).toHaveLength(VIEW_INSTALLATIONS);
    expect(body?.installations_not_shown).toBe(50 - VIEW_INSTALLATIONS);
    const kinds = body?.identity_history.map((h) => h.kind) ?? [];
    expect(kinds.filter((k) => k === "sign_in")).toHaveLength(1);
    expect(kinds.filter((k) => k === "login")).toHaveLength(49);
    const world = await readWorld(p.projectId, installations, ["crowd"]);
    expect(invariantViolations(world)).toEqual([]);
    const orphans = [...world.installations.values()]
      .flatMap((x) => x.localProfiles)
      .filter((r) => r.state === "orphaned");
    expect(orphans).toHaveLength(49);
  });
});
