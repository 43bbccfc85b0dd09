import { Validator } from "@seriousme/openapi-schema-validator";
import schema31 from "@seriousme/openapi-schema-validator/schemas/v3.1/schema.json";
import { Ajv2020 } from "ajv/dist/2020.js";
import formats from "ajv-formats";

/**
 * The validator reads its meta-schemas from disk, which workerd does not expose; this one gets
 * the OpenAPI 3.1 meta-schema compiled the way the validator compiles it (same formats, not strict).
 */
export function openApiValidator(): Validator {
  const validator = new Validator();
  const ajv = new Ajv2020({ strict: false });
  formats.default(ajv);
  ajv.addFormat("media-range", true);
  (validator as unknown as { ajvValidators: Record<string, unknown> }).ajvValidators["3.1"] = ajv.compile(schema31);
  return validator;
}

/** An Ajv holding the document, to check bodies against the schema a response declares. */
export function responseChecker(doc: Record<string, unknown>) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  formats.default(ajv);
  ajv.addSchema(doc, "openapi");
  const pointer = (...parts: string[]) =>
    parts.map((p) => encodeURIComponent(p.replaceAll("~", "~0").replaceAll("/", "~1"))).join("/");
  return (method: string, path: string, status: number, body: unknown): string[] | null => {
    const ref = `openapi#/${pointer("paths", path, method.toLowerCase(), "responses", String(status))}`;
    const response = ajv.getSchema(ref)?.schema as { content?: Record<string, unknown> } | undefined;
    if (!response) return [`${method} ${path} does not document ${status}`];
    const validate = ajv.getSchema(`${ref}/${pointer("content", "application/json", "schema")}`);
    if (!validate) return [`${method} ${path} ${status} documents no JSON body`];
    return validate(body) ? null : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  };
}

/** An Ajv holding the document, to check request bodies against the schema a route declares. */
export function requestChecker(doc: Record<string, unknown>) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  formats.default(ajv);
  ajv.addSchema(doc, "openapi");
  const pointer = (...parts: string[]) =>
    parts.map((p) => encodeURIComponent(p.replaceAll("~", "~0").replaceAll("/", "~1"))).join("/");
  return (method: string, path: string, body: unknown, contentType = "application/json"): string[] | null => {
    const ref = `openapi#/${pointer("paths", path, method.toLowerCase(), "requestBody", "content", contentType, "schema")}`;
    const validate = ajv.getSchema(ref);
    if (!validate) return [`${method} ${path} documents no ${contentType} body`];
    return validate(body) ? null : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  };
}
