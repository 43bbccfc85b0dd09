import { exports } from "cloudflare:workers";

export const ADMIN_TOKEN = "test-admin-token";
export const BASE = "https://edge-cdp.test";

export interface Project {
  projectId: string;
  restKey: string;
  appId: string;
  sdkKey: string;
}

/** Sends a request to the Worker under test, as a client would. */
export function call(
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; raw?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.raw;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["Content-Type"] ??= "application/json";
  } else if (options.raw !== undefined) {
    headers["Content-Type"] ??= "application/json";
  }
  return exports.default.fetch(new Request(`${BASE}${path}`, { method, headers, body }));
}

export const adminHeaders = { Authorization: `Bearer ${ADMIN_TOKEN}` };

export function restHeaders(p: Pick<Project, "projectId" | "restKey">): Record<string, string> {
  return { Authorization: `Bearer ${p.restKey}`, "X-Project-Id": p.projectId };
}

export function sdkHeaders(p: Pick<Project, "sdkKey">): Record<string, string> {
  return { "X-Api-Key": p.sdkKey };
}

/** Creates a project and one app through the admin API; returns their IDs and keys. */
export async function createProject(platform: "ios" | "android" | "web" = "ios"): Promise<Project> {
  const project = await call("POST", "/v1/admin/projects", { headers: adminHeaders, body: { name: "Test" } });
  if (project.status !== 201) throw new Error(`project: ${project.status} ${await project.text()}`);
  const { project_id, rest_api_key } = await project.json<{ project_id: string; rest_api_key: string }>();
  const app = await call("POST", `/v1/admin/projects/${project_id}/apps`, {
    headers: adminHeaders,
    body: { name: "App", platform },
  });
  if (app.status !== 201) throw new Error(`app: ${app.status} ${await app.text()}`);
  const { app_id, sdk_api_key } = await app.json<{ app_id: string; sdk_api_key: string }>();
  return { projectId: project_id, restKey: rest_api_key, appId: app_id, sdkKey: sdk_api_key };
}

export interface ErrorBody {
  error: { code: string; message: string; issues?: { path: string; message: string }[]; request_id: string };
}

/** Asserts the SPEC §5 envelope and returns it. */
export async function errorOf(res: Response): Promise<ErrorBody["error"]> {
  const body = await res.json<ErrorBody>();
  if (!body.error || typeof body.error.code !== "string" || typeof body.error.request_id !== "string") {
    throw new Error(`not an error envelope: ${JSON.stringify(body)}`);
  }
  if (res.headers.get("X-Request-Id") !== body.error.request_id) {
    throw new Error("X-Request-Id header and body request_id differ");
  }
  return body.error;
}

export interface RefusedCaller {
  name: string;
  status: number;
  code: string;
  headers: () => Record<string, string>;
}

/**
 * Every caller a REST route must refuse, aimed at `owner`'s data: no key, broken keys, keys of
 * the wrong kind, and `other`'s valid key naming `owner`'s project. Projects are read lazily, so
 * the list can be built before a `beforeAll` creates them.
 */
export function refusedRestCallers(owner: () => Project, other: () => Project): RefusedCaller[] {
  return [
    { name: "no key", status: 401, code: "UNAUTHORIZED", headers: () => ({}) },
    {
      name: "a REST key without its project header",
      status: 401,
      code: "UNAUTHORIZED",
      headers: () => ({ Authorization: `Bearer ${owner().restKey}` }),
    },
    {
      name: "a wrong REST key",
      status: 401,
      code: "UNAUTHORIZED",
      headers: () => ({ Authorization: `Bearer ${owner().restKey}x`, "X-Project-Id": owner().projectId }),
    },
    {
      name: "an SDK key",
      status: 403,
      code: "FORBIDDEN",
      headers: () => ({ ...sdkHeaders(owner()), "X-Project-Id": owner().projectId }),
    },
    {
      // Answered as any wrong key: a REST route must not tell whether a guess is the admin token.
      name: "the admin token",
      status: 401,
      code: "UNAUTHORIZED",
      headers: () => ({ Authorization: `Bearer ${ADMIN_TOKEN}`, "X-Project-Id": owner().projectId }),
    },
    {
      name: "another project's key with this project's X-Project-Id",
      status: 403,
      code: "FORBIDDEN",
      headers: () => ({ Authorization: `Bearer ${other().restKey}`, "X-Project-Id": owner().projectId }),
    },
    {
      name: "another project's key with this project's X-Batch-Project",
      status: 403,
      code: "FORBIDDEN",
      headers: () => ({ Authorization: `Bearer ${other().restKey}`, "X-Batch-Project": owner().projectId }),
    },
  ];
}
