import { uuidv7 } from "../lib/ids";
import type { HistoryEntry } from "./history-table";
import {
  type BatchInput,
  type BatchResult,
  contextWrites,
  type IdentityOp,
  type InstallationOp,
  isDataOp,
  planInstallationOp,
} from "./installation-batch";
import { type InstallationTable, optedIn, refreshes } from "./installation-row";
import type { ProfileStore } from "./profile-store";
import type { ApplyResult, DataOp, WriteContext } from "./profile-types";

/** What the batch steps use of their installation's object. */
export interface InstallationParts {
  store: ProfileStore;
  installation: InstallationTable;
  /** The object's transaction: forgets cached rows when it rolls back. */
  transaction<T>(fn: () => T): T;
  customIds(projectId: string, customId: string): ReturnType<Env["CUSTOM_IDS"]["get"]>;
  /** Finishes a transition left half-way, before anything else runs. */
  resume(): Promise<void>;
  /** Records and runs a sign-in or sign-out. */
  transition(input: BatchInput, op: IdentityOp): Promise<void>;
}

/**
 * The steps of one batch on an installation, in order (SPEC §2, §3): first contact creates the
 * installation and its anonymous profile; data ops go to wherever the profile lives (here when
 * anonymous, else the custom ID's object); installation ops (push token, opt-in) stay here;
 * identity ops run as transitions. The object serializes calls; this runs inside one.
 */
export class BatchApplier {
  constructor(private readonly parts: InstallationParts) {}

