import { exports } from "cloudflare:workers";
import { Ajv2020 } from "ajv/dist/2020.js";
import { beforeAll, describe, expect, it } from "vitest";
import { adminHeaders, BASE, call, createProject, type Project, restHeaders, sdkHeaders } from "../support/harness";
import { openApiValidator, responseChecker } from "../support/openapi";

type Doc = {
  openapi: string;
  servers?: { url: string }[];
  paths: Record<string, Record<string, Op>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};
type Op = {
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema?: unknown }>; headers?: Record<string, unknown> }>;
};

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, method, op })),
  );

let doc: Doc;
beforeAll(async () => {
  doc = await (await call("GET", "/openapi.json")).json<Doc>();
});

describe("the OpenAPI document", () => {
  it("passes an OpenAPI 3.1 validator, references included", async () => {
    const result = await openApiValidator().validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
  });

  it("holds schemas that are valid JSON Schema 2020-12", () => {
    const ajv = new Ajv2020({ strict: false });
    const schemas = [
      ...Object.entries(doc.components.schemas),
      ...operations(doc).flatMap(({ name, op }) =>
        Object.entries(op.responses).flatMap(([status, r]) =>
          Object.values(r.content ?? {}).map((m) => [`${name} ${status}`, m.schema] as const),
        ),
      ),
    ];
    const invalid = schemas.filter(([, schema]) => !ajv.validateSchema(schema as object)).map(([name]) => name);
    expect(invalid).toEqual([]);
  });

  it("names the server that served it", () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: BASE })]);
  });

  it("lists Batch's versioned paths and X-Batch-Project beside X-Project-Id", () => {
    for (const path of ["/2.{minor}/profiles/update", "/2.{minor}/profiles/mass-update"]) {
      const op = doc.paths[path]?.post;
      expect(op, path).toBeDefined();
      expect(op?.parameters).toContainEqual(expect.objectContaining({ name: "minor", in: "path" }));
      expect(op?.security).toContainEqual({ RestApiKey: [], BatchProject: [] });
    }
    expect(doc.components.securitySchemes.BatchProject).toMatchObject({ in: "header", name: "X-Batch-Project" });
    for (const { name, op } of operations(doc)) {
      if (op.security?.some((s) => "ProjectId" in s)) {
        expect(op.security, name).toContainEqual({ RestApiKey: [], BatchProject: [] });
      }
    }
  });

  it("lists 413 and 415 only where a body is read, 429 wherever a key is checked, 500 everywhere", () => {
    for (const { name, op } of operations(doc)) {
      const statuses = Object.keys(op.responses);
      expect(statuses.includes("415"), name).toBe(op.requestBody !== undefined);
      if (op.requestBody === undefined) expect(statuses, name).not.toContain("413");
      expect(statuses.includes("429"), name).toBe((op.security ?? []).length > 0);
      if (statuses.includes("429")) expect(op.responses["429"]?.headers, name).toHaveProperty("Retry-After");
      expect(statuses, name).toContain("500");
    }
    expect(Object.keys(doc.paths["/v1/sdk/batch"]?.post?.responses ?? {})).toContain("413");
    expect(Object.keys(doc.paths["/v1/profiles"]?.get?.responses ?? {})).not.toContain("413");
  });

  it("gives every response a body schema, except a redirect and an empty 204", () => {
    const bodiless = operations(doc).flatMap(({ name, op }) =>
      Object.entries(op.responses)
        .filter(([status, r]) => status !== "204" && status !== "302" && !Object.values(r.content ?? {})[0]?.schema)
        .map(([status]) => `${name} ${status}`),
    );
    expect(bodiless).toEqual([]);
  });

  it("documents each SDK op as closed: no field beyond its own", () => {
    const ops = (doc.components.schemas.SdkBatch as { properties: { ops: { items: { oneOf: object[] } } } }).properties
      .ops.items.oneOf;
    expect(ops.length).toBe(8);
    for (const op of ops) expect(op).toMatchObject({ additionalProperties: false });
  });

  it("documents the service's own routes", () => {
    for (const path of ["/", "/health", "/openapi.json", "/docs"]) expect(doc.paths[path]?.get, path).toBeDefined();
  });
});

