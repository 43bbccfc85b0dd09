import { DurableObject } from "cloudflare:workers";
import { uuidv7 } from "../lib/ids";
import { meterObject, meterRequests } from "../meter/objects";
import type { InstallationProjection, ProfileProjection } from "../queue/messages";
import { AlarmClock } from "./alarm-clock";
import { ERASURES, type EraseOutcome, type EraseRequest, eraseObject, eraseOrphan, installationHooks } from "./erase";
import { customIdObjectName } from "./identifiers";
import { BatchApplier } from "./installation-apply";
import type { BatchInput, BatchResult, IdentityOp } from "./installation-batch";
import {
  INSTALLATION_SCHEMA,
  InstallationTable,
  installationProjection,
  installationView,
  optedIn,
} from "./installation-row";
import { INTENT_SCHEMA, IntentRunner } from "./intent-runner";
import { LazySchema } from "./lazy-schema";
import { Outbox } from "./outbox";
import { PROFILE_SCHEMA, PROFILE_TABLES, ProfileStore, upgradeProfileTables } from "./profile-store";
import type { DataOp } from "./profile-types";
import { type ProfileRecord, profileRecord } from "./review";
import { type Binding, type Intent, MAX_INTENT_ATTEMPTS, planIntent, resumeDelayMs } from "./transitions";
import { type InstallationView, type ProfileView, profileView } from "./view";

export type { BatchInput, BatchOp, BatchResult, DeviceContext, IdentityOp, InstallationOp } from "./installation-batch";

export interface PushTarget {
  installationId: string;
  profileId: string;
  customId: string | null;
  appId: string | null;
  provider: string | null;
  token: string | null;
  optedIn: boolean | null;
  transitionPending: boolean;
}

export type InstallationDescription = {
  installation: InstallationView;
  binding: Binding;
  /** Present when the installation is anonymous: its profile lives here. */
  profile: ProfileView | null;
  /** A transition is under way: the binding may not show it yet. */
  transitionPending: boolean;
};

/**
 * One per (project, installation). Owns the installation's binding to a profile and, while
 * the installation is anonymous, that profile. Batches for the installation run one after
 * another; a transition that involves a custom ID records its intent, calls the custom ID's
 * object with an idempotency key, then completes, and is resumed first thing (or by the
 * alarm) if the object was evicted or failed half-way.
 */
export class InstallationObject extends DurableObject<Env> {
  private readonly schema: LazySchema;
  private readonly store: ProfileStore;
  private readonly installation: InstallationTable;
  private readonly intents: IntentRunner;
  private readonly outbox: Outbox;
  private readonly clock: AlarmClock;
  private readonly batch: BatchApplier;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(state: DurableObjectState, bindings: Env) {
    super(state, bindings);
    const { ctx, env } = meterObject(this, state, bindings);
    this.schema = new LazySchema(
      ctx.storage.sql,
      `${PROFILE_SCHEMA}${INSTALLATION_SCHEMA}${INTENT_SCHEMA}${ERASURES};`,
      [...PROFILE_TABLES, "installation"],
      upgradeProfileTables,
    );
    this.store = new ProfileStore(ctx.storage);
    this.installation = new InstallationTable(ctx.storage.sql, this.store.commits);
    this.intents = new IntentRunner({
      sql: ctx.storage.sql,
      store: this.store,
      installation: this.installation,
      hasTable: () => this.schema.has("intent"),
      customIds: (projectId, customId) => this.customIds(projectId, customId),
      transaction: (fn) => this.transaction(fn),
    });
    this.batch = new BatchApplier({
      store: this.store,
      installation: this.installation,
      transaction: (fn) => this.transaction(fn),
      customIds: (projectId, customId) => this.customIds(projectId, customId),
      resume: () => this.resume(),
      transition: (input, op) => this.transition(input, op),
    });
    this.clock = new AlarmClock(ctx.storage);
    this.outbox = new Outbox(this.store.commits, { events: env.EVENTS, projection: env.PROJECTION }, this.clock);
    ctx.blockConcurrencyWhile(async () => {
      this.schema.load();
      this.store.assumeTables((table) => this.schema.has(table));
      await this.clock.load();
    });
  }

  /** Runs `task` after every task queued before it, even across awaits of other objects. */
  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** `transactionSync`, forgetting what is cached if the transaction rolls back. */
  private transaction<T>(fn: () => T): T {
    try {
      const result = this.store.transaction(fn);
      this.outbox.committed();
      return result;
    } catch (error) {
      this.installation.forget();
      this.intents.forget();
      throw error;
    }
  }

