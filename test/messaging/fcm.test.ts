import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminHeaders, call, createProject, errorOf, type Project, restHeaders, sdkHeaders } from "../support/harness";
import { send, untilDone, untilTokenIndexed } from "../support/webpush";

let project: Project;
let account: { client_email: string; private_key: string };

const pem = (der: ArrayBuffer) => {
  let s = "";
  for (const b of new Uint8Array(der)) s += String.fromCharCode(b);
  return `-----BEGIN PRIVATE KEY-----\n${btoa(s).replace(/(.{64})/g, "$1\n")}\n-----END PRIVATE KEY-----\n`;
};

beforeAll(async () => {
  project = await createProject("android");
  const pair = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const public_jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  account = {
    client_email: `sender-${crypto.randomUUID()}@example.iam.gserviceaccount.com`,
    private_key: pem((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer),
  };
  const registered = await fetch("https://receiver.test/fcm-register", {
    method: "POST",
    body: JSON.stringify({ client_email: account.client_email, public_jwk, unregistered: ["gone-token"] }),
  });
  expect(registered.status).toBe(204);
});

const putFcm = (body: unknown, headers: Record<string, string> = adminHeaders, projectId = project.projectId) =>
  call("PUT", `/v1/admin/projects/${projectId}/channels/fcm`, { headers, body });

async function fcmInstallation(token: string): Promise<string> {
  const installationId = crypto.randomUUID();
  const res = await call("POST", "/v1/sdk/batch", {
    headers: sdkHeaders(project),
    body: {
      installation_id: installationId,
      ops: [
        { id: "t", type: "push_token", provider: "fcm", token },
        { id: "o", type: "push_optin", opted_in: true },
      ],
    },
  });
  expect(res.status).toBe(200);
  return installationId;
}

describe("FCM HTTP v1 channel", () => {
  it("PUT channels/fcm stores the service account encrypted and never returns the key", async () => {
    const res = await putFcm({
      service_account: {
        type: "service_account",
        project_id: "fb-project",
        ...account,
        token_uri: "https://oauth-stub.test/token",
      },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("PRIVATE KEY");
    expect(JSON.parse(text)).toMatchObject({ channel: "fcm", firebase_project_id: "fb-project" });
    const row = await env.DB.prepare("SELECT secret FROM channels WHERE project_id = ? AND channel = 'fcm'")
      .bind(project.projectId)
      .first<{ secret: string }>();
    expect(row?.secret).toMatch(/^v1\./);
    expect(row?.secret).not.toContain("PRIVATE");
  });

  it("refuses a bad key, a REST key and an unknown project", async () => {
    const bad = await putFcm({
      service_account: {
        project_id: "p",
        ...account,
        private_key: `-----BEGIN PRIVATE KEY-----${"A".repeat(200)}`,
        token_uri: "https://oauth-stub.test/token",
      },
    });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).issues?.[0]?.path).toBe("service_account.private_key");
    const rest = await putFcm({ service_account: {} }, restHeaders(project));
    expect(rest.status).toBe(403);
    const sa = { project_id: "p", ...account, token_uri: "https://oauth-stub.test/token" };
    const unknown = await putFcm({ service_account: sa }, adminHeaders, crypto.randomUUID());
    expect(unknown.status).toBe(404);
  });

  it("exchanges the JWT once, sends with messages:send, and UNREGISTERED removes the token", async () => {
    const ok = await fcmInstallation("live-token");
    const gone = await fcmInstallation("gone-token");
    const res = await send(project, {
      group_id: "g",
      recipients: { install_ids: [ok, gone] },
      message: { title: "Hi", body: "There" },
    });
    const { token } = await res.json<{ token: string }>();
    expect(await untilDone(project, token)).toMatchObject({ sent: 1, tokens_deleted: 1 });
    const report = await (await fetch(`https://receiver.test/fcm/${account.client_email}`)).json<{
      exchanges: number;
      sends: {
        path: string;
        message: { token: string; notification: { title: string }; data: Record<string, string> };
      }[];
    }>();
    expect(report.exchanges).toBe(1);
    expect(report.sends.map((s) => s.message.token).sort()).toEqual(["gone-token", "live-token"]);
    expect(report.sends[0]?.path).toBe("/v1/projects/fb-project/messages:send");
    expect(report.sends[0]?.message.data.transactional_token).toBe(token);
    const view = await call("GET", `/v1/profiles?installation_id=${gone}`, { headers: restHeaders(project) });
    const body = await view.json<{
      installations: { push: { token: string | null } }[];
      events: { name: string; attributes: Record<string, unknown> }[];
    }>();
    expect(body.installations[0]?.push.token).toBeNull();
    expect(body.events.find((e) => e.name === "token_deleted")?.attributes.error).toBe("UNREGISTERED");
  });

  it("a raw FCM token in recipients.tokens reaches the installation holding it", async () => {
    const installationId = await fcmInstallation(`raw-${crypto.randomUUID()}`);
    const view = await call("GET", `/v1/profiles?installation_id=${installationId}`, { headers: restHeaders(project) });
    const fcmToken = (await view.json<{ installations: { push: { token: string } }[] }>()).installations[0]?.push.token;
    await untilTokenIndexed(project, installationId, fcmToken as string);
    const res = await send(project, {
      group_id: "g",
      recipients: { tokens: [fcmToken as string] },
      message: { title: "Hi", body: "There" },
    });
    const { token } = await res.json<{ token: string }>();
    expect(await untilDone(project, token)).toMatchObject({ recipients: 1, sent: 1, unreachable: 0 });
    const report = await (await fetch(`https://receiver.test/fcm/${account.client_email}`)).json<{
      sends: { message: { token: string; data: Record<string, string> } }[];
    }>();
    const mine = report.sends.filter((s) => s.message.token === fcmToken);
    expect(mine.map((s) => s.message.data.transactional_token)).toEqual([token]);
  });
});
