import { describe, expect, it } from "vitest";
import { call, restHeaders } from "../support/harness";
import { profileBy } from "../support/identity";
import { DAY, expectNoProfile, freshId, MiB, p, refused, requestRows, update } from "./update-errors.support";

describe("POST /v1/profiles/update: the request as a whole", () => {
  const op = (customId: string) => ({ identifiers: { custom_id: customId }, attributes: { a: 1 } });

  it("refuses a body that is not an array with 400 VALIDATION_FAILED", async () => {
    const customId = freshId("object");
    await refused(await update(p, op(customId)), 400, "VALIDATION_FAILED");
    await expectNoProfile(customId);
  });

  it("refuses an empty array with 400 VALIDATION_FAILED", async () => {
    await refused(await update(p, []), 400, "VALIDATION_FAILED");
  });

  it("refuses 201 operations with 400 VALIDATION_FAILED and applies none of them", async () => {
    const customId = freshId("201");
    const error = await refused(
      await update(
        p,
        Array.from({ length: 201 }, () => op(customId)),
      ),
      400,
      "VALIDATION_FAILED",
    );
    expect(error.issues?.[0]?.message).toContain("200");
    await expectNoProfile(customId);
  });

  it("accepts exactly 200 operations (control)", async () => {
    const customId = freshId("200");
    const res = await update(
      p,
      Array.from({ length: 200 }, () => op(customId)),
    );
    expect(await res.json()).toEqual({ code: "SUCCESS" });
  });

  it("refuses malformed JSON with 400 INVALID_JSON", async () => {
    const customId = freshId("malformed");
    const res = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      raw: JSON.stringify([op(customId)]).slice(0, -1),
    });
    const error = await refused(res, 400, "INVALID_JSON");
    expect(error.issues).toBeUndefined();
    await expectNoProfile(customId);
  });

  it("refuses a body that is not JSON with 415", async () => {
    const customId = freshId("text");
    const res = await call("POST", "/v1/profiles/update", {
      headers: { ...restHeaders(p), "Content-Type": "text/plain" },
      raw: JSON.stringify([op(customId)]),
    });
    await refused(res, 415, "UNSUPPORTED_MEDIA_TYPE");
    await expectNoProfile(customId);
  });

  it.each(["/v1/profiles/update", "/2.3/profiles/update"])(
    "refuses a body over 5 MiB at %s with 413, and applies nothing",
    async (path) => {
      const customId = freshId("huge");
      // Whitespace keeps the body valid: only its size can refuse it.
      const res = await call("POST", path, {
        headers: restHeaders(p),
        raw: JSON.stringify([op(customId)]) + " ".repeat(5 * MiB),
      });
      const error = await refused(res, 413, "PAYLOAD_TOO_LARGE");
      expect(error.issues).toBeUndefined();
      await expectNoProfile(customId);
    },
  );

  it("accepts the same body just under 5 MiB (control)", async () => {
    const customId = freshId("big");
    const res = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      raw: JSON.stringify([op(customId)]) + " ".repeat(5 * MiB - 1024),
    });
    expect(res.status).toBe(202);
    expect((await profileBy(p, { custom_id: customId })).status).toBe(200);
  });
});

describe("POST /v1/profiles/mass-update: refused requests record nothing", () => {
  const massUpdate = (body: unknown) => call("POST", "/v1/profiles/mass-update", { headers: restHeaders(p), body });

  it("refuses a body that is not an array", async () => {
    const customId = freshId("mass-object");
    const before = await requestRows();
    await refused(
      await massUpdate({ identifiers: { custom_id: customId }, attributes: { a: 1 } }),
      400,
      "VALIDATION_FAILED",
    );
    expect(await requestRows()).toBe(before);
    await expectNoProfile(customId);
  });

  it("refuses an empty array", async () => {
    const before = await requestRows();
    await refused(await massUpdate([]), 400, "VALIDATION_FAILED");
    expect(await requestRows()).toBe(before);
  });

  it("refuses 10,001 operations", async () => {
    const customId = freshId("mass-10001");
    const before = await requestRows();
    const op = { identifiers: { custom_id: customId }, attributes: { a: 1 } };
    const error = await refused(await massUpdate(new Array(10_001).fill(op)), 400, "VALIDATION_FAILED");
    expect(error.issues?.[0]?.message).toContain("10000");
    expect(await requestRows()).toBe(before);
    await expectNoProfile(customId);
  });

  it("refuses a request where every operation is invalid, listing each by index", async () => {
    const ids = [freshId("mass-bad0"), freshId("mass-bad1")];
    const before = await requestRows();
    const error = await refused(
      await massUpdate([
        { identifiers: { custom_id: ids[0] }, attributes: { $region: "FRA" } },
        {
          identifiers: { custom_id: ids[1] },
          events: [{ name: "late", time: new Date(Date.now() - 31 * DAY).toISOString() }],
        },
      ]),
      400,
      "VALIDATION_FAILED",
    );
    expect(error.issues?.map((i) => i.path)).toEqual(["0.attributes.$region", "1.events.0.time"]);
    expect(await requestRows()).toBe(before);
    for (const id of ids) await expectNoProfile(id);
  });

  it("refuses malformed JSON with INVALID_JSON", async () => {
    const before = await requestRows();
    const res = await call("POST", "/v1/profiles/mass-update", { headers: restHeaders(p), raw: "[{" });
    await refused(res, 400, "INVALID_JSON");
    expect(await requestRows()).toBe(before);
  });
});
