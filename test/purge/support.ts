import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { stageEvents } from "../../src/exports/staging";
import { removeProfile } from "../../src/privacy/remove";
import { stagedPaging } from "../../src/privacy/staged-erasure";
import type { EventsMessage } from "../../src/queue/messages";
import { adminHeaders, call, createProject, type Project } from "../support/harness";
import { batch, identify, profileBy } from "../support/identity";
import { shardDb } from "../support/shards";
import { stagedEvents } from "../support/staged";

export const DAY = 86_400_000;

export interface PurgeJob {
  request_id: string;
  status: "pending" | "done";
  dry_run: boolean;
  as_of: string;
  results: { project_id: string; profile_id: string; kind: string; outcome: string; detail: Record<string, unknown> }[];
}

export async function purge(body: Record<string, unknown>): Promise<PurgeJob> {
  const res = await call("POST", "/v1/admin/jobs/purge", { headers: adminHeaders, body });
  expect(res.status).toBe(202);
  const { job, request_id } = await res.json<{ job: string; request_id: string }>();
  expect(job).toBe("purge");
  return finished(request_id);
}

export async function finished(id: string): Promise<PurgeJob> {
  return vi.waitFor(
    async () => {
      const res = await call("GET", `/v1/admin/jobs/purge/${id}`, { headers: adminHeaders });
      expect(res.status).toBe(200);
      const body = await res.json<PurgeJob>();
      expect(body.status).toBe("done");
      return body;
    },
    { timeout: 20_000, interval: 100 },
  );
}

export const resultsFor = (job: PurgeJob, p: Project) => job.results.filter((r) => r.project_id === p.projectId);

export async function setInactivity(p: Project, days: number) {
  const res = await call("PATCH", `/v1/admin/projects/${p.projectId}`, {
    headers: adminHeaders,
    body: { inactivity_days: days },
  });
  expect(res.status).toBe(200);
}

/** Waits until D1 shows the profile with the holder the purge will ask, and returns its row. */
export async function projectedRow(p: Project, profileId: string, state = "active") {
  return vi.waitFor(
    async () => {
      const row = await (await shardDb(p.projectId))
        .prepare(
          "SELECT last_activity_at, holder_kind, holder_id, state FROM profiles WHERE project_id = ? AND profile_id = ?",
        )
        .bind(p.projectId, profileId)
        .first<{ last_activity_at: string; holder_kind: string | null; holder_id: string | null; state: string }>();
      expect(row?.state).toBe(state);
      expect(row?.holder_kind).not.toBeNull();
      return row as NonNullable<typeof row>;
    },
    { timeout: 20_000, interval: 100 },
  );
}

/** The profile's own last activity, as its object holds it. */
export async function lastActivity(
  p: Project,
  query: { custom_id: string } | { installation_id: string },
): Promise<number> {
  const view = await profileBy(p, query);
  const body = view.body as unknown as { last_activity_at: string };
  return Date.parse(body.last_activity_at);
}

/** A staged event of the profile at 01:30 + `hour` on an old day: one object per hour. */
export function stagedAt(
  p: Project,
  who: { profile_id: string; custom_id: string | null; installation_id: string },
  hour: number,
): EventsMessage {
  return {
    type: "events",
    project_id: p.projectId,
    profile_id: who.profile_id,
    custom_id: who.custom_id,
    installation_id: who.installation_id,
    app_id: p.appId,
    received_at: "2026-10-01T00:00:00.000Z",
    events: [
      {
        id: `old-${who.profile_id}-${hour}`,
        name: "played",
        time: `2026-10-01T${String(hour).padStart(2, "0")}:30:00.000Z`,
        attributes: {},
        label: null,
        tags: [],
        source: "sdk",
      },
    ],
  };
}

export const stagedOf = async (p: Project, profileId: string) =>
  (await stagedEvents(p.projectId)).filter((e) => e.profile_id === profileId).length;

/** The pages (queue messages) a job ran for one project and kind. */
export async function pagesOf(jobId: string, p: Project, kind: "inactive" | "orphan"): Promise<number> {
  const row = await env.DB.prepare(
    "SELECT count(*) AS n FROM purge_pages WHERE job_id = ? AND page LIKE ? AND done = 1",
  )
    .bind(jobId, `${p.projectId}:${kind}:%`)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

/** Runs `body` with the staged-event paging made small: one object read per message. */
export async function withTinyPaging<T>(body: () => Promise<T>): Promise<T> {
  const paging = { ...stagedPaging };
  Object.assign(stagedPaging, { pages: 1, objects: 1 });
  try {
    return await body();
  } finally {
    Object.assign(stagedPaging, paging);
  }
}

/**
 * A signed-in profile inactive for 31 days of a 30-day period, with three staged event objects,
 * left as a purge page that crashed half-way leaves it: a job as of then, the profile removed and
 * tombstoned (D1 no longer nominates it), one staged object deleted, two still in R2.
 */
export async function halfRemoved(customId: string) {
  const p = await createProject();
  await setInactivity(p, 30);
  const device = crypto.randomUUID();
  const signedIn = await batch(p, device, [identify(customId)]);
  await projectedRow(p, signedIn.profile_id);
  const who = { profile_id: signedIn.profile_id, custom_id: customId, installation_id: device };
  await stageEvents(env, [stagedAt(p, who, 1), stagedAt(p, who, 2), stagedAt(p, who, 3)]);
  const asOf = new Date((await lastActivity(p, { custom_id: customId })) + 31 * DAY);
  const jobId = await removeHalfway(p, asOf, { profile_id: signedIn.profile_id, custom_id: customId });
  return { p, signedIn, jobId };
}

/**
 * Records a purge job as of `asOf` and removes `profile` as its page would, with an allowance
 * of one staged object, so the removal is left in progress; the job's ID.
 */
export async function removeHalfway(p: Project, asOf: Date, profile: { profile_id: string; custom_id: string }) {
  const jobId = crypto.randomUUID();
  await env.DB.prepare("INSERT INTO purge_jobs (id, as_of, dry_run, origin, created_at) VALUES (?, ?, 0, 'admin', ?)")
    .bind(jobId, asOf.toISOString(), new Date().toISOString())
    .run();
  const first = await removeProfile(
    env,
    p.projectId,
    { kind: "custom_id", customId: profile.custom_id },
    {
      requestId: `purge:${jobId}:${profile.profile_id}`,
      at: new Date().toISOString(),
      profileId: profile.profile_id,
      inactiveBefore: new Date(asOf.getTime() - 30 * DAY).toISOString(),
    },
    { objects: 1 },
  );
  expect(first.removed).toBe("in_progress");
  return jobId;
}
