import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminHeaders, call, errorOf } from "../support/harness";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface CreatedProject {
  project_id: string;
  name: string;
  inactivity_days: number;
  created_at: string;
  rest_api_key: string;
}

interface CreatedApp {
  app_id: string;
  project_id: string;
  name: string;
  platform: string;
  created_at: string;
  sdk_api_key: string;
}

interface ProjectView {
  project_id: string;
  name: string;
  inactivity_days: number;
  created_at: string;
  apps: { app_id: string; name: string; platform: string; created_at: string }[];
}

/** Calls the Worker and checks that the response carries a request ID, as every response must. */
async function send(...args: Parameters<typeof call>): Promise<Response> {
  const res = await call(...args);
  expect(res.headers.get("X-Request-Id")).toMatch(UUID);
  return res;
}

async function newProject(body: Record<string, unknown> = { name: "Acme" }): Promise<CreatedProject> {
  const res = await send("POST", "/v1/admin/projects", { headers: adminHeaders, body });
  expect(res.status).toBe(201);
  return res.json<CreatedProject>();
}

async function newApp(projectId: string, platform: "ios" | "android" | "web", name = `App ${platform}`) {
  const res = await send("POST", `/v1/admin/projects/${projectId}/apps`, {
    headers: adminHeaders,
    body: { name, platform },
  });
  expect(res.status).toBe(201);
  return res.json<CreatedApp>();
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

describe("admin API: projects", () => {
  it("creates a project with a REST API key and the default inactivity period", async () => {
    const project = await newProject({ name: "Acme" });
    expect(project.project_id).toMatch(UUID);
    expect(project.name).toBe("Acme");
    expect(project.inactivity_days).toBe(390);
    expect(project.rest_api_key).toMatch(/^rest_/);
    expect(project.rest_api_key).toContain(project.project_id);
    expect(Number.isNaN(Date.parse(project.created_at))).toBe(false);

    const row = await env.DB.prepare("SELECT name, inactivity_days FROM projects WHERE id = ?")
      .bind(project.project_id)
      .first<{ name: string; inactivity_days: number }>();
    expect(row).toEqual({ name: "Acme", inactivity_days: 390 });
  });

  it("keeps a custom inactivity period", async () => {
    const project = await newProject({ name: "Short memory", inactivity_days: 30 });
    expect(project.inactivity_days).toBe(30);

    const res = await send("GET", `/v1/admin/projects/${project.project_id}`, { headers: adminHeaders });
    expect(res.status).toBe(200);
    expect((await res.json<ProjectView>()).inactivity_days).toBe(30);
  });

  it("mints a different project and key on each call", async () => {
    const a = await newProject();
    const b = await newProject();
    expect(a.project_id).not.toBe(b.project_id);
    expect(a.rest_api_key).not.toBe(b.rest_api_key);
  });

  it("reads a project back with its apps and never shows a key again", async () => {
    const project = await newProject({ name: "Readable" });
    const created = [await newApp(project.project_id, "ios"), await newApp(project.project_id, "android")];

    const res = await send("GET", `/v1/admin/projects/${project.project_id}`, { headers: adminHeaders });
    expect(res.status).toBe(200);
    const text = await res.text();
    const view = JSON.parse(text) as ProjectView;
    expect(view).toMatchObject({
      project_id: project.project_id,
      name: "Readable",
      inactivity_days: 390,
      created_at: project.created_at,
    });
    const summary = (apps: { app_id: string; name: string; platform: string }[]) =>
      apps.map((a) => [a.app_id, a.name, a.platform]).sort();
    expect(summary(view.apps)).toEqual(summary(created));

    expect(text).not.toContain(project.rest_api_key);
    for (const app of created) expect(text).not.toContain(app.sdk_api_key);
    expect(text).not.toMatch(/rest_api_key|sdk_api_key|key_hash|"rest_|"sdk_/);
  });

  it("lists no apps for a fresh project", async () => {
    const project = await newProject();
    const res = await send("GET", `/v1/admin/projects/${project.project_id}`, { headers: adminHeaders });
    expect(res.status).toBe(200);
    expect((await res.json<ProjectView>()).apps).toEqual([]);
  });
});

describe("admin API: apps", () => {
  it.each(["ios", "android", "web"] as const)("creates a %s app with an SDK API key", async (platform) => {
    const project = await newProject();
    const app = await newApp(project.project_id, platform, "My app");
    expect(app.app_id).toMatch(UUID);
    expect(app.project_id).toBe(project.project_id);
    expect(app.name).toBe("My app");
    expect(app.platform).toBe(platform);
    expect(app.sdk_api_key).toMatch(/^sdk_/);
    expect(app.sdk_api_key).toContain(app.app_id);

    const row = await env.DB.prepare("SELECT project_id, platform FROM apps WHERE id = ?")
      .bind(app.app_id)
      .first<{ project_id: string; platform: string }>();
    expect(row).toEqual({ project_id: project.project_id, platform });
  });

  it("gives each app of a project its own ID and key", async () => {
    const project = await newProject();
    const apps = [
      await newApp(project.project_id, "ios"),
      await newApp(project.project_id, "android"),
      await newApp(project.project_id, "web"),
    ];
    expect(new Set(apps.map((a) => a.app_id)).size).toBe(3);
    expect(new Set(apps.map((a) => a.sdk_api_key)).size).toBe(3);
  });
});

describe("created keys", () => {
  it("the REST API key opens the Profile API with X-Project-Id", async () => {
    const project = await newProject();
    const res = await send("GET", "/v1/profiles?custom_id=nobody", {
      headers: { Authorization: `Bearer ${project.rest_api_key}`, "X-Project-Id": project.project_id },
    });
    // Authenticated and scoped: the lookup itself runs and finds nothing.
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("NOT_FOUND");
  });

  it("the REST API key opens the Profile API with X-Batch-Project", async () => {
    const project = await newProject();
    const res = await send("GET", "/v1/profiles?custom_id=nobody", {
      headers: { Authorization: `Bearer ${project.rest_api_key}`, "X-Batch-Project": project.project_id },
    });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("NOT_FOUND");
  });

  it("the SDK API key sends a batch", async () => {
    const project = await newProject();
    const app = await newApp(project.project_id, "ios");
    const installationId = crypto.randomUUID();
    const res = await send("POST", "/v1/sdk/batch", {
      headers: { "X-Api-Key": app.sdk_api_key },
      body: { installation_id: installationId, ops: [] },
    });
    expect(res.status).toBe(200);
    const body = await res.json<{ profile_id: string; custom_id: string | null; accepted: number }>();
    expect(body.profile_id).toMatch(UUID);
    expect(body.custom_id).toBeNull();
    expect(body.accepted).toBe(0);

    // The batch landed in the app's project: its REST key now finds the installation.
    const lookup = await send("GET", `/v1/profiles?installation_id=${installationId}`, {
      headers: { Authorization: `Bearer ${project.rest_api_key}`, "X-Project-Id": project.project_id },
    });
    expect(lookup.status).toBe(200);
    expect((await lookup.json<{ profile_id: string }>()).profile_id).toBe(body.profile_id);
  });

  it("stores only the SHA-256 of the REST API key", async () => {
    const project = await newProject();
    const row = await env.DB.prepare("SELECT rest_key_hash FROM projects WHERE id = ?")
      .bind(project.project_id)
      .first<{ rest_key_hash: string }>();
    expect(row?.rest_key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row?.rest_key_hash).not.toBe(project.rest_api_key);
    expect(row?.rest_key_hash).toBe(await sha256Hex(project.rest_api_key));
  });

  it("stores only the SHA-256 of the SDK API key", async () => {
    const project = await newProject();
    const app = await newApp(project.project_id, "web");
    const row = await env.DB.prepare("SELECT sdk_key_hash FROM apps WHERE id = ?")
      .bind(app.app_id)
      .first<{ sdk_key_hash: string }>();
    expect(row?.sdk_key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row?.sdk_key_hash).not.toBe(app.sdk_api_key);
    expect(row?.sdk_key_hash).toBe(await sha256Hex(app.sdk_api_key));
  });
});
