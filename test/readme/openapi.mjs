// Checks the README run's exchanges against the OpenAPI document the server serves: each call's
// route and method are documented, its parameters and JSON body validate against the request
// schemas, its status is declared, and a JSON answer validates against the declared schema.
// Plain JavaScript because it runs in Node beside the runner, not in workerd like
// test/support/openapi.ts (whose Ajv set-up it follows: 2020-12 dialect, formats, not strict).
import { Ajv2020 } from "ajv/dist/2020.js";
import formats from "ajv-formats";

/** The documented path templates as matchers, the most literal first (`/v1/exports/profiles/{id}.csv` before `/v1/exports/{app}/{kind}/{file}`). */
function routes(doc) {
  return Object.keys(doc.paths)
    .map((template) => {
      const names = [];
      const source = template
        .split(/(\{[^}]+\})/)
        .map((part) => {
          const param = /^\{([^}]+)\}$/.exec(part);
          if (!param) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
          names.push(param[1]);
          return "([^/]+)";
        })
        .join("");
      return {
        template,
        names,
        regex: new RegExp(`^${source}/?$`),
        literal: template.replace(/\{[^}]+\}/g, "").length,
      };
    })
    .sort((a, b) => b.literal - a.literal || a.names.length - b.names.length);
}

/**
 * A checker for one document: `check(exchange)` lists what in the exchange the document does not
 * describe (empty when it agrees). `exchange` is as the runner records it.
 */
export function exchangeChecker(doc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  formats.default(ajv);
  ajv.addSchema(doc, "openapi");
  // Path and query parameters arrive as text: coerce them to the declared type, as a client would.
  const params = new Ajv2020({ strict: false, allErrors: true, coerceTypes: "array" });
  formats.default(params);
  params.addSchema(doc, "openapi");
  const matchers = routes(doc);
  // A schema taken out of the document, its local $refs pointed back into it; compiled once.
  // A parameter's schema is checked as the `value` of an object, so that it can be coerced.
  const compiled = new Map();
  const compile = (instance, schema, asParameter = false) => {
    const cache = compiled.get(instance) ?? new Map();
    compiled.set(instance, cache);
    if (!cache.has(schema)) {
      const rebased = JSON.parse(JSON.stringify(schema), (k, v) =>
        k === "$ref" && typeof v === "string" && v.startsWith("#") ? `openapi${v}` : v,
      );
      cache.set(schema, instance.compile(asParameter ? { type: "object", properties: { value: rebased } } : rebased));
    }
    return cache.get(schema);
  };
  const errors = (validate) => (validate.errors ?? []).map((e) => `${e.instancePath || "(root)"} ${e.message}`);
  const resolve = (node) => {
    let out = node;
    for (let i = 0; out?.$ref && i < 10; i++) {
      out = out.$ref
        .replace(/^#\//, "")
        .split("/")
        .reduce((o, k) => o?.[decodeURIComponent(k).replaceAll("~1", "/").replaceAll("~0", "~")], doc);
    }
    return out;
  };

  return function check(x) {
    const method = x.request.method.toLowerCase();
    const found = matchers
      .map((m) => ({ m, match: m.regex.exec(x.request.path) }))
      .filter(({ m, match }) => match && doc.paths[m.template][method]);
    if (found.length === 0) return [`${x.request.method} ${x.request.path}: no documented route`];
    const { m, match } = found[0];
    const op = doc.paths[m.template][method];
    const where = `${x.request.method} ${m.template}`;
    const problems = [];

    // A request the server refused (a 4xx: the docs' error examples) is not expected to validate;
    // one it took must, or a client validating against the document would not send it.
    const accepted = x.response.status < 400;

    // Parameters: path and query (headers are the security schemes' and the runner's business).
    const declared = [...(doc.paths[m.template].parameters ?? []), ...(op.parameters ?? [])].map(resolve);
    const values = {
      path: Object.fromEntries(m.names.map((n, i) => [n, decodeURIComponent(match[i + 1])])),
      query: x.request.query ?? {},
    };
    for (const name of accepted ? Object.keys(values.query) : []) {
      if (!declared.some((p) => p.in === "query" && p.name === name))
        problems.push(`${where}: query parameter ${name} is not documented`);
    }
    for (const p of declared) {
      if (!accepted || (p.in !== "path" && p.in !== "query")) continue;
      const value = values[p.in][p.name];
      if (value === undefined) {
        if (p.required) problems.push(`${where}: required ${p.in} parameter ${p.name} missing`);
        continue;
      }
      if (!p.schema) continue;
      const validate = compile(params, p.schema, true);
      if (!validate({ value }))
        problems.push(`${where}: ${p.in} parameter ${p.name}=${JSON.stringify(value)}: ${errors(validate).join("; ")}`);
    }

    // The request body.
    const requestType = String(x.request.headers?.["content-type"] ?? "")
      .split(";")[0]
      .trim()
      .toLowerCase();
    const hasBody = x.request.body !== undefined && x.request.body !== "";
    if (accepted && hasBody) {
      const content = resolve(op.requestBody)?.content ?? {};
      if (!(requestType in content)) problems.push(`${where}: a ${requestType || "untyped"} body is not documented`);
      else if (x.request.json !== undefined && /json/.test(requestType)) {
        const validate = compile(ajv, content[requestType].schema ?? {});
        if (!validate(x.request.json)) problems.push(`${where}: request body: ${errors(validate).join("; ")}`);
      }
    } else if (accepted && resolve(op.requestBody)?.required)
      problems.push(`${where}: the documented body is required`);

    // The response.
    const status = String(x.response.status);
    const responses = op.responses ?? {};
    const key =
      status in responses
        ? status
        : `${status[0]}XX` in responses
          ? `${status[0]}XX`
          : "default" in responses
            ? "default"
            : null;
    if (key === null) {
      problems.push(`${where}: status ${status} is not documented (${Object.keys(responses).join(", ")})`);
      return problems;
    }
    const content = resolve(responses[key])?.content;
    const responseType = String(x.response.headers?.["content-type"] ?? "")
      .split(";")[0]
      .trim()
      .toLowerCase();
    const responseHasBody = x.response.body !== "" && status !== "204" && status !== "304";
    if (!responseHasBody) return problems;
    if (!content || !(responseType in content)) {
      problems.push(
        `${where} ${status}: a ${responseType || "untyped"} answer is not documented (${Object.keys(content ?? {}).join(", ") || "no body"})`,
      );
      return problems;
    }
    if (/json/.test(responseType)) {
      if (x.response.json === undefined) problems.push(`${where} ${status}: the answer is not JSON`);
      else {
        const validate = compile(ajv, content[responseType].schema ?? {});
        if (!validate(x.response.json))
          problems.push(`${where} ${status}: response body: ${errors(validate).join("; ")}`);
      }
    }
    return problems;
  };
}
