import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { stageEvents } from "../../src/exports/staging";
import { PRIVACY_QUEUE } from "../../src/privacy/messages";
import { type PurgeMessage, purgePaging } from "../../src/purge/pages";
import { PURGE_QUEUE } from "../../src/purge/purge.consumer";
import { createProject, type Project } from "../support/harness";
import { attributes, batch, identify, profileBy } from "../support/identity";
import { deliverTo } from "../support/queues";
import { shardDb } from "../support/shards";
import {
  DAY,
  finished,
  halfRemoved,
  lastActivity,
  projectedRow,
  purge,
  removeHalfway,
  resultsFor,
  setInactivity,
  stagedAt,
  stagedOf,
  withTinyPaging,
} from "./support";

/** The pages a job ran for one project's inactive profiles: lead pages, and pages of a range of IDs. */
async function pageKeys(jobId: string, p: Project): Promise<{ leads: string[]; ranges: string[] }> {
  const { results } = await env.DB.prepare(
    "SELECT page FROM purge_pages WHERE job_id = ? AND page LIKE ? AND done = 1 ORDER BY page",
  )
    .bind(jobId, `${p.projectId}:inactive:%`)
    .all<{ page: string }>();
  const pages = results.map((r) => r.page.slice(`${p.projectId}:inactive:`.length));
  return { leads: pages.filter((k) => !k.includes("..")), ranges: pages.filter((k) => k.includes("..")) };
}

async function withPaging<T>(paging: Partial<typeof purgePaging>, body: () => Promise<T>): Promise<T> {
  const before = { ...purgePaging };
  Object.assign(purgePaging, paging);
  try {
    return await body();
  } finally {
    Object.assign(purgePaging, before);
  }
}

