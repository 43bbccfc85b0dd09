import { customIdObjectName, installationObjectName } from "../identity/identifiers";
import type { DataOp } from "../identity/profile-types";
import { settleBounded } from "../lib/concurrency";
import type { ProfileState } from "../projection/statements";
import type { OperationError, ProfileOperation } from "./operations";

export interface ApplyOutcome {
  applied: number;
  errors: OperationError[];
  /** With `callerProjects`: the custom IDs' profiles as their objects answered, for D1. */
  projected?: ProfileState[];
}

/** Who applies: `callerProjects` when the caller writes the custom IDs' projection itself. */
export interface ApplyMeta {
  requestId: string;
  receivedAt: string;
  idPrefix: string;
  callerProjects?: boolean;
}

/**
 * Turns operations into the engine's data ops. Every op gets an ID derived from `idPrefix`
 * and its position, so applying the same request twice (a queue redelivery) is a no-op.
 */
function toDataOps(idPrefix: string, bulkIndex: number, op: ProfileOperation): DataOp[] {
  const ops: DataOp[] = [];
  if (op.attributes.length > 0 || op.clearCustom) {
    ops.push({
      type: "attributes",
      id: `${idPrefix}:${bulkIndex}`,
      group: String(bulkIndex),
      time: op.time,
      source: "api",
      writes: op.attributes,
      ...(op.clearCustom ? { clearCustom: true } : {}),
    });
  }
  op.events.forEach((e, k) => {
    ops.push({ ...e, id: e.id || `${idPrefix}:${bulkIndex}:e${k}`, group: String(bulkIndex), source: "api" });
  });
  return ops;
}

/** How many identifiers' objects one request calls at once, unless the caller says fewer. */
const IDENTIFIERS_IN_FLIGHT = 16;

export type Item = { bulk_index: number; op: ProfileOperation };

/**
 * Applies Profile API operations: one call per identifier, carrying that identifier's operations
 * in their original order; a bounded number of identifiers in parallel. An unknown custom ID gets
 * a profile; an installation ID the SDK never sent is an error for that operation. A call that
 * fails never fails the others: its operations are reported with `category: "internal"`, so
 * the caller can retry exactly them (SPEC §5).
 */
export async function applyOperations(
  env: Env,
  projectId: string,
  items: Item[],
  meta: ApplyMeta,
  inFlight = IDENTIFIERS_IN_FLIGHT,
): Promise<ApplyOutcome> {
  const groups = [...Map.groupBy(items, (i) => `${i.op.identifier.kind}:${i.op.identifier.value}`).values()];
  const settled = await settleBounded(groups, inFlight, (group) => applyIdentifier(env, projectId, group, meta));
  const outcomes = settled.map((s, k): ApplyOutcome => {
    if (s.status === "fulfilled") return s.value;
    console.error(
      JSON.stringify({ level: "error", msg: "identifier failed", request_id: meta.requestId, error: String(s.reason) }),
    );
    return {
      applied: 0,
      errors: (groups[k] ?? []).map(({ bulk_index }) => ({
        bulk_index,
        category: "internal" as const,
        reason: "This operation could not be applied; retry it.",
      })),
    };
  });
  return {
    applied: outcomes.reduce((n, o) => n + o.applied, 0),
    errors: outcomes.flatMap((o) => o.errors).sort((a, b) => a.bulk_index - b.bulk_index),
    ...(meta.callerProjects ? { projected: outcomes.flatMap((o) => o.projected ?? []) } : {}),
  };
}

/** One identifier's operations, in one call to the object that holds it. */
async function applyIdentifier(env: Env, projectId: string, group: Item[], meta: ApplyMeta): Promise<ApplyOutcome> {
  const first = group[0];
  if (!first) return { applied: 0, errors: [] };
  const identifier = first.op.identifier;
  const owner = new Map<string, number>();
  const ops = group.flatMap(({ bulk_index, op }) =>
    toDataOps(meta.idPrefix, bulk_index, op).map((d) => {
      if (d.id) owner.set(d.id, bulk_index);
      return d;
    }),
  );
  const ctx = {
    projectId,
    installationId: null,
    appId: null,
    requestId: meta.requestId,
    receivedAt: meta.receivedAt,
  };
  let rejected: { op_id: string | null; message: string }[];
  const projected: ProfileState[] = [];
  if (identifier.kind === "custom_id") {
    const stub = env.CUSTOM_IDS.get(env.CUSTOM_IDS.idFromName(customIdObjectName(projectId, identifier.value)));
    const result = await stub.applyOps({ ...ctx, customId: identifier.value }, ops, {
      callerProjects: meta.callerProjects === true,
    });
    rejected = result.rejected;
    if (result.projection) {
      projected.push({
        projectId,
        state: result.projection,
        holder: { projectId, kind: "custom_id", id: identifier.value },
      });
    }
  } else {
    const stub = env.INSTALLATIONS.get(
      env.INSTALLATIONS.idFromName(installationObjectName(projectId, identifier.value)),
    );
    const result = await stub.applyApiOps({ ...ctx, installationId: identifier.value, ops });
    if (!result) {
      return {
        applied: 0,
        errors: group.map(({ bulk_index }) => ({
          bulk_index,
          category: "identifiers" as const,
          reason: "No installation with this ID has contacted the SDK.",
          attribute: "installation_id",
        })),
      };
    }
    rejected = result.rejected;
  }
  const errors: OperationError[] = rejected.map((r) => ({
    bulk_index: owner.get(r.op_id ?? "") ?? first.bulk_index,
    category: "attributes",
    reason: r.message,
  }));
  const failed = new Set(errors.map((e) => e.bulk_index));
  return { applied: group.filter((g) => !failed.has(g.bulk_index)).length, errors, projected };
}
