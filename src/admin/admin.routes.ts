import { createRoute, z } from "@hono/zod-openapi";
import { errorResponsesOf } from "../lib/errors";

const security = [{ AdminToken: [] }];

export const PlatformSchema = z.enum(["ios", "android", "web"]).openapi("Platform");

const ProjectIdParam = z.object({
  project_id: z.uuid().openapi({ param: { name: "project_id", in: "path" } }),
});

const InactivityDays = z.int().min(1).max(3650).openapi({
  description: "Days without activity after which a profile is purged (default 390).",
});

const ExportRetentionDays = z.int().min(1).max(365).openapi({
  description:
    "Days a daily export file is kept (default 30): past them it is deleted and its URL answers 410 GONE. At most 365, the bucket's own backstop.",
});

const CreateProjectBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    inactivity_days: InactivityDays.optional(),
    export_retention_days: ExportRetentionDays.optional(),
  })
  .strict();

/** Either setting or both; an empty body changes nothing and is refused. */
const UpdateProjectBody = z
  .object({ inactivity_days: InactivityDays.optional(), export_retention_days: ExportRetentionDays.optional() })
  .strict()
  .refine((b) => b.inactivity_days !== undefined || b.export_retention_days !== undefined, {
    message: "Give inactivity_days, export_retention_days or both.",
    path: ["inactivity_days"],
  });

const SigningSecret = z.string().openapi({
  description:
    "Standard Webhooks secret (`whsec_…`) that signs privacy callbacks and webhooks. Shown once here; rotate it to get a new one.",
});

const AppSummary = z.object({
  app_id: z.string(),
  name: z.string(),
  platform: PlatformSchema,
  created_at: z.string(),
});

const ProjectSchema = z
  .object({
    project_id: z.string(),
    name: z.string(),
    inactivity_days: z.int(),
    export_retention_days: z.int(),
    created_at: z.string(),
    apps: z.array(AppSummary),
  })
  .openapi("Project");

export const createProject = createRoute({
  method: "post",
  path: "/projects",
  tags: ["admin"],
  summary: "Create a project and its REST API key (shown once)",
  security,
  request: {
    body: { required: true, content: { "application/json": { schema: CreateProjectBody } } },
  },
  responses: {
    201: {
      description: "Created",
      content: {
        "application/json": {
          schema: z.object({
            project_id: z.string(),
            name: z.string(),
            inactivity_days: z.int(),
            export_retention_days: z.int(),
            created_at: z.string(),
            rest_api_key: z.string().openapi({ description: "Shown once; only its hash is stored." }),
            signing_secret: SigningSecret,
          }),
        },
      },
    },
    ...errorResponsesOf(400, 401, 403),
  },
});

export const getProject = createRoute({
  method: "get",
  path: "/projects/{project_id}",
  tags: ["admin"],
  summary: "Read a project and its apps (keys are never shown again)",
  security,
  request: { params: ProjectIdParam },
  responses: {
    200: { description: "The project", content: { "application/json": { schema: ProjectSchema } } },
    ...errorResponsesOf(400, 401, 403, 404),
  },
});

export const createApp = createRoute({
  method: "post",
  path: "/projects/{project_id}/apps",
  tags: ["admin"],
  summary: "Add an app (ios, android or web) to a project, with its SDK API key (shown once)",
  security,
  request: {
    params: ProjectIdParam,
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z.object({ name: z.string().trim().min(1).max(100), platform: PlatformSchema }).strict(),
        },
      },
    },
  },
  responses: {
    201: {
      description: "Created",
      content: {
        "application/json": {
          schema: AppSummary.extend({
            project_id: z.string(),
            sdk_api_key: z.string().openapi({ description: "Shown once; only its hash is stored." }),
          }),
        },
      },
    },
    ...errorResponsesOf(400, 401, 403, 404),
  },
});

export const updateProject = createRoute({
  method: "patch",
  path: "/projects/{project_id}",
  tags: ["admin"],
  summary: "Change a project's settings (its inactivity period, its daily files' retention)",
  security,
  request: {
    params: ProjectIdParam,
    body: {
      required: true,
      content: { "application/json": { schema: UpdateProjectBody } },
    },
  },
  responses: {
    200: {
      description: "The project's settings after the change",
      content: { "application/json": { schema: ProjectSchema.omit({ apps: true }) } },
    },
    ...errorResponsesOf(400, 401, 403, 404),
  },
});

export const rotateSigningSecret = createRoute({
  method: "post",
  path: "/projects/{project_id}/signing-secret",
  tags: ["admin"],
  summary: "Replace the project's signing secret (the new one is shown once; the old one stops signing at once)",
  security,
  request: { params: ProjectIdParam },
  responses: {
    200: {
      description: "The new secret",
      content: {
        "application/json": {
          schema: z.object({ project_id: z.string(), signing_secret: SigningSecret, rotated_at: z.string() }),
        },
      },
    },
    ...errorResponsesOf(400, 401, 403, 404),
  },
});
