import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createProject, errorOf, type Project, sdkHeaders } from "../support/harness";
import { attributes, event, identify, installationStub, opId, querySql, sendBatch } from "../support/identity";

/** Nothing was written for this installation: its object holds no installation row. */
async function assertNothingWritten(p: Project, installationId: string) {
  const rows = await querySql(installationStub(p.projectId, installationId), "SELECT * FROM installation");
  expect(rows).toEqual([]);
  const events = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE project_id = ?")
    .bind(p.projectId)
    .first();
  expect(events?.n).toBe(0);
}

async function refused(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const error = await errorOf(res);
  expect(error.code).toBe(code);
  return error;
}

describe("POST /v1/sdk/batch refuses bad input and writes nothing", () => {
  it("malformed JSON", async () => {
    const p = await createProject();
    const res = await call("POST", "/v1/sdk/batch", { headers: sdkHeaders(p), raw: '{"installation_id": ' });
    await refused(res, 400, "INVALID_JSON");
  });

  it("an installation ID that is not a UUID", async () => {
    const p = await createProject();
    const error = await refused(await sendBatch(p, "not-a-uuid", [event("x")]), 400, "VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path)).toContain("installation_id");
  });

  it.each(["anonymous", "GUEST", "null", "None", "undefined", "0", "-1", "[object Object]", "", "   ", "distinct_id"])(
    "the placeholder custom ID %j, with INVALID_CUSTOM_ID",
    async (placeholder) => {
      const p = await createProject();
      const i = crypto.randomUUID();
      const error = await refused(
        await sendBatch(p, i, [attributes({ plan: "pro" }), identify(placeholder)]),
        400,
        "INVALID_CUSTOM_ID",
      );
      expect(error.issues?.map((x) => x.path)).toEqual(["ops.1.custom_id"]);
      await assertNothingWritten(p, i);
    },
  );

  it("custom IDs over 512 characters or with control characters", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const error = await refused(
      await sendBatch(p, i, [identify("x".repeat(513)), identify("tab\there")]),
      400,
      "INVALID_CUSTOM_ID",
    );
    expect(error.issues?.map((x) => x.path)).toEqual(["ops.0.custom_id", "ops.1.custom_id"]);
    await assertNothingWritten(p, i);
  });

  it("more than 100 ops", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const ops = Array.from({ length: 101 }, () => event("tap"));
    const error = await refused(await sendBatch(p, i, ops), 400, "VALIDATION_FAILED");
    expect(error.issues?.map((x) => x.path)).toContain("ops");
    await assertNothingWritten(p, i);
  });

  it("an unknown op type", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const error = await refused(
      await sendBatch(p, i, [event("ok"), { id: opId(), type: "teleport" }]),
      400,
      "VALIDATION_FAILED",
    );
    expect(error.issues?.map((x) => x.path)).toContain("ops.1.type");
    await assertNothingWritten(p, i);
  });

  it("every attribute and event limit, each issue with its path", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const tooMany = Object.fromEntries(Array.from({ length: 51 }, (_, k) => [`a${k}`, k]));
    const ops = [
      attributes(tooMany),
      attributes({ long: "x".repeat(301) }),
      attributes({ "bad-name": 1 }),
      attributes({ list: Array.from({ length: 26 }, (_, k) => `v${k}`) }),
      attributes({ $email_address: "not-an-email" }),
      attributes({ $phone_number: "0612345678" }),
      attributes({ $email_marketing: "yes" }),
      attributes({ $language: "french" }),
      attributes({ $region: "FRA" }),
      attributes({ $timezone: "Mars/Olympus" }),
      attributes({ $unknown: "x" }),
      attributes({ "date(birthday)": "yesterday" }),
      attributes({ "url(site)": "not a url" }),
      attributes({ tags: { $add: [1] } }),
      event("Bad Name!"),
      event("ok", Object.fromEntries(Array.from({ length: 21 }, (_, k) => [`k${k}`, k]))),
      { ...event("old"), time: "2020-01-01T00:00:00Z" },
      { ...event("future"), time: new Date(Date.now() + 3_600_000).toISOString() },
      { ...event("nested"), attributes: { deep: { inner: { too: "deep" } } } },
    ];
    const error = await refused(await sendBatch(p, i, ops), 400, "VALIDATION_FAILED");
    const paths = error.issues?.map((x) => x.path) ?? [];
    expect(paths).toEqual(
      expect.arrayContaining([
        "ops.0.attributes",
        "ops.1.attributes.long",
        "ops.2.attributes.bad-name",
        "ops.3.attributes.list",
        "ops.4.attributes.$email_address",
        "ops.5.attributes.$phone_number",
        "ops.6.attributes.$email_marketing",
        "ops.7.attributes.$language",
        "ops.8.attributes.$region",
        "ops.9.attributes.$timezone",
        "ops.10.attributes.$unknown",
        "ops.11.attributes.date(birthday)",
        "ops.12.attributes.url(site)",
        "ops.13.attributes.tags.$add",
        "ops.14.name",
        "ops.15.attributes",
        "ops.16.time",
        "ops.17.time",
        "ops.18.attributes.deep",
      ]),
    );
    await assertNothingWritten(p, i);
  });

  it("two-letter language and region codes that ISO does not assign, in attributes or the device context", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const inOps = await refused(
      await sendBatch(p, i, [attributes({ $language: "xx" }), attributes({ $region: "UK" })]),
      400,
      "VALIDATION_FAILED",
    );
    expect(inOps.issues?.map((x) => x.path)).toEqual(["ops.0.attributes.$language", "ops.1.attributes.$region"]);
    const inContext = await refused(
      await sendBatch(p, i, [], { language: "zz", region: "EU" }),
      400,
      "VALIDATION_FAILED",
    );
    expect(inContext.issues?.map((x) => x.path)).toEqual(["context.language", "context.region"]);
    await assertNothingWritten(p, i);
  });

  it("every issue of a batch in one answer, whichever check finds it", async () => {
    const p = await createProject();
    // An unknown op type in op 0 hides no bad email in op 1 nor a repeated op ID in op 3; an unknown
    // field hides no bad value in the same op.
    const repeated = event("tap");
    const ops = [
      { id: opId(), type: "teleport" },
      attributes({ $email_address: "not-an-email" }),
      repeated,
      repeated,
      { ...attributes({ $email_address: "nope" }), extra: true },
    ];
    const byOps = await refused(await sendBatch(p, crypto.randomUUID(), ops), 400, "VALIDATION_FAILED");
    expect(byOps.issues?.map((x) => x.path).sort()).toEqual([
      "ops.0.type",
      "ops.1.attributes.$email_address",
      "ops.3.id",
      "ops.4.attributes.$email_address",
      "ops.4.extra",
    ]);
    // An installation ID that is not a UUID and a bad context do not hide bad event names and times.
    const byFields = await refused(
      await sendBatch(p, "not-a-uuid", [event("Bad Name!"), { ...event("old"), time: "2020-01-01T00:00:00Z" }], {
        timezone: "Mars/Olympus",
      }),
      400,
      "VALIDATION_FAILED",
    );
    expect(byFields.issues?.map((x) => x.path)).toEqual([
      "installation_id",
      "context.timezone",
      "ops.0.name",
      "ops.1.time",
    ]);
  });

  it("a placeholder custom ID beside other issues: INVALID_CUSTOM_ID, listing them all", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const error = await refused(
      await sendBatch(p, i, [attributes({ $email_address: "nope" }), identify("anonymous")]),
      400,
      "INVALID_CUSTOM_ID",
    );
    expect(error.issues?.map((x) => x.path)).toEqual(["ops.0.attributes.$email_address", "ops.1.custom_id"]);
    await assertNothingWritten(p, i);
  });

  it("the same op ID twice in one batch", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const op = event("tap");
    const error = await refused(await sendBatch(p, i, [op, op]), 400, "VALIDATION_FAILED");
    expect(error.issues?.map((x) => x.path)).toEqual(["ops.1.id"]);
    await assertNothingWritten(p, i);
  });

  it("a body over the SDK limit, with 413", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const ops = Array.from({ length: 100 }, () => ({
      ...event("big"),
      $label: "x".repeat(200),
      attributes: { s: "y".repeat(300) },
    }));
    const res = await call("POST", "/v1/sdk/batch", {
      headers: sdkHeaders(p),
      raw: JSON.stringify({ installation_id: i, ops, padding: "z".repeat(600_000) }),
    });
    await refused(res, 413, "PAYLOAD_TOO_LARGE");
    await assertNothingWritten(p, i);
  });

  it("a body that is not JSON", async () => {
    const p = await createProject();
    const res = await call("POST", "/v1/sdk/batch", {
      headers: { ...sdkHeaders(p), "Content-Type": "text/plain" },
      raw: "installation_id=x",
    });
    await refused(res, 415, "UNSUPPORTED_MEDIA_TYPE");
  });
});

