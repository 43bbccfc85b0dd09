import { DurableObject } from "cloudflare:workers";
import { uuidv7 } from "../lib/ids";
import { meterObject, meterRequests } from "../meter/objects";
import type { ProfileProjection } from "../queue/messages";
import { AlarmClock } from "./alarm-clock";
import { LIMITS } from "./attributes";
import {
  MEMBERS_SCHEMA,
  type Member,
  type MemberPage,
  Members,
  upgradeMembers,
  VIEW_INSTALLATIONS,
} from "./custom-id-members";
import { customIdHooks, ERASURES, type EraseOutcome, type EraseRequest, eraseObject } from "./erase";
import type { HistoryEntry } from "./history-table";
import { LazySchema } from "./lazy-schema";
import { Outbox } from "./outbox";
import { adoptProfile } from "./profile-handover";
import { PROFILE_SCHEMA, PROFILE_TABLES, ProfileStore, upgradeProfileTables } from "./profile-store";
import type { ApplyResult, DataOp, ProfileSnapshot, WriteContext } from "./profile-types";
import { type ProfileRecord, profileRecord } from "./review";
import { type AttachOutcome, decideAttach } from "./transitions";
import { type ProfileView, profileView } from "./view";

export interface AttachRequest {
  projectId: string;
  customId: string;
  installationId: string;
  /** Idempotency key of the transition: a retry returns the first answer. */
  key: string;
  /** The anonymous profile offered for sign-in. */
  candidate: ProfileSnapshot;
  time: string;
  requestId: string;
}

export interface AttachResult {
  outcome: AttachOutcome;
  profileId: string;
}

export interface DetachRequest {
  projectId: string;
  customId: string;
  installationId: string;
  key: string;
  kind: "logout" | "switch_user";
  time: string;
  requestId: string;
}