  private customIds(projectId: string, customId: string) {
    return this.env.CUSTOM_IDS.get(this.env.CUSTOM_IDS.idFromName(customIdObjectName(projectId, customId)));
  }

  /** Applies an SDK batch in order, as one serialized step; first contact creates the installation. */
  async applyBatch(input: BatchInput): Promise<BatchResult> {
    const result = await this.apply(input);
    if (!result) throw new Error("an SDK batch always has an installation");
    return result;
  }

  /**
   * Applies Profile API writes addressed by installation ID to the profile the installation is
   * on. Null when the SDK never sent this installation: the API does not invent installations.
   */
  applyApiOps(input: {
    projectId: string;
    installationId: string;
    ops: DataOp[];
    requestId: string;
    receivedAt: string;
  }): Promise<BatchResult | null> {
    return this.apply({ ...input, appId: null, platform: null, context: {}, source: "api" });
  }

  private apply(input: BatchInput): Promise<BatchResult | null> {
    return this.serialized(async () => {
      this.store.holder = { projectId: input.projectId, kind: "installation", id: input.installationId };
      // The Profile API never creates an installation: nor the object's tables.
      if (input.source !== "sdk" && !this.schema.exists) return null;
      this.schema.ensure();
      try {
        return await this.batch.applyOps(input);
      } finally {
        // Whatever the call put in the outbox (events, projection changes) leaves now, even
        // when one of its steps failed after others committed.
        this.outbox.afterWrite(this.ctx);
      }
    });
  }

  private async transition(input: BatchInput, op: IdentityOp): Promise<void> {
    const intent = planIntent(this.installation.binding(), op, {
      key: `${input.installationId}:${op.id}`,
      requestId: input.requestId,
      freshProfileId: uuidv7(),
    });
    if (!intent) {
      this.store.processed.mark(op.id, null, Date.now());
      return;
    }
    // The first transition of the installation makes the table it is recorded in.
    this.schema.ensure("intent");
    this.transaction(() => this.intents.record(intent));
    await this.attempt(input.projectId, intent);
  }

  /** Finishes a transition left half-way by an eviction or an exception. */
  private async resume(): Promise<void> {
    if (!this.schema.exists) return;
    const intent = this.intents.pending();
    const installation = this.installation.row();
    if (!intent || !installation) return;
    this.store.holder = { projectId: installation.project_id, kind: "installation", id: installation.installation_id };
    await this.attempt(installation.project_id, intent);
  }

  /**
   * One attempt at the recorded transition, counted first, with the alarm armed to try again
   * (a caller that goes away, an attempt that throws). When the last allowed attempt fails, the
   * transition ends in its terminal outcome instead and the call goes on.
   */
  private async attempt(projectId: string, intent: Intent): Promise<void> {
    const attempt = this.transaction(() => this.intents.attempt());
    this.clock.armBy(Date.now() + resumeDelayMs(attempt), "intent");
    try {
      await this.intents.run(projectId, intent);
    } catch (error) {
      if (attempt < MAX_INTENT_ATTEMPTS) throw error;
      const outcome = await this.intents.abandon(projectId, intent);
      console.error(
        JSON.stringify({
          level: "error",
          msg: "transition abandoned after its last attempt",
          kind: intent.kind,
          custom_id: intent.customId,
          request_id: intent.requestId,
          attempts: attempt,
          binding: outcome.binding,
          recorded: outcome.recordOn !== null,
          error: String(error),
        }),
      );
    }
    this.clock.release("intent");
  }

  /** What a message needs to reach this installation (src/messaging/); null if never seen. */
  pushTarget(): PushTarget | null {
    const row = this.schema.exists ? this.installation.row() : null;
    if (!row) return null;
    return {
      installationId: row.installation_id,
      profileId: row.profile_id,
      customId: row.custom_id,
      appId: row.app_id,
      provider: row.push_provider,
      token: row.push_token,
      optedIn: optedIn(row),
      transitionPending: this.intents.pending() !== null,
    };
  }