describe("POST /v1/sdk/batch security", () => {
  it("refuses a missing SDK key with 401", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const res = await call("POST", "/v1/sdk/batch", { body: { installation_id: i, ops: [event("x")] } });
    await refused(res, 401, "UNAUTHORIZED");
    await assertNothingWritten(p, i);
  });

  it("refuses a wrong or tampered SDK key with 401", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const tampered = `${p.sdkKey.slice(0, -1)}${p.sdkKey.endsWith("A") ? "B" : "A"}`;
    for (const key of [tampered, "sdk_nope", "x".repeat(80)]) {
      const res = await call("POST", "/v1/sdk/batch", {
        headers: { "X-Api-Key": key },
        body: { installation_id: i, ops: [event("x")] },
      });
      await refused(res, 401, "UNAUTHORIZED");
    }
    await assertNothingWritten(p, i);
  });

  it("refuses a REST key or the admin token on the SDK endpoint with 403", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    for (const bearer of [p.restKey, "test-admin-token"]) {
      const res = await call("POST", "/v1/sdk/batch", {
        headers: { Authorization: `Bearer ${bearer}`, "X-Project-Id": p.projectId },
        body: { installation_id: i, ops: [event("x")] },
      });
      await refused(res, 403, "FORBIDDEN");
    }
    await assertNothingWritten(p, i);
  });

  it("refuses an SDK key on a REST route with 403: it can read nothing", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    await sendBatch(p, i, [event("x")]);
    const res = await call("GET", `/v1/profiles?installation_id=${i}`, { headers: sdkHeaders(p) });
    await refused(res, 403, "FORBIDDEN");
  });

  it("keeps projects apart: the same installation ID in two projects is two profiles", async () => {
    const a = await createProject();
    const b = await createProject();
    const i = crypto.randomUUID();
    const inA = await (await sendBatch(a, i, [attributes({ owner: "a" })])).json<{ profile_id: string }>();
    const inB = await (await sendBatch(b, i, [])).json<{ profile_id: string }>();
    expect(inA.profile_id).not.toBe(inB.profile_id);
    const res = await call("GET", `/v1/profiles?installation_id=${i}`, {
      headers: { Authorization: `Bearer ${b.restKey}`, "X-Project-Id": b.projectId },
    });
    const body = await res.json<{ attributes: Record<string, unknown> }>();
    expect(body.attributes).toEqual({});
  });
});

