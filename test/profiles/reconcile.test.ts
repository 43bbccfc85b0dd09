import { describe, expect, it, vi } from "vitest";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { attributes, batch, identify, profileBy } from "../support/identity";
import { shardDb } from "../support/shards";

const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

function update(p: Project, operations: unknown[]) {
  return call("POST", "/v1/profiles/update", { headers: restHeaders(p), body: operations });
}

async function signedInDevice(p: Project, customId: string) {
  const i = crypto.randomUUID();
  await batch(p, i, [identify(customId)]);
  return i;
}

describe("reconciliation through the API and the SDK (SPEC §3)", () => {
  it("$language and $region: api beats sdk beats sdk_auto, whatever arrives later", async () => {
    const p = await createProject();
    const i = await signedInDevice(p, "u");
    await batch(p, i, [], { language: "fr", region: "FR" }); // sdk_auto
    await batch(p, i, [attributes({ $language: "es" })]); // sdk beats sdk_auto
    let view = await profileBy(p, { custom_id: "u" });
    expect(view.body?.attributes.$language).toMatchObject({ value: "es", source: "sdk" });

    await update(p, [{ identifiers: { custom_id: "u" }, attributes: { $language: "de", $region: "DE" } }]);
    await batch(p, i, [attributes({ $language: "it", $region: "IT" })], { language: "pt", region: "PT" });
    view = await profileBy(p, { custom_id: "u" });
    expect(view.body?.attributes.$language).toMatchObject({ value: "de", source: "api" });
    expect(view.body?.attributes.$region).toMatchObject({ value: "DE", source: "api" });
  });

  it("$timezone: sdk_auto beats api", async () => {
    const p = await createProject();
    const i = await signedInDevice(p, "tz");
    await update(p, [{ identifiers: { custom_id: "tz" }, attributes: { $timezone: "America/New_York" } }]);
    await batch(p, i, [], { timezone: "Europe/Paris" });
    await update(p, [{ identifiers: { custom_id: "tz" }, attributes: { $timezone: "Asia/Tokyo" } }]);
    const { body } = await profileBy(p, { custom_id: "tz" });
    expect(body?.attributes.$timezone).toMatchObject({ value: "Europe/Paris", source: "sdk_auto" });
  });

  it("last update wins by the write's own time, not by arrival", async () => {
    const p = await createProject();
    const op = (minutesAgo: number, plan: string, email: string) => ({
      identifiers: { custom_id: "lww" },
      time: ago(minutesAgo),
      attributes: { plan, $email_address: email },
    });
    await update(p, [op(5, "newer", "new@example.com")]);
    await update(p, [op(10, "older", "old@example.com")]);
    const { body } = await profileBy(p, { custom_id: "lww" });
    expect(body?.attributes.plan?.value).toBe("newer");
    expect(body?.attributes.$email_address?.value).toBe("new@example.com");
    expect(body?.attributes.plan?.source).toBe("api");
  });

  it("an SDK write newer than an API write replaces it, and the view shows both source and time", async () => {
    const p = await createProject();
    const i = await signedInDevice(p, "mix");
    await update(p, [{ identifiers: { custom_id: "mix" }, time: ago(3), attributes: { plan: "api-plan" } }]);
    await batch(p, i, [{ ...attributes({ plan: "sdk-plan" }), time: ago(1) }]);
    const { body } = await profileBy(p, { custom_id: "mix" });
    expect(body?.attributes.plan).toMatchObject({ value: "sdk-plan", source: "sdk" });
    expect(Math.abs(Date.parse(body?.attributes.plan?.updated_at ?? "") - Date.parse(ago(1)))).toBeLessThan(5_000);
  });

  it("a delete is not undone by an older write arriving after it", async () => {
    const p = await createProject();
    await update(p, [{ identifiers: { custom_id: "del" }, time: ago(2), attributes: { plan: null } }]);
    await update(p, [{ identifiers: { custom_id: "del" }, time: ago(4), attributes: { plan: "stale" } }]);
    expect((await profileBy(p, { custom_id: "del" })).body?.attributes.plan).toBeUndefined();
  });

  it("a late, older $add does not bring back an item removed after it", async () => {
    const p = await createProject();
    const target = { custom_id: "tags" };
    const tags = (minutesAgo: number, value: unknown) => ({
      identifiers: target,
      time: ago(minutesAgo),
      attributes: { tags: value },
    });
    await update(p, [tags(10, ["a", "b"])]);
    await update(p, [tags(2, { $remove: ["a"] })]);
    // Made before the removal, arriving after it (an SDK queue flushed late, a retried call).
    await update(p, [tags(5, { $add: ["a", "c"] })]);
    const { body } = await profileBy(p, target);
    expect(body?.attributes.tags).toMatchObject({ type: "array", value: ["b", "c"] });
    // The projection keeps the plain list of strings.
    await vi.waitFor(
      async () => {
        const row = await (await shardDb(p.projectId))
          .prepare("SELECT value_json FROM profile_attributes WHERE project_id = ? AND name = 'tags'")
          .bind(p.projectId)
          .first<{ value_json: string }>();
        expect(JSON.parse(row?.value_json ?? "null")).toEqual(["b", "c"]);
      },
      { timeout: 10_000 },
    );
  });

  it("a removal made on the device before sign-in still keeps an older $add out", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    await batch(p, device, [
      { ...attributes({ tags: ["a", "b"] }), time: ago(10) },
      { ...attributes({ tags: { $remove: ["a"] } }), time: ago(2) },
    ]);
    await batch(p, device, [identify("signer")]);
    await update(p, [{ identifiers: { custom_id: "signer" }, time: ago(5), attributes: { tags: { $add: ["a"] } } }]);
    const { body } = await profileBy(p, { custom_id: "signer" });
    expect(body?.attributes.tags?.value).toEqual(["b"]);
  });

  it("array operations add, remove, and refuse to grow past 25 items", async () => {
    const p = await createProject();
    const target = { custom_id: "arr" };
    await update(p, [{ identifiers: target, attributes: { interests: ["a", "b"] } }]);
    await update(p, [{ identifiers: target, attributes: { interests: { $add: ["c", "a"], $remove: ["b"] } } }]);
    expect((await profileBy(p, target)).body?.attributes.interests?.value).toEqual(["a", "c"]);

    const many = Array.from({ length: 24 }, (_, k) => `x${k}`);
    const res = await update(p, [{ identifiers: target, attributes: { interests: { $add: many } } }]);
    const answer = await res.json<{ code: string; errors: { bulk_index: number; category: string }[] }>();
    expect(answer).toMatchObject({
      code: "SUCCESS_WITH_PARTIAL_ERRORS",
      errors: [{ bulk_index: 0, category: "attributes" }],
    });
    expect((await profileBy(p, target)).body?.attributes.interests?.value).toEqual(["a", "c"]);
  });
});
