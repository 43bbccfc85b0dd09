import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { customIdStub } from "../../src/identity/identifiers";
import { removePaging, removeProfile } from "../../src/privacy/remove";
import { createProject, type Project } from "../support/harness";
import {
  batch,
  customIdStub as customIdObject,
  identify,
  installationStub,
  profileBy,
  querySql,
} from "../support/identity";
import { shardDb } from "../support/shards";
import { run } from "./support";

async function activeInD1(p: Project, profileId: string): Promise<number> {
  const row = await (await shardDb(p.projectId))
    .prepare("SELECT count(*) AS n FROM profiles WHERE project_id = ? AND profile_id = ? AND state <> 'removed'")
    .bind(p.projectId, profileId)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

async function installationRows(p: Project, profileId: string): Promise<number> {
  const row = await (await shardDb(p.projectId))
    .prepare("SELECT count(*) AS n FROM installations WHERE project_id = ? AND profile_id = ?")
    .bind(p.projectId, profileId)
    .first<{ n: number }>();
  return row?.n ?? -1;
}

/** A signed-in profile on `devices` installations, projected into D1. */
async function signedIn(p: Project, customId: string, devices: number) {
  const ids = Array.from({ length: devices }, () => crypto.randomUUID());
  let profileId = "";
  for (const id of ids) profileId = (await batch(p, id, [identify(customId)])).profile_id;
  await vi.waitFor(
    async () => {
      expect(await activeInD1(p, profileId)).toBe(1);
      expect(await installationRows(p, profileId)).toBe(devices);
    },
    { timeout: 20_000, interval: 100 },
  );
  return { profileId, ids };
}

describe("a remove that gave up part-way", () => {
  it("is finished by the next remove: the D1 erase runs though the custom ID's object is already empty", async () => {
    const p = await createProject();
    const { profileId, ids } = await signedIn(p, "ghost-1", 2);
    // An earlier request emptied the custom ID's object, then ran out of retries before D1.
    const first = await customIdStub(env, p.projectId, "ghost-1").erase({
      requestId: crypto.randomUUID(),
      at: new Date().toISOString(),
    });
    expect(first.erased).toBe(true);

    const done = await run(p, { type: "remove", identifier: { type: "custom_id", value: "ghost-1" } });
    expect(done.status).toBe("done");
    expect(done.error).toBeUndefined();
    expect(done.receipt?.profile_id).toBe(profileId);
    expect(await activeInD1(p, profileId)).toBe(0);
    expect(await installationRows(p, profileId)).toBe(0);
    // The installations the empty object no longer listed are erased too, found through D1.
    for (const id of ids) {
      expect(await querySql(installationStub(p.projectId, id), "SELECT * FROM installation")).toEqual([]);
      expect((await profileBy(p, { installation_id: id })).status).toBe(404);
    }
    expect(done.receipt?.installation_ids.sort()).toEqual([...ids].sort());
  });

  it("by installation ID finishes an anonymous profile whose object is already empty", async () => {
    const p = await createProject();
    const device = crypto.randomUUID();
    const anon = await batch(p, device, [{ id: crypto.randomUUID(), type: "attributes", attributes: { a: 1 } }]);
    await vi.waitFor(async () => expect(await installationRows(p, anon.profile_id)).toBe(1), {
      timeout: 20_000,
      interval: 100,
    });
    await installationStub(p.projectId, device).erase({ requestId: crypto.randomUUID(), at: new Date().toISOString() });

    const done = await run(p, { type: "remove", identifier: { type: "installation_id", value: device } });
    expect(done).toMatchObject({ status: "done" });
    expect(done.error).toBeUndefined();
    expect(await activeInD1(p, anon.profile_id)).toBe(0);
    expect(await installationRows(p, anon.profile_id)).toBe(0);
  });

  it("an unknown custom ID still ends done/not_found", async () => {
    const p = await createProject();
    const done = await run(p, { type: "remove", identifier: { type: "custom_id", value: "never-seen" } });
    expect(done).toMatchObject({ status: "done", error: "not_found" });
  });
});

describe("a remove of a custom ID with many installations", () => {
  it("erases them a page per message and resumes to the end", async () => {
    const p = await createProject();
    const { profileId, ids } = await signedIn(p, "many-devices", 3);
    const paging = { ...removePaging };
    Object.assign(removePaging, { installations: 1 });
    try {
      const req = { requestId: crypto.randomUUID(), at: new Date().toISOString() };
      const holder = { kind: "custom_id" as const, customId: "many-devices" };
      const first = await removeProfile(env, p.projectId, holder, req);
      expect(first.removed).toBe("in_progress");
      const emptied = async () => {
        let n = 0;
        for (const id of ids) {
          if ((await querySql(installationStub(p.projectId, id), "SELECT * FROM installation")).length === 0) n++;
        }
        return n;
      };
      // One installation per message: the others wait for the next ones.
      expect(await emptied()).toBe(1);
      let result = first;
      for (let k = 0; k < 5 && result.removed === "in_progress"; k++)
        result = await removeProfile(env, p.projectId, holder, req);
      if (result.removed !== true) throw new Error(`not removed: ${JSON.stringify(result)}`);
      expect(await emptied()).toBe(3);
      expect(result.receipt.installation_ids.sort()).toEqual([...ids].sort());
      expect(await activeInD1(p, profileId)).toBe(0);
      // A retry of the finished remove answers the same receipt.
      expect(await removeProfile(env, p.projectId, holder, req)).toEqual(result);
    } finally {
      Object.assign(removePaging, paging);
    }
  });
});

describe("a receipt", () => {
  it("names only our own tables, not the runtime's", async () => {
    const p = await createProject();
    const { ids } = await signedIn(p, "tables-1", 1);
    // `wrangler dev` keeps each object's name in a table of its own; a local run's receipt listed it.
    const named = (state: DurableObjectState) => {
      state.storage.sql.exec("CREATE TABLE IF NOT EXISTS __miniflare_do_name (id INTEGER PRIMARY KEY, name TEXT)");
      state.storage.sql.exec("INSERT OR REPLACE INTO __miniflare_do_name (id, name) VALUES (1, 'x')");
    };
    await runInDurableObject(customIdObject(p.projectId, "tables-1"), (_i, state) => named(state));
    await runInDurableObject(installationStub(p.projectId, ids[0] as string), (_i, state) => named(state));
    const done = await run(p, { type: "remove", identifier: { type: "custom_id", value: "tables-1" } });
    expect(done.status).toBe("done");
    const names = [
      ...Object.keys(done.receipt?.totals ?? {}),
      ...(done.receipt?.steps ?? []).flatMap((s) => Object.keys(s.rows)),
    ];
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(name).not.toMatch(/miniflare|__|_cf_/);
  });
});
