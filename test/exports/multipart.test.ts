import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runHour, runMerge, writeFile } from "../../src/exports/daily";
import type { ExportMessage } from "../../src/exports/exports.messages";
import { hourPrefix, type StagedEvent, toNdjson } from "../../src/exports/staging";
import { MIN_PART_BYTES } from "../../src/exports/upload";
import { createProject } from "../support/harness";
import { shardDb } from "../support/shards";
import { days, download, sha256Hex } from "./helpers";

const ROWS = 250_000;
const PROFILES = 100;
const OBJECTS_PER_HOUR = 3;

/** A real bucket that records the size of every multipart part uploaded through it. */
function recordingBucket(bucket: R2Bucket, parts: number[]): R2Bucket {
  return new Proxy(bucket, {
    get(target, prop) {
      if (prop === "createMultipartUpload") {
        return async (key: string, options?: R2MultipartOptions) => {
          const upload = await target.createMultipartUpload(key, options);
          return new Proxy(upload, {
            get(u, p) {
              if (p === "uploadPart") {
                return (n: number, body: Uint8Array) => {
                  parts.push(body.byteLength);
                  return u.uploadPart(n, body);
                };
              }
              const value = Reflect.get(u, p);
              return typeof value === "function" ? value.bind(u) : value;
            },
          });
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Deterministic pseudo-random numbers, so the file is the same on every run. */
function lcg(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

describe("daily exports: a 250,000-row file through the multipart path", () => {
  it("streams equal-sized parts, sorted across staged objects and hours, matching its manifest", async () => {
    const p = await createProject("android");
    const { day } = days();
    const profiles = Array.from({ length: PROFILES }, (_, k) => ({
      profile: crypto.randomUUID(),
      installation: `00000000-0000-4000-8000-${String(k).padStart(12, "0")}`,
    }));
    const orphan = crypto.randomUUID();
    const now = new Date().toISOString();
    const db = await shardDb(p.projectId);
    await db.batch([
      ...profiles.map(({ profile }) =>
        db
          .prepare(
            "INSERT INTO profiles (project_id, profile_id, custom_id, state, version, created_at, last_activity_at) VALUES (?, ?, NULL, 'active', 1, ?, ?)",
          )
          .bind(p.projectId, profile, now, now),
      ),
      db
        .prepare(
          "INSERT INTO profiles (project_id, profile_id, custom_id, state, version, created_at, last_activity_at) VALUES (?, ?, NULL, 'orphaned', 1, ?, ?)",
        )
        .bind(p.projectId, orphan, now, now),
    ]);

    // Staged as the event consumer stages them: several objects an hour, each sorted on its own.
    const random = lcg(42);
    for (let hour = 0; hour < 24; hour++) {
      const count = Math.floor(ROWS / 24) + (hour < ROWS % 24 ? 1 : 0);
      const objects: StagedEvent[][] = Array.from({ length: OBJECTS_PER_HOUR }, () => []);
      for (let n = 0; n < count; n++) {
        const who = profiles[Math.floor(random() * PROFILES)] as (typeof profiles)[number];
        const ms = Math.floor(random() * 3_600_000);
        const time = new Date(Date.parse(`${day}T00:00:00.000Z`) + hour * 3_600_000 + ms).toISOString();
        objects[n % OBJECTS_PER_HOUR]?.push({
          time,
          installation_id: who.installation,
          profile_id: who.profile,
          custom_id: null,
          app_id: p.appId,
          id: `e-${hour}-${n}`,
          name: n % 2 ? "push_opened" : "push_sent",
          attributes: { campaign_token: `campaign-${n % 97}` },
          label: null,
          tags: [],
          source: "sdk",
          received_at: time,
        });
      }
      // An orphan's events are staged too, and must not show.
      objects[0]?.push({ ...(objects[0][0] as StagedEvent), profile_id: orphan, id: `orphan-${hour}` });
      await Promise.all(
        objects.map((events, k) => {
          events.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
          return env.EXPORTS.put(`${hourPrefix(p.projectId, p.appId, day, hour)}obj-${k}.ndjson`, toNdjson(events));
        }),
      );
    }

    const job = crypto.randomUUID();
    const queued: ExportMessage[] = [];
    const quiet = { sendBatch: async (items: { body: ExportMessage }[]) => queued.push(...items.map((i) => i.body)) };
    const testEnv = { ...env, EXPORT_TASKS: quiet } as unknown as Env;
    for (let hour = 0; hour < 24; hour++) {
      await runHour(testEnv, { type: "daily_hour", job, project_id: p.projectId, app_id: p.appId, date: day, hour });
    }
    // An hour past the sort buffer goes on in continuations and merges, as the queue would run them.
    for (let k = 0; k < queued.length; k++) {
      const m = queued[k] as ExportMessage;
      if (m.type === "daily_hour") await runHour(testEnv, m);
      if (m.type === "daily_merge") await runMerge(testEnv, m);
    }
    // The 24th hour queued the two event files.
    const fileMessage = queued.find((m) => m.type === "daily_file" && m.kind === "push_events");
    expect(fileMessage).toBeDefined();

    const parts: number[] = [];
    const manifest = await writeFile(
      { ...testEnv, EXPORTS: recordingBucket(env.EXPORTS, parts) } as Env,
      fileMessage as Extract<ExportMessage, { type: "daily_file" }>,
      { partBytes: MIN_PART_BYTES },
    );
    expect(manifest.rows).toBe(ROWS);
    expect(parts.length).toBeGreaterThanOrEqual(4);
    expect(manifest.parts).toBe(parts.length);
    // Every part but the last is exactly the part size; the last is no larger.
    expect(new Set(parts.slice(0, -1))).toEqual(new Set([MIN_PART_BYTES]));
    expect(parts.at(-1)).toBeLessThanOrEqual(MIN_PART_BYTES);

    const res = await download(p, p.appId, "push_events", `${day}.csv`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes.byteLength).toBe(manifest.bytes);
    expect(await sha256Hex(bytes)).toBe(manifest.sha256);
    const lines = new TextDecoder().decode(bytes).split("\r\n");
    expect(lines[0]).toBe("timestamp,installation_id,custom_id,event,campaign_token,transactional_token,error");
    expect(lines.at(-1)).toBe("");
    const rows = lines.slice(1, -1).map((l) => l.split(","));
    expect(rows).toHaveLength(ROWS);
    for (let k = 1; k < rows.length; k++) {
      const [a, b] = [rows[k - 1] as string[], rows[k] as string[]];
      const key = (r: string[]) => `${r[0]} ${r[1]}`;
      if (key(a) > key(b)) throw new Error(`row ${k} out of order: ${key(a)} > ${key(b)}`);
    }
    expect(rows.every((r) => r[0]?.startsWith(day))).toBe(true);
  }, 120_000);
});
