import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { beforeAll, describe, expect, it } from "vitest";
import { postSigned, signatureHeaders } from "../../src/lib/signing";
import {
  ADMIN_TOKEN,
  adminHeaders,
  call,
  createProject,
  errorOf,
  type Project,
  restHeaders,
  sdkHeaders,
} from "../support/harness";

const WHSEC = /^whsec_[A-Za-z0-9+/]{43}=$/;

interface StoredProject {
  inactivity_days: number;
  export_retention_days: number;
  signing_secret: string | null;
}

async function stored(projectId: string): Promise<StoredProject | null> {
  return env.DB.prepare("SELECT inactivity_days, export_retention_days, signing_secret FROM projects WHERE id = ?")
    .bind(projectId)
    .first<StoredProject>();
}

async function newProject(): Promise<{ project_id: string; rest_api_key: string; signing_secret: string }> {
  const res = await call("POST", "/v1/admin/projects", { headers: adminHeaders, body: { name: "Signed" } });
  expect(res.status).toBe(201);
  return res.json();
}

describe("signing secrets: happy path", () => {
  it("creates a project with a Standard Webhooks secret, shown once and stored for signing", async () => {
    const project = await newProject();
    expect(project.signing_secret).toMatch(WHSEC);
    expect((await stored(project.project_id))?.signing_secret).toBe(project.signing_secret);

    const view = await call("GET", `/v1/admin/projects/${project.project_id}`, { headers: adminHeaders });
    expect(JSON.stringify(await view.json())).not.toContain(project.signing_secret);
  });

  it("rotates the secret: a new one is returned and stored, the old one no longer verifies", async () => {
    const project = await newProject();
    const res = await call("POST", `/v1/admin/projects/${project.project_id}/signing-secret`, {
      headers: adminHeaders,
    });
    expect(res.status).toBe(200);
    const body = await res.json<{ project_id: string; signing_secret: string; rotated_at: string }>();
    expect(body.project_id).toBe(project.project_id);
    expect(body.signing_secret).toMatch(WHSEC);
    expect(body.signing_secret).not.toBe(project.signing_secret);
    expect((await stored(project.project_id))?.signing_secret).toBe(body.signing_secret);

    const payload = JSON.stringify({ hello: "world" });
    const headers = signatureHeaders(body.signing_secret, "msg_1", new Date(), payload);
    expect(new Webhook(body.signing_secret).verify(payload, headers)).toEqual({ hello: "world" });
    expect(() => new Webhook(project.signing_secret).verify(payload, headers)).toThrow();
  });

  it("sets inactivity_days with PATCH", async () => {
    const project = await newProject();
    const res = await call("PATCH", `/v1/admin/projects/${project.project_id}`, {
      headers: adminHeaders,
      body: { inactivity_days: 30 },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ project_id: project.project_id, inactivity_days: 30 });
    expect((await stored(project.project_id))?.inactivity_days).toBe(30);
  });

  it("sets export_retention_days alone, inactivity_days left as it was (default 30 days)", async () => {
    const project = await newProject();
    expect((await stored(project.project_id))?.export_retention_days).toBe(30);
    const res = await call("PATCH", `/v1/admin/projects/${project.project_id}`, {
      headers: adminHeaders,
      body: { export_retention_days: 7 },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ inactivity_days: 390, export_retention_days: 7 });
    expect(await stored(project.project_id)).toMatchObject({ inactivity_days: 390, export_retention_days: 7 });
    const view = await call("GET", `/v1/admin/projects/${project.project_id}`, { headers: adminHeaders });
    expect(await view.json()).toMatchObject({ export_retention_days: 7 });
  });

  it("sets both settings in one PATCH", async () => {
    const project = await newProject();
    const res = await call("PATCH", `/v1/admin/projects/${project.project_id}`, {
      headers: adminHeaders,
      body: { inactivity_days: 60, export_retention_days: 90 },
    });
    expect(res.status).toBe(200);
    expect(await stored(project.project_id)).toMatchObject({ inactivity_days: 60, export_retention_days: 90 });
  });
});

