import { beforeAll, describe, expect, it } from "vitest";
import { createProject, type Project } from "../support/harness";
import { profileBy } from "../support/identity";
import { batchCall, batchErrorOf, credentialsOf } from "./support";

let p: Project;
let other: Project;
beforeAll(async () => {
  p = await createProject();
  other = await createProject();
});

const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000).toISOString();
const good = { name: "ue.fine" };

describe("Trigger Events API: any event outside Batch's limits refuses the whole request", () => {
  const cases: { name: string; event: Record<string, unknown>; path: string }[] = [
    { name: "a time older than 24 h", event: { name: "late", time: hoursAgo(25) }, path: "events.1.time" },
    { name: "a time in the future", event: { name: "early", time: hoursAgo(-1) }, path: "events.1.time" },
    { name: "a time that is not a date", event: { name: "x", time: "soon" }, path: "events.1.time" },
    { name: "a label over 200 characters", event: { name: "x", label: "l".repeat(201) }, path: "events.1.$label" },
    {
      name: "11 tags",
      event: { name: "x", tags: Array.from({ length: 11 }, (_, k) => `t${k}`) },
      path: "events.1.$tags",
    },
    { name: "a tag over 64 characters", event: { name: "x", tags: ["t".repeat(65)] }, path: "events.1.$tags" },
    {
      name: "16 attributes",
      event: { name: "x", attributes: Object.fromEntries(Array.from({ length: 16 }, (_, k) => [`a${k}`, k])) },
      path: "events.1.attributes",
    },
    {
      name: "a bad date(k)",
      event: { name: "x", attributes: { "date(d)": "never" } },
      path: "events.1.attributes.date(d)",
    },
    { name: "a bad name", event: { name: "ue.not a name" }, path: "events.1.name" },
    { name: "an unknown field", event: { name: "x", colour: "red" }, path: "events.1.colour" },
  ];
  for (const { name, event, path } of cases) {
    it(`refuses ${name} (400, batch_code 31), adding nothing`, async () => {
      const res = await batchCall("POST", credentialsOf(p), "/events/users/err-ev", {
        body: { events: [good, event] },
      });
      expect(res.status).toBe(400);
      const error = await batchErrorOf(res);
      expect(error.batch_code).toBe(31);
      expect(error.issues?.map((i) => i.path)).toContain(path);
      expect((await profileBy(p, { custom_id: "err-ev" })).status).toBe(404);
    });
  }

  it("refuses more than 1,000 events in all across a bulk request", async () => {
    const users = Array.from({ length: 3 }, (_, k) => ({
      id: `bulk-err-${k}`,
      events: Array.from({ length: 334 }, () => good),
    }));
    const res = await batchCall("POST", credentialsOf(p), "/events/users", { body: users });
    expect(res.status).toBe(400);
    expect((await batchErrorOf(res)).batch_code).toBe(31);
    expect((await profileBy(p, { custom_id: "bulk-err-0" })).status).toBe(404);
  });

  it("refuses a bulk request with one bad user's event whole, naming it", async () => {
    const res = await batchCall("POST", credentialsOf(p), "/events/users", {
      body: [
        { id: "bulk-ok", events: [good] },
        { id: "bulk-bad", events: [good, { name: "x", time: hoursAgo(30) }] },
      ],
    });
    expect(res.status).toBe(400);
    expect((await batchErrorOf(res)).issues?.map((i) => i.path)).toContain("1.events.1.time");
    expect((await profileBy(p, { custom_id: "bulk-ok" })).status).toBe(404);
  });

  it("refuses a missing events list with batch_code 30 and malformed JSON with 32", async () => {
    const missing = await batchCall("POST", credentialsOf(p), "/events/users/err-ev", { body: {} });
    expect(missing.status).toBe(400);
    expect((await batchErrorOf(missing)).batch_code).toBe(30);
    const malformed = await batchCall("POST", credentialsOf(p), "/events/users/err-ev", { raw: "[" });
    expect((await batchErrorOf(malformed)).batch_code).toBe(32);
  });
});

describe("Trigger Events API security", () => {
  it("refuses another project's REST key with 401 and adds nothing anywhere", async () => {
    const res = await batchCall("POST", { apiKey: p.sdkKey, restKey: other.restKey }, "/events/users/sec-ev", {
      body: { events: [good] },
    });
    expect(res.status).toBe(401);
    expect((await batchErrorOf(res)).batch_code).toBe(10);
    expect((await profileBy(p, { custom_id: "sec-ev" })).status).toBe(404);
    expect((await profileBy(other, { custom_id: "sec-ev" })).status).toBe(404);
  });

  it("lands events in the project of the path's app only", async () => {
    const res = await batchCall("POST", credentialsOf(other), "/events/users/sec-ev2", { body: { events: [good] } });
    expect(res.status).toBe(202);
    expect((await profileBy(other, { custom_id: "sec-ev2" })).status).toBe(200);
    expect((await profileBy(p, { custom_id: "sec-ev2" })).status).toBe(404);
  });
});
