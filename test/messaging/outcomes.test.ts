import { beforeAll, describe, expect, it, vi } from "vitest";
import { download, runDaily } from "../exports/helpers";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { waitForStaged } from "../support/staged";
import { send, subscribedInstallation, subscription, untilDone } from "../support/webpush";

let project: Project;
beforeAll(async () => {
  project = await createProject("web");
});

const message = { title: "Hello", body: "World" };

describe("outcomes of a transactional send", () => {
  it("land in the daily push_events export with the transactional token, and go to push.* webhooks", async () => {
    const hookKey = crypto.randomUUID();
    const hook = await call("POST", "/v1/webhooks", {
      headers: restHeaders(project),
      body: { url: `https://receiver.test/ok/${hookKey}`, topics: ["push.*"] },
    });
    expect(hook.status).toBe(201);
    const ok = await subscription(project);
    const gone = await subscription(project, [{ status: 410 }]);
    const sent = await subscribedInstallation(project, ok, { customId: "reader" });
    const deleted = await subscribedInstallation(project, gone);
    const res = await send(project, {
      group_id: "news",
      recipients: { custom_ids: ["reader"], install_ids: [deleted] },
      message,
    });
    const { token } = await res.json<{ token: string }>();
    expect(await untilDone(project, token)).toMatchObject({ sent: 1, tokens_deleted: 1 });
    // Two push_optin events (one per installation), then the two outcomes.
    await waitForStaged(project.projectId, 4);
    const today = new Date().toISOString().slice(0, 10);
    await runDaily(project, today);
    const csv = await (await download(project, project.appId, "push_events", `${today}.csv`)).text();
    const rows = csv.trim().split("\r\n").slice(1);
    expect(rows.filter((r) => r.includes(",push_sent,"))).toEqual([
      expect.stringMatching(new RegExp(`^[^,]+,${sent},reader,push_sent,,${token},$`)),
    ]);
    expect(rows.filter((r) => r.includes(",token_deleted,"))).toEqual([
      expect.stringMatching(new RegExp(`^[^,]+,${deleted},,token_deleted,,${token},http_410$`)),
    ]);
    const items = await vi.waitFor(
      async () => {
        const received = await (await fetch(`https://receiver.test/received/${hookKey}`)).json<{ body: string }[]>();
        const all = received.flatMap((r) => JSON.parse(r.body).items as { topic: string; data: unknown }[]);
        if (!all.some((i) => i.topic === "event.token_deleted") || !all.some((i) => i.topic === "event.push_sent"))
          throw new Error(`items so far: ${all.map((i) => i.topic)}`);
        return all;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(items.find((i) => i.topic === "event.push_sent")?.data).toMatchObject({
      attributes: { transactional_token: token },
    });
  });
});