  async applyOps(input: BatchInput): Promise<BatchResult | null> {
    await this.parts.resume();
    if (input.source !== "sdk" && !this.parts.installation.row()) return null;
    const result: BatchResult = { profile_id: "", custom_id: null, accepted: 0, duplicates: 0, rejected: [] };
    const { ops } = input;
    const dataOnly = ops.every(isDataOp);
    if (dataOnly && !this.parts.installation.row()) return this.firstContact(input, ops, result);
    // A call of data ops alone (the usual one) writes the installation's row in the commit of
    // its data, or of the op IDs it forwarded (see `applyData`), rather than in one before it.
    const local = this.parts.installation.row()?.custom_id === null && dataOnly;
    let visit = this.visit(input);
    if (visit && !dataOnly) {
      this.parts.transaction(visit);
      visit = null;
    }
    // Op IDs applied before, plus those taken by earlier ops of this batch. Data ops for an
    // anonymous profile need no look-up: claiming their IDs where they apply is the check.
    const seen = local
      ? new Set<string>()
      : this.parts.store.processed.among(input.ops.flatMap((op) => (op.id === null ? [] : [op.id])));
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
      if (op.type === "identify" || op.type === "logout") await this.parts.transition(input, op);
      else this.applyInstallationOp(input, op);
      result.accepted++;
    }
    segment.push(...contextWrites(input));
    if (await this.applyData(input, segment, result, active, { visit })) visit = null;
    const binding = this.parts.installation.binding();
    // A call that sent no data still counts as activity on the profile, even one that changed nothing.
    if (!active.has(binding.profileId) && (await this.applyData(input, [], result, active, { touch: true, visit })))
      visit = null;
    if (visit) this.parts.transaction(visit);
    result.profile_id = binding.profileId;
    result.custom_id = binding.customId;
    return result;
  }

  /**
   * First contact with data ops only (the usual one): the installation, its anonymous profile
   * and the data in one commit, so one outbox row carries what they announce (two commits cost
   * an outbox row staged and deleted more). The profile store claims the op IDs as it applies.
   */
  private firstContact(input: BatchInput, ops: DataOp[], result: BatchResult): BatchResult {
    const applied = this.parts.transaction(() => {
      const profileId = this.newInstallation(input);
      const data = [...ops, ...contextWrites(input)];
      return this.parts.store.createWithData(
        profileId,
        null,
        created(input),
        data,
        this.writeContext(input),
        Date.now(),
      );
    });
    tally(result, applied);
    result.profile_id = this.parts.installation.binding().profileId;
    return result;
  }

  /**
   * What the call writes of the installation, to run in a transaction: first contact creates
   * it and its anonymous profile, a later SDK call records the visit and what it says of the
   * device. Null for most calls, which change nothing here.
   */
  private visit(input: BatchInput): (() => void) | null {
    const table = this.parts.installation;
    if (!table.row()) return () => this.parts.store.createProfile(this.newInstallation(input), null, created(input));
    if (input.source !== "sdk" || !refreshes(table.row(), input)) return null;
    return () => table.refresh(input);
  }

  /** The installation's row, on the ID of the anonymous profile the caller creates with it. */
  private newInstallation(input: BatchInput): string {
    const profileId = uuidv7();
    this.parts.installation.create(input, profileId);
    this.parts.installation.announce();
    return profileId;
  }

  /** Who writes, for the profile store: the installation's binding and the call's origin. */
  private writeContext(input: BatchInput): WriteContext {
    const binding = this.parts.installation.binding();
    return {
      projectId: input.projectId,
      customId: binding.customId,
      installationId: input.installationId,
      appId: input.appId,
      requestId: input.requestId,
      receivedAt: input.receivedAt,
    };
  }

  /**
   * Data ops go to wherever the profile lives: here when anonymous, else the custom ID's object.
   * No ops, no call, unless `touch` asks to record the call as activity all the same. Adds the
   * profile to `active` when it recorded the call. `visit` (the call's write of the installation)
   * runs first in the same commit when the ops apply here; returns whether it ran.
   */
  private async applyData(
    input: BatchInput,
    ops: DataOp[],
    result: BatchResult,
    active: Set<string>,
    { touch = false, visit = null as (() => void) | null } = {},
  ): Promise<boolean> {
    const binding = this.parts.installation.binding();
    if (ops.length === 0 && !touch) return false;
    active.add(binding.profileId);
    const ctx = this.writeContext(input);
    let applied: ApplyResult;
    if (binding.customId === null) {
      applied = this.parts.transaction(() => {
        visit?.();
        return this.parts.store.applyData(binding.profileId, ops, ctx, Date.now());
      });
    } else {
      applied = await this.parts
        .customIds(input.projectId, binding.customId)
        .applyOps({ ...ctx, customId: binding.customId }, ops);
      // Remember what was forwarded, so a retried batch is acknowledged here even after a
      // later op of the same batch moved the installation to another profile.
      const rejected = new Set(applied.rejected.map((r) => r.op_id));
      const forwarded = ops.flatMap((op) => (op.id !== null && !rejected.has(op.id) ? [op.id] : []));
      if (forwarded.length || visit) {
        this.parts.transaction(() => {
          visit?.();
          if (forwarded.length) this.parts.store.processed.record(forwarded, null, Date.now());
        });
      }
    }
    tally(result, applied);
    return visit !== null;
  }

  private applyInstallationOp(input: BatchInput, op: InstallationOp): void {
    const { profileId, customId } = this.parts.installation.binding();
    const row = this.parts.installation.row();
    const effect = planInstallationOp(op, row ? optedIn(row) : null);
    this.parts.transaction(() => {
      if (effect.push && "token" in effect.push)
        this.parts.installation.setPushToken(effect.push.provider, effect.push.token);
      if (effect.push && "optedIn" in effect.push) this.parts.installation.setOptIn(effect.push.optedIn);
      if (effect.event) {
        const { name, attributes } = effect.event;
        this.parts.store.enqueueEvents(
          profileId,
          [{ id: op.id, name, time: op.time, attributes, label: null, tags: [], source: "sdk" }],
          { ...input, customId },
        );
      }
      this.parts.store.processed.mark(op.id, null, Date.now());
      if (effect.push) this.parts.installation.changed();
    });
  }
}

/** The anonymous profile's first history entry, made by an installation's first contact. */
function created(input: BatchInput): HistoryEntry {
  return {
    time: input.receivedAt,
    kind: "created",
    installation_id: input.installationId,
    custom_id: null,
    source: input.source,
    request_id: input.requestId,
  };
}

/** Adds what one application of data ops did to the batch's answer. */
function tally(result: BatchResult, applied: ApplyResult): void {
  result.accepted += applied.accepted;
  result.duplicates += applied.duplicates;
  result.rejected.push(...applied.rejected);
}
