import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminHeaders, call, createProject, type Project } from "../support/harness";
import { pushesTo, subscribedInstallation, subscription, untilDone } from "../support/webpush";

let project: Project;
let other: Project;
/** A second app of `project`: the 1.1 path with the first app's key never reaches it. */
let secondApp: Project;
beforeAll(async () => {
  project = await createProject("web");
  other = await createProject("web");
  const app = await call("POST", `/v1/admin/projects/${project.projectId}/apps`, {
    headers: adminHeaders,
    body: { name: "Second", platform: "web" },
  });
  const { app_id, sdk_api_key } = await app.json<{ app_id: string; sdk_api_key: string }>();
  secondApp = { ...project, appId: app_id, sdkKey: sdk_api_key };
});

const body = (customId: string) => ({
  group_id: "welcome",
  recipients: { custom_ids: [customId] },
  message: { title: "Bienvenue", body: "Hello" },
});
const send1_1 = (apiKey: string, restKey: string | null, payload: unknown, slash = "") =>
  call("POST", `/1.1/${apiKey}/transactional/send${slash}`, {
    headers: restKey ? { "X-Authorization": restKey } : {},
    body: payload,
  });

describe("POST /1.1/{API_KEY}/transactional/send", () => {
  it("sends with X-Authorization, to the API_KEY's app only (a trailing slash accepted)", async () => {
    const mine = await subscription(project);
    const notMine = await subscription(project);
    await subscribedInstallation(project, mine, { customId: "both-apps" });
    await subscribedInstallation(secondApp, notMine, { customId: "both-apps" });
    const res = await send1_1(project.sdkKey, project.restKey, body("both-apps"), "/");
    expect(res.status).toBe(201);
    const { token } = await res.json<{ token: string }>();
    expect(await untilDone(project, token)).toMatchObject({ recipients: 1, sent: 1 });
    expect(await pushesTo(mine)).toHaveLength(1);
    expect(await pushesTo(notMine)).toHaveLength(0);
  });

  it.each([
    ["no X-Authorization", () => [project.sdkKey, null]],
    ["another project's REST key", () => [project.sdkKey, other.restKey]],
    ["another project's API_KEY", () => [other.sdkKey, project.restKey]],
    ["a made-up API_KEY", () => ["sdk_nothing_here", project.restKey]],
    ["a wrong REST secret", () => [project.sdkKey, `${project.restKey}x`]],
  ])("%s: 401 with batch_code 10, nothing recorded", async (_name, keys) => {
    const [apiKey, restKey] = keys() as [string, string | null];
    const count = () => env.DB.prepare("SELECT count(*) AS n FROM messages").first<{ n: number }>();
    const before = await count();
    const res = await send1_1(apiKey, restKey, body("x"));
    expect(res.status).toBe(401);
    const { error } = await res.json<{ error: { code: string; batch_code: number; request_id: string } }>();
    expect(error).toMatchObject({ code: "UNAUTHORIZED", batch_code: 10 });
    expect(await count()).toEqual(before);
  });

  it("10,001 recipients: 400 with batch_code 31", async () => {
    const custom_ids = Array.from({ length: 10_001 }, (_, k) => `u${k}`);
    const res = await send1_1(project.sdkKey, project.restKey, { ...body("x"), recipients: { custom_ids } });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { batch_code: number } }>()).error.batch_code).toBe(31);
  });
});
