import type { ProfileRecord } from "../identity/review";
import type { InstallationView } from "../identity/view";
import { customIdStub, installationStub, removeProfile } from "./remove";
import { archiveKey, drainOutbox, finish, loadRequest, outboxId, type PrivacyRequestRow } from "./store";

type Outcome = Parameters<typeof finish>[2];

const ARCHIVE_INSTALLATIONS = 1000;

/** The archive of a review (SPEC §5): everything held on the profile. */
export interface Archive {
  request_id: string;
  project_id: string;
  generated_at: string;
  identifier: { type: string; value: string };
  profile_id: string;
  identifiers: { custom_id: string | null; installation_ids: string[] };
  profile: Omit<ProfileRecord, "attributes" | "events" | "identity_history">;
  installations: InstallationView[];
  attributes: ProfileRecord["attributes"];
  events: ProfileRecord["events"];
  identity_history: ProfileRecord["identity_history"];
}

/**
 * Finds the profile as Batch does: a custom ID reaches its profile; an installation reaches
 * only an anonymous profile (one holding a custom ID must be asked for by that custom ID).
 */
async function collect(
  env: Env,
  row: PrivacyRequestRow,
): Promise<{ record: ProfileRecord; installations: InstallationView[] } | { error: string }> {
  if (row.identifierType === "custom_id") {
    const stub = customIdStub(env, row.projectId, row.identifierValue);
    // Every installation, up to what one archive reasonably lists.
    const held = await stub.view(ARCHIVE_INSTALLATIONS);
    if (!held) return { error: "not_found" };
    const record = await stub.review(held.profile.profile_id);
    if (!record) return { error: "not_found" };
    const described = await Promise.all(
      held.installations.members.map((m) => installationStub(env, row.projectId, m.installationId).describe()),
    );
    const installations = described.flatMap((d) =>
      d && d.binding.customId === row.identifierValue ? [d.installation] : [],
    );
    return { record, installations };
  }
  const stub = installationStub(env, row.projectId, row.identifierValue);
  const described = await stub.describe();
  if (!described) return { error: "not_found" };
  if (described.binding.customId !== null) return { error: "custom_id_required" };
  const record = await stub.review(described.binding.profileId);
  if (!record) return { error: "not_found" };
  return { record, installations: [described.installation] };
}

async function review(env: Env, row: PrivacyRequestRow, at: string): Promise<Outcome> {
  const found = await collect(env, row);
  if ("error" in found) return { status: found.error === "not_found" ? "done" : "failed", error: found.error };
  const { attributes, events, identity_history, ...profile } = found.record;
  const archive: Archive = {
    request_id: row.id,
    project_id: row.projectId,
    generated_at: at,
    identifier: { type: row.identifierType, value: row.identifierValue },
    profile_id: profile.profile_id,
    identifiers: {
      custom_id: profile.custom_id,
      installation_ids: found.installations.map((i) => i.installation_id),
    },
    profile,
    installations: found.installations,
    attributes,
    events,
    identity_history,
  };
  const key = archiveKey(row.projectId, row.id);
  await env.EXPORTS.put(key, JSON.stringify(archive), { httpMetadata: { contentType: "application/json" } });
  return { status: "done", archiveKey: key };
}

async function remove(env: Env, row: PrivacyRequestRow, at: string): Promise<Outcome | null> {
  const result = await removeProfile(
    env,
    row.projectId,
    row.identifierType === "custom_id"
      ? { kind: "custom_id", customId: row.identifierValue }
      : { kind: "installation", installationId: row.identifierValue },
    { requestId: row.id, at, anonymousOnly: row.identifierType === "installation_id" },
  );
  if (result.removed === "in_progress") return null;
  if (result.removed) return { status: "done", receipt: { ...result.receipt } };
  if (result.reason === "custom_id_required") return { status: "failed", error: "custom_id_required" };
  return { status: "done", error: "not_found" };
}

/**
 * Carries out one request. Safe to run again: a final request is left as it is, a remove
 * resumes from its recorded steps. True when the request reached its final state now.
 */
export async function processRequest(env: Env, projectId: string, requestId: string, now: Date): Promise<boolean> {
  const row = await loadRequest(env, projectId, requestId);
  if (row?.status !== "pending") {
    // Ended by an earlier attempt whose publish may have failed: its outbox row goes out now.
    if (row) await drainOutbox(env, [outboxId(row.id)]);
    return false;
  }
  const at = now.toISOString();
  const outcome = row.type === "review" ? await review(env, row, at) : await remove(env, row, at);
  if (outcome === null) {
    // Staged events remain: the same request goes on in a new message, from its recorded steps.
    await env.PRIVACY.send({ type: "privacy_request", project_id: projectId, request_id: requestId });
    return false;
  }
  return finish(env, row, outcome, at);
}
