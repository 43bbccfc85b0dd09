import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, type Project, sdkHeaders } from "../support/harness";
import { pushesTo, send, subscribedInstallation, subscription, untilDone, untilTokenIndexed } from "../support/webpush";

let project: Project;
beforeAll(async () => {
  project = await createProject("web");
});

const message = { title: "Your order", body: "It has shipped" };

describe("recipients.tokens", () => {
  it("a Web Push endpoint URL reaches the installation holding that subscription", async () => {
    const sub = await subscription(project);
    const installationId = await subscribedInstallation(project, sub);
    const endpoint = JSON.parse(sub.token).endpoint as string;
    await untilTokenIndexed(project, installationId, endpoint);
    const res = await send(project, {
      group_id: "g",
      recipients: { tokens: [endpoint, "https://fcm.googleapis.com/wp/nobody"], install_ids: [installationId] },
      message,
    });
    expect(res.status).toBe(201);
    const { token } = await res.json<{ token: string }>();
    // The endpoint and the installation ID name one installation: one push, one unreachable token.
    expect(await untilDone(project, token)).toMatchObject({ recipients: 3, sent: 1, unreachable: 1 });
    const pushes = await pushesTo(sub);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]).toMatchObject({ verified: true, payload: { transactional_token: token } });
  });

  it("a token no longer the installation's, or opted out, reaches nobody", async () => {
    const sub = await subscription(project);
    const optedOut = await subscription(project);
    const installationId = await subscribedInstallation(project, sub);
    const outId = await subscribedInstallation(project, optedOut, { optedIn: false });
    const endpoint = JSON.parse(sub.token).endpoint as string;
    const outEndpoint = JSON.parse(optedOut.token).endpoint as string;
    await untilTokenIndexed(project, installationId, endpoint);
    await untilTokenIndexed(project, outId, outEndpoint);
    // The device sends a new subscription: the old endpoint names nothing, even before D1 catches up.
    const renewed = await subscription(project);
    const again = await call("POST", "/v1/sdk/batch", {
      headers: sdkHeaders(project),
      body: {
        installation_id: installationId,
        ops: [{ id: "t2", type: "push_token", provider: "webpush", token: renewed.token }],
      },
    });
    expect(again.status).toBe(200);
    const res = await send(project, { group_id: "g", recipients: { tokens: [endpoint, outEndpoint] }, message });
    const { token } = await res.json<{ token: string }>();
    expect(await untilDone(project, token)).toMatchObject({ recipients: 2, sent: 0, unreachable: 2 });
    expect(await pushesTo(sub)).toHaveLength(0);
    expect(await pushesTo(renewed)).toHaveLength(0);
    expect(await pushesTo(optedOut)).toHaveLength(0);
  });
});
