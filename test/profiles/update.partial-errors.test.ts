import { describe, expect, it } from "vitest";
import { batch, customIdStub, profileBy } from "../support/identity";
import { attrs, expectNoProfile, freshId, p, update } from "./update-errors.support";

interface PartialAnswer {
  code: string;
  errors?: { bulk_index: number; category: string; reason: string; attribute?: string }[];
}

describe("POST /v1/profiles/update: partial errors", () => {
  it("skips invalid operations by bulk_index and applies the valid ones", async () => {
    const ids = Array.from({ length: 5 }, (_, k) => freshId(`partial${k}`));
    const res = await update(p, [
      { identifiers: { custom_id: ids[0] }, attributes: { tier: "gold" } },
      { identifiers: { custom_id: ids[1] }, attributes: { tier: "gold", $email_address: "nope" } },
      { identifiers: { custom_id: ids[2] }, attributes: { tier: "silver" } },
      { identifiers: { custom_id: ids[3] }, attributes: { tier: "gold" }, events: [{ name: "bad name" }] },
      { identifiers: { custom_id: ids[4] }, events: [{ name: "ok_event" }] },
    ]);
    expect(res.status).toBe(202);
    const body = await res.json<PartialAnswer>();
    expect(body.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(body.errors?.map(({ reason: _, ...rest }) => rest)).toEqual([
      { bulk_index: 1, category: "attributes", attribute: "$email_address" },
      { bulk_index: 3, category: "events", attribute: "0.name" },
    ]);
    for (const e of body.errors ?? []) expect(e.reason.length).toBeGreaterThan(0);

    expect((await profileBy(p, { custom_id: ids[0] as string })).body?.attributes.tier?.value).toBe("gold");
    expect((await profileBy(p, { custom_id: ids[2] as string })).body?.attributes.tier?.value).toBe("silver");
    expect((await profileBy(p, { custom_id: ids[4] as string })).body?.events.map((e) => e.name)).toEqual(["ok_event"]);
    await expectNoProfile(ids[1] as string);
    await expectNoProfile(ids[3] as string);
  });

  it("reports the category of each kind of problem", async () => {
    const ok = freshId("cat-ok");
    const res = await update(p, [
      { identifiers: { custom_id: ok }, attributes: { a: 1 } },
      { identifiers: {}, attributes: { a: 1 } },
      { identifiers: { installation_id: "nope" }, attributes: { a: 1 } },
      { identifiers: { custom_id: freshId("cat-time") }, attributes: { a: 1 }, time: "soon" },
      { identifiers: { custom_id: freshId("cat-extra") }, extra: 1 },
    ]);
    expect(res.status).toBe(202);
    const body = await res.json<PartialAnswer>();
    expect(body.errors?.map(({ reason: _, ...rest }) => rest)).toEqual([
      { bulk_index: 1, category: "identifiers" },
      { bulk_index: 2, category: "identifiers", attribute: "installation_id" },
      { bulk_index: 3, category: "operation", attribute: "time" },
      { bulk_index: 4, category: "operation", attribute: "extra" },
    ]);
    expect((await profileBy(p, { custom_id: ok })).body?.attributes.a?.value).toBe(1);
  });

  it("reports a placeholder custom_id beside valid operations as a partial error of that operation", async () => {
    const ok = freshId("ph-ok");
    const res = await update(p, [
      { identifiers: { custom_id: "anonymous" }, attributes: { a: 1 } },
      { identifiers: { custom_id: ok }, attributes: { a: 2 } },
    ]);
    expect(res.status).toBe(202);
    const body = await res.json<PartialAnswer>();
    expect(body.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(body.errors?.map(({ reason: _, ...rest }) => rest)).toEqual([
      { bulk_index: 0, category: "identifiers", attribute: "custom_id" },
    ]);
    expect(await customIdStub(p.projectId, "anonymous").view()).toBeNull();
    expect((await profileBy(p, { custom_id: ok })).body?.attributes.a?.value).toBe(2);
  });

  it("reports an installation_id the SDK never sent as a partial error, and creates nothing for it", async () => {
    const ok = freshId("inst-ok");
    const unknown = crypto.randomUUID();
    const res = await update(p, [
      { identifiers: { custom_id: ok }, attributes: { a: 1 } },
      { identifiers: { installation_id: unknown }, attributes: { a: 1 }, events: [{ name: "e" }] },
    ]);
    expect(res.status).toBe(202);
    const body = await res.json<PartialAnswer>();
    expect(body.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(body.errors?.map(({ reason: _, ...rest }) => rest)).toEqual([
      { bulk_index: 1, category: "identifiers", attribute: "installation_id" },
    ]);
    expect((await profileBy(p, { installation_id: unknown })).status).toBe(404);
    expect((await profileBy(p, { custom_id: ok })).body?.attributes.a?.value).toBe(1);
  });

  it("reports an unknown installation_id as an error even when it is the only operation", async () => {
    const unknown = crypto.randomUUID();
    const res = await update(p, [{ identifiers: { installation_id: unknown }, attributes: { a: 1 } }]);
    expect(res.status).toBe(202);
    const body = await res.json<PartialAnswer>();
    expect(body.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(body.errors?.map(({ reason: _, ...rest }) => rest)).toEqual([
      { bulk_index: 0, category: "identifiers", attribute: "installation_id" },
    ]);
    expect((await profileBy(p, { installation_id: unknown })).status).toBe(404);
  });

  it("accepts a known installation_id in any case (control)", async () => {
    const known = crypto.randomUUID();
    await batch(p, known, []);
    const res = await update(p, [{ identifiers: { installation_id: known.toUpperCase() }, attributes: { a: 1 } }]);
    expect(await res.json()).toEqual({ code: "SUCCESS" });
  });
});

describe("POST /v1/profiles/update: 250 custom attributes per profile", () => {
  const customId = "full-profile";
  const customCount = async () => {
    const { body } = await profileBy(p, { custom_id: customId });
    return Object.keys(body?.attributes ?? {}).filter((k) => !k.startsWith("$")).length;
  };

  it("fills a profile with 250 attributes in 5 operations of 50", async () => {
    const ops = Array.from({ length: 5 }, (_, k) => ({
      identifiers: { custom_id: customId },
      attributes: attrs(50, `f${k}_`),
    }));
    const res = await update(p, ops);
    expect(await res.json()).toEqual({ code: "SUCCESS" });
    expect(await customCount()).toBe(250);
  });

  it("refuses one more new attribute as a partial error of category attributes", async () => {
    const other = freshId("beside-full");
    const res = await update(p, [
      { identifiers: { custom_id: other }, attributes: { a: 1 } },
      { identifiers: { custom_id: customId }, attributes: { one_too_many: "x" } },
    ]);
    expect(res.status).toBe(202);
    const body = await res.json<PartialAnswer>();
    expect(body.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
    expect(body.errors?.map(({ reason: _, ...rest }) => rest)).toEqual([{ bulk_index: 1, category: "attributes" }]);
    expect(body.errors?.[0]?.reason).toContain("250");
    const { body: profile } = await profileBy(p, { custom_id: customId });
    expect(profile?.attributes.one_too_many).toBeUndefined();
    expect(await customCount()).toBe(250);
    expect((await profileBy(p, { custom_id: other })).body?.attributes.a?.value).toBe(1);
  });

  it("still updates existing attributes and native attributes on a full profile", async () => {
    const res = await update(p, [
      { identifiers: { custom_id: customId }, attributes: { f0_0: "changed", $language: "de" } },
    ]);
    expect(await res.json()).toEqual({ code: "SUCCESS" });
    const { body } = await profileBy(p, { custom_id: customId });
    expect(body?.attributes.f0_0?.value).toBe("changed");
    expect(body?.attributes.$language?.value).toBe("de");
    expect(await customCount()).toBe(250);
  });

  it("skips the events of an operation refused for the attribute limit", async () => {
    const res = await update(p, [
      { identifiers: { custom_id: customId }, attributes: { over_limit: 1 }, events: [{ name: "should_not_land" }] },
    ]);
    const body = await res.json<PartialAnswer>();
    expect(body.errors?.map((e) => [e.bulk_index, e.category])).toEqual([[0, "attributes"]]);
    const { body: profile } = await profileBy(p, { custom_id: customId });
    expect(profile?.attributes.over_limit).toBeUndefined();
    expect(profile?.events.map((e) => e.name)).not.toContain("should_not_land");
  });

  it("accepts a 251st attribute when the same operation deletes one", async () => {
    const res = await update(p, [{ identifiers: { custom_id: customId }, attributes: { f0_1: null, newcomer: "y" } }]);
    expect(await res.json()).toEqual({ code: "SUCCESS" });
    const { body } = await profileBy(p, { custom_id: customId });
    expect(body?.attributes.f0_1).toBeUndefined();
    expect(body?.attributes.newcomer?.value).toBe("y");
    expect(await customCount()).toBe(250);
  });
});
