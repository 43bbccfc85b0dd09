/**
 * The document describes what the server accepts and serves: a client that validates its requests
 * against it sends what the server takes, and every route the server answers is listed.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import formats from "ajv-formats";
import { beforeAll, describe, expect, it } from "vitest";
import { call } from "../support/harness";
import { requestChecker } from "../support/openapi";

type Media = { schema?: unknown; example?: unknown; examples?: Record<string, { value?: unknown }> };
type Op = { requestBody?: { content?: Record<string, Media> }; responses: Record<string, unknown> };
type Doc = { paths: Record<string, Record<string, Op>>; components: { schemas: Record<string, unknown> } };

let doc: Doc;
beforeAll(async () => {
  doc = await (await call("GET", "/openapi.json")).json<Doc>();
});

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, path, method, op })),
  );

const SCHEMA_KEYS = ["type", "$ref", "anyOf", "oneOf", "allOf", "properties", "items", "enum", "const"];
const pointerKey = (key: string) => encodeURIComponent(key.replaceAll("~", "~0").replaceAll("/", "~1"));

/**
 * Every example the document gives, with the JSON pointer of the schema it illustrates: a
 * schema's `example` or `examples` (a list), and a media type's `example` or `examples` (a map).
 */
function examples(value: unknown, at = "#", out: { at: string; example: unknown }[] = []) {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) examples(v, `${at}/${i}`, out);
  } else if (value && typeof value === "object") {
    const node = value as Record<string, unknown>;
    const isSchema = SCHEMA_KEYS.some((k) => k in node);
    if (isSchema && "example" in node) out.push({ at, example: node.example });
    if (isSchema && Array.isArray(node.examples)) for (const e of node.examples) out.push({ at, example: e });
    const isMedia = "schema" in node && !isSchema;
    if (isMedia && "example" in node) out.push({ at: `${at}/schema`, example: node.example });
    if (isMedia && node.examples && typeof node.examples === "object" && !Array.isArray(node.examples))
      for (const e of Object.values(node.examples as Record<string, { value?: unknown }>))
        out.push({ at: `${at}/schema`, example: e.value });
    for (const [k, v] of Object.entries(node))
      if (k !== "example" && k !== "examples") examples(v, `${at}/${pointerKey(k)}`, out);
  }
  return out;
}

/** Every `pattern` keyword anywhere in a JSON value, with where it sits. */
function patterns(value: unknown, at = "#", out: [string, string][] = []): [string, string][] {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) patterns(v, `${at}/${i}`, out);
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "pattern" && typeof v === "string") out.push([at, v]);
      else patterns(v, `${at}/${k}`, out);
    }
  }
  return out;
}

describe("request schemas", () => {
  it("write every pattern as an ECMA-262 regular expression, with no JavaScript flags inside", () => {
    const found = patterns(doc);
    expect(found.length).toBeGreaterThan(5);
    const bad = found.filter(([, p]) => {
      if (/^\/.*\/[a-z]*$/.test(p)) return true;
      try {
        new RegExp(p, "u");
        return false;
      } catch {
        return true;
      }
    });
    expect(bad).toEqual([]);
  });

  it("accept a valid SDK batch and Profile API call, whatever the case of the installation ID", () => {
    const check = requestChecker(doc);
    for (const installation of ["6f1c2d0e-8a4b-4c1e-9f3a-0d2b7c9e1a55", "6F1C2D0E-8A4B-4C1E-9F3A-0D2B7C9E1A55"]) {
      const sdk = { installation_id: installation, ops: [{ id: "op-1", type: "event", name: "opened" }] };
      expect(check("POST", "/v1/sdk/batch", sdk), installation).toBeNull();
      const update = [{ identifiers: { installation_id: installation }, attributes: { plan: "pro" } }];
      expect(check("POST", "/v1/profiles/update", update), installation).toBeNull();
    }
    expect(check("POST", "/v1/sdk/batch", { installation_id: "not-a-uuid", ops: [] })).not.toBeNull();
  });

  it("accept their own documented examples, wherever the document gives one", () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    formats.default(ajv);
    ajv.addSchema(doc, "openapi");
    const found = examples(doc);
    expect(found.length).toBeGreaterThan(5);
    const failing = found.flatMap(({ at, example }) => {
      const validate = ajv.getSchema(`openapi${at}`);
      if (!validate) return [`${at}: no schema`];
      return validate(example) ? [] : [`${at}: ${JSON.stringify(example)} ${ajv.errorsText(validate.errors)}`];
    });
    expect(failing).toEqual([]);
  });
});

describe("served routes", () => {
  it("are all listed: Batch's export paths, signed downloads, the debugger and Batch's transactional send", () => {
    const listed = operations().map((o) => o.name);
    expect(listed).toEqual(
      expect.arrayContaining([
        "POST /2.{minor}/profiles/export",
        "GET /2.{minor}/exports/view",
        "GET /2.{minor}/exports/list",
        "GET /2.{minor}/exports/download",
        "GET /v1/downloads/{project_id}/{file}",
        "GET /debug",
        "POST /1.1/{api_key}/transactional/send",
      ]),
    );
    expect(listed.filter((name) => name.includes("/v1/batch/"))).toEqual([]);
  });

  it("declare the 400 that the header check answers on every route", async () => {
    const missing = operations()
      .filter(({ op }) => !op.responses["400"])
      .map((o) => o.name);
    expect(missing).toEqual([]);
    const res = await call("GET", "/health", { headers: { "X-Long": "x".repeat(9 * 1024) } });
    expect(res.status).toBe(400);
  });
});