describe("responses match the document", () => {
  let p: Project;
  beforeAll(async () => {
    p = await createProject("web");
  });

  /** Calls the API and checks the answer against the schema documented for its path and status. */
  async function conforms(
    method: string,
    path: string,
    documented: string,
    status: number,
    options: Parameters<typeof call>[2] = {},
  ) {
    const res = await call(method, path, options);
    expect(res.status, `${method} ${path}`).toBe(status);
    const body = status === 204 ? undefined : await res.json();
    if (body !== undefined)
      expect(responseChecker(doc)(method, documented, status, body), `${method} ${path}`).toBeNull();
    return body as Record<string, unknown>;
  }

  it("the check itself refuses a body that does not match", () => {
    const check = responseChecker(doc);
    expect(check("POST", "/v1/sdk/batch", 200, { profile_id: 1 })).not.toBeNull();
    expect(
      check("POST", "/v1/sdk/batch", 200, {
        profile_id: "p",
        custom_id: null,
        accepted: 1,
        duplicates: 0,
        rejected: [],
      }),
    ).toBeNull();
    expect(check("GET", "/v1/profiles", 413, {})).toEqual(["GET /v1/profiles does not document 413"]);
  });

  it("on the success path of every resource", async () => {
    const rest = restHeaders(p);
    await conforms("GET", "/health", "/health", 200);
    await conforms("POST", "/v1/admin/projects", "/v1/admin/projects", 201, {
      headers: adminHeaders,
      body: { name: "Docs" },
    });
    await conforms("GET", `/v1/admin/projects/${p.projectId}`, "/v1/admin/projects/{project_id}", 200, {
      headers: adminHeaders,
    });
    await conforms("POST", `/v1/admin/projects/${p.projectId}/apps`, "/v1/admin/projects/{project_id}/apps", 201, {
      headers: adminHeaders,
      body: { name: "Other", platform: "ios" },
    });
    const installation = crypto.randomUUID();
    await conforms("POST", "/v1/sdk/batch", "/v1/sdk/batch", 200, {
      headers: sdkHeaders(p),
      body: {
        installation_id: installation,
        context: { language: "fr", region: "FR", timezone: "Europe/Paris" },
        ops: [
          { id: "a", type: "attributes", attributes: { plan: "pro" } },
          { id: "e", type: "event", name: "add_to_cart", attributes: { sku: "X1" } },
          { id: "i", type: "identify", custom_id: "docs-user" },
        ],
      },
    });
    await conforms("GET", "/v1/profiles?custom_id=docs-user", "/v1/profiles", 200, { headers: rest });
    await conforms("POST", "/v1/profiles/update", "/v1/profiles/update", 202, {
      headers: rest,
      body: [
        { identifiers: { custom_id: "docs-user" }, attributes: { age: 36 } },
        { identifiers: { custom_id: "docs-user" }, attributes: { $email_address: "nope" } },
      ],
    });
    await conforms("POST", "/2.1/profiles/update", "/2.{minor}/profiles/update", 202, {
      headers: { Authorization: `Bearer ${p.restKey}`, "X-Batch-Project": p.projectId },
      body: [{ identifiers: { custom_id: "docs-user" }, attributes: { age: 37 } }],
    });
    const mass = await conforms("POST", "/2.3/profiles/mass-update", "/2.{minor}/profiles/mass-update", 202, {
      headers: rest,
      body: [{ identifiers: { custom_id: "docs-other" }, attributes: { tier: "gold" } }],
    });
    await conforms("GET", `/v1/requests/${mass.request_id}`, "/v1/requests/{request_id}", 200, { headers: rest });
    await conforms("POST", "/v1/audiences", "/v1/audiences", 201, {
      headers: rest,
      body: { name: "docs", type: "custom_ids" },
    });
    await conforms("PUT", "/v1/audiences/docs", "/v1/audiences/{name}", 200, {
      headers: rest,
      body: { ids: ["docs-user"] },
    });
    await conforms("PATCH", "/v1/audiences/docs", "/v1/audiences/{name}", 200, {
      headers: rest,
      body: { add: ["docs-other"] },
    });
    await conforms("GET", "/v1/audiences/docs", "/v1/audiences/{name}", 200, { headers: rest });
    await conforms("GET", "/v1/audiences", "/v1/audiences", 200, { headers: rest });
    await conforms("POST", "/v1/segments/query", "/v1/segments/query", 200, {
      headers: rest,
      body: { where: { has_custom_id: true } },
    });
    await conforms("DELETE", "/v1/audiences/docs", "/v1/audiences/{name}", 204, { headers: rest });
  });

  it("on errors: the envelope under the status each route documents", async () => {
    const rest = restHeaders(p);
    await conforms("POST", "/v1/sdk/batch", "/v1/sdk/batch", 400, {
      headers: sdkHeaders(p),
      body: { installation_id: "nope", ops: [] },
    });
    await conforms("POST", "/v1/sdk/batch", "/v1/sdk/batch", 401, { body: {} });
    await conforms("GET", "/v1/profiles?custom_id=docs-nobody", "/v1/profiles", 403, { headers: sdkHeaders(p) });
    await conforms("GET", "/v1/profiles?custom_id=docs-nobody", "/v1/profiles", 404, { headers: rest });
    await conforms("POST", "/v1/profiles/update", "/v1/profiles/update", 415, {
      headers: { ...rest, "Content-Type": "text/plain" },
      raw: "[]",
    });
    await conforms("POST", "/v1/admin/projects", "/v1/admin/projects", 413, {
      headers: adminHeaders,
      body: { name: "x".repeat(1024 * 1024) },
    });
  });
});

describe("GET / and /docs", () => {
  it("GET / sends a reader to /docs", async () => {
    const res = await exports.default.fetch(new Request(`${BASE}/`, { redirect: "manual" }));
    expect(res.status).toBe(302);
    expect(new URL(res.headers.get("Location") ?? "", BASE).pathname).toBe("/docs");
  });

  it("the docs page shows each route's responses with their schemas", async () => {
    const html = await (await call("GET", "/docs")).text();
    expect(html).toContain("/2.{minor}/profiles/update");
    expect(html).toContain("<code>429</code>");
    expect(html).toContain("<code>415</code>");
    // A response schema and the error envelope's component are both shown.
    expect(html).toContain("&quot;profile_id&quot;");
    expect(html).toContain('id="schema-Error"');
  });
});
