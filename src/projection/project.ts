import { projectionFor, type Shard } from "../db/shards";
import { customIdStub, installationStub } from "../identity/identifiers";
import { sweepRemovedInstallations } from "../privacy/erase-d1";
import type {
  ChangedSubject,
  Holder,
  InstallationProjection,
  ProfileProjection,
  ProjectionMessage,
} from "../queue/messages";
import {
  type InstallationState,
  installationStatements,
  type Preparable,
  type ProfileState,
  prepare,
  profileStatements,
} from "./statements";

/** What a subject's object answers: its current state, or null when it holds it no more. */
type State =
  | { kind: "installation"; projectId: string; state: InstallationProjection | null }
  | { kind: "profile"; projectId: string; state: ProfileProjection | null; holder: Holder };

/** Reads the current state the message points at, from the object that holds it. */
async function fetchState(env: Env, m: Subject): Promise<State> {
  if (m.type === "custom_id_changed") {
    const state = await customIdStub(env, m.project_id, m.custom_id).currentProjection();
    const holder = { projectId: m.project_id, kind: "custom_id" as const, id: m.custom_id };
    return { kind: "profile" as const, projectId: m.project_id, state, holder };
  }
  if (m.type === "installation_changed") {
    const state = await installationStub(env, m.project_id, m.installation_id).installationProjection();
    return { kind: "installation" as const, projectId: m.project_id, state };
  }
  const state =
    m.holder.kind === "custom_id"
      ? await customIdStub(env, m.project_id, m.holder.id).projection(m.profile_id)
      : await installationStub(env, m.project_id, m.holder.id).projection(m.profile_id);
  return { kind: "profile" as const, projectId: m.project_id, state, holder: m.holder };
}

/**
 * Reads every subject, one call per object where two subjects share it: an installation's row
 * and the profile it holds, changed together (a first contact, a visit in a new hour), come back
 * from one call rather than two.
 */
function readStates(env: Env, subjects: Subject[]): Promise<PromiseSettledResult<State>[]> {
  const installations = new Map<string, number>();
  subjects.forEach((m, k) => {
    if (m.type === "installation_changed") installations.set(JSON.stringify([m.project_id, m.installation_id]), k);
  });
  const reads: (Promise<State> | undefined)[] = [];
  subjects.forEach((m, k) => {
    if (m.type !== "profile_changed" || m.holder.kind !== "installation") return;
    const i = installations.get(JSON.stringify([m.project_id, m.holder.id]));
    if (i === undefined || reads[i]) return;
    const stub = installationStub(env, m.project_id, m.holder.id);
    const both = (async () => stub.installationAndProfile(m.profile_id))();
    const { project_id: projectId, holder } = m;
    reads[i] = both.then((b) => ({ kind: "installation" as const, projectId, state: b.installation }));
    reads[k] = both.then((b) => ({ kind: "profile" as const, projectId, state: b.profile, holder }));
  });
  return Promise.allSettled(subjects.map((m, k) => reads[k] ?? fetchState(env, m)));
}

/**
 * The messages one batch may merge: the same subject in the same project. Installation IDs
 * come from devices and custom IDs from customers, so two projects can share either.
 */
export function coalescingKey(m: Subject): string {
  if (m.type === "custom_id_changed") return JSON.stringify(["c", m.project_id, m.custom_id]);
  return m.type === "profile_changed"
    ? JSON.stringify(["p", m.project_id, m.holder.kind, m.holder.id, m.profile_id])
    : JSON.stringify(["i", m.project_id, m.installation_id]);
}

/** One subject a message asks the projection to read again: a profile by its custom ID is one. */
type Subject = ChangedSubject | { type: "custom_id_changed"; project_id: string; custom_id: string };

/**
 * Each message's subjects with its index: an installation's message naming a profile is two,
 * and a message naming custom IDs one per custom ID.
 */
function subjects(messages: ProjectionMessage[]): [Subject, number][] {
  return messages.flatMap((m, k): [Subject, number][] => {
    if (m.type === "custom_ids_changed") {
      return m.custom_ids.map((custom_id) => [{ type: "custom_id_changed", project_id: m.project_id, custom_id }, k]);
    }
    if (m.type !== "installation_and_profile_changed") return [[m, k]];
    const holder = { projectId: m.project_id, kind: "installation" as const, id: m.installation_id };
    return [
      [{ type: "installation_changed", project_id: m.project_id, installation_id: m.installation_id }, k],
      [{ type: "profile_changed", project_id: m.project_id, profile_id: m.profile_id, holder }, k],
    ];
  });
}

