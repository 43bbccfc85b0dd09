import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { runScheduled } from "../../src/scheduled";
import { call, errorOf, type Project } from "../support/harness";
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
let reader: Person;
beforeAll(async () => {
  project = await campaignProject();
  reader = await person(project, { customId: "reader", attrs: { list: "news" } });
  await projected(project, [reader], ["reader"]);
});

const news = { where: { attribute: "list", op: "eq", value: "news" } };
const update = (token: string, body: unknown) =>
  call("POST", `/1.1/${project.sdkKey}/campaigns/update/${token}`, {
    headers: { "X-Authorization": project.restKey },
    body,
  });
/** Runs the five-minute cron as if it were `at`. */
const cronAt = (at: number) =>
  runScheduled({ cron: "*/5 * * * *", scheduledTime: at, noRetry() {} } as ScheduledController, env);
const settle = () => new Promise((r) => setTimeout(r, 1000));
const DAY = 86_400_000;

describe("drafts and going live", () => {
  it("a draft sends nothing until it goes live; once sent it cannot go live again", async () => {
    const before = (await pushesTo(reader.sub)).length;
    const token = await createCampaign(project, {
      name: "Draft",
      live: false,
      push_time: "now",
      targeting: news,
      messages: hello,
    });
    await settle();
    expect(await readCampaign(project, token)).toMatchObject({ state: "draft", live: false, stats: { targeted: 0 } });
    expect(await pushesTo(reader.sub)).toHaveLength(before);

    const live = await update(token, { live: true });
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ campaign_token: token });
    expect((await untilSent(project, token)).stats).toMatchObject({ targeted: 1, sent: 1 });
    expect(await pushesTo(reader.sub)).toHaveLength(before + 1);

    for (const body of [{ live: true }, { live: true, name: "Again" }, { messages: hello }]) {
      const again = await update(token, body);
      expect(again.status).toBe(409);
      expect((await errorOf(again)).code).toBe("CONFLICT");
    }
    await settle();
    expect(await pushesTo(reader.sub)).toHaveLength(before + 1);
  });

  it("a campaign whose push_time has passed sends at once", async () => {
    const before = (await pushesTo(reader.sub)).length;
    const past = new Date(Date.now() - 3600_000).toISOString();
    const token = await createCampaign(project, {
      name: "Late",
      live: true,
      push_time: past,
      targeting: news,
      messages: hello,
    });
    expect((await untilSent(project, token)).stats.sent).toBe(1);
    expect(await pushesTo(reader.sub)).toHaveLength(before + 1);
  });
});

describe("push_time", () => {
  it("a campaign a few seconds ahead starts by itself, from its delayed start message", async () => {
    const before = (await pushesTo(reader.sub)).length;
    const soon = new Date(Date.now() + 2000).toISOString();
    const token = await createCampaign(project, {
      name: "Soon",
      live: true,
      push_time: soon,
      targeting: news,
      messages: hello,
    });
    expect((await readCampaign(project, token)).state).toBe("scheduled");
    const done = await untilSent(project, token);
    expect(Date.parse((done as unknown as { started_at: string }).started_at)).toBeGreaterThanOrEqual(Date.parse(soon));
    expect(await pushesTo(reader.sub)).toHaveLength(before + 1);
  });

  it("a scheduled campaign fires when the cron's clock reaches its time, not before", async () => {
    const before = (await pushesTo(reader.sub)).length;
    const at = Date.now() + 3 * DAY;
    const token = await createCampaign(project, {
      name: "Later",
      live: true,
      push_time: new Date(at).toISOString(),
      targeting: news,
      messages: hello,
    });
    await cronAt(at - DAY);
    await settle();
    expect((await readCampaign(project, token)).state).toBe("scheduled");
    expect(await pushesTo(reader.sub)).toHaveLength(before);
    await cronAt(at + 60_000);
    expect((await untilSent(project, token)).stats.sent).toBe(1);
    expect(await pushesTo(reader.sub)).toHaveLength(before + 1);
  });

  it("a scheduled campaign cancelled (back to a draft, or deleted) never sends", async () => {
    const before = (await pushesTo(reader.sub)).length;
    const at = Date.now() + 3 * DAY;
    const body = {
      name: "Cancelled",
      live: true,
      push_time: new Date(at).toISOString(),
      targeting: news,
      messages: hello,
    };
    const drafted = await createCampaign(project, body);
    const deleted = await createCampaign(project, body);
    expect((await update(drafted, { live: false })).status).toBe(200);
    const del = await call("POST", `/1.1/${project.sdkKey}/campaigns/delete/${deleted}`, {
      headers: { "X-Authorization": project.restKey },
    });
    expect(del.status).toBe(200);
    await cronAt(at + 60_000);
    await settle();
    expect(await readCampaign(project, drafted)).toMatchObject({ state: "draft", stats: { targeted: 0 } });
    const gone = await call("GET", `/v1/campaigns/${deleted}`, {
      headers: { Authorization: `Bearer ${project.restKey}`, "X-Project-Id": project.projectId },
    });
    expect(gone.status).toBe(404);
    expect(await pushesTo(reader.sub)).toHaveLength(before);
  });
});
