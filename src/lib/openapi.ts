import { ERROR_DESCRIPTIONS, type ErrorStatus } from "./errors";

/** The parts of an OpenAPI 3.1 document this module reads and completes. */
export interface OpenAPIDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  servers?: { url: string; description?: string }[];
  paths?: Record<string, PathItem>;
  components?: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
  [key: string]: unknown;
}
export type PathItem = Partial<Record<(typeof METHODS)[number], Operation>>;
export interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: unknown }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, Response>;
  [key: string]: unknown;
}
export interface Response {
  description?: string;
  headers?: Record<string, unknown>;
  content?: Record<string, { schema?: unknown }>;
}

export const METHODS = ["get", "post", "put", "patch", "delete"] as const;

export const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "edge-cdp",
    version: "0.1.0",
    description: "Customer profiles and identity resolution at the edge.",
  },
};

/**
 * Batch's versioned Profile API paths and the route of ours that serves each; the Worker
 * rewrites the first to the second before routing, and the document lists both.
 */
export const BATCH_COMPAT_ROUTES: Record<string, string> = {
  "/2.{minor}/profiles/update": "/v1/profiles/update",
  "/2.{minor}/profiles/mass-update": "/v1/profiles/mass-update",
};

/**
 * Routes of Batch's own API 2.x that have no `/v1` twin are mounted under this prefix; the
 * Worker rewrites `/2.{minor}/…` to it (src/app.ts), and the document lists them only under
 * Batch's versioned path, the one clients call.
 */
export const BATCH_PREFIX = "/v1/batch/";

/** A path item as Batch's versioned path lists it: the `minor` parameter on each operation. */
function versioned(item: PathItem): PathItem {
  const out: PathItem = {};
  for (const method of METHODS) {
    const op = item[method];
    if (op) out[method] = { ...op, parameters: [MinorParam, ...(op.parameters ?? [])] };
  }
  return out;
}

const errorResponse = (status: ErrorStatus): Response => ({
  description: ERROR_DESCRIPTIONS[status],
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

const MinorParam = {
  name: "minor",
  in: "path",
  required: true,
  description: "Any minor version of Batch's API 2.x; all are the same endpoint.",
  schema: { type: "string", pattern: "^[0-9]+$", examples: ["1"] },
};

/**
 * Adds to the generated document what holds for every route alike, so that a route declares
 * only its own responses: 413 and 415 wherever a body is read (never on a route without one),
 * 429 wherever a key is checked (with Retry-After), 500 everywhere; `X-Batch-Project` as an
 * alternative to `X-Project-Id`; Batch's versioned paths; and the server that answered.
 * `readsWholeBody` says whether the body limit applies (a streamed upload enforces its own).
 */
export function completeDocument(
  doc: OpenAPIDocument,
  origin: string,
  readsWholeBody: (method: string, path: string) => boolean,
): OpenAPIDocument {
  const paths: Record<string, PathItem> = {};
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const completed: PathItem = {};
    for (const method of METHODS) {
      const op = item[method];
      if (op) completed[method] = completeOperation(op, method, path, readsWholeBody);
    }
    if (path.startsWith(BATCH_PREFIX)) paths[`/2.{minor}/${path.slice(BATCH_PREFIX.length)}`] = versioned(completed);
    else paths[path] = completed;
  }
  for (const [compat, ours] of Object.entries(BATCH_COMPAT_ROUTES)) {
    const post = paths[ours]?.post;
    if (!post) continue;
    paths[compat] = {
      post: {
        ...post,
        operationId: undefined,
        summary: `${post.summary?.replace(/ \(.*\)$/, "") ?? ""} (Batch's versioned path, same as POST ${ours})`,
        parameters: [MinorParam, ...(post.parameters ?? [])],
        // Batch's clients name the project in X-Batch-Project.
        security: [...(post.security ?? [])].reverse(),
      },
    };
  }
  return {
    ...doc,
    servers: [{ url: origin, description: "The deployment that served this document" }],
    paths,
    components: {
      ...doc.components,
      securitySchemes: {
        ...doc.components?.securitySchemes,
        BatchProject: {
          type: "apiKey",
          in: "header",
          name: "X-Batch-Project",
          description: "The project, as Batch's Profile API names it; the same as X-Project-Id.",
        },
      },
    },
  };
}

function completeOperation(
  op: Operation,
  method: string,
  path: string,
  readsWholeBody: (method: string, path: string) => boolean,
): Operation {
  const responses: Record<string, Response> = { ...op.responses };
  if (op.requestBody) {
    if (readsWholeBody(method.toUpperCase(), path)) responses["413"] ??= errorResponse(413);
    responses["415"] ??= errorResponse(415);
  } else {
    delete responses["413"];
    delete responses["415"];
  }
  const security = op.security ?? [];
  if (security.length > 0) {
    responses["429"] ??= {
      ...errorResponse(429),
      headers: {
        "Retry-After": { description: "Seconds to wait before calling again.", schema: { type: "integer" } },
      },
    };
  }
  // Every request passes the header checks of src/app.ts first, which answer 400.
  responses["400"] ??= errorResponse(400);
  responses["500"] ??= errorResponse(500);
  const withBatchProject = security.flatMap((s) =>
    "ProjectId" in s
      ? [s, Object.fromEntries(Object.keys(s).map((k) => [k === "ProjectId" ? "BatchProject" : k, []]))]
      : [s],
  );
  return {
    ...op,
    ...(security.length > 0 ? { security: withBatchProject } : {}),
    responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b))),
  };
}
