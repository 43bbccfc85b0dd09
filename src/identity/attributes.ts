import { z } from "@hono/zod-openapi";
import { jsonBytes } from "../lib/chunk";
import type { EventAttributes } from "../lib/json";
import { parseTimestamp } from "../lib/time";
import { LANGUAGE_MESSAGE, languageCode, REGION_MESSAGE, regionCode } from "./locale-codes";

/** Where a write came from; `sdk_auto` is what the SDK collects from the device context. */
export type Source = "api" | "sdk" | "sdk_auto";

export type AttributeType = "string" | "number" | "boolean" | "array" | "date" | "url";
export type AttributeValue = string | number | boolean | string[];

/** One attribute write after validation: a set, a delete (`value: null`) or array operations. */
export type AttributeWrite =
  | { name: string; kind: "set"; type: AttributeType; value: AttributeValue }
  | { name: string; kind: "delete" }
  | { name: string; kind: "array_ops"; add: string[]; remove: string[] };

export const LIMITS = {
  attributesPerOperation: 50,
  customAttributesPerProfile: 250,
  stringLength: 300,
  arrayItems: 25,
  urlLength: 2048,
  eventAttributes: 20,
  eventLabelLength: 200,
  eventTags: 10,
  /** Serialized attributes of one event: keeps every queue message well under 128 KB. */
  eventAttributeBytes: 64 * 1024,
  eventsKeptPerProfile: 1000,
  eventMaxAgeMs: 30 * 24 * 3600 * 1000,
  eventMaxFutureMs: 5 * 60 * 1000,
  idempotencyWindowMs: 7 * 24 * 3600 * 1000,
} as const;

const NAME = /^[a-z0-9_]{1,30}$/i;
const TYPED_KEY = /^(date|url)\((.*)\)$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]00:?00)$/;
// No whitespace, control or invisible format character anywhere: `a@b\u0000.com` is not an address.
const EMAIL = /^[^\s@\p{Cc}\p{Cf}]{1,64}@[^\s@\p{Cc}\p{Cf}]+\.[^\s@\p{Cc}\p{Cf}]{2,}$/u;
/**
 * Schemes a browser or mail client runs or resolves locally when the link is opened; a stored
 * `javascript:` URL is an XSS waiting in every dashboard and template. App deep links stay allowed.
 */
const EXECUTING_SCHEMES = new Set(["javascript:", "vbscript:", "data:", "file:", "blob:", "filesystem:"]);
const E164 = /^\+[1-9]\d{1,14}$/;

/**
 * A JSON object taken as parsed, without copying: `z.record` would rebuild it and silently drop
 * an own `__proto__` key, which is a valid attribute name.
 */
export const AttributesObject = z
  .custom<Record<string, unknown>>(
    (v) => typeof v === "object" && v !== null && !Array.isArray(v),
    "Expected an object of attributes.",
  )
  .openapi({ type: "object", additionalProperties: true });

export const NATIVE_ATTRIBUTES = [
  "$email_address",
  "$email_marketing",
  "$sms_marketing",
  "$phone_number",
  "$language",
  "$region",
  "$timezone",
] as const;

