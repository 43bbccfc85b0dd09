import type { RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../env";
import { callerOf } from "../lib/auth";
import { ApiError, type ErrorIssue } from "../lib/errors";
import { applyAndProject, later, requestMeta } from "../profiles/apply-projected";
import { validateOperations } from "../profiles/operations";
import { BATCH_CODE } from "./codes";
import type * as routes from "./events.routes";
import { MAX_TRIGGER_EVENTS } from "./events.routes";
import { batchDate } from "./values";

/** Batch's Trigger Events limits, stricter than the Profile API's own (SPEC §9). */
const MAX_AGE_MS = 24 * 3600 * 1000;
const MAX_ATTRIBUTES = 15;

interface BatchEvent {
  name: string;
  time?: string | undefined;
  label?: string | undefined;
  tags?: string[] | undefined;
  attributes?: Record<string, unknown> | undefined;
}

/** A problem of Batch's own limits, checked before the Profile API's validation. */
function batchLimitProblems(e: BatchEvent, at: string, now: number): ErrorIssue[] {
  const issues: ErrorIssue[] = [];
  if (e.time !== undefined) {
    const t = Date.parse(String(batchDate(e.time)));
    if (!Number.isNaN(t) && t < now - MAX_AGE_MS) {
      issues.push({ path: `${at}.time`, message: "A time is within the last 24 hours." });
    } else if (!Number.isNaN(t) && t > now) {
      issues.push({ path: `${at}.time`, message: "A time cannot be in the future." });
    }
  }
  if (e.attributes && Object.keys(e.attributes).length > MAX_ATTRIBUTES) {
    issues.push({ path: `${at}.attributes`, message: `An event has at most ${MAX_ATTRIBUTES} attributes.` });
  }
  return issues;
}

/** Batch's event as a Profile API event: `ue.` dropped, dates read as Batch reads them, label and tags as `$label`/`$tags`. */
function toProfileEvent(e: BatchEvent) {
  const attributes: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(e.attributes ?? {})) {
    Object.defineProperty(attributes, key, {
      value: key.startsWith("date(") ? batchDate(value) : value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  if (e.label !== undefined) attributes.$label = e.label;
  if (e.tags !== undefined) attributes.$tags = e.tags;
  return {
    name: e.name.replace(/^ue\./i, ""),
    ...(e.time !== undefined ? { time: String(batchDate(e.time)) } : {}),
    attributes,
  };
}

/**
 * Validates every event (Batch's limits, then the Profile API's) and applies them in order, one
 * operation per event so each error names its event. Any problem refuses the whole request.
 */
async function track(c: Context<AppEnv>, users: { id: string; events: BatchEvent[]; at: string }[]) {
  const { projectId } = callerOf(c, "rest");
  const now = Date.now();
  const places: string[] = [];
  const issues: ErrorIssue[] = [];
  const raw = users.flatMap(({ id, events, at }) =>
    events.map((e, k) => {
      const place = [at, "events", k].filter((s) => s !== "").join(".");
      places.push(place);
      issues.push(...batchLimitProblems(e, place, now));
      return { identifiers: { custom_id: id }, events: [toProfileEvent(e)] };
    }),
  );
  const { valid, errors } = validateOperations(raw, now);
  for (const e of errors) {
    const place = places[e.bulk_index] ?? "";
    const tail = e.category === "events" ? (e.attribute ?? "").split(".").slice(1) : [];
    issues.push({
      path: [e.category === "identifiers" ? at(users, e.bulk_index) : place, ...tail].join("."),
      message: e.reason,
    });
  }
  if (issues.length > 0) {
    throw new ApiError("VALIDATION_FAILED", "An event is invalid; nothing was added.", {
      issues,
      batchCode: BATCH_CODE.MALFORMED_PARAMETER,
    });
  }
  const outcome = await applyAndProject(c.env, projectId, valid, requestMeta(c, now), later(c));
  if (outcome.errors.length > 0) throw new Error(`events not applied: ${outcome.errors[0]?.reason}`);
  return c.json({ token: c.get("requestId") }, 202);
}

/** Where a user's ID sits in the body, for the event at `index` of the flattened list. */
function at(users: { id: string; events: unknown[]; at: string }[], index: number): string {
  let seen = 0;
  for (const u of users) {
    seen += u.events.length;
    if (index < seen) return u.at === "" ? "custom_id" : `${u.at}.id`;
  }
  return "";
}

export const trackEvents: RouteHandler<typeof routes.trackEvents, AppEnv> = (c) => {
  const { custom_id } = c.req.valid("param");
  return track(c, [{ id: custom_id, events: c.req.valid("json").events, at: "" }]);
};

export const trackEventsBulk: RouteHandler<typeof routes.trackEventsBulk, AppEnv> = (c) => {
  const users = c.req.valid("json");
  const total = users.reduce((n, u) => n + u.events.length, 0);
  if (total > MAX_TRIGGER_EVENTS) {
    throw new ApiError("VALIDATION_FAILED", `At most ${MAX_TRIGGER_EVENTS} events per request, in all.`, {
      issues: [{ path: "", message: `${total} events sent.` }],
      batchCode: BATCH_CODE.MALFORMED_PARAMETER,
    });
  }
  return track(
    c,
    users.map((u, i) => ({ id: u.id, events: u.events, at: String(i) })),
  );
};