describe("times that are not times", () => {
  it("refuses an unparseable op time with its path instead of failing", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const res = await sendBatch(p, i, [
      { ...attributes({ a: 1 }), time: "yesterday" },
      { ...event("x"), time: "2026-13-45T99:99:99Z" },
      { ...identify("u-1"), time: "" },
    ]);
    const error = await refused(res, 400, "VALIDATION_FAILED");
    expect(error.issues?.map((x) => x.path)).toEqual(["ops.0.time", "ops.1.time", "ops.2.time"]);
    await assertNothingWritten(p, i);
  });
});

describe("identifiers and names that JavaScript treats specially", () => {
  it("refuses a custom ID with a lone surrogate, which storage would turn into another ID", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const error = await refused(await sendBatch(p, i, [identify("\ud800")]), 400, "VALIDATION_FAILED");
    expect(error.issues?.map((x) => x.path)).toEqual(["ops.0.custom_id"]);
    await assertNothingWritten(p, i);
  });

  it("keeps an attribute named __proto__ like any other", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const res = await call("POST", "/v1/sdk/batch", {
      headers: sdkHeaders(p),
      raw: `{"installation_id":"${i}","ops":[{"id":"o1","type":"attributes","attributes":{"__proto__":"kept"}}]}`,
    });
    expect(res.status).toBe(200);
    const view = await call("GET", `/v1/profiles?installation_id=${i}`, {
      headers: { Authorization: `Bearer ${p.restKey}`, "X-Project-Id": p.projectId },
    });
    const body = JSON.parse(await view.text()) as { attributes: Record<string, { value: unknown }> };
    expect(Object.getOwnPropertyDescriptor(body.attributes, "__proto__")?.value).toMatchObject({ value: "kept" });
  });
});