/**
 * Projects a batch of change messages into D1: each subject is read once from its object
 * (coalesced changes cost one read, whatever their number; an installation and the profile it
 * holds, one call) and the whole batch is written in one D1 round trip per shard. Returns the
 * messages whose subject could not be read, by index, with the reason: the others are projected. `target`: every row goes to that shard, whatever the
 * directory says (a move replays into its new shard). Throws when a shard's D1 write fails
 * (that shard's batch wrote nothing; the writes are version-guarded, so a retry is safe).
 */
export async function projectSettled(
  env: Env,
  messages: ProjectionMessage[],
  target?: (profileId: string) => Shard,
): Promise<Map<number, unknown>> {
  // A profile moving at sign-in is reported by both holders: one read per holder.
  const byKey = new Map<string, { message: Subject; indices: number[] }>();
  const failed = new Map<number, unknown>();
  // A message that names two subjects counts as two, and fails as one.
  subjects(messages).forEach(([m, k]) => {
    let key: string;
    try {
      key = coalescingKey(m);
    } catch (error) {
      // A malformed message (no holder): it fails alone.
      failed.set(k, error);
      return;
    }
    const entry = byKey.get(key);
    if (entry) entry.indices.push(k);
    else byKey.set(key, { message: m, indices: [k] });
  });
  const entries = [...byKey.values()];
  const reads = await readStates(
    env,
    entries.map((e) => e.message),
  );
  const profileStates: ProfileState[] = [];
  const installationStates: InstallationState[] = [];
  reads.forEach((read, k) => {
    if (read.status === "rejected") {
      for (const index of entries[k]?.indices ?? []) failed.set(index, read.reason);
      return;
    }
    const s = read.value;
    // Null: the subject moved (a profile adopted at sign-in) or is gone; its new holder reports.
    if (!s.state) return;
    if (s.kind === "installation")
      installationStates.push({ projectId: s.projectId, state: s.state as InstallationProjection });
    else if ("holder" in s)
      profileStates.push({ projectId: s.projectId, state: s.state as ProfileProjection, holder: s.holder });
  });
  await writeStates(env, profileStates, installationStates, target);
  return failed;
}

/**
 * Writes projected states in one D1 round trip per shard: each project's rows to the shards the
 * directory names (both, while it moves), or all of them to `target`.
 */
async function writeStates(
  env: Env,
  profileStates: ProfileState[],
  installationStates: InstallationState[],
  target?: (profileId: string) => Shard,
): Promise<void> {
  // Each shard gets its own batch: a batch holds messages of many projects, on many shards.
  const byShard = new Map<string, { shard: Shard; profiles: ProfileState[]; installations: InstallationState[] }>();
  // A project that moves writes both of its shards (its `shard_moves` row).
  const groupsOf = async (projectId: string, profileId: string) => {
    const shards = target ? [target(profileId)] : (await projectionFor(env, projectId)).writesFor(profileId);
    return shards.map((s) => {
      let group = byShard.get(s.name);
      if (!group) {
        group = { shard: s, profiles: [], installations: [] };
        byShard.set(s.name, group);
      }
      return group;
    });
  };
  for (const p of profileStates) for (const g of await groupsOf(p.projectId, p.state.profile_id)) g.profiles.push(p);
  for (const i of installationStates) {
    for (const g of await groupsOf(i.projectId, i.state.profile_id)) g.installations.push(i);
  }
  await Promise.all(
    [...byShard.values()].map(({ shard, profiles, installations }) => {
      const statements = [
        ...profileStatements(profiles),
        ...installationStatements(installations),
        // An installation read before its profile was removed must not outlive the removal.
        ...sweepRemovedInstallations(
          shard.db,
          installations.map((s) => ({ projectId: s.projectId, profileId: s.state.profile_id })),
        ),
      ];
      // The sweep is a drizzle delete: it renders itself with `toSQL()`.
      return statements.length ? shard.d1.batch(statements.map((s) => prepare(shard.d1, s as Preparable))) : undefined;
    }),
  );
}

/**
 * Writes profiles their caller already read from their objects (a mass-update chunk's, with
 * `callerProjects`) in one D1 round trip per shard, with the statements a projection batch uses:
 * a profile's row moves forward only, so a state older than what D1 holds changes nothing.
 */
export function writeProfiles(env: Env, states: ProfileState[]): Promise<void> {
  return writeStates(env, states, []);
}

/** Projects the messages, or throws: for a single message replayed from the dead-letter queue. */
export async function project(env: Env, messages: ProjectionMessage[]): Promise<void> {
  const failed = await projectSettled(env, messages);
  const [first] = failed.values();
  if (failed.size) throw first;
}
