import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import admin from "./admin/admin.index";
import audiences from "./audiences/audiences.index";
import { memberBodyKind } from "./audiences/content-type";
import audienceFeeds, { audienceInboxJob } from "./audiences/feeds.index";
import { BATCH_KEY_PATHS, requireBatchKey } from "./batch/auth";
import batch, { batchAudiences } from "./batch/batch.index";
import { batchErrorCodes, isBatchPath } from "./batch/codes";
import campaigns from "./campaigns/campaigns.index";
import debug from "./debug/debug.index";
import type { AppEnv } from "./env";
import { batchExports, signedDownloads } from "./exports/batch-compat";
import exports, { exportJobs } from "./exports/exports.index";
import { renderDocs } from "./lib/docs";
import { ApiError, errorResponse, onError } from "./lib/errors";
import { uuidv7 } from "./lib/ids";
import * as meta from "./lib/meta.routes";
import { BATCH_PREFIX, completeDocument, OPENAPI_INFO, type OpenAPIDocument } from "./lib/openapi";
import { createRouter } from "./lib/router";
import messages from "./messaging/messages.index";
import privacy from "./privacy/privacy.index";
import profiles from "./profiles/profiles.index";
import requests from "./requests/requests.index";
import sdk from "./sdk/sdk.index";
import segments from "./segments/segments.index";
import webhooks from "./webhooks/webhooks.index";

const MiB = 1024 * 1024;
/** No header we read needs more; a 100 KB header is work for nothing. */
const MAX_HEADER_VALUE = 8 * 1024;

/** The largest body each route takes; checked before anything is parsed. */
export function bodyLimitFor(method: string, path: string): number {
  if (path === "/v1/sdk/batch") return MiB / 2;
  // JSON members, parsed whole; a replace streams larger sets as CSV (see `readsWholeBody`).
  if ((method === "PATCH" || method === "PUT") && path.startsWith("/v1/audiences/")) return 16 * MiB;
  // The same members through Batch's Audience API.
  if (/^\/2\.\d+\/audiences\/(update|replace)$/.test(path)) return 16 * MiB;
  if (path === "/v1/profiles/update") return 5 * MiB;
  if (path === "/v1/profiles/mass-update") return 50 * MiB;
  // Batch's Trigger Events (1,000 events), as a Profile API update.
  if (/^\/1\.\d+\/[^/]+\/events\/users(\/[^/]+)?$/.test(path)) return 5 * MiB;
  // Batch's bulk Custom Data (10,000 users), as a mass update.
  if (/^\/1\.\d+\/[^/]+\/data\/users$/.test(path)) return 50 * MiB;
  return MiB;
}

/**
 * Whether the body limit applies: a CSV audience replace streams its body and bounds it as it
 * reads (bytes and lines). Every other body, chunked or not, is counted here as it arrives.
 */
export function readsWholeBody(method: string, path: string, contentType = ""): boolean {
  return !(method === "PUT" && path.startsWith("/v1/audiences/") && memberBodyKind(contentType) === "csv");
}

/** Batch's versioned paths (`/2.{minor}/profiles/…`) are the same endpoints as ours. */
const BATCH_COMPAT_PATH = /^\/2\.\d+\/profiles\/(update|mass-update)$/;
/** Batch's export API, served by src/exports/batch-compat.ts. */
const BATCH_EXPORTS_PATH = /^\/2\.\d+\/(profiles\/export|exports\/(?:view|list|download))$/;

export function rewriteCompatPath(request: Request): Request {
  const url = new URL(request.url);
  // Batch's clients often end a path with `/`; every Batch path takes it (SPEC §9).
  if (isBatchPath(url.pathname) && url.pathname.length > 1 && url.pathname.endsWith("/")) {
    url.pathname = url.pathname.replace(/\/+$/, "");
    return new Request(url, request);
  }
  // The update endpoints are POSTs; any other method keeps the caller's path, so a 404 names it.
  const match = request.method === "POST" ? BATCH_COMPAT_PATH.exec(url.pathname) : null;
  const exportsMatch = BATCH_EXPORTS_PATH.exec(url.pathname);
  if (match) url.pathname = `/v1/profiles/${match[1]}`;
  else if (exportsMatch) url.pathname = `${BATCH_PREFIX}${exportsMatch[1]}`;
  else return request;
  return new Request(url, request);
}

/**
 * The web SDK calls `/v1/sdk/batch` from the customer's pages: the SDK key is public, so any
 * origin may send with it. Preflights are cached a day; the SDK reads Retry-After on a 429.
 */
