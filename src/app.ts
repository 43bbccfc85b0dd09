import { bodyLimit } from "hono/body-limit";
import admin from "./admin/admin.index";
import audiences from "./audiences/audiences.index";
import { renderDocs } from "./lib/docs";
import { ApiError, errorResponse, onError } from "./lib/errors";
import { uuidv7 } from "./lib/ids";
import { createRouter } from "./lib/router";
import profiles from "./profiles/profiles.index";
import requests from "./requests/requests.index";
import sdk from "./sdk/sdk.index";
import segments from "./segments/segments.index";
import webhooks from "./webhooks/webhooks.index";

const MiB = 1024 * 1024;

/** The largest body each route takes; checked before anything is parsed. */
export function bodyLimitFor(method: string, path: string): number {
  if (path === "/v1/sdk/batch") return MiB / 2;
  // A replace streams up to 1,000,000 IDs as CSV.
  if (method === "PATCH" && path.startsWith("/v1/audiences/")) return 16 * MiB;
  if (path === "/v1/profiles/update") return 5 * MiB;
  if (path === "/v1/profiles/mass-update") return 50 * MiB;
  return MiB;
}

/** Batch's versioned paths (`/2.{minor}/profiles/…`) are the same endpoints as ours. */
const BATCH_COMPAT_PATH = /^\/2\.\d+\/profiles\/(update|mass-update)$/;

export function rewriteCompatPath(request: Request): Request {
  const url = new URL(request.url);
  const match = BATCH_COMPAT_PATH.exec(url.pathname);
  if (!match) return request;
  url.pathname = `/v1/profiles/${match[1]}`;
  return new Request(url, request);
}

const OPENAPI_INFO = {
  openapi: "3.1.0",
  info: {
    title: "edge-cdp",
    version: "0.1.0",
    description: "Customer profiles and identity resolution at the edge.",
  },
};

/** Builds the Hono app: middleware, the error envelope, one router per resource, docs. */
export function createApp() {
  const app = createRouter();

  // Always our own ID: a client-chosen one would end up in logs and identity histories.
  app.use("*", async (c, next) => {
    const id = uuidv7();
    c.set("requestId", id);
    c.header("X-Request-Id", id);
    await next();
  });
  app.use("*", (c, next) => {
    // An audience replace streams up to 1,000,000 IDs and enforces its own limits line by line;
    // a byte limit here would buffer a chunked upload whole.
    if (c.req.method === "PUT" && c.req.path.startsWith("/v1/audiences/")) return next();
    const maxSize = bodyLimitFor(c.req.method, c.req.path);
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError("PAYLOAD_TOO_LARGE", `The body is larger than ${maxSize} bytes.`);
      },
    })(c, next);
  });
  app.onError(onError);
  app.notFound((c) => errorResponse(c, new ApiError("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}.`)));

  app.get("/health", (c) => c.json({ status: "ok" }));

  app.route("/v1/admin", admin);
  app.route("/v1/sdk", sdk);
  app.route("/v1/profiles", profiles);
  app.route("/v1/requests", requests);
  app.route("/v1/audiences", audiences);
  app.route("/v1/segments", segments);
  app.route("/v1/webhooks", webhooks);

  app.openAPIRegistry.registerComponent("securitySchemes", "AdminToken", { type: "http", scheme: "bearer" });
  app.openAPIRegistry.registerComponent("securitySchemes", "RestApiKey", { type: "http", scheme: "bearer" });
  app.openAPIRegistry.registerComponent("securitySchemes", "ProjectId", {
    type: "apiKey",
    in: "header",
    name: "X-Project-Id",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "SdkApiKey", {
    type: "apiKey",
    in: "header",
    name: "X-Api-Key",
  });
  app.doc31("/openapi.json", OPENAPI_INFO);
  app.get("/docs", (c) => c.html(renderDocs(app.getOpenAPI31Document(OPENAPI_INFO))));

  return app;
}
