import { customIdStub, installationStub } from "../identity/identifiers";
import type { ProfileRecord } from "../identity/review";
import type { InstallationView } from "../identity/view";
import { mapBounded } from "../lib/concurrency";
import { eraseProfile, finishRemovals, type Tombstoned } from "./remove";
import { eraseStaged, type StagedBudget, stagedBudget } from "./staged-erasure";
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

/** A remove carried up to its staged events, or ended (`outcome`), or to run again (`null`). */
type RemoveStep = { outcome: Outcome | null } | { row: PrivacyRequestRow; at: string; t: Tombstoned };

async function removeUpToStaged(env: Env, row: PrivacyRequestRow, at: string): Promise<RemoveStep> {
  const result = await eraseProfile(
    env,
    row.projectId,
    row.identifierType === "custom_id"
      ? { kind: "custom_id", customId: row.identifierValue }
      : { kind: "installation", installationId: row.identifierValue },
    { requestId: row.id, at, anonymousOnly: row.identifierType === "installation_id" },
  );
  if ("tombstoned" in result) return { row, at, t: result };
  if (result.removed === "in_progress") return { outcome: null };
  if (result.removed) return { outcome: { status: "done", receipt: { ...result.receipt } } };
  if (result.reason === "custom_id_required") return { outcome: { status: "failed", error: "custom_id_required" } };
  return { outcome: { status: "done", error: "not_found" } };
}

/** A request of a batch: its project and ID. */
export interface RequestRef {
  projectId: string;
  requestId: string;
}

/**
 * Carries out a batch of requests. Removes go up to their staged events one by one, then the
 * removes of each project sweep its staged history together ({@link eraseStaged}): one listing
 * read once for all of them, however many the batch holds, within one allowance of objects for
 * the whole batch. A remove the allowance did not finish goes on in a new message, from its
 * recorded steps. Safe to run again: a final request is left as it is.
 *
 * Per request, in order: true when it reached its final state now, false when it was already
 * final or goes on in a new message, or the error that stopped it (retry that message alone).
 */
export async function processRequests(
  env: Env,
  refs: RequestRef[],
  now: Date,
  budget: StagedBudget = stagedBudget(),
): Promise<(boolean | Error)[]> {
  const at = now.toISOString();
  const results: (boolean | Error)[] = refs.map(() => false);
  const again = async (k: number) => {
    const ref = refs[k] as RequestRef;
    await env.PRIVACY.send({ type: "privacy_request", project_id: ref.projectId, request_id: ref.requestId });
  };
  const sweeping = new Map<string, { k: number; row: PrivacyRequestRow; t: Tombstoned }[]>();
  await mapBounded(
    refs.map((ref, k) => ({ ref, k })),
    6,
    async ({ ref, k }) => {
      try {
        const row = await loadRequest(env, ref.projectId, ref.requestId);
        if (row?.status !== "pending") {
          // Ended by an earlier attempt whose publish may have failed: its outbox row goes out now.
          if (row) await drainOutbox(env, [outboxId(row.id)]);
          return;
        }
        const step =
          row.type === "review" ? { outcome: await review(env, row, at) } : await removeUpToStaged(env, row, at);
        if ("t" in step) {
          sweeping.set(row.projectId, [...(sweeping.get(row.projectId) ?? []), { k, row, t: step.t }]);
        } else if (step.outcome === null) {
          await again(k);
        } else {
          results[k] = await finish(env, row, step.outcome, at);
        }
      } catch (error) {
        results[k] = error instanceof Error ? error : new Error(String(error));
      }
    },
  );
  // One project after another: the allowance is the batch's, so a sweep ends where it runs out.
  for (const [projectId, removes] of sweeping) {
    try {
      const staged = await eraseStaged(
        env,
        projectId,
        removes.map(({ row, t }) => ({ requestId: row.id, profileIds: t.profileIds, at })),
        budget,
      );
      const done = removes.filter((_, j) => staged[j]?.done);
      for (const [j, r] of removes.entries()) if (!staged[j]?.done) await again(r.k);
      const receipts = await finishRemovals(
        env,
        projectId,
        done.map(({ row, t }) => ({ req: { requestId: row.id, at }, t })),
      );
      await mapBounded(
        done.map((r, j) => ({ r, receipt: receipts[j] })),
        6,
        async ({ r, receipt }) => {
          results[r.k] = await finish(env, r.row, { status: "done", receipt: { ...receipt } }, at);
        },
      );
    } catch (error) {
      for (const r of removes) results[r.k] = error instanceof Error ? error : new Error(String(error));
    }
  }
  return results;
}

/**
 * Carries out one request ({@link processRequests}). True when the request reached its final
 * state now.
 */
export async function processRequest(env: Env, projectId: string, requestId: string, now: Date): Promise<boolean> {
  const [result] = await processRequests(env, [{ projectId, requestId }], now);
  if (result instanceof Error) throw result;
  return result === true;
}
