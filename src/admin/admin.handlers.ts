import type { RouteHandler } from "@hono/zod-openapi";
import { asc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { apps, projects } from "../db/schema";
import { emptiestShard, placeProject } from "../db/shards";
import type { AppEnv } from "../env";
import { REST_KEY_PREFIX, SDK_KEY_PREFIX } from "../lib/auth";
import { ApiError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { generateKey, hashKey } from "../lib/keys";
import { generateSigningSecret } from "../lib/signing";
import { createVapid } from "../messaging/vapid";
import type * as routes from "./admin.routes";

const DEFAULT_INACTIVITY_DAYS = 390;
const DEFAULT_EXPORT_RETENTION_DAYS = 30;

const projectNotFound = (id: string) => new ApiError("NOT_FOUND", `No project ${id}.`);

export const createProject: RouteHandler<typeof routes.createProject, AppEnv> = async (c) => {
  const {
    name,
    inactivity_days = DEFAULT_INACTIVITY_DAYS,
    export_retention_days = DEFAULT_EXPORT_RETENTION_DAYS,
  } = c.req.valid("json");
  const id = uuidv7();
  const restApiKey = generateKey(REST_KEY_PREFIX, id);
  const signingSecret = generateSigningSecret();
  const createdAt = new Date().toISOString();
  const db = drizzle(c.env.DB);
  const shard = await emptiestShard(c.env);
  // One batch: no project exists without its projection shard.
  await db.batch([
    db.insert(projects).values({
      id,
      name,
      inactivityDays: inactivity_days,
      exportRetentionDays: export_retention_days,
      restKeyHash: await hashKey(restApiKey),
      signingSecret,
      signingSecretRotatedAt: createdAt,
      createdAt,
    }),
    placeProject(c.env, id, shard),
  ]);
  // Web Push needs the project's VAPID key pair before the first browser subscribes (SPEC §10).
  // Without the secret that encrypts it (a deployment not set up for messaging yet), the pair is
  // made on first use instead, and project creation still works.
  if (c.env.CHANNEL_SECRET_KEY) await createVapid(c.env, id);
  return c.json(
    {
      project_id: id,
      name,
      inactivity_days,
      export_retention_days,
      created_at: createdAt,
      rest_api_key: restApiKey,
      signing_secret: signingSecret,
    },
    201,
  );
};

export const updateProject: RouteHandler<typeof routes.updateProject, AppEnv> = async (c) => {
  const { project_id } = c.req.valid("param");
  const { inactivity_days, export_retention_days } = c.req.valid("json");
  const updated = await drizzle(c.env.DB)
    .update(projects)
    .set({
      ...(inactivity_days === undefined ? {} : { inactivityDays: inactivity_days }),
      ...(export_retention_days === undefined ? {} : { exportRetentionDays: export_retention_days }),
    })
    .where(eq(projects.id, project_id))
    .returning({
      id: projects.id,
      name: projects.name,
      inactivityDays: projects.inactivityDays,
      exportRetentionDays: projects.exportRetentionDays,
      createdAt: projects.createdAt,
    });
  const row = updated[0];
  if (!row) throw projectNotFound(project_id);
  return c.json(
    {
      project_id: row.id,
      name: row.name,
      inactivity_days: row.inactivityDays,
      export_retention_days: row.exportRetentionDays,
      created_at: row.createdAt,
    },
    200,
  );
};

/** Replaces the signing secret at once: from this call on, callbacks and webhooks carry the new one. */
export const rotateSigningSecret: RouteHandler<typeof routes.rotateSigningSecret, AppEnv> = async (c) => {
  const { project_id } = c.req.valid("param");
  const signingSecret = generateSigningSecret();
  const rotatedAt = new Date().toISOString();
  const updated = await drizzle(c.env.DB)
    .update(projects)
    .set({ signingSecret, signingSecretRotatedAt: rotatedAt })
    .where(eq(projects.id, project_id))
    .returning({ id: projects.id });
  if (!updated[0]) throw projectNotFound(project_id);
  return c.json({ project_id, signing_secret: signingSecret, rotated_at: rotatedAt }, 200);
};

export const getProject: RouteHandler<typeof routes.getProject, AppEnv> = async (c) => {
  const { project_id } = c.req.valid("param");
  const db = drizzle(c.env.DB);
  const [project, projectApps] = await db.batch([
    db.select().from(projects).where(eq(projects.id, project_id)),
    db.select().from(apps).where(eq(apps.projectId, project_id)).orderBy(asc(apps.createdAt)),
  ]);
  const row = project[0];
  if (!row) throw projectNotFound(project_id);
  return c.json(
    {
      project_id: row.id,
      name: row.name,
      inactivity_days: row.inactivityDays,
      export_retention_days: row.exportRetentionDays,
      created_at: row.createdAt,
      apps: projectApps.map((a) => ({ app_id: a.id, name: a.name, platform: a.platform, created_at: a.createdAt })),
    },
    200,
  );
};

export const createApp: RouteHandler<typeof routes.createApp, AppEnv> = async (c) => {
  const { project_id } = c.req.valid("param");
  const { name, platform } = c.req.valid("json");
  const db = drizzle(c.env.DB);
  const project = await db.select({ id: projects.id }).from(projects).where(eq(projects.id, project_id)).get();
  if (!project) throw projectNotFound(project_id);
  const id = uuidv7();
  const sdkApiKey = generateKey(SDK_KEY_PREFIX, id);
  const createdAt = new Date().toISOString();
  await db
    .insert(apps)
    .values({ id, projectId: project_id, name, platform, sdkKeyHash: await hashKey(sdkApiKey), createdAt });
  return c.json({ app_id: id, project_id, name, platform, created_at: createdAt, sdk_api_key: sdkApiKey }, 201);
};