let timeZones: Set<string> | undefined;
export function isTimeZone(value: string): boolean {
  timeZones ??= new Set(Intl.supportedValuesOf("timeZone"));
  if (timeZones.has(value) || value === "UTC") return true;
  try {
    new Intl.DateTimeFormat("en", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

type Ctx = z.core.$RefinementCtx;

function issue(ctx: Ctx, path: PropertyKey[], message: string) {
  ctx.addIssue({ code: "custom", path, message });
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

/** Checks an array of strings against the item and length limits; false (and issues) when it fails. */
function checkStringArray(value: unknown, ctx: Ctx, path: PropertyKey[]): value is string[] {
  if (!isStringArray(value)) {
    issue(ctx, path, "Expected an array of strings.");
    return false;
  }
  if (value.length > LIMITS.arrayItems) {
    issue(ctx, path, `An array holds at most ${LIMITS.arrayItems} items.`);
    return false;
  }
  const long = value.findIndex((v) => v.length > LIMITS.stringLength);
  if (long >= 0) {
    issue(ctx, [...path, long], `A string is at most ${LIMITS.stringLength} characters.`);
    return false;
  }
  return true;
}

function nativeWrite(name: string, value: unknown, ctx: Ctx, path: PropertyKey[]): AttributeWrite | null {
  if (value === null) return { name, kind: "delete" };
  const set = (v: string): AttributeWrite => ({ name, kind: "set", type: "string", value: v });
  const fail = (message: string) => {
    issue(ctx, path, message);
    return null;
  };
  if (typeof value !== "string") return fail("Expected a string or null.");
  switch (name) {
    case "$email_address":
      return EMAIL.test(value) && value.length <= 256 ? set(value.trim()) : fail("Not a valid email address.");
    case "$email_marketing":
    case "$sms_marketing":
      return value === "subscribed" || value === "unsubscribed"
        ? set(value)
        : fail('Expected "subscribed", "unsubscribed" or null.');
    case "$phone_number":
      return E164.test(value) ? set(value) : fail("Expected a phone number in E.164 format, like +33612345678.");
    case "$language": {
      const code = languageCode(value);
      return code ? set(code) : fail(LANGUAGE_MESSAGE);
    }
    case "$region": {
      const code = regionCode(value);
      return code ? set(code) : fail(REGION_MESSAGE);
    }
    case "$timezone":
      return isTimeZone(value) ? set(value) : fail("Expected an IANA time zone name, like Europe/Paris.");
    default:
      return fail(`Unknown native attribute; native attributes are ${NATIVE_ATTRIBUTES.join(", ")}.`);
  }
}

function customWrite(key: string, value: unknown, ctx: Ctx, path: PropertyKey[]): AttributeWrite | null {
  const typed = TYPED_KEY.exec(key);
  const rawName = typed ? (typed[2] ?? "") : key;
  if (!NAME.test(rawName)) {
    issue(ctx, path, "Attribute names are 1 to 30 letters, digits or underscores.");
    return null;
  }
  const name = rawName.toLowerCase();
  if (value === null) return { name, kind: "delete" };
  if (typed?.[1] === "date") {
    if (typeof value !== "string" || !ISO_UTC.test(value) || parseTimestamp(value) === null) {
      issue(ctx, path, "A date() attribute takes an ISO 8601 UTC timestamp, like 2026-11-22T10:00:00Z.");
      return null;
    }
    return { name, kind: "set", type: "date", value: new Date(value).toISOString() };
  }
  if (typed?.[1] === "url") {
    if (typeof value !== "string" || value.length > LIMITS.urlLength || !URL.canParse(value)) {
      issue(ctx, path, `A url() attribute takes a URL of at most ${LIMITS.urlLength} characters.`);
      return null;
    }
    const scheme = new URL(value).protocol;
    if (EXECUTING_SCHEMES.has(scheme)) {
      issue(ctx, path, `A url() attribute cannot use ${scheme} (it runs code or reads local data where it is opened).`);
      return null;
    }
    return { name, kind: "set", type: "url", value };
  }
  if (typeof value === "string") {
    if (value.length > LIMITS.stringLength) {
      issue(ctx, path, `A string is at most ${LIMITS.stringLength} characters.`);
      return null;
    }
    return { name, kind: "set", type: "string", value };
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      issue(ctx, path, "Expected a finite number.");
      return null;
    }
    return { name, kind: "set", type: "number", value };
  }
  if (typeof value === "boolean") return { name, kind: "set", type: "boolean", value };
  if (Array.isArray(value)) {
    return checkStringArray(value, ctx, path) ? { name, kind: "set", type: "array", value } : null;
  }
  if (typeof value === "object") {
    const ops = value as Record<string, unknown>;
    const unknownKeys = Object.keys(ops).filter((k) => k !== "$add" && k !== "$remove");
    if (unknownKeys.length > 0 || Object.keys(ops).length === 0) {
      issue(ctx, path, 'An object value must be array operations: {"$add": [...], "$remove": [...]}.');
      return null;
    }
    const add = ops.$add ?? [];
    const remove = ops.$remove ?? [];
    if (!checkStringArray(add, ctx, [...path, "$add"]) || !checkStringArray(remove, ctx, [...path, "$remove"])) {
      return null;
    }
    return { name, kind: "array_ops", add, remove };
  }
  issue(ctx, path, "Unsupported value type.");
  return null;
}

/**
 * Validates an attributes object (SPEC §3) and turns it into writes. Every problem is
 * reported on `ctx` with its path under `path`; the result is meaningful only without issues.
 */
export function parseAttributes(input: Record<string, unknown>, ctx: Ctx, path: PropertyKey[] = []): AttributeWrite[] {
  const keys = Object.keys(input);
  if (keys.length > LIMITS.attributesPerOperation) {
    issue(ctx, path, `At most ${LIMITS.attributesPerOperation} attributes per operation.`);
    return [];
  }
  const writes: AttributeWrite[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    const keyPath = [...path, key];
    const write = key.startsWith("$")
      ? nativeWrite(key, input[key], ctx, keyPath)
      : customWrite(key, input[key], ctx, keyPath);
    if (!write) continue;
    if (seen.has(write.name)) {
      issue(ctx, keyPath, `Attribute "${write.name}" is set twice in one operation.`);
      continue;
    }
    seen.add(write.name);
    writes.push(write);
  }
  return writes;
}

export interface RawEvent {
  id: string;
  name: string;
  time: string | undefined;
  attributes: Record<string, unknown> | undefined;
  label?: unknown;
  tags?: unknown;
}

export interface ValidEvent {
  type: "event";
  id: string;
  time: string;
  name: string;
  attributes: EventAttributes;
  label: string | null;
  tags: string[];
}

/**
 * Validates an event (SPEC §4) for the SDK and the Profile API alike. `$label` and `$tags` may
 * sit among the attributes, as Batch's API sends them, or beside them, as our SDK does.
 */
export function parseEvent(raw: RawEvent, now: number, ctx: Ctx, path: PropertyKey[]): ValidEvent {
  if (!NAME.test(raw.name)) issue(ctx, [...path, "name"], "Event names are 1 to 30 letters, digits or underscores.");
  const problem = raw.time === undefined ? null : timeProblem(raw.time, now);
  if (problem) issue(ctx, [...path, "time"], problem);
  const { $label, $tags, ...attributes } = raw.attributes ?? {};
  const label = raw.label ?? $label;
  const tags = raw.tags ?? $tags;
  if (
    label !== undefined &&
    (typeof label !== "string" || label.length === 0 || label.length > LIMITS.eventLabelLength)
  ) {
    issue(ctx, [...path, "$label"], `$label is a string of 1 to ${LIMITS.eventLabelLength} characters.`);
  }
  if (
    tags !== undefined &&
    (!isStringArray(tags) || tags.length > LIMITS.eventTags || tags.some((t) => t.length === 0 || t.length > 64))
  ) {
    issue(ctx, [...path, "$tags"], `$tags is an array of at most ${LIMITS.eventTags} strings of 1 to 64 characters.`);
  }
  checkEventAttributes(attributes, ctx, [...path, "attributes"]);
  if (jsonBytes(attributes) > LIMITS.eventAttributeBytes) {
    issue(ctx, [...path, "attributes"], `An event's attributes are at most ${LIMITS.eventAttributeBytes / 1024} KB.`);
  }
  return {
    type: "event",
    id: raw.id,
    time: new Date(raw.time === undefined || problem ? now : raw.time).toISOString(),
    name: raw.name.toLowerCase(),
    attributes: attributes as EventAttributes,
    label: typeof label === "string" ? label : null,
    tags: isStringArray(tags) ? tags : [],
  };
}

/** Event attribute values: those of profile attributes, plus objects and arrays of flat objects. */
function checkEventAttributes(input: Record<string, unknown>, ctx: Ctx, path: PropertyKey[]): void {
  const keys = Object.keys(input);
  if (keys.length > LIMITS.eventAttributes) {
    issue(ctx, path, `An event has at most ${LIMITS.eventAttributes} attributes.`);
    return;
  }
  for (const key of keys) {
    const value = input[key];
    const keyPath = [...path, key];
    const typed = TYPED_KEY.exec(key);
    if (!NAME.test(typed ? (typed[2] ?? "") : key)) {
      issue(ctx, keyPath, "Attribute names are 1 to 30 letters, digits or underscores.");
    } else if (Array.isArray(value) && value.some((v) => isPlainObject(v))) {
      if (value.length > LIMITS.arrayItems) issue(ctx, keyPath, `An array holds at most ${LIMITS.arrayItems} items.`);
      value.forEach((item, i) => {
        if (!isPlainObject(item) || !isFlat(item)) issue(ctx, [...keyPath, i], "Expected a flat object.");
      });
    } else if (isPlainObject(value)) {
      if (!isFlat(value)) issue(ctx, keyPath, "Objects in event attributes hold only flat values.");
    } else if (value !== null) {
      customWrite(key, value, ctx, keyPath);
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isFlat(value: Record<string, unknown>): boolean {
  return Object.values(value).every(
    (v) =>
      v === null ||
      typeof v === "boolean" ||
      (typeof v === "number" && Number.isFinite(v)) ||
      (typeof v === "string" && v.length <= LIMITS.stringLength) ||
      isStringArray(v),
  );
}

/** Op times: ISO 8601, at most 30 days old and at most 5 minutes ahead of `now`. */
export function timeProblem(value: string, now: number): string | null {
  const t = parseTimestamp(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || t === null) return "Expected an ISO 8601 timestamp.";
  if (t < now - LIMITS.eventMaxAgeMs) return "A time is at most 30 days in the past.";
  if (t > now + LIMITS.eventMaxFutureMs) return "A time is at most 5 minutes in the future.";
  return null;
}