  /**
   * Records what became of a message sent here: its event (idempotent by `event.id`) on the
   * installation's profile, wherever that lives, and, when the push service said the token is
   * gone, the token removed, unless the device has sent a new one since.
   */
  async recordPushOutcome(input: {
    projectId: string;
    installationId: string;
    requestId: string;
    event: DataOp & { type: "event" };
    goneToken: string | null;
  }): Promise<BatchResult | null> {
    const row = this.schema.exists ? this.installation.row() : null;
    if (!row) return null;
    if (input.goneToken !== null) {
      await this.serialized(async () => {
        if (this.installation.row()?.push_token !== input.goneToken) return;
        this.store.holder = { projectId: input.projectId, kind: "installation", id: input.installationId };
        this.transaction(() => {
          this.installation.clearPushToken();
          this.installation.changed();
        });
        this.outbox.afterWrite(this.ctx);
      });
    }
    return this.apply({
      projectId: input.projectId,
      installationId: input.installationId,
      appId: row.app_id,
      platform: null,
      context: {},
      ops: [input.event],
      requestId: input.requestId,
      receivedAt: input.event.time,
      source: "api",
    });
  }

  /** A profile held here (anonymous or orphaned) as the D1 projection stores it. */
  projection(profileId: string): ProfileProjection | null {
    return this.#profileState(profileId);
  }

  /** The installation as the D1 projection stores it; null if never seen. */
  installationProjection(): InstallationProjection | null {
    return this.#installationState();
  }

  /** Both at once, for a change that moved the installation and a profile it holds: one call, not two. */
  installationAndProfile(profileId: string): {
    installation: InstallationProjection | null;
    profile: ProfileProjection | null;
  } {
    return { installation: this.#installationState(), profile: this.#profileState(profileId) };
  }

  // The reads behind those calls: a call counts as a request (meterRequests), these do not.
  #profileState(profileId: string): ProfileProjection | null {
    return this.schema.exists ? this.store.projection(profileId) : null;
  }

  #installationState(): InstallationProjection | null {
    const row = this.schema.exists ? this.installation.row() : null;
    return row ? installationProjection(row) : null;
  }

  /**
   * Privacy remove or purge: deletes the installation, its anonymous profile and the orphans it
   * keeps, after the batches queued before it; guarded and idempotent (./erase.ts). A transition
   * left half-way is finished first: a custom ID may already hold the profile this object still
   * shows as its own, and the guard must judge where the installation really is.
   */
  erase(req: EraseRequest): Promise<EraseOutcome> {
    return this.serialized(async () => {
      if (!this.schema.exists) return { erased: false, reason: "not_held" } as const;
      // A failed attempt throws: the remove is retried, and finds the transition further on.
      await this.resume();
      const outcome = this.transaction(() =>
        eraseObject(this.ctx.storage, req, installationHooks(this.ctx.storage.sql)),
      );
      this.installation.forget();
      this.intents.forget();
      this.store.processed.forget();
      this.store.attributeTable.forget();
      return outcome;
    });
  }

  /** Purge of one orphan this object keeps, once it has been orphaned long enough. */
  eraseOrphan(req: EraseRequest & { profileId: string; orphanedBefore: string }): EraseOutcome {
    if (!this.schema.exists) return { erased: false, reason: "not_held" };
    const outcome = this.transaction(() => eraseOrphan(this.ctx.storage, req));
    this.store.processed.forget();
    this.store.attributeTable.forget();
    return outcome;
  }

  /** A profile held here in full, for a privacy review. */
  review(profileId: string): ProfileRecord | null {
    return this.schema.exists ? profileRecord(this.store, profileId) : null;
  }

  /** The installation, its binding, and its profile when anonymous; null if never seen. */
  describe(): InstallationDescription | null {
    const row = this.schema.exists ? this.installation.row() : null;
    if (!row) return null;
    const profile = row.custom_id === null ? this.store.profile(row.profile_id) : null;
    return {
      installation: installationView(row),
      binding: { profileId: row.profile_id, customId: row.custom_id },
      profile: profile ? profileView(this.store, profile) : null,
      transitionPending: this.intents.pending() !== null,
    };
  }

  override async alarm(): Promise<void> {
    this.clock.fired();
    try {
      // A failed attempt armed the alarm again (or ended the transition): nothing to rethrow.
      await this.serialized(() => this.resume());
    } catch (error) {
      console.warn(JSON.stringify({ level: "warn", msg: "transition attempt failed", error: String(error) }));
    } finally {
      // The outbox's rows go out whatever became of the transition.
      if (this.schema.exists) await this.outbox.retry();
    }
  }
}

// Every call into the object is a billed request (the meter is off unless METER is "on").
meterRequests(InstallationObject, {
  applyBatch: true,
  applyApiOps: true,
  projection: true,
  installationProjection: true,
  installationAndProfile: true,
  erase: true,
  eraseOrphan: true,
  review: true,
  describe: true,
  pushTarget: true,
  recordPushOutcome: true,
});
