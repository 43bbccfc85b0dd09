import { drizzle } from "drizzle-orm/d1";
import { customIdObjectName, installationObjectName } from "../identity/identifiers";
import { sweepRemovedInstallations } from "../privacy/erase-d1";
import type { InstallationProjection, ProfileProjection, ProjectionMessage } from "../queue/messages";
import {
  type InstallationState,
  installationStatements,
  type Preparable,
  type ProfileState,
  prepare,
  profileStatements,
} from "./statements";

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
  return { kind: "profile" as const, projectId: m.project_id, state, holder: m.holder };
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
  const profileStates: ProfileState[] = [];
  const installationStates: InstallationState[] = [];
  for (const s of states) {
    // Null: the subject moved (a profile adopted at sign-in) or is gone; its new holder reports.
    if (!s.state) continue;
    if (s.kind === "installation")
      installationStates.push({ projectId: s.projectId, state: s.state as InstallationProjection });
    else if ("holder" in s)
      profileStates.push({ projectId: s.projectId, state: s.state as ProfileProjection, holder: s.holder });
  }
  const statements = [
    ...profileStatements(profileStates),
    ...installationStatements(installationStates),
    // An installation read before its profile was removed must not outlive the removal.
    ...sweepRemovedInstallations(
      db,
      installationStates.map((s) => ({ projectId: s.projectId, profileId: s.state.profile_id })),
    ),
  ];
  // The sweep is a drizzle delete: it renders itself with `toSQL()`.
  if (statements.length) await env.DB.batch(statements.map((s) => prepare(env.DB, s as Preparable)));
}
