import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createProject } from "../support/harness";
import { attributes, batch, identify } from "../support/identity";
import { createWebhook, eventually, Receivers, signingSecret, verify } from "../support/webhooks";
import { run } from "./support";

let receivers: Receivers;
beforeEach(() => {
  receivers = new Receivers().install({ retryDelaySeconds: () => 0, timeoutMs: 50 });
});
afterEach(() => receivers.restore());

describe("privacy webhooks", () => {
  it("a remove reaches a webhook of profile.removed, and a privacy.completed one, signed", async () => {
    const p = await createProject();
    const removedUrl = receivers.url();
    const completedUrl = receivers.url();
    await createWebhook(p, removedUrl, ["profile.removed"]);
    await createWebhook(p, completedUrl, ["privacy.completed"]);
    const device = crypto.randomUUID();
    const signedIn = await batch(p, device, [identify("hooked"), attributes({ tier: "gold" })]);

    const done = await run(p, { type: "remove", identifier: { type: "custom_id", value: "hooked" } });
    expect(done.status).toBe("done");

    await eventually(() => {
      expect(receivers.itemsAt(removedUrl)).toHaveLength(1);
      expect(receivers.itemsAt(completedUrl)).toHaveLength(1);
    });
    const [removed] = receivers.itemsAt(removedUrl);
    expect(removed).toMatchObject({
      id: `profile.removed:${done.request_id}:${signedIn.profile_id}`,
      topic: "profile.removed",
      project_id: p.projectId,
      profile_id: signedIn.profile_id,
      custom_id: "hooked",
      installation_id: device,
      data: { request_id: done.request_id },
    });
    const [completed] = receivers.itemsAt(completedUrl);
    expect(completed).toMatchObject({
      id: `privacy.completed:${done.request_id}`,
      topic: "privacy.completed",
      profile_id: signedIn.profile_id,
      custom_id: "hooked",
      data: { request_id: done.request_id, type: "remove", status: "done", completed_at: done.completed_at },
    });
    const secret = await signingSecret(p.projectId);
    for (const post of [...receivers.at(removedUrl), ...receivers.at(completedUrl)]) verify(secret, post);
  });

  it("a review publishes privacy.completed and no profile.removed", async () => {
    const p = await createProject();
    const url = receivers.url();
    await createWebhook(p, url, ["profile.removed", "privacy.completed"]);
    await batch(p, crypto.randomUUID(), [identify("reviewed-hook")]);

    const done = await run(p, { type: "review", identifier: { type: "custom_id", value: "reviewed-hook" } });
    expect(done.status).toBe("done");

    await eventually(() => expect(receivers.itemsAt(url)).toHaveLength(1));
    expect(receivers.itemsAt(url).map((i) => [i.topic, i.data])).toEqual([
      [
        "privacy.completed",
        { request_id: done.request_id, type: "review", status: "done", completed_at: done.completed_at },
      ],
    ]);
  });
});
