import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { customIdObjectName, installationObjectName } from "../../src/identity/identifiers";
import { call, type Project, restHeaders, sdkHeaders } from "./harness";

export type Op = Record<string, unknown>;

let opCounter = 0;
/** A unique op ID, so every op is applied once unless a test resends it on purpose. */
export const opId = () => `op-${++opCounter}-${crypto.randomUUID()}`;

export const identify = (custom_id: string): Op => ({ id: opId(), type: "identify", custom_id });
export const logout = (): Op => ({ id: opId(), type: "logout" });
export const attributes = (attrs: Record<string, unknown>): Op => ({
  id: opId(),
  type: "attributes",
  attributes: attrs,
});
export const event = (name: string, attrs: Record<string, unknown> = {}): Op => ({
  id: opId(),
  type: "event",
  name,
  attributes: attrs,
});

export interface BatchAnswer {
  profile_id: string;
  custom_id: string | null;
  accepted: number;
  duplicates: number;
}

/** POSTs an SDK batch and returns the response. */
export function sendBatch(p: Project, installationId: string, ops: Op[], context: Record<string, unknown> = {}) {
  return call("POST", "/v1/sdk/batch", {
    headers: sdkHeaders(p),
    body: { installation_id: installationId, context, ops },
  });
}

/** POSTs an SDK batch that must succeed, and returns its answer. */
export async function batch(
  p: Project,
  installationId: string,
  ops: Op[],
  context: Record<string, unknown> = {},
): Promise<BatchAnswer> {
  const res = await sendBatch(p, installationId, ops, context);
  if (res.status !== 200) throw new Error(`batch ${res.status}: ${await res.text()}`);
  return res.json<BatchAnswer>();
}

export interface ProfileBody {
  profile_id: string;
  custom_id: string | null;
  state: string;
  installations: { installation_id: string; platform: string | null; push: { opted_in: boolean | null } }[];
  installations_not_shown?: number;
  attributes: Record<string, { value: unknown; updated_at: string; source: string }>;
  events: { id: string; name: string }[];
  identity_history: {
    kind: string;
    installation_id: string | null;
    custom_id: string | null;
    source: string;
    request_id: string | null;
  }[];
}

export async function profileBy(
  p: Project,
  query: { custom_id: string } | { installation_id: string } | { profile_id: string },
) {
  const res = await call("GET", `/v1/profiles?${new URLSearchParams(query)}`, { headers: restHeaders(p) });
  return { status: res.status, body: res.status === 200 ? await res.json<ProfileBody>() : null };
}

export function installationStub(projectId: string, installationId: string) {
  return env.INSTALLATIONS.get(env.INSTALLATIONS.idFromName(installationObjectName(projectId, installationId)));
}

export function customIdStub(projectId: string, customId: string) {
  return env.CUSTOM_IDS.get(env.CUSTOM_IDS.idFromName(customIdObjectName(projectId, customId)));
}

type Row = Record<string, SqlStorageValue>;

/**
 * The events an object holds, one row each, for `FROM` in `querySql`: it stands for those of
 * the profile rows and, once made, of `event_batches`.
 */
export const HELD_EVENTS = "held_events";

/** `HELD_EVENTS` as the object's tables have it (`event_batches` may not be made yet). */
function heldEvents(sql: SqlStorage): string {
  const rows = `SELECT profile_id, e.value->>'$.id' AS event_id, e.value->>'$.time' AS time
    FROM profiles, json_each(profiles.events) AS e`;
  const table = `SELECT profile_id, e.value->>'$.id', e.value->>'$.time'
    FROM event_batches, json_each(event_batches.events) AS e`;
  const made = sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event_batches'").toArray();
  return `(${made.length ? `${rows} UNION ALL ${table}` : rows})`;
}

/** `query` with `HELD_EVENTS` standing for what the object holds. */
function expandHeld(sql: SqlStorage, query: string): string {
  return query.includes(HELD_EVENTS) ? query.replaceAll(HELD_EVENTS, () => heldEvents(sql)) : query;
}

/**
 * Runs a read-only SQL query inside a Durable Object's own storage. An object makes each table
 * with the first write that needs it, so a table not made yet answers no rows.
 */
export function querySql(
  stub: DurableObjectStub<Rpc.DurableObjectBranded | undefined>,
  query: string,
  ...params: SqlStorageValue[]
): Promise<Row[]> {
  return runInDurableObject(stub, (_instance, state) => {
    try {
      const sql = state.storage.sql;
      return sql.exec<Row>(expandHeld(sql, query), ...params).toArray();
    } catch (error) {
      if (/no such table/.test(String(error))) return [];
      throw error;
    }
  });
}

/** What every object holds, read straight from storage, for checking the SPEC §1 invariants. */
export interface WorldState {
  installations: Map<string, { profileId: string; customId: string | null; localProfiles: Row[] }>;
  customIds: Map<string, { profileId: string | null; members: string[] }>;
  /** event_id → every (object, profile) holding it. */
  events: Map<string, string[]>;
}

