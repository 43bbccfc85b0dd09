import { and, eq, ne } from "drizzle-orm";
import { findAcross } from "../db/fan-out";
import { installations, profiles } from "../db/schema";
import { projectionFor } from "../db/shards";
import type { EraseRequest, ObjectErasure, ObjectSpared } from "../identity/erase";
import type { Holder } from "./remove";

/**
 * A profile D1 still shows as held by an identifier whose object is already empty: a remove
 * that emptied the object and gave up before its D1 erase (or a purge that did). The next
 * remove finishes it from here: the same guards the object would apply, read from D1, and the
 * installations D1 lists for the profile in place of the object's members.
 */
export async function heldInD1(
  env: Env,
  projectId: string,
  holder: Holder,
  req: Pick<EraseRequest, "profileId" | "inactiveBefore" | "anonymousOnly" | "at">,
): Promise<ObjectErasure | ObjectSpared> {
  // The holder's profile may be on any shard of a split project; its rows are all on that one.
  const projection = await projectionFor(env, projectId);
  const held = await findAcross(projection, async ({ db }) => {
    if (holder.kind === "custom_id") {
      const row = await db
        .select({ id: profiles.profileId })
        .from(profiles)
        .where(
          and(eq(profiles.projectId, projectId), eq(profiles.customId, holder.customId), ne(profiles.state, "removed")),
        )
        .get();
      return row?.id;
    }
    const row = await db
      .select({ id: installations.profileId })
      .from(installations)
      .where(and(eq(installations.projectId, projectId), eq(installations.installationId, holder.installationId)))
      .get();
    return row?.id ?? undefined;
  });
  const profileId = held?.found;
  if (!profileId) return { erased: false, reason: "not_held" };
  const { db } = projection.forProfile(profileId);
  const profile = await db
    .select()
    .from(profiles)
    .where(and(eq(profiles.projectId, projectId), eq(profiles.profileId, profileId), ne(profiles.state, "removed")))
    .get();
  if (!profile) return { erased: false, reason: "not_held" };
  if (req.profileId !== undefined && profile.profileId !== req.profileId) return { erased: false, reason: "moved" };
  if (req.anonymousOnly && profile.customId !== null) return { erased: false, reason: "custom_id_required" };
  if (req.inactiveBefore !== undefined && !(profile.lastActivityAt < req.inactiveBefore)) {
    return { erased: false, reason: "active", last_activity_at: profile.lastActivityAt };
  }
  const members =
    holder.kind === "custom_id"
      ? (
          await db
            .select({ id: installations.installationId })
            .from(installations)
            .where(and(eq(installations.projectId, projectId), eq(installations.profileId, profileId)))
        ).map((r) => r.id)
      : [];
  // The object held nothing more: its step counts no rows.
  return {
    erased: true,
    at: req.at,
    profiles: [{ profile_id: profileId, state: profile.state }],
    members,
    rows: {},
  };
}
