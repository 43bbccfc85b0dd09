import { DurableObject } from "cloudflare:workers";
import { uuidv7 } from "../lib/ids";
import type { EventAttributes } from "../lib/json";
import type { InstallationProjection, ProfileProjection } from "../queue/messages";
import { AlarmClock } from "./alarm-clock";
import type { Source } from "./attributes";
import type { AttachResult } from "./custom-id-object";
import { type EraseOutcome, type EraseRequest, eraseObject, eraseOrphan, installationHooks } from "./erase";
import { customIdObjectName } from "./identifiers";
import { Outbox } from "./outbox";
import { type ApplyResult, type DataOp, ProfileStore, type WriteContext } from "./profile-store";
import { type ProfileRecord, profileRecord } from "./review";
import { type Binding, planIdentify, planLogout, settleCandidate } from "./transitions";
import { type InstallationView, type ProfileView, profileView } from "./view";

export interface DeviceContext {
  platform?: string;
  app_version?: string;
  sdk_version?: string;
  os_version?: string;
  device_model?: string;
  language?: string;
  region?: string;
  timezone?: string;
}

/** Ops that change the installation itself rather than its profile's data. */
export type InstallationOp =
  | { type: "push_token"; id: string; time: string; provider: string; token: string }
  | { type: "push_optin"; id: string; time: string; opted_in: boolean }
  | { type: "push_opened"; id: string; time: string; campaign_token: string | null; transactional_token: string | null }
  | {
      type: "inapp";
      id: string;
      time: string;
      event: "supplied" | "shown" | "clicked" | "closed";
      campaign_token: string;
      campaign_id: string | null;
      cta_index: number | null;
      cta_label: string | null;
    };

export type IdentityOp =
  | { type: "identify"; id: string; time: string; custom_id: string }
  | { type: "logout"; id: string; time: string };

export type BatchOp = IdentityOp | InstallationOp | DataOp;

export interface BatchInput {
  projectId: string;
  installationId: string;
  appId: string | null;
  platform: string | null;
  context: DeviceContext;
  ops: BatchOp[];
  requestId: string;
  receivedAt: string;
  source: "sdk" | "api";
}

export interface BatchResult {
  profile_id: string;
  custom_id: string | null;
  accepted: number;
  duplicates: number;
  rejected: ApplyResult["rejected"];
}

export type InstallationDescription = {
  installation: InstallationView;
  binding: Binding;
  /** Present when the installation is anonymous: its profile lives here. */
  profile: ProfileView | null;
};

/** A cross-object transition, written before the first call to another object (SPEC §2). Exported for the crash tests. */
export type Intent =
  | {
      kind: "identify";
      opId: string;
      key: string;
      customId: string;
      detachFrom: string | null;
      candidateProfileId: string;
      fresh: boolean;
      time: string;
      requestId: string;
    }
  | {
      kind: "logout";
      opId: string;
      key: string;
      customId: string;
      newProfileId: string;
      time: string;
      requestId: string;
    };

