import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { attributes, batch, event, identify, profileBy } from "../support/identity";
import { batchCall, credentialsOf } from "./support";

let p: Project;
beforeAll(async () => {
  p = await createProject();
});

type Attrs = Record<string, { value: unknown; type: string | null; source: string }>;
const attrsOf = async (customId: string) =>
  ((await profileBy(p, { custom_id: customId })).body?.attributes ?? {}) as unknown as Attrs;

describe("POST /1.0/{API_KEY}/data/users/{custom_id}", () => {
  it("applies Batch's documented example before answering, typed values shown with their type", async () => {
    const res = await batchCall("POST", credentialsOf(p), "/data/users/user-doc", {
      body: {
        overwrite: false,
        values: {
          "u.credit": 30000,
          "date(u.date_of_birth)": "2005-03-04T00:00:00",
          "url(u.avatar)": "https://example.com/a.png",
          "ut.roles": ["BENEFICIARY"],
          "u.city": null,
        },
      },
    });
    expect(res.status).toBe(202);
    expect(typeof (await res.json<{ token: string }>()).token).toBe("string");
    const a = await attrsOf("user-doc");
    expect(a.credit).toMatchObject({ value: 30000, type: "number", source: "api" });
    expect(a.date_of_birth).toMatchObject({ value: "2005-03-04T00:00:00.000Z", type: "date", source: "api" });
    expect(a.avatar).toMatchObject({ value: "https://example.com/a.png", type: "url" });
    expect(a.roles).toMatchObject({ value: ["BENEFICIARY"], type: "array" });
    expect(a.city).toBeUndefined();
  });

  it("reads a date() with no zone as UTC, with an offset as that offset, and epoch seconds", async () => {
    const res = await batchCall("POST", credentialsOf(p), "/data/users/user-dates", {
      body: {
        values: {
          "date(u.no_zone)": "2026-01-02T03:04:05",
          "date(u.offset)": "2026-01-02T03:04:05+02:00",
          "date(u.epoch)": 1767323045,
          "date(u.day)": "2026-01-02",
        },
      },
    });
    expect(res.status).toBe(202);
    const a = await attrsOf("user-dates");
    expect(a.no_zone?.value).toBe("2026-01-02T03:04:05.000Z");
    expect(a.offset?.value).toBe("2026-01-02T01:04:05.000Z");
    expect(a.epoch?.value).toBe(new Date(1767323045 * 1000).toISOString());
    expect(a.day?.value).toBe("2026-01-02T00:00:00.000Z");
  });

  it("edits a tag collection with $add and $remove", async () => {
    const creds = credentialsOf(p);
    await batchCall("POST", creds, "/data/users/user-tags", { body: { values: { "ut.roles": ["a", "b"] } } });
    const res = await batchCall("POST", creds, "/data/users/user-tags", {
      body: { values: { "ut.roles": { $add: ["c"], $remove: ["a"] } } },
    });
    expect(res.status).toBe(202);
    expect([...(((await attrsOf("user-tags")).roles?.value ?? []) as string[])].sort()).toEqual(["b", "c"]);
  });

  it("overwrite: true removes the custom attributes and tags it does not list, and keeps native ones", async () => {
    const creds = credentialsOf(p);
    await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [{ identifiers: { custom_id: "user-ow" }, attributes: { $email_address: "ow@example.com" } }],
    });
    await batchCall("POST", creds, "/data/users/user-ow", {
      body: { values: { "u.a": 1, "u.b": "two", "ut.t": ["x"] } },
    });
    const res = await batchCall("POST", creds, "/data/users/user-ow", {
      body: { overwrite: true, values: { "u.c": true, "u.a": 5 } },
    });
    expect(res.status).toBe(202);
    const a = await attrsOf("user-ow");
    expect(Object.keys(a).sort()).toEqual(["$email_address", "a", "c"]);
    expect(a.a?.value).toBe(5);
  });

  it("gives an unknown custom ID a profile", async () => {
    expect((await profileBy(p, { custom_id: "brand-new" })).status).toBe(404);
    const res = await batchCall("POST", credentialsOf(p), "/data/users/brand-new", { body: { values: { "u.x": 1 } } });
    expect(res.status).toBe(202);
    expect((await profileBy(p, { custom_id: "brand-new" })).body?.custom_id).toBe("brand-new");
  });
});

