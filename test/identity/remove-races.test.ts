import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { removeProfile } from "../../src/privacy/remove";
import { attachFirstHalf, recordIntent } from "../support/half-transitions";
import { createProject } from "../support/harness";
import { attributes, batch, event, identify, installationStub, profileBy, querySql } from "../support/identity";
import { shardDb } from "../support/shards";

const uuid = () => crypto.randomUUID();

describe("a remove racing a transition", () => {
  it("by installation ID, during a sign-in the custom ID committed, resumes it and refuses", async () => {
    const p = await createProject();
    const i = uuid();
    const anon = await batch(p, i, [event("opened"), attributes({ plan: "pro" })]);
    const { intent, answer } = await attachFirstHalf(p.projectId, i, anon.profile_id, {
      customId: "racer-1",
      opId: "op-half",
      requestId: "req-half",
    });
    expect(answer.outcome).toBe("sign_in");
    await recordIntent(p.projectId, i, intent, { alarm: false });

    const result = await removeProfile(
      env,
      p.projectId,
      { kind: "installation", installationId: i },
      { requestId: uuid(), at: new Date().toISOString(), anonymousOnly: true },
    );
    expect(result).toMatchObject({ removed: false, reason: "custom_id_required" });
    // Nothing was erased: the installation finished signing in, and writes through the custom ID land.
    const tombstones = await (await shardDb(p.projectId))
      .prepare("SELECT count(*) AS n FROM profiles WHERE project_id = ? AND profile_id = ? AND state = 'removed'")
      .bind(p.projectId, anon.profile_id)
      .first<{ n: number }>();
    expect(tombstones?.n).toBe(0);
    expect(await querySql(installationStub(p.projectId, i), "SELECT profile_id, custom_id FROM installation")).toEqual([
      { profile_id: anon.profile_id, custom_id: "racer-1" },
    ]);
    const after = await batch(p, i, [attributes({ later: true })]);
    expect(after).toMatchObject({ profile_id: anon.profile_id, custom_id: "racer-1" });
    const { body } = await profileBy(p, { custom_id: "racer-1" });
    expect(body?.attributes.later?.value).toBe(true);
    expect(body?.attributes.plan?.value).toBe("pro");
  });

  it("by custom ID, during a login the custom ID committed, frees the installation too", async () => {
    const p = await createProject();
    const j = uuid();
    const held = await batch(p, j, [identify("racer-2"), attributes({ tier: "gold" })]);
    const i = uuid();
    const anon = await batch(p, i, [event("opened")]);
    const { intent, answer } = await attachFirstHalf(p.projectId, i, anon.profile_id, {
      customId: "racer-2",
      opId: "op-login",
      requestId: "req-login",
    });
    expect(answer).toEqual({ outcome: "login", profileId: held.profile_id });
    await recordIntent(p.projectId, i, intent, { alarm: false });

    const result = await removeProfile(
      env,
      p.projectId,
      { kind: "custom_id", customId: "racer-2" },
      { requestId: uuid(), at: new Date().toISOString() },
    );
    expect(result.removed).toBe(true);
    const receipt = (result as { receipt: { installation_ids: string[] } }).receipt;
    expect(receipt.installation_ids.sort()).toEqual([i, j].sort());
    // The installation was on its way to the removed profile: it is freed with it, and comes
    // back on a new anonymous profile, never on the removed one nor holding the custom ID.
    const after = await batch(p, i, [attributes({ later: true })]);
    expect(after.custom_id).toBeNull();
    expect([held.profile_id, anon.profile_id]).not.toContain(after.profile_id);
    expect((await profileBy(p, { custom_id: "racer-2" })).body).toBeNull();
  });
});
