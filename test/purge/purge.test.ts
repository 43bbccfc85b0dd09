import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { stageEvents } from "../../src/exports/staging";
import worker from "../../src/index";
import { PRIVACY_QUEUE } from "../../src/privacy/messages";
import { removeProfile, stagedPaging } from "../../src/privacy/remove";
import type { EventsMessage } from "../../src/queue/messages";
import { adminHeaders, call, createProject, errorOf, type Project, restHeaders, sdkHeaders } from "../support/harness";
import { attributes, batch, identify, installationStub, profileBy, querySql } from "../support/identity";
import { deliverTo } from "../support/queues";
import { stagedEvents } from "../support/staged";

const DAY = 86_400_000;

interface PurgeJob {
  request_id: string;
  status: "pending" | "done";
  dry_run: boolean;
  as_of: string;
  results: { project_id: string; profile_id: string; kind: string; outcome: string; detail: Record<string, unknown> }[];
}

async function purge(body: Record<string, unknown>): Promise<PurgeJob> {
  const res = await call("POST", "/v1/admin/jobs/purge", { headers: adminHeaders, body });
  expect(res.status).toBe(202);
  const { job, request_id } = await res.json<{ job: string; request_id: string }>();
  expect(job).toBe("purge");
  return finished(request_id);
}