describe("DELETE /1.0/{API_KEY}/data/users/{custom_id}", () => {
  it("removes custom attributes and tags; identity, installations, native attributes and events stay", async () => {
    const installation = crypto.randomUUID();
    await batch(p, installation, [identify("user-del"), event("opened_app"), attributes({ $language: "fr" })]);
    await batchCall("POST", credentialsOf(p), "/data/users/user-del", {
      body: { values: { "u.plan": "gold", "ut.roles": ["x"] } },
    });
    const before = (await profileBy(p, { custom_id: "user-del" })).body;
    const res = await batchCall("DELETE", credentialsOf(p), "/data/users/user-del");
    expect(res.status).toBe(200);
    expect(typeof (await res.json<{ token: string }>()).token).toBe("string");
    const after = (await profileBy(p, { custom_id: "user-del" })).body;
    expect(after?.profile_id).toBe(before?.profile_id);
    expect(Object.keys(after?.attributes ?? {})).toEqual(["$language"]);
    expect(after?.installations.map((i) => i.installation_id)).toEqual([installation]);
    expect(after?.events.map((e) => e.name)).toEqual(["opened_app"]);
    expect(after?.identity_history).toEqual(before?.identity_history);
  });

  it("makes no profile for an unknown custom ID", async () => {
    const res = await batchCall("DELETE", credentialsOf(p), "/data/users/never-seen/");
    expect(res.status).toBe(200);
    expect((await profileBy(p, { custom_id: "never-seen" })).status).toBe(404);
  });
});

interface RequestStatus {
  status: string;
  total: number;
  applied: number;
  errors: unknown[];
}

describe("POST /1.0/{API_KEY}/data/users (bulk)", () => {
  it("queues the users as a mass update, progress at /v1/requests/{request_id}", async () => {
    const users = Array.from({ length: 30 }, (_, k) => ({
      id: `bulk-${k % 10}`,
      update: { overwrite: k >= 20, values: { [`u.f${k}`]: k } },
    }));
    const res = await batchCall("POST", credentialsOf(p), "/data/users/", { body: users });
    expect(res.status).toBe(202);
    const { token, request_id } = await res.json<{ token: string; request_id: string }>();
    expect(token).toBe(request_id);
    const status = await vi.waitFor(
      async () => {
        const body = await (
          await call("GET", `/v1/requests/${request_id}`, { headers: restHeaders(p) })
        ).json<RequestStatus>();
        if (body.status === "pending") throw new Error("pending");
        return body;
      },
      { timeout: 20_000, interval: 100 },
    );
    expect(status).toMatchObject({ status: "done", total: 30, applied: 30, errors: [] });
    // One user's updates apply in request order: its last one overwrote the first two.
    expect(Object.keys(await attrsOf("bulk-3"))).toEqual(["f23"]);
  });

  it("refuses 10,001 users whole with batch_code 31, nothing written", async () => {
    const before = await env.DB.prepare("SELECT count(*) AS n FROM requests").first<{ n: number }>();
    const users = Array.from({ length: 10_001 }, (_, k) => ({ id: `many-${k}`, update: { values: { "u.n": k } } }));
    const res = await batchCall("POST", credentialsOf(p), "/data/users", { body: users });
    expect(res.status).toBe(400);
    const body = await res.json<{ error: { batch_code: number; code: string } }>();
    expect(body.error).toMatchObject({ code: "VALIDATION_FAILED", batch_code: 31 });
    const after = await env.DB.prepare("SELECT count(*) AS n FROM requests").first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
    expect((await profileBy(p, { custom_id: "many-0" })).status).toBe(404);
  });
});
