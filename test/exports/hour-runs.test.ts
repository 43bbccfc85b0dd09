import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runHour, runMerge, writeFile } from "../../src/exports/daily";
import type { ExportMessage } from "../../src/exports/exports.messages";
import { type HourLimits, runKey, runRowsKey } from "../../src/exports/hour-runs";
import { hourPrefix, type StagedEvent, toNdjson } from "../../src/exports/staging";
import { createProject } from "../support/harness";
import { shardDb } from "../support/shards";
import { days, download } from "./helpers";

const HOUR = 13;
const OBJECTS = 6;
const EVENTS_PER_OBJECT = 30;
/** Small enough that the hour takes sub-runs, continuations and two levels of merging. */
const SMALL: HourLimits = { subRunEvents: 25, subRunsPerMessage: 2, fanIn: 2 };

type Queued = ExportMessage;

/** Runs one hour's messages to the end, as the queue would, and reports what it saw. */
async function sortOneHour(
  job: string,
  base: Omit<Extract<Queued, { type: "daily_hour" }>, "type" | "job">,
  limits?: HourLimits,
) {
  const queue: Queued[] = [{ type: "daily_hour", job, ...base }];
  const seen: Queued[] = [];
  const quiet = { sendBatch: async (items: { body: Queued }[]) => queue.push(...items.map((i) => i.body)) };
  const testEnv = { ...env, EXPORT_TASKS: quiet } as unknown as Env;
  let largestSubRun = 0;
  for (let msg = queue.shift(); msg; msg = queue.shift()) {
    seen.push(msg);
    if (msg.type === "daily_hour") await runHour(testEnv, msg, limits);
    else if (msg.type === "daily_merge") {
      for (let n = 0; n < msg.count; n++) {
        const key = `exports-work/${job}/${base.app_id}/sub/${HOUR}/${msg.level}/${String(n).padStart(6, "0")}.ndjson`;
        const text = (await (await env.EXPORTS.get(key))?.text()) ?? "";
        if (msg.level === 0) largestSubRun = Math.max(largestSubRun, text.split("\n").filter(Boolean).length);
      }
      await runMerge(testEnv, msg, limits);
    }
  }
  const run = async (kind: "push_events" | "inapp_events") => {
    const key = runKey(job, base.app_id, kind, HOUR);
    const object = await env.EXPORTS.get(key);
    const rows = object?.customMetadata?.rows ?? (await (await env.EXPORTS.get(runRowsKey(key)))?.text());
    return { text: await object?.text(), rows: Number(rows) };
  };
  return { seen, largestSubRun, push: await run("push_events"), inapp: await run("inapp_events"), testEnv };
}

describe("daily exports: a busy hour is sorted in bounded memory", () => {
  it("writes the same runs from sorted sub-runs and merges as from one sort, each event once", async () => {
    const p = await createProject("android");
    const { day } = days();
    const profiles = Array.from({ length: 7 }, () => crypto.randomUUID());
    const orphan = crypto.randomUUID();
    const now = new Date().toISOString();
    const db = await shardDb(p.projectId);
    const insert = (profile: string, state: string) =>
      db
        .prepare(
          "INSERT INTO profiles (project_id, profile_id, custom_id, state, version, created_at, last_activity_at) VALUES (?, ?, NULL, ?, 1, ?, ?)",
        )
        .bind(p.projectId, profile, state, now, now);
    await db.batch([...profiles.map((id) => insert(id, "active")), insert(orphan, "orphaned")]);

    const start = Date.parse(`${day}T${HOUR}:00:00.000Z`);
    const objects: StagedEvent[][] = [];
    for (let k = 0; k < OBJECTS; k++) {
      const events: StagedEvent[] = [];
      for (let n = 0; n < EVENTS_PER_OBJECT; n++) {
        const i = k * EVENTS_PER_OBJECT + n;
        const time = new Date(start + ((i * 7919) % 3_600_000)).toISOString();
        events.push({
          time,
          installation_id: `00000000-0000-4000-8000-${String(i % 5).padStart(12, "0")}`,
          profile_id: i % 11 === 0 ? orphan : (profiles[i % 7] as string),
          custom_id: null,
          app_id: p.appId,
          id: `e-${i}`,
          name: ["push_sent", "push_opened", "inapp_shown", "attr_changed"][i % 4] as string,
          attributes: { campaign_token: `=HYPER-${i % 3}` },
          label: null,
          tags: [],
          source: "sdk",
          received_at: time,
        });
      }
      objects.push(events);
    }
    // A redelivered batch: a third of the first object's events staged again under another key.
    objects.push(objects[0]?.slice(0, 10) ?? []);
    await Promise.all(
      objects.map((events, k) => {
        const sorted = [...events].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
        return env.EXPORTS.put(`${hourPrefix(p.projectId, p.appId, day, HOUR)}obj-${k}.ndjson`, toNdjson(sorted));
      }),
    );
    const base = { project_id: p.projectId, app_id: p.appId, date: day, hour: HOUR };

    const whole = await sortOneHour(crypto.randomUUID(), base);
    expect(whole.seen.map((m) => m.type)).toEqual(["daily_hour"]);
    const job = crypto.randomUUID();
    const bounded = await sortOneHour(job, base, SMALL);

    // The bounded run took continuations and more than one level of merges...
    const types = bounded.seen.map((m) => m.type);
    expect(types.filter((t) => t === "daily_hour").length).toBeGreaterThan(1);
    expect(new Set(bounded.seen.flatMap((m) => (m.type === "daily_merge" ? [m.level] : []))).size).toBeGreaterThan(1);
    // ...never sorting more than the bound at once, though a staged object holds more...
    expect(EVENTS_PER_OBJECT).toBeGreaterThan(SMALL.subRunEvents);
    expect(bounded.largestSubRun).toBeGreaterThan(0);
    expect(bounded.largestSubRun).toBeLessThanOrEqual(SMALL.subRunEvents);
    // ...and wrote the same runs: sorted, live profiles only, each event once.
    expect(bounded.push).toEqual(whole.push);
    expect(bounded.inapp).toEqual(whole.inapp);
    const unique = objects.slice(0, OBJECTS).flat();
    const expected = (names: string[]) =>
      unique.filter((e) => names.includes(e.name) && e.profile_id !== orphan).length;
    expect(whole.push.rows).toBe(expected(["push_sent", "push_opened"]));
    expect(whole.inapp.rows).toBe(expected(["inapp_shown"]));
    expect(whole.push.text?.split("\r\n").length).toBe(whole.push.rows + 1);
    // The sub-runs are gone once the runs are written.
    const left = await env.EXPORTS.list({ prefix: `exports-work/${job}/${p.appId}/sub/` });
    expect(left.objects).toEqual([]);

    // The day's file is the runs behind the header, with the row count of the merged run.
    for (let hour = 0; hour < 24; hour++) {
      if (hour !== HOUR) await sortOneHour(job, { ...base, hour }, SMALL);
    }
    await writeFile(bounded.testEnv, {
      type: "daily_file",
      job,
      project_id: p.projectId,
      app_id: p.appId,
      date: day,
      kind: "push_events",
    });
    const file = await (await download(p, p.appId, "push_events", `${day}.csv`)).text();
    expect(file.split("\r\n").slice(1).join("\r\n")).toBe(whole.push.text);
    const manifest = await (await download(p, p.appId, "push_events", `${day}.manifest.json`)).json<{ rows: number }>();
    expect(manifest.rows).toBe(whole.push.rows);
  });
});
