import { beforeAll, describe, expect, it, vi } from "vitest";
import { download, runDaily } from "../exports/helpers";
import { call, type Project, restHeaders } from "../support/harness";
import { waitForStaged } from "../support/staged";
import { campaignProject, createCampaign, hello, person, projected, untilSent } from "./support";

let project: Project;
beforeAll(async () => {
  project = await campaignProject();
});

describe("outcomes of a campaign", () => {
  it("land in the daily push_events export with the campaign token, and go to push.* webhooks", async () => {
    const hookKey = crypto.randomUUID();
    const hook = await call("POST", "/v1/webhooks", {
      headers: restHeaders(project),
      body: { url: `https://receiver.test/ok/${hookKey}`, topics: ["push.*"] },
    });
    expect(hook.status).toBe(201);
    const reader = await person(project, { customId: "reader" });
    await projected(project, [reader], ["reader"]);
    const token = await createCampaign(project, {
      name: "Outcomes",
      live: true,
      push_time: "now",
      targeting: { where: { has_custom_id: true } },
      messages: hello,
    });
    expect((await untilSent(project, token)).stats).toMatchObject({ sent: 1 });
    // The push_optin event, then the outcome.
    await waitForStaged(project.projectId, 2);
    const today = new Date().toISOString().slice(0, 10);
    await runDaily(project, today);
    const csv = await (await download(project, project.appId, "push_events", `${today}.csv`)).text();
    const rows = csv.trim().split("\r\n").slice(1);
    expect(rows.filter((r) => r.includes(",push_sent,"))).toEqual([
      expect.stringMatching(new RegExp(`^[^,]+,${reader.installationId},reader,push_sent,${token},,$`)),
    ]);
    const items = await vi.waitFor(
      async () => {
        const received = await (await fetch(`https://receiver.test/received/${hookKey}`)).json<{ body: string }[]>();
        const all = received.flatMap((r) => JSON.parse(r.body).items as { topic: string; data: unknown }[]);
        if (!all.some((i) => i.topic === "event.push_sent"))
          throw new Error(`items so far: ${all.map((i) => i.topic)}`);
        return all;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(items.find((i) => i.topic === "event.push_sent")?.data).toMatchObject({
      attributes: { campaign_token: token },
    });
  });
});