interface InstallationRow {
  project_id: string;
  installation_id: string;
  app_id: string | null;
  platform: string | null;
  app_version: string | null;
  sdk_version: string | null;
  os_version: string | null;
  device_model: string | null;
  push_provider: string | null;
  push_token: string | null;
  push_opted_in: number | null;
  first_seen_at: string;
  last_seen_at: string;
  profile_id: string;
  custom_id: string | null;
  version: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS installation (
  id INTEGER PRIMARY KEY CHECK (id = 1), project_id TEXT NOT NULL, installation_id TEXT NOT NULL,
  app_id TEXT, platform TEXT, app_version TEXT, sdk_version TEXT, os_version TEXT, device_model TEXT,
  push_provider TEXT, push_token TEXT, push_opted_in INTEGER,
  first_seen_at TEXT NOT NULL, last_seen_at TEXT NOT NULL, profile_id TEXT NOT NULL, custom_id TEXT,
  version INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS intent (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
`;

/** How soon the alarm resumes a transition whose caller went away. */
const RESUME_AFTER_MS = 5_000;

/**
 * One per (project, installation). Owns the installation's binding to a profile and, while
 * the installation is anonymous, that profile. Batches for the installation run one after
 * another; a transition that involves a custom ID records its intent, calls the custom ID's
 * object with an idempotency key, then completes, and is resumed first thing (or by the
 * alarm) if the object was evicted or failed half-way.
 */
export class InstallationObject extends DurableObject<Env> {
  private readonly store: ProfileStore;
  private readonly outbox: Outbox;
  private readonly clock: AlarmClock;
  #queue: Promise<unknown> = Promise.resolve();
  /** The installation row as last read; undefined once a write may have changed it. */
  #row: InstallationRow | null | undefined;
  /** Whether a transition is recorded as under way; undefined until read. */
  #intent: boolean | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new ProfileStore(ctx.storage);
    this.clock = new AlarmClock(ctx.storage);
    this.outbox = new Outbox(this.store, { events: env.EVENTS, projection: env.PROJECTION }, this.clock);
    ctx.blockConcurrencyWhile(async () => {
      this.store.migrate();
      ctx.storage.sql.exec(SCHEMA);
      await this.clock.load();
    });
  }

  /** Runs `task` after every task queued before it, even across awaits of other objects. */
  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  private row(): InstallationRow | null {
    this.#row ??= (this.ctx.storage.sql.exec("SELECT * FROM installation WHERE id = 1").toArray()[0] ??
      null) as InstallationRow | null;
    return this.#row;
  }

  /** Writes the installation row (one INSERT or UPDATE) and keeps what it now holds. */
  private writeRow(query: string, ...params: SqlStorageValue[]): void {
    this.#row = undefined;
    const rows = this.ctx.storage.sql.exec(`${query} RETURNING *`, ...params).toArray();
    this.#row = (rows[0] ?? null) as InstallationRow | null;
  }

  /** `transactionSync`, forgetting what is cached if the transaction rolls back. */
  private transaction<T>(fn: () => T): T {
    try {
      return this.store.transaction(fn);
    } catch (error) {
      this.#row = undefined;
      this.#intent = undefined;
      throw error;
    }
  }

  private binding(): Binding {
    const row = this.row();
    if (!row) throw new Error("installation not initialised");
    return { profileId: row.profile_id, customId: row.custom_id };
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
      await this.resume();
      if (input.source !== "sdk" && !this.row()) return null;
      this.ensureInstallation(input);
      const result: BatchResult = { profile_id: "", custom_id: null, accepted: 0, duplicates: 0, rejected: [] };
      // Op IDs applied before, plus those taken by earlier ops of this batch. Data ops for an
      // anonymous profile need no look-up: claiming their IDs where they apply is the check.
      const local = this.binding().customId === null && input.ops.every(isDataOp);
      const seen = local
        ? new Set<string>()
        : this.store.processedAmong(input.ops.flatMap((op) => (op.id === null ? [] : [op.id])));
      let segment: DataOp[] = [];
      for (const op of input.ops) {
        const repeat = op.id !== null && seen.has(op.id);
        if (op.id !== null) seen.add(op.id);
        if (isDataOp(op)) {
          if (repeat) result.duplicates++;
          else segment.push(op);
          continue;
        }
        await this.applyData(input, segment, result);
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
      const active = await this.applyData(input, segment, result);
      const binding = this.binding();
      // Any call counts as activity on the profile (SPEC §5), even one that changed nothing.
      if (!active) this.transaction(() => this.store.touch(binding.profileId, input.receivedAt));
      result.profile_id = binding.profileId;
      result.custom_id = binding.customId;
      // Whatever the batch put in the outbox (events, projection changes) leaves now.
      this.outbox.afterWrite(this.ctx);
      return result;
    });
  }

  /** First contact creates the installation and its anonymous profile; later ones refresh it. */
  private ensureInstallation(input: BatchInput): void {
    // Most calls change nothing here: no transaction for them.
    if (this.row() && !(input.source === "sdk" && refreshes(this.row(), input))) return;
    this.transaction(() => {
      const created = !this.row();
      if (created) {
        const profileId = uuidv7();
        this.store.createProfile(profileId, null, input.receivedAt, {
          time: input.receivedAt,
          kind: "created",
          installation_id: input.installationId,
          custom_id: null,
          source: input.source,
          request_id: input.requestId,
        });
        this.writeRow(
          `INSERT INTO installation (id, project_id, installation_id, app_id, platform, first_seen_at, last_seen_at, profile_id)
           VALUES (1, ?, ?, ?, ?, ?, ?, ?)`,
          input.projectId,
          input.installationId,
          input.appId,
          input.platform,
          input.receivedAt,
          input.receivedAt,
          profileId,
        );
      }
      const before = this.row();
      if (input.source === "sdk" && refreshes(before, input)) this.refresh(input);
      if (created || projectedChange(before, this.row())) this.installationChanged();
    });
  }

  /** Takes in what an SDK call says about the device, and the time of the visit. */
  private refresh(input: BatchInput): void {
    const c = input.context;
    this.writeRow(
      `UPDATE installation SET app_id = coalesce(?, app_id), platform = coalesce(?, platform),
           app_version = coalesce(?, app_version), sdk_version = coalesce(?, sdk_version),
           os_version = coalesce(?, os_version), device_model = coalesce(?, device_model),
           last_seen_at = max(last_seen_at, ?) WHERE id = 1`,
      input.appId,
      input.platform,
      c.app_version ?? null,
      c.sdk_version ?? null,
      c.os_version ?? null,
      c.device_model ?? null,
      input.receivedAt,
    );
  }

  /** The installation's projected state changed: move its version on and tell the projection. */
  private installationChanged(): void {
    const row = this.row();
    if (!row) return;
    this.writeRow("UPDATE installation SET version = version + 1 WHERE id = 1");
    this.store.markChanged({
      type: "installation_changed",
      project_id: row.project_id,
      installation_id: row.installation_id,
    });
  }

  /**
   * Data ops go to wherever the profile lives: here when anonymous, else the custom ID's object.
   * True when the profile recorded the call as activity.
   */
  private async applyData(input: BatchInput, ops: DataOp[], result: BatchResult): Promise<boolean> {
    const binding = this.binding();
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
      if (ops.length === 0) return false;
      applied = this.transaction(() => {
        this.store.pruneProcessed(Date.now());
        return this.store.applyData(binding.profileId, ops, ctx, Date.now());
      });
    } else {
      // Sent even when empty: any call counts as activity on the signed-in profile.
      applied = await this.customIds(input.projectId, binding.customId).applyOps(
        { ...ctx, customId: binding.customId },
        ops,
      );
      // Remember what was forwarded, so a retried batch is acknowledged here even after a
      // later op of the same batch moved the installation to another profile.
      const rejected = new Set(applied.rejected.map((r) => r.op_id));
      this.transaction(() => {
        for (const op of ops)
          if (op.id !== null && !rejected.has(op.id)) this.store.markProcessed(op.id, null, Date.now());
      });
    }
    result.accepted += applied.accepted;
    result.duplicates += applied.duplicates;
    result.rejected.push(...applied.rejected);
    return true;
  }

  private applyInstallationOp(input: BatchInput, op: InstallationOp): void {
    const { profileId, customId } = this.binding();
    const event = (name: string, attributes: EventAttributes) => {
      this.store.enqueueEvents(
        profileId,
        [{ id: op.id, name, time: op.time, attributes, label: null, tags: [], source: "sdk" }],
        { ...input, customId },
      );
    };
    this.transaction(() => {
      switch (op.type) {
        case "push_token":
          this.writeRow(
            "UPDATE installation SET push_provider = ?, push_token = ? WHERE id = 1",
            op.provider,
            op.token,
          );
          break;
        case "push_optin": {
          const before = this.row()?.push_opted_in;
          this.writeRow("UPDATE installation SET push_opted_in = ? WHERE id = 1", op.opted_in ? 1 : 0);
          if (before !== (op.opted_in ? 1 : 0)) event(op.opted_in ? "push_optin" : "push_optout", {});
          break;
        }
        case "push_opened":
          event("push_opened", { campaign_token: op.campaign_token, transactional_token: op.transactional_token });
          break;
        case "inapp":
          event(`inapp_${op.event}`, {
            campaign_token: op.campaign_token,
            campaign_id: op.campaign_id,
            cta_index: op.cta_index,
            cta_label: op.cta_label,
          });
          break;
      }
      this.store.markProcessed(op.id, null, Date.now());
      if (op.type === "push_token" || op.type === "push_optin") this.installationChanged();
    });
  }

  private async transition(input: BatchInput, op: IdentityOp): Promise<void> {
    const binding = this.binding();
    const key = `${input.installationId}:${op.id}`;
    const base = { opId: op.id, key, time: op.time, requestId: input.requestId };
    let intent: Intent | null = null;
    if (op.type === "identify") {
      const plan = planIdentify(binding, op.custom_id, uuidv7());
      if (plan.kind === "claim") {
        const { detachFrom, candidateProfileId, fresh } = plan;
        intent = { kind: "identify", ...base, customId: op.custom_id, detachFrom, candidateProfileId, fresh };
      }
    } else {
      const plan = planLogout(binding, uuidv7());
      if (plan.kind === "leave") {
        intent = { kind: "logout", ...base, customId: plan.customId, newProfileId: plan.newProfileId };
      }
    }
    if (!intent) {
      this.store.markProcessed(op.id, null, Date.now());
      return;
    }
    this.transaction(() => {
      this.ctx.storage.sql.exec("INSERT INTO intent (id, body) VALUES (1, ?)", JSON.stringify(intent));
      this.#intent = true;
    });
    this.clock.armBy(Date.now() + RESUME_AFTER_MS);
    await this.run(input.projectId, intent);
  }

  /** Finishes a transition left half-way by an eviction or an exception. */
  private async resume(): Promise<void> {
    if (this.#intent === false) return;
    const row = this.ctx.storage.sql.exec<{ body: string }>("SELECT body FROM intent WHERE id = 1").toArray()[0];
    this.#intent = row !== undefined;
    const installation = this.row();
    if (!row || !installation) return;
    this.store.holder = { projectId: installation.project_id, kind: "installation", id: installation.installation_id };
    await this.run(installation.project_id, JSON.parse(row.body) as Intent);
  }

  /** The calls to other objects are idempotent by `intent.key`, so running twice is safe. */
  private async run(projectId: string, intent: Intent): Promise<void> {
    const installation = this.row();
    if (!installation) throw new Error("installation not initialised");
    const installationId = installation.installation_id;
    const common = { installationId, key: intent.key, time: intent.time, requestId: intent.requestId };

    if (intent.kind === "logout") {
      await this.customIds(projectId, intent.customId).detach({
        ...common,
        projectId,
        customId: intent.customId,
        kind: "logout",
      });
      this.transaction(() => {
        this.store.createProfile(intent.newProfileId, null, intent.time, {
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
      await this.customIds(projectId, intent.detachFrom).detach({
        ...common,
        projectId,
        customId: intent.detachFrom,
        key: `${intent.key}:leave`,
        kind: "switch_user",
      });
    }
    const candidate = intent.fresh
      ? {
          profileId: intent.candidateProfileId,
          version: 0,
          createdAt: intent.time,
          lastActivityAt: intent.time,
          attributes: [],
          events: [],
          history: [
            {
              time: intent.time,
              kind: "created" as const,
              installation_id: installationId,
              custom_id: null,
              source: "sdk" as const,
              request_id: intent.requestId,
            },
          ],
          processed: [],
        }
      : this.store.snapshot(intent.candidateProfileId);
    const answer: AttachResult = await this.customIds(projectId, intent.customId).attach({
      ...common,
      projectId,
      customId: intent.customId,
      candidate,
    });
    this.transaction(() => {
      const settle = settleCandidate(answer.outcome, intent.fresh);
      if (settle === "moved") this.store.remove(intent.candidateProfileId);
      if (settle === "orphaned") {
        this.store.orphan(intent.candidateProfileId, {
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
    this.writeRow(
      "UPDATE installation SET profile_id = ?, custom_id = ? WHERE id = 1",
      binding.profileId,
      binding.customId,
    );
    this.store.markProcessed(intent.opId, null, Date.now());
    this.ctx.storage.sql.exec("DELETE FROM intent WHERE id = 1");
    this.#intent = false;
    this.installationChanged();
  }

  /** A profile held here (anonymous or orphaned) as the D1 projection stores it. */
  projection(profileId: string): ProfileProjection | null {
    return this.store.projection(profileId);
  }

  /** The installation as the D1 projection stores it; null if never seen. */
  installationProjection(): InstallationProjection | null {
    const row = this.row();
    if (!row) return null;
    return {
      installation_id: row.installation_id,
      profile_id: row.profile_id,
      custom_id: row.custom_id,
      app_id: row.app_id,
      platform: row.platform,
      push_optin: row.push_opted_in === null ? null : row.push_opted_in === 1,
      last_seen_at: row.last_seen_at,
      version: row.version,
    };
  }

  /**
   * Privacy remove or purge: deletes the installation, its anonymous profile and the orphans it
   * keeps, after the batches queued before it; guarded and idempotent (./erase.ts).
   */
  erase(req: EraseRequest): Promise<EraseOutcome> {
    return this.serialized(async () => {
      const outcome = this.transaction(() =>
        eraseObject(this.ctx.storage, req, installationHooks(this.ctx.storage.sql)),
      );
      this.#row = undefined;
      this.#intent = undefined;
      return outcome;
    });
  }

  /** Purge of one orphan this object keeps, once it has been orphaned long enough. */
  eraseOrphan(req: EraseRequest & { profileId: string; orphanedBefore: string }): EraseOutcome {
    return this.transaction(() => eraseOrphan(this.ctx.storage, req));
  }

  /** A profile held here in full, for a privacy review. */
  review(profileId: string): ProfileRecord | null {
    return profileRecord(this.store, profileId);
  }

  /** The installation, its binding, and its profile when anonymous; null if never seen. */
  describe(): InstallationDescription | null {
    const row = this.row();
    if (!row) return null;
    const profile = row.custom_id === null ? this.store.profile(row.profile_id) : null;
    return {
      installation: installationView(row),
      binding: { profileId: row.profile_id, customId: row.custom_id },
      profile: profile ? profileView(this.store, profile) : null,
    };
  }

  override async alarm(): Promise<void> {
    this.clock.fired();
    await this.serialized(() => this.resume());
    await this.outbox.retry();
  }
}

/**
 * Whether an SDK call changes the installation row: a device field it did not hold, or a
 * `last_seen_at` in a later minute. The row keeps the last visit to the minute, so the many
 * batches of one session cost no write of their own.
 */
function refreshes(row: InstallationRow | null, input: BatchInput): boolean {
  if (!row) return true;
  const c = input.context;
  const fields: [keyof InstallationRow, string | null | undefined][] = [
    ["app_id", input.appId],
    ["platform", input.platform],
    ["app_version", c.app_version],
    ["sdk_version", c.sdk_version],
    ["os_version", c.os_version],
    ["device_model", c.device_model],
  ];
  if (fields.some(([name, value]) => value != null && row[name] !== value)) return true;
  return input.receivedAt.slice(0, 16) > row.last_seen_at.slice(0, 16);
}

/**
 * Whether the installation moved in a way the D1 projection shows. `last_seen_at` counts when
 * it enters a new hour: the projection keeps it to the hour, the object to the millisecond, so
 * a busy device does not cost a projection write per batch.
 */
function projectedChange(before: InstallationRow | null, after: InstallationRow | null): boolean {
  if (!before || !after) return true;
  return (
    before.app_id !== after.app_id ||
    before.platform !== after.platform ||
    before.last_seen_at.slice(0, 13) !== after.last_seen_at.slice(0, 13)
  );
}

function isDataOp(op: BatchOp): op is DataOp {
  return op.type === "attributes" || op.type === "event";
}

/** The device context's language, region and timezone are `sdk_auto` writes (SPEC §5). */
function contextWrites(input: BatchInput): DataOp[] {
  const c = input.context;
  const source: Source = "sdk_auto";
  const writes = [
    c.language ? { name: "$language", value: c.language } : null,
    c.region ? { name: "$region", value: c.region } : null,
    c.timezone ? { name: "$timezone", value: c.timezone } : null,
  ]
    .filter((w) => w !== null)
    .map((w) => ({ name: w.name, kind: "set" as const, type: "string" as const, value: w.value }));
  return writes.length ? [{ type: "attributes", id: null, time: input.receivedAt, source, writes }] : [];
}

function installationView(row: InstallationRow): InstallationView {
  return {
    installation_id: row.installation_id,
    app_id: row.app_id,
    platform: row.platform,
    app_version: row.app_version,
    sdk_version: row.sdk_version,
    os_version: row.os_version,
    device_model: row.device_model,
    push: {
      provider: row.push_provider,
      token: row.push_token,
      opted_in: row.push_opted_in === null ? null : row.push_opted_in === 1,
    },
    first_seen_at: row.first_seen_at,
    last_seen_at: row.last_seen_at,
  };
}
