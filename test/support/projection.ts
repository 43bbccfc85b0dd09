import { expect, vi } from "vitest";
import { customIdStub, installationStub } from "./identity";
import { shardDbs } from "./shards";

interface ProjectedProfile {
  profile_id: string;
  custom_id: string | null;
  state: string;
  version: number;
  attributes: Record<string, unknown>;
}

/** What the Durable Objects hold, in the projection's shape, read straight from each object. */
export async function heldState(projectId: string, installationIds: string[], customIds: string[]) {
  const profiles = new Map<string, ProjectedProfile>();
  const installations = new Map<string, { profile_id: string; custom_id: string | null; platform: string | null }>();
  const add = (p: Awaited<ReturnType<ReturnType<typeof customIdStub>["projection"]>>) => {
    if (!p) return;
    profiles.set(p.profile_id, {
      profile_id: p.profile_id,
      custom_id: p.custom_id,
      state: p.state,
      version: p.version,
      attributes: Object.fromEntries(p.attributes.map((a) => [a.name, a.value])),
    });
  };
  for (const i of installationIds) {
    const stub = installationStub(projectId, i);
    const inst = await stub.installationProjection();
    if (!inst) continue;
    installations.set(i, { profile_id: inst.profile_id, custom_id: inst.custom_id, platform: inst.platform });
    const local = await stub.describe();
    if (local?.profile) add(await stub.projection(local.profile.profile_id));
  }
  for (const c of customIds) {
    const view = await customIdStub(projectId, c).view();
    if (view) add(await customIdStub(projectId, c).projection(view.profile.profile_id));
  }
  return { profiles, installations };
}

/** What D1 holds for the project, in the same shape (orphans left out, as queries leave them out). */
export async function projectedState(projectId: string) {
  // Every shard of a split project: each profile's rows are on one of them.
  const rows = { results: [] as { profile_id: string; custom_id: string | null; state: string; version: number }[] };
  const attributes = {
    results: [] as {
      profile_id: string;
      name: string;
      type: string;
      value_text: string | null;
      value_num: number | null;
      value_json: string | null;
    }[],
  };
  const installs = {
    results: [] as { installation_id: string; profile_id: string; custom_id: string | null; platform: string | null }[],
  };
  for (const db of await shardDbs(projectId)) {
    const [p, a, i] = await db.batch([
      db.prepare("SELECT * FROM profiles WHERE project_id = ? AND state = 'active'").bind(projectId),
      db.prepare("SELECT * FROM profile_attributes WHERE project_id = ?").bind(projectId),
      db.prepare("SELECT * FROM installations WHERE project_id = ?").bind(projectId),
    ]);
    rows.results.push(...((p?.results ?? []) as typeof rows.results));
    attributes.results.push(...((a?.results ?? []) as typeof attributes.results));
    installs.results.push(...((i?.results ?? []) as typeof installs.results));
  }
  const profiles = new Map<string, ProjectedProfile>();
  for (const r of rows.results) {
    const own = attributes.results.filter((a) => a.profile_id === r.profile_id);
    profiles.set(r.profile_id, {
      profile_id: r.profile_id,
      custom_id: r.custom_id,
      state: r.state,
      version: r.version,
      attributes: Object.fromEntries(
        own.map((a) => [
          a.name,
          a.value_json !== null
            ? JSON.parse(a.value_json)
            : a.value_num !== null
              ? a.value_num
              : a.type === "boolean"
                ? a.value_text === "true"
                : a.value_text,
        ]),
      ),
    });
  }
  const installations = new Map(
    installs.results.map((i) => [
      i.installation_id,
      { profile_id: i.profile_id, custom_id: i.custom_id, platform: i.platform },
    ]),
  );
  return { profiles, installations };
}

/** Waits until the projection equals what the objects hold (the queue drained). */
export async function waitForProjection(projectId: string, installationIds: string[], customIds: string[]) {
  await vi.waitFor(
    async () => {
      const held = await heldState(projectId, installationIds, customIds);
      const active = new Map([...held.profiles].filter(([, p]) => p.state === "active"));
      const projected = await projectedState(projectId);
      expect(projected.profiles).toEqual(active);
      expect(projected.installations).toEqual(held.installations);
    },
    { timeout: 20_000, interval: 200 },
  );
}
