import type { AttachResult, CustomIdObject } from "./custom-id-object";
import type { InstallationTable } from "./installation-row";
import type { ProfileSnapshot, ProfileStore } from "./profile-store";
import { type Binding, type Intent, settleCandidate } from "./transitions";

export const INTENT_SCHEMA = `
CREATE TABLE IF NOT EXISTS intent (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
`;

export interface IntentDeps {
  sql: SqlStorage;
  store: ProfileStore;
  installation: InstallationTable;
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
    if (this.#recorded === false) return null;
    const row = this.deps.sql.exec<{ body: string }>("SELECT body FROM intent WHERE id = 1").toArray()[0];
    this.#recorded = row !== undefined;
    return row ? (JSON.parse(row.body) as Intent) : null;
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
        store.createProfile(intent.newProfileId, null, intent.time, {
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
    const candidate = intent.fresh ? freshCandidate(intent, installationId) : store.snapshot(intent.candidateProfileId);
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

  private complete(intent: Intent, binding: Binding): void {
    this.deps.installation.bind(binding);
    this.deps.store.processed.mark(intent.opId, null, Date.now());
    this.deps.sql.exec("DELETE FROM intent WHERE id = 1");
    this.#recorded = false;
    this.deps.installation.changed();
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
