import { createRoute, type RouteHandler, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { projects } from "../db/schema";
import type { AppEnv } from "../env";
import { ApiError, errorResponses } from "../lib/errors";
import { writeChannel } from "./channel-store";
import { importServiceAccountKey, type ServiceAccount } from "./channels/fcm";

const ProjectIdParam = z.object({
  project_id: z.uuid().openapi({ param: { name: "project_id", in: "path" } }),
});

/** The service account JSON as Firebase's console downloads it; only these fields are kept. */
const ServiceAccountSchema = z
  .object({
    type: z.literal("service_account").optional(),
    project_id: z.string().min(1).max(200),
    client_email: z.email().max(320),
    private_key: z.string().min(100).max(10_000).includes("PRIVATE KEY"),
    token_uri: z.url({ protocol: /^https$/ }).max(2048),
  })
  .loose();

export const putFcmChannel = createRoute({
  method: "put",
  path: "/projects/{project_id}/channels/fcm",
  tags: ["admin"],
  summary: "Set the project's FCM service account (stored encrypted, never returned)",
  security: [{ AdminToken: [] }],
  request: {
    params: ProjectIdParam,
    body: {
      required: true,
      content: { "application/json": { schema: z.object({ service_account: ServiceAccountSchema }).strict() } },
    },
  },
  responses: {
    200: {
      description: "Stored",
      content: {
        "application/json": {
          schema: z.object({
            channel: z.literal("fcm"),
            firebase_project_id: z.string(),
            client_email: z.string(),
            updated_at: z.string(),
          }),
        },
      },
    },
    ...errorResponses,
  },
});

export const putFcm: RouteHandler<typeof putFcmChannel, AppEnv> = async (c) => {
  const { project_id } = c.req.valid("param");
  const { service_account: sa } = c.req.valid("json");
  const project = await drizzle(c.env.DB)
    .select({ id: projects.id })
    .from(projects)
    .where(eq(projects.id, project_id))
    .get();
  if (!project) throw new ApiError("NOT_FOUND", `No project ${project_id}.`);
  try {
    await importServiceAccountKey(sa.private_key);
  } catch {
    throw new ApiError("VALIDATION_FAILED", "private_key is not a PKCS #8 RSA key in PEM.", {
      issues: [{ path: "service_account.private_key", message: "Not a PKCS #8 RSA private key." }],
    });
  }
  const secret: ServiceAccount = {
    project_id: sa.project_id,
    client_email: sa.client_email,
    private_key: sa.private_key,
    token_uri: sa.token_uri,
  };
  await writeChannel(c.env, project_id, "fcm", { public: sa.client_email, secret });
  return c.json(
    {
      channel: "fcm" as const,
      firebase_project_id: sa.project_id,
      client_email: sa.client_email,
      updated_at: new Date().toISOString(),
    },
    200,
  );
};

export const putEmailChannel = createRoute({
  method: "put",
  path: "/projects/{project_id}/channels/email",
  tags: ["admin"],
  summary: "Set the project's email sender (an address on a domain onboarded to Email Service)",
  security: [{ AdminToken: [] }],
  request: {
    params: ProjectIdParam,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z
            .object({
              from: z.email().max(320),
              name: z.string().min(1).max(100).optional(),
              reply_to: z.email().max(320).optional(),
            })
            .strict(),
        },
      },
    },
  },
  responses: {
    200: {
      description: "Stored",
      content: {
        "application/json": {
          schema: z.object({ channel: z.literal("email"), from: z.string(), updated_at: z.string() }),
        },
      },
    },
    ...errorResponses,
  },
});

export const putEmail: RouteHandler<typeof putEmailChannel, AppEnv> = async (c) => {
  const { project_id } = c.req.valid("param");
  const sender = c.req.valid("json");
  const project = await drizzle(c.env.DB)
    .select({ id: projects.id })
    .from(projects)
    .where(eq(projects.id, project_id))
    .get();
  if (!project) throw new ApiError("NOT_FOUND", `No project ${project_id}.`);
  await writeChannel(c.env, project_id, "email", { public: sender.from, secret: sender });
  return c.json({ channel: "email" as const, from: sender.from, updated_at: new Date().toISOString() }, 200);
};