describe("a project's profiles, purged in ranges", () => {
  it("a lead page splits the nominated profiles into pages of a range each, and the next lead goes on", async () => {
    const p = await createProject();
    await setInactivity(p, 1);
    const sleepers: { device: string; profileId: string }[] = [];
    for (let k = 0; k < 5; k++) {
      const device = crypto.randomUUID();
      const anon = await batch(p, device, [attributes({ k })]);
      await projectedRow(p, anon.profile_id);
      sleepers.push({ device, profileId: anon.profile_id });
    }
    const ids = sleepers.map((s) => s.profileId).sort();
    const last = Math.max(...(await Promise.all(sleepers.map((s) => lastActivity(p, { installation_id: s.device })))));

    // Two profiles a page, two pages a lead: the first lead takes four, the second the fifth.
    const job = await withPaging({ profiles: 2, pagesPerLead: 2 }, () =>
      purge({ as_of: new Date(last + 2 * DAY).toISOString() }),
    );
    expect(
      resultsFor(job, p)
        .map((r) => [r.profile_id, r.outcome])
        .sort(),
    ).toEqual(ids.map((id) => [id, "removed"]));
    for (const s of sleepers) expect((await profileBy(p, { installation_id: s.device })).status).toBe(404);
    const active = await (await shardDb(p.projectId))
      .prepare("SELECT count(*) AS n FROM profiles WHERE project_id = ? AND state = 'active'")
      .bind(p.projectId)
      .first<{ n: number }>();
    expect(active?.n).toBe(0);
    expect(await pageKeys(job.request_id, p)).toEqual({
      leads: ["", ids[3]],
      ranges: [`..${ids[1]}`, `${ids[1]}..${ids[3]}`, `${ids[3]}..${ids[4]}`],
    });
  });

  it("a message resuming a page's removals takes no new ones: the rest of the range waits for the next", async () => {
    const p = await createProject();
    await setInactivity(p, 30);
    const sleepers = [];
    for (const k of [1, 2, 3]) {
      const device = crypto.randomUUID();
      const profile = await batch(p, device, [identify(`bounded-${k}`)]);
      await projectedRow(p, profile.profile_id);
      const who = { profile_id: profile.profile_id, custom_id: `bounded-${k}`, installation_id: device };
      await stageEvents(env, [stagedAt(p, who, k)]);
      sleepers.push(who);
    }
    const ids = sleepers.map((s) => s.profile_id).sort();
    const lastAt = Math.max(...(await Promise.all(sleepers.map((s) => lastActivity(p, { custom_id: s.custom_id })))));
    const jobId = crypto.randomUUID();
    await env.DB.prepare("INSERT INTO purge_jobs (id, as_of, dry_run, origin, created_at) VALUES (?, ?, 0, 'admin', ?)")
      .bind(jobId, new Date(lastAt + 31 * DAY).toISOString(), new Date().toISOString())
      .run();
    // A range of three profiles run two at a time, with one staged object read a message: the
    // first two are resumed over several messages before the third is taken.
    const range: PurgeMessage = {
      type: "purge_profiles",
      job_id: jobId,
      project_id: p.projectId,
      kind: "inactive",
      cursor: null,
      through: ids[2] as string,
    };
    const job = await withPaging({ profiles: 2 }, () =>
      withTinyPaging(async () => {
        expect((await deliverTo(PURGE_QUEUE, [range], { prefix: `bounded-${jobId}-` })).explicitAcks).toHaveLength(1);
        return finished(jobId);
      }),
    );
    expect(
      resultsFor(job, p)
        .map((r) => [r.profile_id, r.outcome])
        .sort(),
    ).toEqual(ids.map((id) => [id, "removed"]));
    for (const s of sleepers) expect(await stagedOf(p, s.profile_id)).toBe(0);
    // The third was taken by a page of its own after the resumed ones, not by a resuming message.
    expect((await pageKeys(jobId, p)).ranges).toContain(`${ids[1]}..${ids[2]}`);
  });

  it("a range page run again finds the removal it left unfinished and deletes the rest of its staged events", async () => {
    // The range page removed the profile, deleted one staged object, then failed before it
    // queued the resume: D1 holds the tombstone (D1 no longer nominates it), R2 still holds events.
    const { p, signedIn, jobId } = await halfRemoved("ranged-sleeper");

    const range: PurgeMessage = {
      type: "purge_profiles",
      job_id: jobId,
      project_id: p.projectId,
      kind: "inactive",
      cursor: null,
      through: signedIn.profile_id,
    };
    const job = await withTinyPaging(async () => {
      const retry = await deliverTo(PURGE_QUEUE, [range], { attempts: 2, prefix: `range-${jobId}-` });
      expect(retry.explicitAcks).toHaveLength(1);
      return finished(jobId);
    });
    const [result] = resultsFor(job, p);
    expect(result).toMatchObject({ profile_id: signedIn.profile_id, kind: "inactive", outcome: "removed" });
    expect(result?.detail.totals).toMatchObject({ "r2.events": 3 });
    expect(await stagedOf(p, signedIn.profile_id)).toBe(0);
  });

  it("a resume queued before pages had ranges finishes its removal, then the project's lead goes on after it", async () => {
    const p = await createProject();
    await setInactivity(p, 30);
    const sleepers = [];
    for (const name of ["resumed-sleeper", "later-sleeper"]) {
      const device = crypto.randomUUID();
      const profile = await batch(p, device, [identify(name)]);
      const row = await projectedRow(p, profile.profile_id);
      sleepers.push({ profile_id: profile.profile_id, custom_id: name, installation_id: device, row });
    }
    sleepers.sort((a, b) => (a.profile_id < b.profile_id ? -1 : 1));
    const [resumed, later] = sleepers as [(typeof sleepers)[0], (typeof sleepers)[0]];
    await stageEvents(env, [stagedAt(p, resumed, 1), stagedAt(p, resumed, 2)]);
    const lastAt = Math.max(...(await Promise.all(sleepers.map((s) => lastActivity(p, { custom_id: s.custom_id })))));
    const asOf = new Date(lastAt + 31 * DAY);
    const jobId = await removeHalfway(p, asOf, resumed);

    // The message an earlier version queued, on the privacy queue: one resumed row, its cursor, no range.
    const legacy = {
      type: "purge_profiles",
      job_id: jobId,
      project_id: p.projectId,
      kind: "inactive",
      cursor: resumed.profile_id,
      resume: {
        row: {
          profileId: resumed.profile_id,
          customId: resumed.custom_id,
          holderKind: resumed.row.holder_kind,
          holderId: resumed.row.holder_id,
        },
        part: 1,
      },
    } satisfies PurgeMessage;
    const job = await withTinyPaging(async () => {
      const out = await deliverTo(PRIVACY_QUEUE, [legacy], { prefix: `legacy-${jobId}-` });
      expect(out.explicitAcks).toHaveLength(1);
      return finished(jobId);
    });
    expect(
      resultsFor(job, p)
        .map((r) => [r.profile_id, r.outcome])
        .sort(),
    ).toEqual(sleepers.map((s) => [s.profile_id, "removed"]).sort());
    expect(resultsFor(job, p).find((r) => r.profile_id === resumed.profile_id)?.detail.totals).toMatchObject({
      "r2.events": 2,
    });
    expect(await stagedOf(p, resumed.profile_id)).toBe(0);
    // The lead after the resumed profile nominated the later one.
    expect((await pageKeys(jobId, p)).leads).toContain(resumed.profile_id);
    expect(resultsFor(job, p).some((r) => r.profile_id === later.profile_id)).toBe(true);
  });
});
