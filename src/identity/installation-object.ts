import { DurableObject } from "cloudflare:workers";
import { uuidv7 } from "../lib/ids";
import { meterObject, meterRequests } from "../meter/objects";
import type { InstallationProjection, ProfileProjection } from "../queue/messages";
import { AlarmClock } from "./alarm-clock";
import { ERASURES, type EraseOutcome, type EraseRequest, eraseObject, eraseOrphan, installationHooks } from "./erase";
import { customIdObjectName } from "./identifiers";
import {
  type BatchInput,
  type BatchResult,
  contextWrites,
  type IdentityOp,
  type InstallationOp,
  isDataOp,
  planInstallationOp,
} from "./installation-batch";
import {
  INSTALLATION_SCHEMA,
  InstallationTable,
  installationProjection,
  installationView,
  optedIn,
  projectedChange,
  refreshes,
} from "./installation-row";
import { INTENT_SCHEMA, IntentRunner } from "./intent-runner";
import { LazySchema } from "./lazy-schema";
import { Outbox } from "./outbox";
import {
  type ApplyResult,
  type DataOp,
  PROFILE_SCHEMA,
  PROFILE_TABLES,
  ProfileStore,
  upgradeProfileTables,
  type WriteContext,
} from "./profile-store";
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
    this.installation = new InstallationTable(ctx.storage.sql, this.store.outbox);
    this.intents = new IntentRunner({
      sql: ctx.storage.sql,
      store: this.store,
      installation: this.installation,
      hasTable: () => this.schema.has("intent"),
      customIds: (projectId, customId) => this.customIds(projectId, customId),
      transaction: (fn) => this.transaction(fn),
    });
    this.clock = new AlarmClock(ctx.storage);
    this.outbox = new Outbox(this.store.outbox, { events: env.EVENTS, projection: env.PROJECTION }, this.clock);
    ctx.blockConcurrencyWhile(async () => {
      this.schema.load();
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
        return await this.applyOps(input);
      } finally {
        // Whatever the call put in the outbox (events, projection changes) leaves now, even
        // when one of its steps failed after others committed.
        this.outbox.afterWrite(this.ctx);
      }
    });
  }

  private async applyOps(input: BatchInput): Promise<BatchResult | null> {
    await this.resume();
    if (input.source !== "sdk" && !this.installation.row()) return null;
    this.ensureInstallation(input);
    const result: BatchResult = { profile_id: "", custom_id: null, accepted: 0, duplicates: 0, rejected: [] };
    // Op IDs applied before, plus those taken by earlier ops of this batch. Data ops for an
    // anonymous profile need no look-up: claiming their IDs where they apply is the check.
    const local = this.installation.binding().customId === null && input.ops.every(isDataOp);
    const seen = local
      ? new Set<string>()
      : this.store.processed.among(input.ops.flatMap((op) => (op.id === null ? [] : [op.id])));
    // The profiles that recorded this call as activity: any call counts, once (SPEC §5).
    const active = new Set<string>();
    let segment: DataOp[] = [];
    for (const op of input.ops) {
      const repeat = op.id !== null && seen.has(op.id);
      if (op.id !== null) seen.add(op.id);
      if (isDataOp(op)) {
        if (repeat) result.duplicates++;
        else segment.push(op);
        continue;
      }
      await this.applyData(input, segment, result, active);
      segment = [];
      if (repeat) {
        result.duplicates++;
        continue;
      }
      if (op.type === "identify" || op.type === "logout") await this.transition(input, op);
      else this.applyInstallationOp(input, op);
      result.accepted++;
    }
    segment.push(...contextWrites(input));
    await this.applyData(input, segment, result, active);
    const binding = this.installation.binding();
    // A call that sent no data still counts as activity on the profile, even one that changed nothing.
    if (!active.has(binding.profileId)) await this.applyData(input, [], result, active, { touch: true });
    result.profile_id = binding.profileId;
    result.custom_id = binding.customId;
    return result;
  }

  /** First contact creates the installation and its anonymous profile; later ones refresh it. */
  private ensureInstallation(input: BatchInput): void {
    const table = this.installation;
    // Most calls change nothing here: no transaction for them.
    if (table.row() && !(input.source === "sdk" && refreshes(table.row(), input))) return;
    this.transaction(() => {
      if (!table.row()) {
        const profileId = uuidv7();
        this.store.createProfile(profileId, null, input.receivedAt, {
          time: input.receivedAt,
          kind: "created",
          installation_id: input.installationId,
          custom_id: null,
          source: input.source,
          request_id: input.requestId,
        });
        table.create(input, profileId);
        table.announce();
        return;
      }
      const before = table.row();
      table.refresh(input);
      if (projectedChange(before, table.row())) table.changed();
    });
  }

  /**
   * Data ops go to wherever the profile lives: here when anonymous, else the custom ID's object.
   * No ops, no call, unless `touch` asks to record the call as activity all the same. Adds the
   * profile to `active` when it recorded the call.
   */
  private async applyData(
    input: BatchInput,
    ops: DataOp[],
    result: BatchResult,
    active: Set<string>,
    { touch = false } = {},
  ): Promise<void> {
    const binding = this.installation.binding();
    if (ops.length === 0 && !touch) return;
    active.add(binding.profileId);
    const ctx: WriteContext = {
      projectId: input.projectId,
      customId: binding.customId,
      installationId: input.installationId,
      appId: input.appId,
      requestId: input.requestId,
      receivedAt: input.receivedAt,
    };
    let applied: ApplyResult;
    if (binding.customId === null) {
      applied = this.transaction(() => this.store.applyData(binding.profileId, ops, ctx, Date.now()));
    } else {
      applied = await this.customIds(input.projectId, binding.customId).applyOps(
        { ...ctx, customId: binding.customId },
        ops,
      );
      // Remember what was forwarded, so a retried batch is acknowledged here even after a
      // later op of the same batch moved the installation to another profile.
      const rejected = new Set(applied.rejected.map((r) => r.op_id));
      const forwarded = ops.flatMap((op) => (op.id !== null && !rejected.has(op.id) ? [op.id] : []));
      if (forwarded.length) this.transaction(() => this.store.processed.record(forwarded, null, Date.now()));
    }
    result.accepted += applied.accepted;
    result.duplicates += applied.duplicates;
    result.rejected.push(...applied.rejected);
  }

  private applyInstallationOp(input: BatchInput, op: InstallationOp): void {
    const { profileId, customId } = this.installation.binding();
    const row = this.installation.row();
    const effect = planInstallationOp(op, row ? optedIn(row) : null);
    this.transaction(() => {
      if (effect.push && "token" in effect.push)
        this.installation.setPushToken(effect.push.provider, effect.push.token);
      if (effect.push && "optedIn" in effect.push) this.installation.setOptIn(effect.push.optedIn);
      if (effect.event) {
        const { name, attributes } = effect.event;
        this.store.enqueueEvents(
          profileId,
          [{ id: op.id, name, time: op.time, attributes, label: null, tags: [], source: "sdk" }],
          { ...input, customId },
        );
      }
      this.store.processed.mark(op.id, null, Date.now());
      if (effect.push) this.installation.changed();
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
    return this.schema.exists ? this.store.projection(profileId) : null;
  }

  /** The installation as the D1 projection stores it; null if never seen. */
  installationProjection(): InstallationProjection | null {
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
      return outcome;
    });
  }

  /** Purge of one orphan this object keeps, once it has been orphaned long enough. */
  eraseOrphan(req: EraseRequest & { profileId: string; orphanedBefore: string }): EraseOutcome {
    if (!this.schema.exists) return { erased: false, reason: "not_held" };
    const outcome = this.transaction(() => eraseOrphan(this.ctx.storage, req));
    this.store.processed.forget();
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
  erase: true,
  eraseOrphan: true,
  review: true,
  describe: true,
  pushTarget: true,
  recordPushOutcome: true,
});
