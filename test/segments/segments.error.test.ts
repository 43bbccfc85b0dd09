import { describe, expect, it } from "vitest";
import { call, createProject, errorOf, type Project, restHeaders, sdkHeaders } from "../support/harness";

async function refused(p: Project, body: unknown, status = 400) {
  const res = await call("POST", "/v1/segments/query", { headers: restHeaders(p), body });
  expect(res.status).toBe(status);
  return errorOf(res);
}

const deep = (levels: number): unknown => (levels === 0 ? { has_custom_id: true } : { not: deep(levels - 1) });

describe("POST /v1/segments/query refuses bad input with the path at fault", () => {
  it.each([
    [{}, "where"],
    [{ where: { color: "red" } }, "where"],
    [{ where: { attribute: "tier", op: "like", value: "x" } }, "where.op"],
    [{ where: { attribute: "bad name", op: "eq", value: "x" } }, "where.attribute"],
    [{ where: { attribute: "tier", op: "eq" } }, "where.value"],
    [{ where: { attribute: "tier", op: "eq", value: { nested: 1 } } }, "where.value"],
    [{ where: { attribute: "tier", op: "in", value: [] } }, "where.value"],
    [{ where: { attribute: "tier", op: "exists", value: 1 } }, "where.value"],
    [{ where: { and: [] } }, "where.and"],
    [{ where: { and: [{ has_custom_id: true }, { platform: "symbian" }] } }, "where.and.1.platform"],
    [{ where: { or: [{ has_custom_id: "yes" }] } }, "where.or.0.has_custom_id"],
    [{ where: { not: { in_audience: "bad name!" } } }, "where.not.in_audience"],
    [{ where: { and: [{ has_custom_id: true }], or: [] } }, "where"],
    [{ where: { last_activity: {} } }, "where.last_activity"],
    [{ where: { last_activity: { after: "yesterday" } } }, "where.last_activity.after"],
    [{ where: { email_marketing: "maybe" } }, "where.email_marketing"],
    [{ where: { has_custom_id: true }, limit: 0 }, "limit"],
    [{ where: { has_custom_id: true }, limit: 1001 }, "limit"],
    [{ where: { has_custom_id: true }, extra: 1 }, "extra"],
    [{ where: { has_custom_id: true }, cursor: "not-a-cursor" }, "cursor"],
    [{ where: { has_custom_id: true }, cursor: btoa(`${crypto.randomUUID()}.many`) }, "cursor"],
    [{ where: { has_custom_id: true }, cursor: btoa(`${crypto.randomUUID()}.-1`) }, "cursor"],
    [{ where: deep(9) }, "where.not.not.not.not.not.not.not.not"],
  ])("%j → issue at %s", async (body, path) => {
    const p = await createProject();
    const error = await refused(p, body);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path)).toContain(path);
  });

  it("refuses more than 20 conditions", async () => {
    const p = await createProject();
    const where = { or: Array.from({ length: 21 }, (_, k) => ({ attribute: "age", op: "eq", value: k })) };
    expect((await refused(p, { where })).issues?.[0]?.path).toBe("where.or");
  });

  it("refuses an unknown audience", async () => {
    const p = await createProject();
    const error = await refused(p, { where: { in_audience: "nobody_made_this" } });
    expect(error.message).toContain("nobody_made_this");
  });

  it("refuses a tree too large for one statement's bound parameters", async () => {
    const p = await createProject();
    const where = {
      and: Array.from({ length: 20 }, () => ({
        attribute: "tier",
        op: "in",
        value: Array.from({ length: 20 }, (_, k) => `v${k}`),
      })),
    };
    expect((await refused(p, { where })).issues?.[0]?.path).toBe("where");
  });

  it("takes values as bound parameters: SQL in a value is just a value", async () => {
    const p = await createProject();
    const res = await call("POST", "/v1/segments/query", {
      headers: restHeaders(p),
      body: { where: { attribute: "tier", op: "eq", value: "x' OR '1'='1" } },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ count: 0, profiles: [], next_cursor: null });
  });
});

describe("POST /v1/segments/query security", () => {
  it("answers 401 without a key or with the admin token, 403 for an SDK key or another project's key", async () => {
    const a = await createProject();
    const b = await createProject();
    const body = { where: { has_custom_id: true } };
    const cases: [Record<string, string>, number][] = [
      [{}, 401],
      [sdkHeaders(a), 403],
      [{ Authorization: "Bearer test-admin-token", "X-Project-Id": a.projectId }, 401],
      [{ Authorization: `Bearer ${a.restKey}`, "X-Project-Id": b.projectId }, 403],
    ];
    for (const [headers, status] of cases) {
      const res = await call("POST", "/v1/segments/query", { headers, body });
      expect(res.status).toBe(status);
      await errorOf(res);
    }
  });
});
