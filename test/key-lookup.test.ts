import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hashKey } from "../src/lib/keys";
import { call, createProject, errorOf, sdkHeaders } from "./support/harness";

const madeUpSecret = () => crypto.randomUUID().replaceAll("-", "").padEnd(43, "A");

/** A REST key of the right shape for a project ID nobody created. */
function madeUpRestKey() {
  const projectId = crypto.randomUUID();
  return { projectId, key: `rest_${projectId}_${madeUpSecret()}` };
}

/** Creates, straight in D1, the project a made-up key names: only a fresh look-up can find it. */
async function createBehindTheCache(projectId: string, key: string) {
  await env.DB.prepare(
    "INSERT INTO projects (id, name, inactivity_days, rest_key_hash, created_at) VALUES (?, 'Late', 390, ?, ?)",
  )
    .bind(projectId, await hashKey(key), new Date().toISOString())
    .run();
}

function getProfile(projectId: string, key: string, client?: string) {
  return call("GET", "/v1/profiles?custom_id=nobody", {
    headers: {
      Authorization: `Bearer ${key}`,
      "X-Project-Id": projectId,
      ...(client ? { "CF-Connecting-IP": client } : {}),
    },
  });
}

describe("key look-ups", () => {
  it("answers a repeated unknown REST key from the cache, without reading D1 again", async () => {
    const { projectId, key } = madeUpRestKey();
    expect((await getProfile(projectId, key)).status).toBe(401);
    await createBehindTheCache(projectId, key);
    // Within the miss cache's lifetime the project is still unknown: no query was made.
    const again = await getProfile(projectId, key);
    expect(again.status).toBe(401);
    expect((await errorOf(again)).code).toBe("UNAUTHORIZED");
  });

  it("answers a repeated unknown SDK key from the cache, without reading D1 again", async () => {
    const p = await createProject();
    const appId = crypto.randomUUID();
    const key = `sdk_${appId}_${madeUpSecret()}`;
    const send = () =>
      call("POST", "/v1/sdk/batch", {
        headers: sdkHeaders({ sdkKey: key }),
        body: { installation_id: crypto.randomUUID(), context: {}, ops: [] },
      });
    expect((await send()).status).toBe(401);
    await env.DB.prepare(
      "INSERT INTO apps (id, project_id, name, platform, sdk_key_hash, created_at) VALUES (?, ?, 'Late', 'ios', ?, ?)",
    )
      .bind(appId, p.projectId, await hashKey(key), new Date().toISOString())
      .run();
    expect((await send()).status).toBe(401);
  });

  it("limits the unknown keys one client address may try, before looking them up, and keeps others apart", async () => {
    const client = `203.0.113.${Math.floor(Math.random() * 250) + 1}`;
    const known = await createProject();
    // The known key is looked up once, from no address, and cached.
    expect((await getProfile(known.projectId, known.restKey)).status).toBe(404);

    /** Made-up keys from `client`, in waves, until one is refused. */
    const spend = async () => {
      for (let wave = 0; wave < 10; wave++) {
        const responses = await Promise.all(
          Array.from({ length: 40 }, () => {
            const { projectId, key } = madeUpRestKey();
            return getProfile(projectId, key, client);
          }),
        );
        const refused = responses.find((r) => r.status === 429);
        for (const r of responses) expect([401, 429]).toContain(r.status);
        if (refused) return refused;
      }
      throw new Error("never limited");
    };
    const refused = await spend();
    expect(refused.headers.get("Retry-After")).toBe("10");
    expect((await errorOf(refused)).code).toBe("RATE_LIMITED");

    // A key whose project exists but is not cached is refused too: the budget is spent before
    // the look-up. Windows are fixed: if one ended in between, spend the next and ask again.
    let answered = 0;
    for (let attempt = 0; attempt < 3 && answered !== 429; attempt++) {
      const late = madeUpRestKey();
      await createBehindTheCache(late.projectId, late.key);
      answered = (await getProfile(late.projectId, late.key, client)).status;
      if (answered !== 429) await spend();
    }
    expect(answered).toBe(429);
    // A cached key from the same address needs no look-up, and another address has its own budget.
    expect((await getProfile(known.projectId, known.restKey, client)).status).toBe(404);
    const elsewhere = madeUpRestKey();
    await createBehindTheCache(elsewhere.projectId, elsewhere.key);
    expect((await getProfile(elsewhere.projectId, elsewhere.key, "198.51.100.20")).status).toBe(404);
  });
});
