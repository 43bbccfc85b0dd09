import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createProject, type Project } from "../support/harness";
import { batch, customIdStub, event, identify, type Op, opId, querySql } from "../support/identity";

const uuid = () => crypto.randomUUID();

/** The version of the custom ID's profile: every call that reaches its data moves it on. */
async function version(p: Project, customId: string): Promise<number> {
  const rows = await querySql(
    customIdStub(p.projectId, customId),
    "SELECT version FROM profiles WHERE state = 'active'",
  );
  return Number(rows[0]?.version);
}

const pushAndInApp = (n: number): Op[] =>
  Array.from({ length: n }, (_, k) =>
    k % 2
      ? { id: opId(), type: "push_opened", campaign_token: "c-1" }
      : { id: opId(), type: "inapp", event: "shown", campaign_token: "c-1" },
  );

describe("what a signed-in installation sends to its custom ID", () => {
  it("makes no call per push or in-app op: 100 of them reach the custom ID's data once at most", async () => {
    const p = await createProject();
    const i = uuid();
    await batch(p, i, [identify("user-calls")]);
    const before = await version(p, "user-calls");
    const answer = await batch(p, i, pushAndInApp(100));
    expect(answer).toMatchObject({ accepted: 100, custom_id: "user-calls" });
    expect((await version(p, "user-calls")) - before).toBeLessThanOrEqual(1);
  });

  it("sends each run of data ops between other ops once, and nothing for the empty runs", async () => {
    const p = await createProject();
    const i = uuid();
    await batch(p, i, [identify("user-runs")]);
    const before = await version(p, "user-runs");
    const ops = [
      ...pushAndInApp(3),
      event("one"),
      event("two"),
      ...pushAndInApp(3),
      event("three"),
      ...pushAndInApp(3),
    ];
    const answer = await batch(p, i, ops);
    expect(answer).toMatchObject({ accepted: ops.length });
    expect((await version(p, "user-runs")) - before).toBe(2);
  });

  it("still records a batch of push ops only as activity on the signed-in profile", async () => {
    const p = await createProject();
    const i = uuid();
    await batch(p, i, [identify("user-active")]);
    const stub = customIdStub(p.projectId, "user-active");
    const past = "2020-01-01T00:00:00.000Z";
    await runInDurableObject(stub, (_o, state) => {
      state.storage.sql.exec("UPDATE profiles SET last_activity_at = ?", past);
    });
    await batch(p, i, pushAndInApp(4));
    const rows = await querySql(stub, "SELECT last_activity_at FROM profiles WHERE state = 'active'");
    expect(String(rows[0]?.last_activity_at) > past).toBe(true);
  });
});
