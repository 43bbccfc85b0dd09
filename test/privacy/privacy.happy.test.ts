import { describe, expect, it } from "vitest";
import { call, createProject, restHeaders } from "../support/harness";
import { attributes, batch, event, identify } from "../support/identity";
import { archiveOf, type PrivacyRequestBody, run } from "./support";

interface ArchiveBody {
  request_id: string;
  profile_id: string;
  identifier: { type: string; value: string };
  identifiers: { custom_id: string | null; installation_ids: string[] };
  installations: { installation_id: string; platform: string | null }[];
  attributes: Record<string, { value: unknown; updated_at: string; source: string }>;
  events: { id: string; name: string; time: string; attributes: Record<string, unknown>; source: string }[];
  identity_history: { kind: string; installation_id: string | null; custom_id: string | null }[];
}

describe("privacy review", () => {
  it("by custom ID: the archive holds identifiers, installations, attributes with source and time, events, history", async () => {
    const p = await createProject();
    const phone = crypto.randomUUID();
    const tablet = crypto.randomUUID();
    await batch(p, phone, [attributes({ colour: "red" }), identify("reviewed")], { language: "fr" });
    await batch(p, tablet, [identify("reviewed"), event("played", { level: 3 })]);
    await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [{ identifiers: { custom_id: "reviewed" }, attributes: { plan: "pro" } }],
    });

    const done = await run(p, { type: "review", identifier: { type: "custom_id", value: "reviewed" } });
    expect(done).toMatchObject({
      type: "review",
      status: "done",
      identifier: { type: "custom_id", value: "reviewed" },
    });
    expect(done.error).toBeUndefined();
    expect(done.archive_url).toBe(`/v1/privacy/requests/${done.request_id}/archive`);
    expect(done.completed_at).not.toBeNull();

    const { status, body } = await archiveOf(p, done.request_id);
    expect(status).toBe(200);
    const archive = body as unknown as ArchiveBody;
    expect(archive.request_id).toBe(done.request_id);
    expect(archive.identifiers.custom_id).toBe("reviewed");
    expect(archive.identifiers.installation_ids.sort()).toEqual([phone, tablet].sort());
    expect(archive.installations.map((i) => i.installation_id).sort()).toEqual([phone, tablet].sort());
    expect(archive.attributes.colour).toMatchObject({ value: "red", source: "sdk" });
    expect(archive.attributes.plan).toMatchObject({ value: "pro", source: "api" });
    expect(archive.attributes.$language).toMatchObject({ value: "fr", source: "sdk_auto" });
    for (const a of Object.values(archive.attributes)) expect(Number.isNaN(Date.parse(a.updated_at))).toBe(false);
    expect(archive.events.map((e) => [e.name, e.attributes, e.source])).toEqual([["played", { level: 3 }, "sdk"]]);
    expect(archive.identity_history.map((h) => h.kind)).toEqual(["created", "sign_in", "login"]);
  });

  it("by installation ID of an anonymous profile, with Batch's body", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    const anon = await batch(p, device, [attributes({ shoe_size: 42 })]);
    const done = await run(p, { request_type: "review", id: { type: "installation_id", value: device.toUpperCase() } });
    expect(done.status).toBe("done");
    expect(done.identifier).toEqual({ type: "installation_id", value: device });
    const archive = (await archiveOf(p, done.request_id)).body as unknown as ArchiveBody;
    expect(archive.profile_id).toBe(anon.profile_id);
    expect(archive.identifiers).toEqual({ custom_id: null, installation_ids: [device] });
    expect(archive.attributes.shoe_size?.value).toBe(42);
  });

  it("an unknown identifier ends done with error not_found, and no archive", async () => {
    const p = await createProject();
    for (const identifier of [
      { type: "custom_id", value: "nobody" },
      { type: "installation_id", value: crypto.randomUUID() },
    ]) {
      for (const type of ["review", "remove"]) {
        const done = await run(p, { type, identifier });
        expect(done.status).toBe("done");
        expect(done.error).toBe("not_found");
        expect(done.receipt).toBeUndefined();
        expect((await archiveOf(p, done.request_id)).status).toBe(404);
      }
    }
  });

  it("lists the project's requests, newest first, in pages", async () => {
    const p = await createProject();
    const ids: string[] = [];
    for (const value of ["a1", "a2", "a3"]) {
      ids.push((await run(p, { type: "review", identifier: { type: "custom_id", value } })).request_id);
    }
    const page1 = await call("GET", "/v1/privacy/requests?limit=2", { headers: restHeaders(p) });
    expect(page1.status).toBe(200);
    const body1 = await page1.json<{ requests: PrivacyRequestBody[]; next_cursor: string | null }>();
    expect(body1.requests.map((r) => r.request_id)).toEqual([ids[2], ids[1]]);
    const page2 = await call("GET", `/v1/privacy/requests?limit=2&cursor=${body1.next_cursor}`, {
      headers: restHeaders(p),
    });
    const body2 = await page2.json<{ requests: PrivacyRequestBody[]; next_cursor: string | null }>();
    expect(body2.requests.map((r) => r.request_id)).toEqual([ids[0]]);
    expect(body2.next_cursor).toBeNull();
  });
});
