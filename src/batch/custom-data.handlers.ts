import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { customIdObjectName } from "../identity/identifiers";
import { callerOf } from "../lib/auth";
import { ApiError, type ErrorIssue } from "../lib/errors";
import { applyAndProject, later, requestMeta } from "../profiles/apply-projected";
import { enqueueMassUpdate, refuseOversized } from "../profiles/mass-update";
import { type OperationError, type ProfileOperation, validateOperations } from "../profiles/operations";
import { BATCH_CODE } from "./codes";
import type * as routes from "./custom-data.routes";
import { customDataAttributes } from "./values";

type Update = { overwrite?: boolean | undefined; values?: Record<string, unknown> | undefined };
type Item = { bulk_index: number; op: ProfileOperation };

const refused = (issues: ErrorIssue[]) =>
  new ApiError("VALIDATION_FAILED", "The request is invalid; nothing was applied.", {
    issues,
    batchCode: BATCH_CODE.MALFORMED_PARAMETER,
  });

/** Where an update's parts sit in the caller's body: `values…` for one user, `3.update.values…` in bulk. */
interface Paths {
  id: (i: number) => string;
  values: (i: number) => string;
}
const single: Paths = { id: () => "custom_id", values: () => "values" };
const bulk: Paths = { id: (i) => `${i}.id`, values: (i) => `${i}.update.values` };

/**
 * Turns Batch users' updates into Profile API operations and validates them as that API does.
 * Any problem refuses the whole request, as Batch does, each issue named by the caller's own
 * path (`values.u.age`, `3.update.values.date(u.x)`).
 */
function toOperations(users: { id: string; update: Partial<Update> }[], now: number, paths: Paths): Item[] {
  const missing = users.findIndex((u) => u.update.values === undefined);
  if (missing >= 0) {
    throw new ApiError("VALIDATION_FAILED", "`values` is required.", {
      issues: [{ path: paths.values(missing), message: "Required." }],
      batchCode: BATCH_CODE.MISSING_PARAMETER,
    });
  }
  const issues: ErrorIssue[] = [];
  const keys: Map<string, string>[] = [];
  const raw = users.map(({ id, update }, i) => {
    const translated = customDataAttributes(update.values ?? {}, [paths.values(i)]);
    issues.push(...translated.issues);
    keys.push(translated.keys);
    return { identifiers: { custom_id: id }, attributes: translated.attributes };
  });
  const { valid, errors } = validateOperations(raw, now);
  issues.push(...errors.map((e) => issueOf(e, keys[e.bulk_index], paths)));
  if (issues.length > 0) throw refused(issues);
  for (const item of valid) {
    if (users[item.bulk_index]?.update.overwrite) item.op.clearCustom = true;
  }
  return valid;
}

/** An error of the Profile API's validation, at the path the caller sent. */
function issueOf(e: OperationError, keys: Map<string, string> | undefined, paths: Paths): ErrorIssue {
  if (e.category === "identifiers") return { path: paths.id(e.bulk_index), message: e.reason };
  const values = paths.values(e.bulk_index);
  if (e.category === "attributes" && e.attribute !== undefined) {
    const [head = "", ...rest] = e.attribute.split(".");
    return { path: [values, keys?.get(head) ?? head, ...rest].join("."), message: e.reason };
  }
  return { path: values, message: e.reason };
}

/** An identifier's call failed or a profile limit refused it: nothing of it was applied. */
function throwApplyErrors(errors: OperationError[]): void {
  const error = errors[0];
  if (!error) return;
  if (error.category === "internal") throw new Error(`custom data not applied: ${error.reason}`);
  throw refused(errors.map((e) => ({ path: "values", message: e.reason })));
}

export const updateUser: RouteHandler<typeof routes.updateUser, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { custom_id } = c.req.valid("param");
  const now = Date.now();
  const items = toOperations([{ id: custom_id, update: c.req.valid("json") }], now, single);
  const outcome = await applyAndProject(c.env, projectId, items, requestMeta(c, now), later(c));
  throwApplyErrors(outcome.errors);
  return c.json({ token: c.get("requestId") }, 202);
};

export const deleteUser: RouteHandler<typeof routes.deleteUser, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { custom_id } = c.req.valid("param");
  const now = Date.now();
  // Nothing to remove from an unknown custom ID, and no profile made for it either.
  const holder = c.env.CUSTOM_IDS.get(c.env.CUSTOM_IDS.idFromName(customIdObjectName(projectId, custom_id)));
  if (await holder.view(0)) {
    const items = toOperations([{ id: custom_id, update: { overwrite: true, values: {} } }], now, single);
    throwApplyErrors((await applyAndProject(c.env, projectId, items, requestMeta(c, now), later(c))).errors);
  }
  return c.json({ token: c.get("requestId") }, 200);
};

export const bulkUpdateUsers: RouteHandler<typeof routes.bulkUpdateUsers, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const now = Date.now();
  const users = c.req.valid("json");
  const items = toOperations(users, now, bulk);
  const { fits, errors } = refuseOversized(items);
  if (errors.length > 0) throw refused(errors.map((e) => ({ path: String(e.bulk_index), message: e.reason })));
  const requestId = await enqueueMassUpdate(c.env, projectId, users.length, fits, [], now);
  return c.json({ token: requestId, request_id: requestId }, 202);
};