export interface CustomIdView {
  profile: ProfileView;
  /** The most recently seen installations attached, and how many others. */
  installations: MemberPage;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS transitions (key TEXT PRIMARY KEY, result TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
`;

const PRUNE_EVERY_MS = 3600_000;

/**
 * One per (project, custom ID): holds the profile that owns the custom ID and the set of
 * installations attached to it. Every method runs synchronously against storage, so the
 * object itself is the lock that keeps a custom ID on at most one profile (invariant 1).
 */
export class CustomIdObject extends DurableObject<Env> {
  private readonly schema: LazySchema;
  private readonly store: ProfileStore;
  private readonly outbox: Outbox;
  private readonly clock: AlarmClock;
  private readonly members: Members;
  /** When this object last dropped expired transition answers (0: not since it woke). */
  private prunedAt = 0;

  constructor(state: DurableObjectState, bindings: Env) {
    super(state, bindings);
    const { ctx, env } = meterObject(this, state, bindings);
    this.schema = new LazySchema(
      ctx.storage.sql,
      `${PROFILE_SCHEMA}${MEMBERS_SCHEMA}${SCHEMA}${ERASURES};`,
      PROFILE_TABLES,
      (sql) => {
        upgradeProfileTables(sql);
        upgradeMembers(sql);
      },
    );
    this.clock = new AlarmClock(ctx.storage);
    this.store = new ProfileStore(ctx.storage);
    this.members = new Members(ctx.storage.sql, () => this.schema.has("members"));
    this.outbox = new Outbox(this.store.commits, { events: env.EVENTS, projection: env.PROJECTION }, this.clock);
    ctx.blockConcurrencyWhile(async () => {
      this.schema.load();
      this.store.assumeTables((table) => this.schema.has(table));
      await this.clock.load();
    });
  }

  private current(): { profile_id: string } | null {
    return (
      (this.ctx.storage.sql
        .exec<{ profile_id: string }>("SELECT profile_id FROM profiles WHERE state = 'active' LIMIT 1")
        .toArray()[0] as { profile_id: string } | undefined) ?? null
    );
  }

  private recall<T>(key: string): T | null {
    if (!this.schema.has("transitions")) return null;
    const row = this.ctx.storage.sql
      .exec<{ result: string }>(
        "SELECT result FROM transitions WHERE key = ? AND at >= ?",
        key,
        Date.now() - LIMITS.idempotencyWindowMs,
      )
      .toArray()[0];
    return row ? (JSON.parse(row.result) as T) : null;
  }

  /**
   * Records a transition's answer. Answers older than the 7-day idempotency window are dropped
   * at most once an hour while the object is awake (and `recall` ignores them meanwhile): the
   * drop reads the whole table, which has no index on time, and a custom ID that many
   * installations log into at once would otherwise read it again for every login.
   */
  private remember(key: string, result: unknown): void {
    const now = Date.now();
    if (now - this.prunedAt >= PRUNE_EVERY_MS) {
      this.ctx.storage.sql.exec("DELETE FROM transitions WHERE at < ?", now - LIMITS.idempotencyWindowMs);
      this.prunedAt = now;
    }
    this.ctx.storage.sql.exec(
      "INSERT INTO transitions (key, result, at) VALUES (?, ?, ?)",
      key,
      JSON.stringify(result),
      Date.now(),
    );
  }

  /** An installation claims this custom ID: sign-in adopts its profile, login takes it in. */
  attach(req: AttachRequest): AttachResult {
    this.store.holder = { projectId: req.projectId, kind: "custom_id", id: req.customId };
    this.schema.ensure(...PROFILE_TABLES, "members", "transitions");
    const result = this.store.transaction(() => {
      const seen = this.recall<AttachResult>(req.key);
      if (seen) return seen;
      const existing = this.current();
      const outcome = decideAttach(existing?.profile_id ?? null);
      const profileId = existing?.profile_id ?? req.candidate.profileId;
      if (outcome === "sign_in") adoptProfile(this.store, req.candidate, req.customId);
      this.store.appendHistory(profileId, {
        time: req.time,
        kind: outcome,
        installation_id: req.installationId,
        custom_id: req.customId,
        source: "sdk",
        request_id: req.requestId,
      });
      this.store.touch(profileId, req.time);
      this.members.attach(req.installationId, req.time);
      const result: AttachResult = { outcome, profileId };
      this.remember(req.key, result);
      return result;
    });
    this.outbox.afterWrite(this.ctx);
    return result;
  }

  /** An installation leaves this custom ID (logout, or switching to another user). */
  detach(req: DetachRequest): void {
    this.store.holder = { projectId: req.projectId, kind: "custom_id", id: req.customId };
    this.schema.ensure(...PROFILE_TABLES, "transitions");
    this.store.transaction(() => {
      if (this.recall(req.key)) return;
      const existing = this.current();
      const removed = this.members.detach(req.installationId);
      if (existing && removed) {
        this.store.appendHistory(existing.profile_id, {
          time: req.time,
          kind: req.kind,
          installation_id: req.installationId,
          custom_id: null,
          source: "sdk",
          request_id: req.requestId,
        });
      }
      this.remember(req.key, { detached: removed });
    });
    this.outbox.afterWrite(this.ctx);
  }

  /**
   * Applies data ops to the profile holding this custom ID, creating it when the custom ID
   * is unknown (SPEC §2: its data waits for an installation to log in). With `callerProjects`,
   * no projection message is queued: the profile's projection is answered instead, for the
   * caller to write to D1 with others (a mass-update chunk), and answered again on a repeat.
   */
  applyOps(
    ctx: WriteContext & { customId: string },
    ops: DataOp[],
    options: { callerProjects?: boolean } = {},
  ): ApplyResult & { profileId: string; projection?: ProfileProjection | null } {
    this.store.holder = { projectId: ctx.projectId, kind: "custom_id", id: ctx.customId };
    this.schema.ensure();
    // Reset whatever happens: the next write through this store stages its message again.
    this.store.callerProjects = options.callerProjects === true;
    let result: ApplyResult & { profileId: string };
    try {
      result = this.#applyInTransaction(ctx, ops);
    } catch (error) {
      this.members.forget();
      throw error;
    } finally {
      this.store.callerProjects = false;
    }
    this.outbox.afterWrite(this.ctx);
    return options.callerProjects ? { ...result, projection: this.store.projection(result.profileId) } : result;
  }

  #applyInTransaction(ctx: WriteContext & { customId: string }, ops: DataOp[]): ApplyResult & { profileId: string } {
    return this.store.transaction(() => {
      if (ctx.installationId) this.members.seen(ctx.installationId, ctx.receivedAt);
      const held = this.current()?.profile_id;
      if (held) return { ...this.store.applyData(held, ops, ctx, Date.now()), profileId: held };
      const profileId = uuidv7();
      const created: HistoryEntry = {
        time: ctx.receivedAt,
        kind: "created_by_custom_id",
        installation_id: ctx.installationId,
        custom_id: ctx.customId,
        source: ctx.installationId ? "sdk" : "api",
        request_id: ctx.requestId,
      };
      return { ...this.store.createWithData(profileId, ctx.customId, created, ops, ctx, Date.now()), profileId };
    });
  }

  /** The profile as the D1 projection stores it; null when it is not held here. */
  projection(profileId: string): ProfileProjection | null {
    return this.schema.exists ? this.store.projection(profileId) : null;
  }

  /** The projection of the profile this custom ID holds now; null when it holds none. */
  currentProjection(): ProfileProjection | null {
    const held = this.schema.exists ? this.current()?.profile_id : undefined;
    return held ? this.store.projection(held) : null;
  }

  /** Privacy remove or purge: deletes everything held here, guarded and idempotent (./erase.ts). */
  erase(req: EraseRequest): EraseOutcome {
    if (!this.schema.exists) return { erased: false, reason: "not_held" };
    const outcome = this.store.transaction(() => {
      // The answers to transitions outlive the erase, for their idempotency window: an
      // installation whose login committed here but which had not yet completed its side gets
      // the same answer when it resumes, so it ends on the removed profile and is erased as the
      // member it was, instead of signing in afresh to a custom ID that was just freed.
      const answers = this.schema.has("transitions")
        ? this.ctx.storage.sql
            .exec<{ key: string; result: string; at: number }>(
              "SELECT key, result, at FROM transitions WHERE at >= ?",
              Date.now() - LIMITS.idempotencyWindowMs,
            )
            .toArray()
        : [];
      const erased = eraseObject(
        this.ctx.storage,
        req,
        customIdHooks(this.ctx.storage.sql, this.schema.has("members")),
      );
      if (erased.erased && !req.dryRun) {
        for (const a of answers) {
          this.ctx.storage.sql.exec(
            "INSERT OR IGNORE INTO transitions (key, result, at) VALUES (?, ?, ?)",
            a.key,
            a.result,
            a.at,
          );
        }
      }
      return erased;
    });
    this.store.processed.forget();
    this.store.attributeTable.forget();
    return outcome;
  }

  /** A profile held here in full, for a privacy review. */
  review(profileId: string): ProfileRecord | null {
    return this.schema.exists ? profileRecord(this.store, profileId) : null;
  }

  view(limit = VIEW_INSTALLATIONS): CustomIdView | null {
    if (!this.schema.exists) return null;
    const id = this.current()?.profile_id;
    const row = id ? this.store.profile(id) : null;
    if (!row) return null;
    return { profile: profileView(this.store, row), installations: this.members.page(limit) };
  }

  /** The installations attached to this custom ID's profile, most recently seen first (src/messaging/). */
  installationIds(limit: number): string[] {
    if (!this.schema.exists) return [];
    return this.members.page(limit).members.map((m) => m.installationId);
  }

  /**
   * Where this custom ID's profile is reached by email (src/messaging/): `$email_address` and
   * `$email_marketing` as stored; null when no profile holds the custom ID.
   */
  emailContact(): { profileId: string; email: string | null; marketing: string | null } | null {
    if (!this.schema.exists) return null;
    const profileId = this.current()?.profile_id;
    if (!profileId) return null;
    const held = this.store.attributeTable.named(profileId, ["$email_address", "$email_marketing"]);
    const text = (name: string) => {
      const value = held.get(name)?.value;
      return typeof value === "string" ? value : null;
    };
    return { profileId, email: text("$email_address"), marketing: text("$email_marketing") };
  }

  /** Drops members a view found to have moved on (see `hasMovedOn`); how many went. */
  prune(stale: Member[]): number {
    if (!this.schema.exists) return 0;
    return this.store.transaction(() => this.members.prune(stale));
  }

  override async alarm(): Promise<void> {
    this.clock.fired();
    await this.outbox.retry();
  }
}

// Every call into the object is a billed request (the meter is off unless METER is "on").
meterRequests(CustomIdObject, {
  attach: true,
  detach: true,
  applyOps: true,
  installationIds: true,
  emailContact: true,
  projection: true,
  currentProjection: true,
  erase: true,
  review: true,
  view: true,
  prune: true,
});
