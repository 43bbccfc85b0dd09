import { sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import { rowChunks, selectRows } from "../db/rows";
import { installations, profileAttributes, profiles } from "../db/schema";
import { customIdObjectName, installationObjectName } from "../identity/identifiers";
import type { InstallationProjection, ProfileProjection, ProjectionMessage } from "../queue/messages";

type Statement = BatchItem<"sqlite">;

/** Reads the current state the message points at, from the object that holds it. */
async function fetchState(env: Env, m: ProjectionMessage) {
  if (m.type === "installation_changed") {
    const ns = env.INSTALLATIONS;
    const state = await ns
      .get(ns.idFromName(installationObjectName(m.project_id, m.installation_id)))
      .installationProjection();
    return { kind: "installation" as const, projectId: m.project_id, state };
  }
  const state =
    m.holder.kind === "custom_id"
      ? await env.CUSTOM_IDS.get(env.CUSTOM_IDS.idFromName(customIdObjectName(m.project_id, m.holder.id))).projection(
          m.profile_id,
        )
      : await env.INSTALLATIONS.get(
          env.INSTALLATIONS.idFromName(installationObjectName(m.project_id, m.holder.id)),
        ).projection(m.profile_id);
  return { kind: "profile" as const, projectId: m.project_id, state };
}

/** How an attribute value is stored so that each operator can use an index. */
export function attributeColumns(value: ProfileProjection["attributes"][number]["value"]) {
  if (Array.isArray(value)) return { valueText: null, valueNum: null, valueJson: JSON.stringify(value) };
  if (typeof value === "number") return { valueText: null, valueNum: value, valueJson: null };
  if (typeof value === "boolean") return { valueText: String(value), valueNum: null, valueJson: null };
  return { valueText: value === null ? null : String(value), valueNum: null, valueJson: null };
}

/**
 * Upserts profiles and their attributes, every row guarded by the version it was written for:
 * a redelivered or late message never moves a row backwards. Attribute rows carry the version
 * too, and rows older than their profile's version (deleted attributes, or rows a late message
 * just added) are swept in the same transaction. A handful of statements for the whole batch.
 */
function profileStatements(db: DrizzleD1Database, states: { projectId: string; state: ProfileProjection }[]) {
  const statements: Statement[] = [];
  for (const chunk of rowChunks(
    states.map(({ projectId, state: p }) => ({
      projectId,
      profileId: p.profile_id,
      customId: p.custom_id,
      state: p.state,
      version: p.version,
      createdAt: p.created_at,
      lastActivityAt: p.last_activity_at,
    })),
  )) {
    statements.push(
      db
        .insert(profiles)
        .select(selectRows(profiles, chunk))
        .onConflictDoUpdate({
          target: [profiles.projectId, profiles.profileId],
          set: {
            customId: sql`excluded.custom_id`,
            state: sql`excluded.state`,
            version: sql`excluded.version`,
            lastActivityAt: sql`excluded.last_activity_at`,
          },
          setWhere: sql`excluded.version > ${profiles.version}`,
        }),
    );
  }
  const attributeRows = states.flatMap(({ projectId, state: p }) =>
    p.attributes.map((a) => ({
      projectId,
      profileId: p.profile_id,
      name: a.name,
      type: a.type,
      version: p.version,
      ...attributeColumns(a.value),
    })),
  );
  for (const chunk of rowChunks(attributeRows)) {
    statements.push(
      db
        .insert(profileAttributes)
        .select(selectRows(profileAttributes, chunk))
        .onConflictDoUpdate({
          target: [profileAttributes.projectId, profileAttributes.profileId, profileAttributes.name],
          set: {
            type: sql`excluded.type`,
            valueText: sql`excluded.value_text`,
            valueNum: sql`excluded.value_num`,
            valueJson: sql`excluded.value_json`,
            version: sql`excluded.version`,
          },
          setWhere: sql`excluded.version >= ${profileAttributes.version}`,
        }),
    );
  }
  const keys = JSON.stringify(states.map(({ projectId, state }) => [projectId, state.profile_id]));
  statements.push(
    db.delete(profileAttributes).where(
      sql`(${profileAttributes.projectId}, ${profileAttributes.profileId}) IN (SELECT value->>'$[0]', value->>'$[1]' FROM json_each(${keys}))
          AND ${profileAttributes.version} < (SELECT ${profiles.version} FROM ${profiles}
            WHERE ${profiles.projectId} = ${profileAttributes.projectId} AND ${profiles.profileId} = ${profileAttributes.profileId})`,
    ),
  );
  return statements;
}

function installationStatements(db: DrizzleD1Database, states: { projectId: string; state: InstallationProjection }[]) {
  return rowChunks(
    states.map(({ projectId, state: i }) => ({
      projectId,
      installationId: i.installation_id,
      profileId: i.profile_id,
      customId: i.custom_id,
      appId: i.app_id,
      platform: i.platform,
      pushOptin: i.push_optin,
      lastSeenAt: i.last_seen_at,
      version: i.version,
    })),
  ).map((chunk) =>
    db
      .insert(installations)
      .select(selectRows(installations, chunk))
      .onConflictDoUpdate({
        target: [installations.projectId, installations.installationId],
        set: {
          profileId: sql`excluded.profile_id`,
          customId: sql`excluded.custom_id`,
          appId: sql`excluded.app_id`,
          platform: sql`excluded.platform`,
          pushOptin: sql`excluded.push_optin`,
          lastSeenAt: sql`excluded.last_seen_at`,
          version: sql`excluded.version`,
        },
        setWhere: sql`excluded.version > ${installations.version}`,
      }),
  );
}

/**
 * The messages one batch may merge: the same subject in the same project. Installation IDs
 * come from devices and custom IDs from customers, so two projects can share either.
 */
export function coalescingKey(m: ProjectionMessage): string {
  return m.type === "profile_changed"
    ? JSON.stringify(["p", m.project_id, m.holder.kind, m.holder.id, m.profile_id])
    : JSON.stringify(["i", m.project_id, m.installation_id]);
}

/**
 * Projects a batch of change messages into D1: each one re-reads its subject's current state
 * (so coalesced changes cost one message) and writes it in one D1 transaction.
 */
export async function project(env: Env, messages: ProjectionMessage[]): Promise<void> {
  const unique = new Map(
    // A profile moving at sign-in is reported by both holders: keep one message per holder.
    messages.map((m) => [coalescingKey(m), m]),
  );
  const states = await Promise.all([...unique.values()].map((m) => fetchState(env, m)));
  const db = drizzle(env.DB);
  const profileStates: { projectId: string; state: ProfileProjection }[] = [];
  const installationStates: { projectId: string; state: InstallationProjection }[] = [];
  for (const s of states) {
    // Null: the subject moved (a profile adopted at sign-in) or is gone; its new holder reports.
    if (!s.state) continue;
    if (s.kind === "installation")
      installationStates.push({ projectId: s.projectId, state: s.state as InstallationProjection });
    else profileStates.push({ projectId: s.projectId, state: s.state as ProfileProjection });
  }
  const statements = [
    ...(profileStates.length ? profileStatements(db, profileStates) : []),
    ...(installationStates.length ? installationStatements(db, installationStates) : []),
  ];
  const [first, ...rest] = statements;
  if (first) await db.batch([first, ...rest]);
}
