import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createProject, type Project } from "../support/harness";
import { batch, identify, profileBy } from "../support/identity";
import { waitForProjection } from "../support/projection";
import { shardDb } from "../support/shards";
import { waitForStaged } from "../support/staged";
import { days, download, runDaily, sha256Hex } from "./helpers";

const { day, next } = days();
const I1 = "00000000-0000-4000-8000-000000000001";
const I2 = "00000000-0000-4000-8000-000000000002";
const I3 = "00000000-0000-4000-8000-000000000003";
const I4 = "00000000-0000-4000-8000-000000000004";
const USER = 'Zoë, "the" user';
const ios = { platform: "ios" };

let p: Project;
let job: string;

/*
 * A known day: values with commas, quotes, newlines and non-ASCII; two installations using the
 * same op IDs; events on both sides of midnight; an orphaned profile's and a removed profile's
 * events.
 */
beforeAll(async () => {
  p = await createProject("ios");
  await batch(
    p,
    I1,
    [
      identify(USER),
      { id: "op-0", time: `${day}T00:00:00.000Z`, type: "push_opened", campaign_token: "first" },
      { id: "op-optin", time: `${day}T08:00:00.000Z`, type: "push_optin", opted_in: true },
      {
        id: "op-1",
        time: `${day}T09:00:00.000Z`,
        type: "push_opened",
        campaign_token: 'c,"1"',
        transactional_token: "tx-é",
      },
      {
        id: "op-2",
        time: `${day}T23:59:59.999Z`,
        type: "inapp",
        event: "clicked",
        campaign_token: "camp-2",
        campaign_id: "ci",
        cta_index: 1,
        cta_label: "Buy\nnow ✓",
      },
      { id: "op-3", time: `${next}T00:00:00.000Z`, type: "push_opened", campaign_token: "tomorrow" },
    ],
    ios,
  );
  // The same op ID on another installation is another event.
  await batch(p, I2, [{ id: "op-1", time: `${day}T09:00:00.000Z`, type: "push_opened", campaign_token: "c2" }], ios);
  // Anonymous, then logs in as USER: its anonymous profile is orphaned with its event.
  await batch(
    p,
    I3,
    [{ id: "op-orphan", time: `${day}T10:00:00.000Z`, type: "push_opened", campaign_token: "orphan" }, identify(USER)],
    ios,
  );
  await batch(
    p,
    I4,
    [{ id: "op-removed", time: `${day}T11:00:00.000Z`, type: "push_opened", campaign_token: "removed" }],
    ios,
  );
  await waitForStaged(p.projectId, 8);
  await waitForProjection(p.projectId, [I1, I2, I3, I4], [USER]);
  // A removed profile is gone from the projection (the privacy remove deletes its rows).
  const removed = (await profileBy(p, { installation_id: I4 })).body?.profile_id;
  const db = await shardDb(p.projectId);
  await db.batch([
    db.prepare("DELETE FROM profiles WHERE project_id = ? AND profile_id = ?").bind(p.projectId, removed),
    db.prepare("DELETE FROM installations WHERE project_id = ? AND profile_id = ?").bind(p.projectId, removed),
  ]);
  job = await runDaily(p, day);
}, 60_000);

async function text(kind: string, file = `${day}.csv`): Promise<string> {
  const res = await download(p, p.appId, kind, file);
  expect(res.status).toBe(200);
  return res.text();
}

describe("daily exports: exact files of a known day", () => {
  it("push_events: RFC 4180, by timestamp then installation, the day's events only", async () => {
    const user = '"Zoë, ""the"" user"';
    expect(await text("push_events")).toBe(
      [
        "timestamp,installation_id,custom_id,event,campaign_token,transactional_token,error",
        `${day}T00:00:00.000Z,${I1},${user},push_opened,first,,`,
        `${day}T08:00:00.000Z,${I1},${user},push_optin,,,`,
        `${day}T09:00:00.000Z,${I1},${user},push_opened,"c,""1""",tx-é,`,
        `${day}T09:00:00.000Z,${I2},,push_opened,c2,,`,
        "",
      ].join("\r\n"),
    );
  });

  it("inapp_events: campaign ID, CTA position and label; 23:59:59.999 is in the day", async () => {
    expect(await text("inapp_events")).toBe(
      [
        "timestamp,installation_id,custom_id,event,campaign_token,event_var_1,event_var_2,event_var_3",
        `${day}T23:59:59.999Z,${I1},"Zoë, ""the"" user",inapp_clicked,camp-2,ci,1,"Buy\nnow ✓"`,
        "",
      ].join("\r\n"),
    );
  });

  it("optin_users: one row per reachable installation, by update time then installation", async () => {
    const { results } = await (await shardDb(p.projectId))
      .prepare(
        "SELECT installation_id, last_seen_at FROM installations WHERE project_id = ? ORDER BY last_seen_at, installation_id",
      )
      .bind(p.projectId)
      .all<{ installation_id: string; last_seen_at: string }>();
    const optin: Record<string, string> = {
      [I1]: '"Zoë, ""the"" user",X,ios,true',
      [I2]: ",X,ios,",
      [I3]: '"Zoë, ""the"" user",X,ios,',
    };
    expect(results.map((r) => r.installation_id).sort()).toEqual([I1, I2, I3]);
    expect(await text("optin_users")).toBe(
      [
        "custom_id,installation_id,platform,push_optin,updated_at",
        ...results.map((r) => `${optin[r.installation_id]?.replace("X", r.installation_id)},${r.last_seen_at}`),
        "",
      ].join("\r\n"),
    );
  });

  it("writes a manifest beside each file: rows, bytes and sha256 of the bytes served", async () => {
    for (const [kind, rows] of [
      ["push_events", 4],
      ["inapp_events", 1],
      ["optin_users", 3],
    ] as const) {
      const csv = new Uint8Array(await (await download(p, p.appId, kind, `${day}.csv`)).arrayBuffer());
      const res = await download(p, p.appId, kind, `${day}.manifest.json`);
      expect(res.headers.get("Content-Type")).toBe("application/json");
      expect(await res.json()).toEqual({ rows, bytes: csv.byteLength, sha256: await sha256Hex(csv) });
      const stored = await env.EXPORTS.head(`exports/${p.projectId}/${p.appId}/${kind}/${day}.csv`);
      expect(stored?.size).toBe(csv.byteLength);
    }
  });

  it("re-running the day rewrites the same keys with identical bytes", async () => {
    const before = await env.DB.prepare(
      "SELECT kind, sha256, bytes FROM export_files WHERE project_id = ? ORDER BY kind",
    )
      .bind(p.projectId)
      .all();
    const again = await runDaily(p, day);
    expect(again).not.toBe(job);
    const after = await env.DB.prepare(
      "SELECT kind, sha256, bytes FROM export_files WHERE project_id = ? ORDER BY kind",
    )
      .bind(p.projectId)
      .all();
    expect(after.results).toEqual(before.results);
    // The sorted runs of the hours are cleaned up once the files are written.
    expect((await env.EXPORTS.list({ prefix: `exports-work/${again}/` })).objects).toEqual([]);
  });

  it("the next day's file holds the event at 00:00:00.000", async () => {
    await runDaily(p, next);
    expect(await text("push_events", `${next}.csv`)).toBe(
      [
        "timestamp,installation_id,custom_id,event,campaign_token,transactional_token,error",
        `${next}T00:00:00.000Z,${I1},"Zoë, ""the"" user",push_opened,tomorrow,,`,
        "",
      ].join("\r\n"),
    );
  });
});
