import type { RouteHandler } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { installations, profiles } from "../db/schema";
import { projectionFor } from "../db/shards";
import type { AppEnv } from "../env";
import { hasMovedOn, VIEW_CONCURRENCY } from "../identity/custom-id-members";
import { customIdObjectName, installationObjectName } from "../identity/identifiers";
import type { InstallationView, ProfileView } from "../identity/view";
import { callerOf } from "../lib/auth";
import { mapBounded } from "../lib/concurrency";
import { ApiError } from "../lib/errors";
import { applyAndProject, later, requestMeta } from "./apply-projected";
import { enqueueMassUpdate, refuseOversized } from "./mass-update";
import { type OperationError, validateOperations } from "./operations";
import type * as routes from "./profiles.routes";

/** `installations_not_shown`: attached installations beyond those listed (the least recently seen). */
type FullView = ProfileView & { installations: InstallationView[]; installations_not_shown: number };

function installation(env: Env, projectId: string, installationId: string) {
  return env.INSTALLATIONS.get(env.INSTALLATIONS.idFromName(installationObjectName(projectId, installationId)));
}

/**
 * Reads the profile that holds `customId`, with its most recently seen installations read from
 * their own objects, a few at a time. Members found to have moved on are dropped from the list.
 */
async function viewByCustomId(env: Env, projectId: string, customId: string): Promise<FullView | null> {
  const holder = env.CUSTOM_IDS.get(env.CUSTOM_IDS.idFromName(customIdObjectName(projectId, customId)));
  const held = await holder.view();
  if (!held) return null;
  const { members, more } = held.installations;
  const described = await mapBounded(members, VIEW_CONCURRENCY, (m) =>
    installation(env, projectId, m.installationId).describe(),
  );
  const stale = members.filter((_, k) => hasMovedOn(customId, described[k] ?? null));
  if (stale.length) await holder.prune(stale);
  const installations = described.flatMap((d) => (d && d.binding.customId === customId ? [d.installation] : []));
  return { ...held.profile, installations, installations_not_shown: more };
}

async function viewByInstallation(env: Env, projectId: string, installationId: string): Promise<FullView | null> {
  const described = await installation(env, projectId, installationId).describe();
  if (described?.profile) {
    return { ...described.profile, installations: [described.installation], installations_not_shown: 0 };
  }
  if (described?.binding.customId) return viewByCustomId(env, projectId, described.binding.customId);
  return null;
}

/**
 * Profile IDs are found through the projection, then read from the object that holds the
 * profile, which stays the authority: a stale projection row cannot show stale data.
 */
async function viewByProfileId(env: Env, projectId: string, profileId: string): Promise<FullView | null> {
  const { db } = (await projectionFor(env, projectId)).forProfile(profileId);
  const row = await db
    .select({ customId: profiles.customId })
    .from(profiles)
    .where(and(eq(profiles.projectId, projectId), eq(profiles.profileId, profileId), eq(profiles.state, "active")))
    .get();
  if (!row) return null;
  let view: FullView | null = null;
  if (row.customId !== null) {
    view = await viewByCustomId(env, projectId, row.customId);
  } else {
    const holder = await db
      .select({ installationId: installations.installationId })
      .from(installations)
      .where(and(eq(installations.projectId, projectId), eq(installations.profileId, profileId)))
      .get();
    if (holder) view = await viewByInstallation(env, projectId, holder.installationId);
  }
  return view?.profile_id === profileId ? view : null;
}

export const getProfile: RouteHandler<typeof routes.getProfile, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const query = c.req.valid("query");
  let view: FullView | null = null;
  if (query.custom_id !== undefined) {
    view = await viewByCustomId(c.env, projectId, query.custom_id);
  } else if (query.installation_id !== undefined) {
    view = await viewByInstallation(c.env, projectId, query.installation_id);
  } else if (query.profile_id !== undefined) {
    view = await viewByProfileId(c.env, projectId, query.profile_id);
  }
  if (!view) throw new ApiError("NOT_FOUND", "No profile matches.");
  return c.json(view, 200);
};

/** All operations invalid: the request is refused as a whole, every problem listed. */
function noValidOperation(errors: OperationError[]): ApiError {
  return new ApiError("VALIDATION_FAILED", "No operation is valid; nothing was applied.", {
    issues: errors.map((e) => ({
      path: [e.bulk_index, e.category === "operation" ? null : e.category, e.attribute ?? null]
        .filter((x) => x !== null)
        .join("."),
      message: e.reason,
    })),
  });
}

export const updateProfiles: RouteHandler<typeof routes.updateProfiles, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const now = Date.now();
  const { valid, errors } = validateOperations(c.req.valid("json"), now);
  if (valid.length === 0) throw noValidOperation(errors);
  const outcome = await applyAndProject(c.env, projectId, valid, requestMeta(c, now), later(c));
  const all = [...errors, ...outcome.errors].sort((a, b) => a.bulk_index - b.bulk_index);
  return c.json(
    all.length ? { code: "SUCCESS_WITH_PARTIAL_ERRORS" as const, errors: all } : { code: "SUCCESS" as const },
    202,
  );
};

export const massUpdateProfiles: RouteHandler<typeof routes.massUpdateProfiles, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const now = Date.now();
  const validated = validateOperations(c.req.valid("json"), now);
  const { fits, errors: oversized } = refuseOversized(validated.valid);
  const errors = [...validated.errors, ...oversized].sort((a, b) => a.bulk_index - b.bulk_index);
  if (fits.length === 0) throw noValidOperation(errors);
  const requestId = await enqueueMassUpdate(c.env, projectId, c.req.valid("json").length, fits, errors, now);
  return c.json(
    errors.length
      ? { code: "SUCCESS_WITH_PARTIAL_ERRORS" as const, request_id: requestId, errors }
      : { code: "SUCCESS" as const, request_id: requestId },
    202,
  );
};
