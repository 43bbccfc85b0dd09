import type { AttachResult, CustomIdObject } from "./custom-id-object";
import type { HistoryEntry } from "./history-table";
import type { InstallationTable } from "./installation-row";
import { snapshotOf } from "./profile-handover";
import type { ProfileStore } from "./profile-store";
import type { ProfileSnapshot } from "./profile-types";
import { type Abandonment, type Binding, type Intent, planAbandon, settleCandidate } from "./transitions";

export const INTENT_SCHEMA = `
CREATE TABLE IF NOT EXISTS intent (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
`;

export interface IntentDeps {
  sql: SqlStorage;
  store: ProfileStore;
  installation: InstallationTable;
  /** Whether the intent table exists: the object makes it before its first transition. */
  hasTable: () => boolean;
  customIds: (projectId: string, customId: string) => DurableObjectStub<CustomIdObject>;
  transaction: <T>(fn: () => T) => T;
}

/**
 * Runs the transition an installation recorded as under way: the calls to custom ID objects
 * (idempotent by the intent's key, so running twice is safe), then, in one commit, the
 * installation's side of it and the end of the intent.
 */
export class IntentRunner {
  /** Whether an intent is recorded; undefined until read, or after a rollback. */
  #recorded: boolean | undefined;

  constructor(private readonly deps: IntentDeps) {}

  /** Records the intent; call inside a transaction, before the first call to another object. */
  record(intent: Intent): void {
    this.deps.sql.exec("INSERT INTO intent (id, body) VALUES (1, ?)", JSON.stringify(intent));
    this.#recorded = true;
  }

  /** The intent left under way, if any. */
  pending(): Intent | null {
    if (this.#recorded === false || !this.deps.hasTable()) return null;
    const row = this.deps.sql.exec<{ body: string }>("SELECT body FROM intent WHERE id = 1").toArray()[0];
    this.#recorded = row !== undefined;
    return row ? (JSON.parse(row.body) as Intent) : null;
  }

  /** Counts one more attempt at the recorded intent; call inside a transaction. The count so far. */
  attempt(): number {
    const row = this.deps.sql
      .exec<{ attempts: number }>(
        `UPDATE intent SET body = json_set(body, '$.attempts', coalesce(body->>'$.attempts', 0) + 1)
         WHERE id = 1 RETURNING body->>'$.attempts' AS attempts`,
      )
      .toArray()[0];
    return row?.attempts ?? 0;
  }

  /** A rollback may have undone a record or an end: read the table next time. */
  forget(): void {
    this.#recorded = undefined;
  }

  async run(projectId: string, intent: Intent): Promise<void> {
    const { store, installation, customIds, transaction } = this.deps;
    const row = installation.row();
    if (!row) throw new Error("installation not initialised");
    const installationId = row.installation_id;
    const common = { installationId, key: intent.key, time: intent.time, requestId: intent.requestId };

    if (intent.kind === "logout") {
      await customIds(projectId, intent.customId).detach({
        ...common,
        projectId,
        customId: intent.customId,
        kind: "logout",
      });
      transaction(() => {
        store.createProfile(intent.newProfileId, null, {
          time: intent.time,
          kind: "logout",
          installation_id: installationId,
          custom_id: intent.customId,
          source: "sdk",
          request_id: intent.requestId,
        });
        this.complete(intent, { profileId: intent.newProfileId, customId: null });
      });
      return;
    }

    if (intent.detachFrom) {
      await customIds(projectId, intent.detachFrom).detach({
        ...common,
        projectId,
        customId: intent.detachFrom,
        key: `${intent.key}:leave`,
        kind: "switch_user",
      });
    }
    const candidate = intent.fresh
      ? freshCandidate(intent, installationId)
      : snapshotOf(store, intent.candidateProfileId);
    const answer: AttachResult = await customIds(projectId, intent.customId).attach({
      ...common,
      projectId,
      customId: intent.customId,
      candidate,
    });
    transaction(() => {
      const settle = settleCandidate(answer.outcome, intent.fresh);
      if (settle === "moved") store.remove(intent.candidateProfileId);
      if (settle === "orphaned") {
        store.orphan(intent.candidateProfileId, {
          time: intent.time,
          kind: "orphaned",
          installation_id: installationId,
          custom_id: intent.customId,
          source: "sdk",
          request_id: intent.requestId,
        });
      }
      this.complete(intent, { profileId: answer.profileId, customId: intent.customId });
    });
  }

  /**
   * Ends a transition that failed every attempt in its terminal outcome (`planAbandon`),
   * recorded in the identity history of the profile the installation is on when it is held
   * here. The op counts as processed: the SDK's resend of it is a duplicate, not a new try.
   */
  async abandon(projectId: string, intent: Intent): Promise<Abandonment> {
    const { store, installation, customIds, transaction } = this.deps;
    const row = installation.row();
    if (!row) throw new Error("installation not initialised");
    const installationId = row.installation_id;
    let detached = false;
    if (intent.kind === "identify" && intent.detachFrom !== null) {
      // Idempotent: answers from memory if the transition already left that user.
      detached = await customIds(projectId, intent.detachFrom)
        .detach({
          projectId,
          customId: intent.detachFrom,
          installationId,
          key: `${intent.key}:leave`,
          kind: "switch_user",
          time: intent.time,
          requestId: intent.requestId,
        })
        .then(
          () => true,
          () => false,
        );
    }
    const outcome = planAbandon(intent, installation.binding(), detached);
    const entry = (kind: HistoryEntry["kind"], customId: string | null): HistoryEntry => ({
      time: intent.time,
      kind,
      installation_id: installationId,
      custom_id: customId,
      source: "sdk",
      request_id: intent.requestId,
    });
    transaction(() => {
      if (outcome.newProfileId) store.createProfile(outcome.newProfileId, null, entry("created", null));
      if (outcome.recordOn) store.appendHistory(outcome.recordOn, entry("transition_abandoned", intent.customId));
      this.complete(intent, outcome.binding);
    });
    return outcome;
  }

  private complete(intent: Intent, binding: Binding): void {
    const before = this.deps.installation.binding();
    if (before.profileId !== binding.profileId || before.customId !== binding.customId) {
      this.deps.installation.bind(binding);
      this.deps.installation.changed();
    }
    this.deps.store.processed.mark(intent.opId, null, Date.now());
    this.deps.sql.exec("DELETE FROM intent WHERE id = 1");
    this.#recorded = false;
  }
}

/** The empty profile offered when the installation switches user: it had no anonymous one. */
function freshCandidate(intent: Extract<Intent, { kind: "identify" }>, installationId: string): ProfileSnapshot {
  return {
    profileId: intent.candidateProfileId,
    version: 0,
    createdAt: intent.time,
    lastActivityAt: intent.time,
    attributes: [],
    events: [],
    history: [
      {
        time: intent.time,
        kind: "created",
        installation_id: installationId,
        custom_id: null,
        source: "sdk",
        request_id: intent.requestId,
      },
    ],
    processed: [],
  };
}
