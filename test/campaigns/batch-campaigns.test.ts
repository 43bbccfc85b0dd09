import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminHeaders, call, type Project } from "../support/harness";
import { pushesTo } from "../support/webpush";
import {
  campaignProject,
  createCampaign,
  hello,
  type Person,
  person,
  projected,
  readCampaign,
  untilSent,
} from "./support";

let project: Project;
let other: Project;
/** A second app of `project`: a campaign made with the first app's key never reaches it. */
let secondApp: Project;
let mine: Person;
let notMine: Person;
beforeAll(async () => {
  project = await campaignProject();
  other = await campaignProject();
  const app = await call("POST", `/v1/admin/projects/${project.projectId}/apps`, {
    headers: adminHeaders,
    body: { name: "Second", platform: "web" },
  });
  const { app_id, sdk_api_key } = await app.json<{ app_id: string; sdk_api_key: string }>();
  secondApp = { ...project, appId: app_id, sdkKey: sdk_api_key };
  mine = await person(project, { customId: "fan", attrs: { club: "yes" } });
  notMine = await person(secondApp, { customId: "fan" });
  await projected(project, [mine, notMine], ["fan"]);
});

const body = {
  name: "Match day",
  live: true,
  push_time: "now",
  targeting: { where: { has_custom_id: true } },
  messages: hello,
};
const batchCall = (method: string, path: string, restKey: string | null, payload?: unknown, apiKey = project.sdkKey) =>
  call(method, `/1.1/${apiKey}/campaigns/${path}`, {
    headers: restKey ? { "X-Authorization": restKey } : {},
    ...(payload === undefined ? {} : { body: payload }),
  });
const campaignCount = async () =>
  (await env.DB.prepare("SELECT count(*) AS n FROM campaigns").first<{ n: number }>())?.n;

describe("Batch's Campaigns API 1.1", () => {
  it("create, stats, with X-Authorization: reaches the API_KEY's app only", async () => {
    const res = await batchCall("POST", "create", project.restKey, body);
    expect(res.status).toBe(201);
    const { campaign_token } = await res.json<{ campaign_token: string }>();
    const done = await untilSent(project, campaign_token);
    expect(done.stats).toMatchObject({ targeted: 1, sent: 1 });
    expect(await pushesTo(mine.sub)).toHaveLength(1);
    expect(await pushesTo(notMine.sub)).toHaveLength(0);
    const stats = await batchCall("GET", `stats/${campaign_token}`, project.restKey);
    expect(stats.status).toBe(200);
    expect(await stats.json()).toEqual({
      campaign_token,
      detail: [
        {
          date: new Date().toISOString().slice(0, 10),
          targeted: 1,
          sent: 1,
          direct_open: 0,
          errors: 0,
          tokens_deleted: 0,
        },
      ],
    });
  });

  it("update replaces the fields given; delete removes the campaign", async () => {
    const token = await createCampaign(project, { ...body, live: false });
    const res = await batchCall("POST", `update/${token}`, project.restKey, { name: "Renamed", send_rate: 100 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ campaign_token: token });
    expect(await readCampaign(project, token)).toMatchObject({ name: "Renamed", send_rate: 100, state: "draft" });
    const del = await batchCall("POST", `delete/${token}`, project.restKey);
    expect(del.status).toBe(200);
    expect((await batchCall("GET", `stats/${token}`, project.restKey)).status).toBe(404);
    expect((await batchCall("POST", `delete/${token}`, project.restKey)).status).toBe(404);
  });

  it("bad targeting and bad bodies: 400 with Batch's code, nothing written", async () => {
    const before = await campaignCount();
    for (const [payload, code] of [
      [{ ...body, targeting: { where: { nope: 1 } } }, 31],
      [{ ...body, targeting: { audiences: ["missing"] } }, 31],
      [{ ...body, push_time: "soon" }, 31],
      [{ live: true, push_time: "now", messages: hello }, 30],
    ] as const) {
      const res = await batchCall("POST", "create", project.restKey, payload);
      expect(res.status).toBe(400);
      const { error } = await res.json<{ error: { code: string; batch_code: number } }>();
      expect(error).toMatchObject({ code: "VALIDATION_FAILED", batch_code: code });
    }
    expect(await campaignCount()).toBe(before);
  });

  it.each([
    ["no X-Authorization", () => [project.sdkKey, null]],
    ["another project's REST key", () => [project.sdkKey, other.restKey]],
    ["another project's API_KEY", () => [other.sdkKey, project.restKey]],
    ["a made-up API_KEY", () => ["sdk_nothing_here", project.restKey]],
  ])("%s: 401 with batch_code 10 on every route, nothing written or changed", async (_name, keys) => {
    const [apiKey, restKey] = keys() as [string, string | null];
    const token = await createCampaign(project, { ...body, live: false });
    const before = await campaignCount();
    for (const [method, path, payload] of [
      ["POST", "create", body],
      ["POST", `update/${token}`, { live: true }],
      ["POST", `delete/${token}`, undefined],
      ["GET", `stats/${token}`, undefined],
    ] as const) {
      const res = await batchCall(method, path, restKey, payload, apiKey);
      expect(res.status).toBe(401);
      const { error } = await res.json<{ error: { code: string; batch_code: number } }>();
      expect(error).toMatchObject({ code: "UNAUTHORIZED", batch_code: 10 });
    }
    expect(await campaignCount()).toBe(before);
    expect((await readCampaign(project, token)).state).toBe("draft");
  });

  it("another project's campaign is unknown to this project's keys", async () => {
    const theirs = await createCampaign(other, { ...body, live: false });
    for (const [method, path] of [
      ["POST", `update/${theirs}`],
      ["POST", `delete/${theirs}`],
      ["GET", `stats/${theirs}`],
    ] as const) {
      const res = await batchCall(
        method,
        path,
        project.restKey,
        method === "POST" && path.startsWith("update") ? { live: true } : undefined,
      );
      expect(res.status).toBe(404);
      expect((await res.json<{ error: { batch_code: number } }>()).error.batch_code).toBe(20);
    }
    expect((await readCampaign(other, theirs)).state).toBe("draft");
  });
});