async function finished(id: string): Promise<PurgeJob> {
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

const resultsFor = (job: PurgeJob, p: Project) => job.results.filter((r) => r.project_id === p.projectId);

async function setInactivity(p: Project, days: number) {
  const res = await call("PATCH", `/v1/admin/projects/${p.projectId}`, {
    headers: adminHeaders,
    body: { inactivity_days: days },
  });
  expect(res.status).toBe(200);
}

/** Waits until D1 shows the profile with the holder the purge will ask, and returns its row. */
async function projectedRow(p: Project, profileId: string, state = "active") {
  return vi.waitFor(
    async () => {
      const row = await env.DB.prepare(
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
async function lastActivity(p: Project, query: { custom_id: string } | { installation_id: string }): Promise<number> {
  const view = await profileBy(p, query);
  const body = view.body as unknown as { last_activity_at: string };
  return Date.parse(body.last_activity_at);
}

describe("inactive-profile purge", () => {
  it("removes a profile inactive for the project's period, and keeps one a day short of it", async () => {
    const p = await createProject();
    await setInactivity(p, 30);
    const device = crypto.randomUUID();
    const signedIn = await batch(p, device, [identify("sleeper"), attributes({ a: 1 })]);
    await projectedRow(p, signedIn.profile_id);
    const last = await lastActivity(p, { custom_id: "sleeper" });

    const dayShort = await purge({ as_of: new Date(last + 29 * DAY).toISOString() });
    expect(resultsFor(dayShort, p)).toEqual([]);
    // Exactly the period is not "more than": still kept.
    const boundary = await purge({ as_of: new Date(last + 30 * DAY).toISOString() });
    expect(resultsFor(boundary, p)).toEqual([]);
    expect((await profileBy(p, { custom_id: "sleeper" })).status).toBe(200);

    const past = await purge({ as_of: new Date(last + 30 * DAY + 1000).toISOString() });
    const results = resultsFor(past, p);
    expect(results.map((r) => [r.profile_id, r.kind, r.outcome])).toEqual([
      [signedIn.profile_id, "inactive", "removed"],
    ]);
    expect(results[0]?.detail).toMatchObject({ profile_id: signedIn.profile_id, installation_ids: [device] });
    expect((await profileBy(p, { custom_id: "sleeper" })).status).toBe(404);
    expect((await profileBy(p, { installation_id: device })).status).toBe(404);
    const tomb = await env.DB.prepare("SELECT state FROM profiles WHERE project_id = ? AND profile_id = ?")
      .bind(p.projectId, signedIn.profile_id)
      .first<{ state: string }>();
    expect(tomb?.state).toBe("removed");
    // The device comes back as someone new.
    const back = await batch(p, device, []);
    expect(back.profile_id).not.toBe(signedIn.profile_id);
    expect(back.custom_id).toBeNull();
  });

  it("spares a profile whose own activity is newer than the projection says", async () => {
    const p = await createProject();
    await setInactivity(p, 30);
    const device = crypto.randomUUID();
    const anon = await batch(p, device, [attributes({ b: 1 })]);
    await projectedRow(p, anon.profile_id);
    // The projection lags: D1 believes the profile has been idle for years.
    await env.DB.prepare(
      "UPDATE profiles SET last_activity_at = '2020-01-01T00:00:00.000Z' WHERE project_id = ? AND profile_id = ?",
    )
      .bind(p.projectId, anon.profile_id)
      .run();
    const job = await purge({ as_of: new Date(Date.now() + DAY).toISOString() });
    expect(resultsFor(job, p).map((r) => [r.profile_id, r.outcome, r.detail.reason])).toEqual([
      [anon.profile_id, "spared", "active"],
    ]);
    expect((await profileBy(p, { installation_id: device })).body?.profile_id).toBe(anon.profile_id);
  });

  it("deletes an orphan 7 days after it was orphaned, from its object and from D1", async () => {
    const p = await createProject();
    await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [{ identifiers: { custom_id: "lander" }, attributes: { x: 1 } }],
    });
    const device = crypto.randomUUID();
    const anon = await batch(p, device, [attributes({ before_login: true })]);
    await batch(p, device, [identify("lander")]);
    await projectedRow(p, anon.profile_id, "orphaned");
    const [orphan] = await querySql(
      installationStub(p.projectId, device),
      "SELECT orphaned_at FROM profiles WHERE profile_id = ?",
      anon.profile_id,
    );
    const orphanedAt = Date.parse(String(orphan?.orphaned_at));

    const early = await purge({ as_of: new Date(orphanedAt + 7 * DAY).toISOString() });
    expect(resultsFor(early, p).filter((r) => r.outcome === "removed")).toEqual([]);
    expect(
      await querySql(
        installationStub(p.projectId, device),
        "SELECT 1 FROM profiles WHERE profile_id = ?",
        anon.profile_id,
      ),
    ).toHaveLength(1);

    const late = await purge({ as_of: new Date(orphanedAt + 7 * DAY + 1000).toISOString() });
    expect(resultsFor(late, p).map((r) => [r.profile_id, r.kind, r.outcome])).toEqual([
      [anon.profile_id, "orphan", "removed"],
    ]);
    expect(
      await querySql(
        installationStub(p.projectId, device),
        "SELECT 1 FROM profiles WHERE profile_id = ?",
        anon.profile_id,
      ),
    ).toEqual([]);
    const row = await env.DB.prepare("SELECT state FROM profiles WHERE project_id = ? AND profile_id = ?")
      .bind(p.projectId, anon.profile_id)
      .first<{ state: string }>();
    expect(row?.state).toBe("removed");
    // The installation and the signed-in profile it uses stay.
    expect((await profileBy(p, { installation_id: device })).body?.custom_id).toBe("lander");
  });

  it("a dry run reports what would go and deletes nothing", async () => {
    const p = await createProject();
    await setInactivity(p, 1);
    const device = crypto.randomUUID();
    const anon = await batch(p, device, [attributes({ c: 1 })]);
    await projectedRow(p, anon.profile_id);
    const last = await lastActivity(p, { installation_id: device });
    const job = await purge({ as_of: new Date(last + 2 * DAY).toISOString(), dry_run: true });
    expect(job.dry_run).toBe(true);
    expect(resultsFor(job, p).map((r) => [r.profile_id, r.outcome])).toEqual([[anon.profile_id, "would_remove"]]);
    expect((await profileBy(p, { installation_id: device })).body?.profile_id).toBe(anon.profile_id);
    const row = await env.DB.prepare("SELECT state FROM profiles WHERE project_id = ? AND profile_id = ?")
      .bind(p.projectId, anon.profile_id)
      .first<{ state: string }>();
    expect(row?.state).toBe("active");
  });

  it("the 03:30 cron starts a purge as of its own time", async () => {
    const before = await env.DB.prepare("SELECT count(*) AS n FROM purge_jobs WHERE origin = 'cron'").first<{
      n: number;
    }>();
    const controller = createScheduledController({
      scheduledTime: new Date("2026-01-01T03:30:00Z"),
      cron: "30 3 * * *",
    });
    const waits: Promise<unknown>[] = [];
    await worker.scheduled?.(controller, env, {
      waitUntil: (p: Promise<unknown>) => waits.push(p),
      passThroughOnException: () => {},
    } as unknown as ExecutionContext);
    await Promise.all(waits);
    const job = await env.DB.prepare(
      "SELECT id, as_of FROM purge_jobs WHERE origin = 'cron' ORDER BY id DESC LIMIT 1",
    ).first<{
      id: string;
      as_of: string;
    }>();
    const after = await env.DB.prepare("SELECT count(*) AS n FROM purge_jobs WHERE origin = 'cron'").first<{
      n: number;
    }>();
    expect((after?.n ?? 0) - (before?.n ?? 0)).toBe(1);
    expect(job?.as_of).toBe("2026-01-01T03:30:00.000Z");
    expect((await finished(job?.id ?? "")).status).toBe("done");
  });
});

/** A staged event of the profile at 01:30 + `hour` on an old day: one object per hour. */
function stagedAt(
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

const stagedOf = async (p: Project, profileId: string) =>
  (await stagedEvents(p.projectId)).filter((e) => e.profile_id === profileId).length;

/** The pages (queue messages) a job ran for one project and kind. */
async function pagesOf(jobId: string, p: Project, kind: "inactive" | "orphan"): Promise<number> {
  const row = await env.DB.prepare(
    "SELECT count(*) AS n FROM purge_pages WHERE job_id = ? AND page LIKE ? AND done = 1",
  )
    .bind(jobId, `${p.projectId}:${kind}:%`)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

/** Runs `body` with the staged-event paging made small: one object read per message. */
async function withTinyPaging<T>(body: () => Promise<T>): Promise<T> {
  const paging = { ...stagedPaging };
  Object.assign(stagedPaging, { pages: 1, objects: 1 });
  try {
    return await body();
  } finally {
    Object.assign(stagedPaging, paging);
  }
}

describe("a purge with much staged history", () => {
  it("deletes an inactive profile's staged events over several messages, and the receipt counts them all", async () => {
    const p = await createProject();
    await setInactivity(p, 30);
    const device = crypto.randomUUID();
    const signedIn = await batch(p, device, [identify("long-sleeper")]);
    await projectedRow(p, signedIn.profile_id);
    const who = { profile_id: signedIn.profile_id, custom_id: "long-sleeper", installation_id: device };
    await stageEvents(env, [stagedAt(p, who, 1), stagedAt(p, who, 2), stagedAt(p, who, 3)]);
    expect(await stagedOf(p, signedIn.profile_id)).toBe(3);
    const last = await lastActivity(p, { custom_id: "long-sleeper" });

    const job = await withTinyPaging(() => purge({ as_of: new Date(last + 31 * DAY).toISOString() }));
    const [result] = resultsFor(job, p);
    expect(result).toMatchObject({ profile_id: signedIn.profile_id, kind: "inactive", outcome: "removed" });
    expect(result?.detail.totals).toMatchObject({ "r2.events": 3 });
    expect(JSON.stringify(result?.detail)).not.toContain("next");
    expect(await stagedOf(p, signedIn.profile_id)).toBe(0);
    // One object read per message: the first page and at least two more carried the deletion.
    expect(await pagesOf(job.request_id, p, "inactive")).toBeGreaterThanOrEqual(3);
  });

  it("deletes an orphan's staged events too, over several messages, and keeps the signed-in profile's", async () => {
    const p = await createProject();
    await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [{ identifiers: { custom_id: "returner" }, attributes: { x: 1 } }],
    });
    const device = crypto.randomUUID();
    const anon = await batch(p, device, [attributes({ before_login: true })]);
    const signedIn = await batch(p, device, [identify("returner")]);
    await projectedRow(p, anon.profile_id, "orphaned");
    const orphanWho = { profile_id: anon.profile_id, custom_id: null, installation_id: device };
    const keptWho = { profile_id: signedIn.profile_id, custom_id: "returner", installation_id: device };
    // The orphan's events alone in two objects, and shared with the signed-in profile in a third.
    await stageEvents(env, [stagedAt(p, orphanWho, 1), stagedAt(p, orphanWho, 2)]);
    await stageEvents(env, [stagedAt(p, orphanWho, 3), stagedAt(p, keptWho, 3)]);
    expect(await stagedOf(p, anon.profile_id)).toBe(3);
    const [orphan] = await querySql(
      installationStub(p.projectId, device),
      "SELECT orphaned_at FROM profiles WHERE profile_id = ?",
      anon.profile_id,
    );
    const orphanedAt = Date.parse(String(orphan?.orphaned_at));

    const job = await withTinyPaging(() => purge({ as_of: new Date(orphanedAt + 8 * DAY).toISOString() }));
    const [result] = resultsFor(job, p).filter((r) => r.kind === "orphan");
    expect(result).toMatchObject({ profile_id: anon.profile_id, outcome: "removed" });
    expect(result?.detail.staged).toEqual({ events: 3 });
    expect(await stagedOf(p, anon.profile_id)).toBe(0);
    expect(await stagedOf(p, signedIn.profile_id)).toBe(1);
    expect(await pagesOf(job.request_id, p, "orphan")).toBeGreaterThanOrEqual(3);
  });
});

describe("a purge page's allowance of staged objects", () => {
  it("is shared by its profiles: once spent, the rest of the page goes on in the next message", async () => {
    const p = await createProject();
    await setInactivity(p, 30);
    const sleepers = [];
    for (const k of [1, 2, 3]) {
      const device = crypto.randomUUID();
      const profile = await batch(p, device, [identify(`shared-${k}`)]);
      await projectedRow(p, profile.profile_id);
      sleepers.push({ profile_id: profile.profile_id, custom_id: `shared-${k}`, installation_id: device });
    }
    // One object holding all three profiles' events: every removal reads it.
    await stageEvents(
      env,
      sleepers.map((who) => stagedAt(p, who, 1)),
    );
    const last = Math.max(...(await Promise.all(sleepers.map((s) => lastActivity(p, { custom_id: s.custom_id })))));
    const paging = { ...stagedPaging };
    // Two objects a message: two removals, then the page hands on.
    Object.assign(stagedPaging, { pages: 1, objects: 2 });
    let job: PurgeJob;
    try {
      job = await purge({ as_of: new Date(last + 31 * DAY).toISOString() });
    } finally {
      Object.assign(stagedPaging, paging);
    }
    expect(
      resultsFor(job, p)
        .map((r) => [r.profile_id, r.outcome])
        .sort(),
    ).toEqual(sleepers.map((s) => [s.profile_id, "removed"]).sort());
    for (const s of sleepers) expect(await stagedOf(p, s.profile_id)).toBe(0);
    expect(await pagesOf(job.request_id, p, "inactive")).toBeGreaterThanOrEqual(2);
  });
});

describe("a purge page retried after it wrote a tombstone", () => {
  it("finds the removal it left unfinished and deletes the rest of the staged events", async () => {
    const p = await createProject();
    await setInactivity(p, 30);
    const device = crypto.randomUUID();
    const signedIn = await batch(p, device, [identify("crashed-sleeper")]);
    await projectedRow(p, signedIn.profile_id);
    const who = { profile_id: signedIn.profile_id, custom_id: "crashed-sleeper", installation_id: device };
    await stageEvents(env, [stagedAt(p, who, 1), stagedAt(p, who, 2), stagedAt(p, who, 3)]);
    const asOf = new Date((await lastActivity(p, { custom_id: "crashed-sleeper" })) + 31 * DAY);
    // A job whose page removed the profile, deleted one staged object, then failed before it
    // queued the resume: D1 holds the tombstone, R2 still holds events.
    const jobId = crypto.randomUUID();
    await env.DB.prepare("INSERT INTO purge_jobs (id, as_of, dry_run, origin, created_at) VALUES (?, ?, 0, 'admin', ?)")
      .bind(jobId, asOf.toISOString(), new Date().toISOString())
      .run();
    const first = await removeProfile(
      env,
      p.projectId,
      { kind: "custom_id", customId: "crashed-sleeper" },
      {
        requestId: `purge:${jobId}:${signedIn.profile_id}`,
        at: new Date().toISOString(),
        profileId: signedIn.profile_id,
        inactiveBefore: new Date(asOf.getTime() - 30 * DAY).toISOString(),
      },
      { objects: 1 },
    );
    expect(first.removed).toBe("in_progress");
    expect(await stagedOf(p, signedIn.profile_id)).toBeGreaterThan(0);

    const job = await withTinyPaging(async () => {
      const retry = await deliverTo(
        PRIVACY_QUEUE,
        [{ type: "purge_profiles", job_id: jobId, project_id: p.projectId, kind: "inactive", cursor: null }],
        { attempts: 2, prefix: `retry-${jobId}-` },
      );
      expect(retry.explicitAcks).toHaveLength(1);
      return finished(jobId);
    });
    const [result] = resultsFor(job, p);
    expect(result).toMatchObject({ profile_id: signedIn.profile_id, kind: "inactive", outcome: "removed" });
    expect(result?.detail.totals).toMatchObject({ "r2.events": 3 });
    expect(await stagedOf(p, signedIn.profile_id)).toBe(0);
  });
});

describe("purge job: errors and security", () => {
  it.each([
    [{ as_of: "yesterday" }, "as_of"],
    [{ dry_run: "yes" }, "dry_run"],
    [{ dry_run: true, extra: 1 }, "extra"],
  ])("refuses %j and starts nothing", async (body, path) => {
    const before = await env.DB.prepare("SELECT count(*) AS n FROM purge_jobs").first<{ n: number }>();
    const res = await call("POST", "/v1/admin/jobs/purge", { headers: adminHeaders, body });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).issues?.map((i) => i.path)).toContain(path);
    const after = await env.DB.prepare("SELECT count(*) AS n FROM purge_jobs").first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
  });

  it("refuses an unknown job and an unknown job ID", async () => {
    expect((await call("POST", "/v1/admin/jobs/vacuum", { headers: adminHeaders, body: {} })).status).toBe(400);
    const res = await call("GET", `/v1/admin/jobs/purge/${crypto.randomUUID()}`, { headers: adminHeaders });
    expect(res.status).toBe(404);
  });

  it("a REST key, an SDK key or no key cannot run or read a purge", async () => {
    const p = await createProject();
    const before = await env.DB.prepare("SELECT count(*) AS n FROM purge_jobs").first<{ n: number }>();
    for (const [headers, status] of [
      [restHeaders(p), 403],
      [sdkHeaders(p), 403],
      [{}, 401],
    ] as const) {
      const res = await call("POST", "/v1/admin/jobs/purge", { headers, body: { dry_run: true } });
      expect(res.status).toBe(status);
      expect((await call("GET", `/v1/admin/jobs/purge/${crypto.randomUUID()}`, { headers })).status).toBe(status);
    }
    const after = await env.DB.prepare("SELECT count(*) AS n FROM purge_jobs").first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
  });
});