export async function readWorld(
  projectId: string,
  installationIds: string[],
  customIds: string[],
): Promise<WorldState> {
  const world: WorldState = { installations: new Map(), customIds: new Map(), events: new Map() };
  const addEvents = (rows: Row[], where: string) => {
    for (const r of rows) {
      const id = String(r.event_id);
      world.events.set(id, [...(world.events.get(id) ?? []), `${where}/${r.profile_id}`]);
    }
  };
  const [installationReads, customIdReads] = await Promise.all([
    Promise.all(
      installationIds.map((i) =>
        readTables(installationStub(projectId, i), {
          binding: "SELECT profile_id, custom_id FROM installation",
          profiles: "SELECT profile_id, custom_id, state FROM profiles",
          events: `SELECT event_id, profile_id FROM ${HELD_EVENTS}`,
        }),
      ),
    ),
    Promise.all(
      customIds.map((c) =>
        readTables(customIdStub(projectId, c), {
          profiles: "SELECT profile_id FROM profiles WHERE state = 'active'",
          members: "SELECT installation_id FROM members",
          events: `SELECT event_id, profile_id FROM ${HELD_EVENTS}`,
        }),
      ),
    ),
  ]);
  for (const [k, i] of installationIds.entries()) {
    const read = installationReads[k];
    const row = read?.binding[0];
    if (!read || !row) continue;
    world.installations.set(i, {
      profileId: String(row.profile_id),
      customId: row.custom_id === null ? null : String(row.custom_id),
      localProfiles: read.profiles,
    });
    addEvents(read.events, `i:${i}`);
  }
  for (const [k, c] of customIds.entries()) {
    const read = customIdReads[k];
    const active = read?.profiles[0];
    world.customIds.set(c, {
      profileId: active ? String(active.profile_id) : null,
      members: (read?.members ?? []).map((m) => String(m.installation_id)),
    });
    addEvents(read?.events ?? [], `c:${c}`);
  }
  return world;
}

/**
 * Runs read-only queries in one visit to the object; null when it was never written (its tables
 * are created by its first write).
 */
function readTables<K extends string>(
  stub: DurableObjectStub<Rpc.DurableObjectBranded | undefined>,
  queries: Record<K, string>,
): Promise<Record<K, Row[]> | null> {
  return runInDurableObject(stub, (_instance, state) => {
    const sql = state.storage.sql;
    if (sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'profiles'").toArray().length === 0) {
      return null;
    }
    const entries = Object.entries(queries) as [K, string][];
    // A table made by the first write that needs it (events, members) may not be there yet: no rows.
    const rows = (query: string) => {
      try {
        return sql.exec<Row>(expandHeld(sql, query)).toArray();
      } catch (error) {
        if (/no such table/.test(String(error))) return [];
        throw error;
      }
    };
    return Object.fromEntries(entries.map(([key, query]) => [key, rows(query)])) as Record<K, Row[]>;
  });
}

/** Returns every violation of SPEC §1 invariants 1–4 found in `world`; empty when all hold. */
export function invariantViolations(world: WorldState): string[] {
  const problems: string[] = [];
  const profileOwners = new Map<string, string[]>();
  for (const [c, held] of world.customIds) {
    if (held.profileId) profileOwners.set(held.profileId, [...(profileOwners.get(held.profileId) ?? []), `c:${c}`]);
  }
  for (const [i, inst] of world.installations) {
    const active = inst.localProfiles.filter((p) => p.state === "active");
    if (inst.customId === null) {
      // Invariant 3: the anonymous profile lives with its one installation, and nowhere else.
      if (active.length !== 1 || active[0]?.profile_id !== inst.profileId) {
        problems.push(
          `installation ${i}: anonymous binding ${inst.profileId} but local active ${JSON.stringify(active)}`,
        );
      }
      profileOwners.set(inst.profileId, [...(profileOwners.get(inst.profileId) ?? []), `i:${i}`]);
    } else {
      if (active.length !== 0) problems.push(`installation ${i}: signed in but still holds ${JSON.stringify(active)}`);
      const held = world.customIds.get(inst.customId);
      if (held?.profileId !== inst.profileId) {
        problems.push(
          `installation ${i}: bound to ${inst.profileId} for ${inst.customId}, which holds ${held?.profileId}`,
        );
      }
    }
    // Invariant 2: attached to exactly one profile.
    const memberOf = [...world.customIds].filter(([, h]) => h.members.includes(i)).map(([c]) => c);
    const expected = inst.customId === null ? [] : [inst.customId];
    if (JSON.stringify(memberOf) !== JSON.stringify(expected)) {
      problems.push(`installation ${i}: bound to ${inst.customId}, member of ${JSON.stringify(memberOf)}`);
    }
    // Invariant 4: an orphan is never the profile an installation points at.
    const orphaned = inst.localProfiles.filter((p) => p.state === "orphaned").map((p) => String(p.profile_id));
    for (const [j, other] of world.installations) {
      if (orphaned.includes(other.profileId)) problems.push(`installation ${j} points at orphan ${other.profileId}`);
    }
  }
  // Invariant 1: one profile per custom ID, no profile shared between two holders.
  for (const [profileId, owners] of profileOwners) {
    if (owners.length > 1) problems.push(`profile ${profileId} held by ${owners.join(", ")}`);
  }
  return problems;
}
