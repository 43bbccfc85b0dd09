import { createRoute, z } from "@hono/zod-openapi";

/** The routes about the service itself: readiness, and where its documentation is. */

export const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["service"],
  summary: "Readiness: 200 once the Worker answers",
  responses: {
    200: {
      description: "Ready",
      content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
    },
  },
});

export const root = createRoute({
  method: "get",
  path: "/",
  tags: ["service"],
  summary: "Redirects to the API reference at /docs",
  responses: {
    302: {
      description: "To /docs",
      headers: { Location: { description: "/docs", schema: { type: "string" } } },
    },
  },
});

export const openapiDocument = createRoute({
  method: "get",
  path: "/openapi.json",
  tags: ["service"],
  summary: "This API as an OpenAPI 3.1 document, generated from the route declarations",
  responses: {
    200: {
      description: "The document",
      content: {
        "application/json": {
          schema: z.object({ openapi: z.string() }).passthrough().openapi({ description: "An OpenAPI 3.1 document" }),
        },
      },
    },
  },
});

export const docsPage = createRoute({
  method: "get",
  path: "/docs",
  tags: ["service"],
  summary: "The API reference as an HTML page (no external scripts: it works offline)",
  responses: {
    200: { description: "The page", content: { "text/html": { schema: z.string() } } },
  },
});

export const debugPage = createRoute({
  method: "get",
  path: "/debug",
  tags: ["service"],
  summary: "The profile debugger: an HTML page that looks a profile up with the REST key kept in the tab",
  responses: {
    200: { description: "The page", content: { "text/html": { schema: z.string() } } },
  },
});
