import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, errorOf, type Project, refusedRestCallers, restHeaders } from "../support/harness";
import { campaignProject, createCampaign, hello } from "./support";

let project: Project;
let other: Project;
beforeAll(async () => {
  project = await campaignProject();
  other = await campaignProject();
});

const campaignsOf = async (p: Project) =>
  (
    await env.DB.prepare("SELECT count(*) AS n FROM campaigns WHERE project_id = ?")
      .bind(p.projectId)
      .first<{ n: number }>()
  )?.n ?? 0;
const valid = { name: "c", live: false, push_time: "now", messages: hello };
const create = (body: unknown, headers = restHeaders(project)) => call("POST", "/v1/campaigns", { headers, body });

describe("POST /v1/campaigns refuses bad input with a clear 400 and writes nothing", () => {
  it.each([
    ["a where node of no known kind", { targeting: { where: { colour: "red" } } }, "targeting.where"],
    ["an unknown audience", { targeting: { audiences: ["nobody-made-this"] } }, "targeting.audiences"],
    ["an unknown platform", { targeting: { platforms: ["windows"] } }, "targeting.platforms.0"],
    ["an unknown targeting field", { targeting: { segment: "x" } }, "targeting.segment"],
    [
      "too many conditions",
      {
        targeting: {
          where: { and: Array.from({ length: 21 }, (_, k) => ({ attribute: `a${k}`, op: "exists" })) },
        },
      },
      "targeting",
    ],
    ["a push_time neither now nor ISO", { push_time: "tomorrow" }, "push_time"],
    ["no message", { messages: [] }, "messages"],
    [
      "two messages in one language",
      {
        messages: [
          { language: "fr", title: "a", body: "b" },
          { language: "FR", title: "c", body: "d" },
        ],
      },
      "messages.1.language",
    ],
    ["an unknown language", { messages: [{ language: "xx", title: "a", body: "b" }] }, "messages.0.language"],
    ["a send_rate of 0", { send_rate: 0 }, "send_rate"],
    ["an unknown field", { segment_id: "x" }, "segment_id"],
    ["a push too large", { messages: [{ title: "t", body: "é".repeat(2000) }] }, "messages.0"],
  ])("%s", async (_name, patch, path) => {
    const before = await campaignsOf(project);
    const res = await create({ ...valid, live: true, ...patch });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message.length).toBeGreaterThan(10);
    expect(error.issues?.some((i) => i.path === path || (path !== "" && i.path.startsWith(path)))).toBe(true);
    expect(await campaignsOf(project)).toBe(before);
  });

  it("a body that is not JSON", async () => {
    const res = await call("POST", "/v1/campaigns", { headers: restHeaders(project), raw: "{" });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("INVALID_JSON");
  });
});

describe("GET /v1/campaigns[/{token}]", () => {
  it("answers 404 for an unknown token and for another project's, 400 for a token that is no UUID", async () => {
    const theirs = await createCampaign(other, valid);
    for (const token of [crypto.randomUUID(), theirs]) {
      const res = await call("GET", `/v1/campaigns/${token}`, { headers: restHeaders(project) });
      expect(res.status).toBe(404);
      expect((await errorOf(res)).code).toBe("NOT_FOUND");
    }
    const bad = await call("GET", "/v1/campaigns/not-a-token", { headers: restHeaders(project) });
    expect(bad.status).toBe(400);
    const list = await call("GET", "/v1/campaigns?limit=0", { headers: restHeaders(project) });
    expect(list.status).toBe(400);
    // Another project's campaigns are never listed.
    const mine = await call("GET", "/v1/campaigns?limit=100", { headers: restHeaders(project) });
    const names = (await mine.json<{ campaigns: { campaign_token: string }[] }>()).campaigns.map(
      (c) => c.campaign_token,
    );
    expect(names).not.toContain(theirs);
  });
});

describe("security", () => {
  const callers = refusedRestCallers(
    () => project,
    () => other,
  );
  it.each(callers)("create: $name is refused, nothing written", async (caller) => {
    const before = await campaignsOf(project);
    const res = await create(valid, caller.headers());
    expect(res.status).toBe(caller.status);
    expect((await errorOf(res)).code).toBe(caller.code);
    expect(await campaignsOf(project)).toBe(before);
  });
  it.each(callers)("list and read: $name is refused", async (caller) => {
    const token = await createCampaign(project, valid);
    for (const path of ["/v1/campaigns", `/v1/campaigns/${token}`]) {
      const res = await call("GET", path, { headers: caller.headers() });
      expect(res.status).toBe(caller.status);
      expect((await errorOf(res)).code).toBe(caller.code);
    }
  });
});
