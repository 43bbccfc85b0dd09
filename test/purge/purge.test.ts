import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { stageEvents } from "../../src/exports/staging";
import worker from "../../src/index";
import { stagedPaging } from "../../src/privacy/staged-erasure";
import { PURGE_QUEUE } from "../../src/purge/purge.consumer";
import { adminHeaders, call, createProject, errorOf, type Project, restHeaders, sdkHeaders } from "../support/harness";
import { attributes, batch, identify, installationStub, profileBy, querySql } from "../support/identity";
import { deliverTo } from "../support/queues";
import { shardDb } from "../support/shards";
import {
  DAY,
  finished,
  halfRemoved,
  lastActivity,
  type PurgeJob,
  pagesOf,
  projectedRow,
  purge,
  resultsFor,
  setInactivity,
  stagedAt,
  stagedOf,
  withTinyPaging,
} from "./support";

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
    const tomb = await (await shardDb(p.projectId))
      .prepare("SELECT state FROM profiles WHERE project_id = ? AND profile_id = ?")
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
    await (await shardDb(p.projectId))
      .prepare(
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
    const row = await (await shardDb(p.projectId))
      .prepare("SELECT state FROM profiles WHERE project_id = ? AND profile_id = ?")
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
    const row = await (await shardDb(p.projectId))
      .prepare("SELECT state FROM profiles WHERE project_id = ? AND profile_id = ?")
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

describe("a purge page's sweep of staged events", () => {
  /** Three inactive profiles, each with one staged object of its own; returns them and the purge's `as_of`. */
  async function threeSleepers(p: Project) {
    await setInactivity(p, 30);
    const sleepers = [];
    for (const k of [1, 2, 3]) {
      const device = crypto.randomUUID();
      const profile = await batch(p, device, [identify(`swept-${k}`)]);
      await projectedRow(p, profile.profile_id);
      const who = { profile_id: profile.profile_id, custom_id: `swept-${k}`, installation_id: device };
      await stageEvents(env, [stagedAt(p, who, k)]);
      sleepers.push(who);
    }
    const last = Math.max(...(await Promise.all(sleepers.map((s) => lastActivity(p, { custom_id: s.custom_id })))));
    return { sleepers, asOf: new Date(last + 31 * DAY).toISOString() };
  }

  async function purgeWithAllowance(asOf: string, objects: number): Promise<PurgeJob> {
    const paging = { ...stagedPaging };
    Object.assign(stagedPaging, { pages: 1, objects });
    try {
      return await purge({ as_of: asOf });
    } finally {
      Object.assign(stagedPaging, paging);
    }
  }

  function expectAllRemoved(job: PurgeJob, p: Project, sleepers: { profile_id: string }[]) {
    const results = resultsFor(job, p);
    expect(results.map((r) => [r.profile_id, r.outcome]).sort()).toEqual(
      sleepers.map((s) => [s.profile_id, "removed"]).sort(),
    );
    // Each receipt counts its own profile's event, though one listing served them all.
    for (const r of results) expect(r.detail.totals).toMatchObject({ "r2.events": 1 });
  }

  it("lists the project's staged objects once for all its profiles", async () => {
    const p = await createProject();
    const { sleepers, asOf } = await threeSleepers(p);
    // Three objects a message: one listing reads the three objects once for the three removals.
    const job = await purgeWithAllowance(asOf, 3);
    expectAllRemoved(job, p, sleepers);
    for (const s of sleepers) expect(await stagedOf(p, s.profile_id)).toBe(0);
    // The project's lead page and a single page of profiles: no removal needed a message more.
    expect(await pagesOf(job.request_id, p, "inactive")).toBe(2);
  });

  it("once its allowance is spent, goes on in the next message for every removal of the page", async () => {
    const p = await createProject();
    const { sleepers, asOf } = await threeSleepers(p);
    const job = await purgeWithAllowance(asOf, 2);
    expectAllRemoved(job, p, sleepers);
    for (const s of sleepers) expect(await stagedOf(p, s.profile_id)).toBe(0);
    // The lead, the page that read two objects, and the one that resumed its three removals.
    expect(await pagesOf(job.request_id, p, "inactive")).toBe(3);
  });
});

describe("a purge page retried after it wrote a tombstone", () => {
  it("finds the removal it left unfinished and deletes the rest of the staged events", async () => {
    // A job whose page removed the profile, deleted one staged object, then failed before it
    // queued the resume: D1 holds the tombstone, R2 still holds events.
    const { p, signedIn, jobId } = await halfRemoved("crashed-sleeper");
    expect(await stagedOf(p, signedIn.profile_id)).toBeGreaterThan(0);

    const job = await withTinyPaging(async () => {
      const retry = await deliverTo(
        PURGE_QUEUE,
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