describe("signing module inside workerd", () => {
  it("signs with the library: the headers verify, a tampered body or timestamp does not", async () => {
    const { signing_secret: secret } = await newProject();
    const body = JSON.stringify({ request_id: "r1", status: "done" });
    const headers = signatureHeaders(secret, "msg_abc", new Date(), body);
    expect(headers["webhook-id"]).toBe("msg_abc");
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    const wh = new Webhook(secret);
    expect(wh.verify(body, headers)).toEqual({ request_id: "r1", status: "done" });
    expect(() => wh.verify(body.replace("done", "failed"), headers)).toThrow();
    expect(() =>
      wh.verify(body, { ...headers, "webhook-timestamp": String(Number(headers["webhook-timestamp"]) + 1) }),
    ).toThrow();
  });

  it("postSigned sends the signed body and reports a receiver's refusal and a network error", async () => {
    const { signing_secret: secret } = await newProject();
    const seen: Request[] = [];
    const receiver = (status: number) =>
      (async (input: RequestInfo | URL, init?: RequestInit) => {
        seen.push(new Request(input, init));
        return new Response(null, { status });
      }) as typeof fetch;
    const post = { url: "https://receiver.test/hook", secret, messageId: "m1", body: '{"a":1}', at: new Date() };

    expect(await postSigned(post, receiver(204))).toEqual({ ok: true, status: 204, error: null });
    const sent = seen[0];
    if (!sent) throw new Error("nothing sent");
    const headers = Object.fromEntries(sent.headers);
    expect(new Webhook(secret).verify(await sent.text(), headers)).toEqual({ a: 1 });

    expect(await postSigned(post, receiver(500))).toEqual({ ok: false, status: 500, error: "HTTP 500" });
    const failing = (async () => {
      throw new TypeError("connection refused");
    }) as typeof fetch;
    expect(await postSigned(post, failing)).toEqual({ ok: false, status: null, error: "connection refused" });
  });
});

describe("signing secrets and settings: errors", () => {
  it("answers 404 when rotating the secret of an unknown project", async () => {
    const res = await call("POST", `/v1/admin/projects/${crypto.randomUUID()}/signing-secret`, {
      headers: adminHeaders,
    });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("NOT_FOUND");
  });

  it("answers 404 when patching an unknown project", async () => {
    const res = await call("PATCH", `/v1/admin/projects/${crypto.randomUUID()}`, {
      headers: adminHeaders,
      body: { inactivity_days: 30 },
    });
    expect(res.status).toBe(404);
  });

  it.each([
    [{ inactivity_days: 0 }, "inactivity_days"],
    [{ inactivity_days: 3651 }, "inactivity_days"],
    [{ inactivity_days: 1.5 }, "inactivity_days"],
    [{ inactivity_days: "30" }, "inactivity_days"],
    [{}, "inactivity_days"],
    [{ inactivity_days: 30, name: "x" }, "name"],
    [{ export_retention_days: 0 }, "export_retention_days"],
    [{ export_retention_days: 366 }, "export_retention_days"],
    [{ export_retention_days: 2.5 }, "export_retention_days"],
    [{ export_retention_days: null }, "export_retention_days"],
  ])("refuses PATCH %j naming %s, and changes nothing", async (body, path) => {
    const project = await newProject();
    const res = await call("PATCH", `/v1/admin/projects/${project.project_id}`, { headers: adminHeaders, body });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path)).toContain(path);
    expect(await stored(project.project_id)).toMatchObject({ inactivity_days: 390, export_retention_days: 30 });
  });

  it("refuses a project_id that is not a UUID", async () => {
    const res = await call("POST", "/v1/admin/projects/not-a-uuid/signing-secret", { headers: adminHeaders });
    expect(res.status).toBe(400);
  });
});

describe("signing secrets and settings: security", () => {
  let p: Project;
  beforeAll(async () => {
    p = await createProject();
  });

  const callers: { name: string; status: number; headers: () => Record<string, string> }[] = [
    { name: "no token", status: 401, headers: () => ({}) },
    { name: "a wrong admin token", status: 401, headers: () => ({ Authorization: `Bearer ${ADMIN_TOKEN}x` }) },
    { name: "the project's own REST key", status: 403, headers: () => restHeaders(p) },
    { name: "an SDK key", status: 403, headers: () => sdkHeaders(p) },
  ];

  it.each(callers)("$name cannot rotate the secret or change settings", async ({ status, headers }) => {
    const before = await stored(p.projectId);
    const rotate = await call("POST", `/v1/admin/projects/${p.projectId}/signing-secret`, { headers: headers() });
    expect(rotate.status).toBe(status);
    expect(JSON.stringify(await errorOf(rotate))).not.toContain("whsec_");
    const patch = await call("PATCH", `/v1/admin/projects/${p.projectId}`, {
      headers: headers(),
      body: { inactivity_days: 1 },
    });
    expect(patch.status).toBe(status);
    expect(await stored(p.projectId)).toEqual(before);
  });
});