export const SDK_CORS = {
  origin: "*",
  allowMethods: ["POST"],
  allowHeaders: ["Content-Type", "X-Api-Key"],
  exposeHeaders: ["Retry-After", "X-Request-Id"],
  maxAge: 86_400,
};

const sdkPreflight = cors(SDK_CORS);
const SDK_EXPOSED = SDK_CORS.exposeHeaders.join(",");

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
  app.use("*", batchErrorCodes);
  // Every /1.x/{API_KEY} path, whichever router serves it (src/batch, messaging), before any of
  // them runs: an unknown key is a 401 ahead of any 404 or body check.
  app.use(BATCH_KEY_PATHS, requireBatchKey());
  app.use("*", async (c, next) => {
    const issues: { path: string; message: string }[] = [];
    for (const [name, value] of c.req.raw.headers) {
      if (value.length > MAX_HEADER_VALUE)
        issues.push({ path: `headers.${name}`, message: `At most ${MAX_HEADER_VALUE} characters.` });
    }
    if (issues.length > 0) {
      throw new ApiError("VALIDATION_FAILED", `A header value is at most ${MAX_HEADER_VALUE} characters.`, { issues });
    }
    await next();
  });
  // Browsers on any origin send SDK batches; every other route is for servers and gets no CORS.
  app.use("/v1/sdk/batch", (c, next) => {
    if (c.req.method === "OPTIONS") return sdkPreflight(c, next);
    // What cors() sets on an answer that is not a preflight, as prepared headers: cors() sets
    // them on `c.res`, so each batch's answer was built three times (an empty Response, ours, and
    // a copy merging the two). Every answer here, errors included, is made by `c.json`, which
    // takes prepared headers.
    c.header("Access-Control-Allow-Origin", SDK_CORS.origin);
    c.header("Access-Control-Expose-Headers", SDK_EXPOSED);
    return next();
  });
  // The web SDK reads the VAPID key from the customer's pages before it subscribes.
  app.use("/v1/sdk/push-config", cors({ ...SDK_CORS, allowMethods: ["GET"] }));
  app.use("*", (c, next) => {
    // A CSV audience replace streams up to 1,000,000 IDs and bounds them itself; a byte limit
    // here would buffer the upload whole.
    if (!readsWholeBody(c.req.method, c.req.path, c.req.header("Content-Type"))) return next();
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

  app.openapi(meta.health, (c) => c.json({ status: "ok" as const }, 200));
  app.openapi(meta.root, (c) => c.redirect("/docs", 302));
  app.route("/debug", debug);
  // Served by a plain router (its own security headers); listed in the document all the same.
  app.openAPIRegistry.registerPath(meta.debugPage);

  app.route("/v1/admin/jobs/audience_inbox", audienceInboxJob);
  app.route("/v1/admin/jobs", exportJobs);
  app.route("/v1/admin", admin);
  app.route("/v1/sdk", sdk);
  app.route("/v1/profiles", profiles);
  app.route("/v1/requests", requests);
  app.route("/v1/privacy", privacy);
  app.route("/v1/audiences", audiences);
  app.route("/v1/audience-feeds", audienceFeeds);
  app.route("/v1/segments", segments);
  app.route("/v1/exports", exports);
  app.route("/v1/batch", batchExports);
  app.route("/v1/downloads", signedDownloads);
  app.route("/v1/webhooks", webhooks);
  app.route("/", batch);
  app.route("/:version{2\\.[0-9]+}/audiences", batchAudiences);
  app.route("/v1/messages", messages);
  app.route("/v1/campaigns", campaigns);

  app.openAPIRegistry.registerComponent("securitySchemes", "AdminToken", { type: "http", scheme: "bearer" });
  app.openAPIRegistry.registerComponent("securitySchemes", "RestApiKey", { type: "http", scheme: "bearer" });
  app.openAPIRegistry.registerComponent("securitySchemes", "ProjectId", {
    type: "apiKey",
    in: "header",
    name: "X-Project-Id",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "BatchRestKey", {
    type: "apiKey",
    in: "header",
    name: "X-Authorization",
    description: "Batch's paths: the project's REST API key; the app's SDK key is in the path.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "SdkApiKey", {
    type: "apiKey",
    in: "header",
    name: "X-Api-Key",
  });
  const document = (c: Context<AppEnv>) =>
    completeDocument(
      app.getOpenAPI31Document(OPENAPI_INFO) as OpenAPIDocument,
      new URL(c.req.url).origin,
      readsWholeBody,
    );
  app.openapi(meta.openapiDocument, (c) => c.json(document(c), 200));
  app.openapi(meta.docsPage, (c) => c.html(renderDocs(document(c)), 200));

  return app;
}
