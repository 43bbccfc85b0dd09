import type { ErrorIssue } from "../lib/errors";

/**
 * Batch's Custom Data keys and the key our Profile API takes for each: `u.x` is `x`,
 * `date(u.x)` is `date(x)`, `url(u.x)` is `url(x)`, `ut.x` (a tag collection) is the array
 * attribute `x`. Names themselves are checked by the Profile API's validation, not here.
 */
const KEY = /^(?:(u|ut)\.(.*)|(date|url)\(u\.(.*)\))$/;

/** ISO 8601 as Batch's clients send it: the zone is optional (then UTC), the time too. */
const BATCH_DATE =
  /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * A Batch date as the UTC timestamp our `date()` attributes take: epoch seconds, or ISO 8601
 * read as UTC when it names no zone. Anything else is returned as sent, for the Profile API's
 * validation to refuse with its own message.
 */
export function batchDate(value: unknown): unknown {
  if (typeof value === "number") {
    return Number.isFinite(value) && Math.abs(value) < 1e11 ? new Date(value * 1000).toISOString() : value;
  }
  if (typeof value !== "string") return value;
  const m = BATCH_DATE.exec(value.trim());
  if (!m) return value;
  const [, day, hm = "00:00", s = "00", fraction = "", zone = "Z"] = m;
  const offset = /^[+-]\d{2}$/.test(zone)
    ? `${zone}:00`
    : /^[+-]\d{4}$/.test(zone)
      ? `${zone.slice(0, 3)}:${zone.slice(3)}`
      : zone;
  const t = Date.parse(`${day}T${hm}:${s}.${fraction.padEnd(3, "0").slice(0, 3)}${offset.toUpperCase()}`);
  return Number.isNaN(t) ? value : new Date(t).toISOString();
}

/**
 * Turns Custom Data `values` into a Profile API attributes object. `keys` maps each attribute
 * key back to the key the caller sent, so an error names the caller's own key.
 */
export function customDataAttributes(
  values: Record<string, unknown>,
  path: PropertyKey[],
): { attributes: Record<string, unknown>; keys: Map<string, string>; issues: ErrorIssue[] } {
  const attributes: Record<string, unknown> = {};
  const keys = new Map<string, string>();
  const issues: ErrorIssue[] = [];
  for (const [key, value] of Object.entries(values)) {
    const m = KEY.exec(key);
    const at = [...path, key].map(String).join(".");
    if (!m) {
      issues.push({ path: at, message: "A key is u.name, ut.name, date(u.name) or url(u.name)." });
      continue;
    }
    const [, prefix, plainName, typed, typedName] = m;
    if (prefix === "ut" && !isTagValue(value)) {
      issues.push({
        path: at,
        message: 'A tag collection takes an array of strings, {"$add": [...], "$remove": [...]} or null.',
      });
      continue;
    }
    const ours = typed ? `${typed}(${typedName})` : (plainName ?? "");
    if (prefix === "u" && Array.isArray(value)) {
      issues.push({ path: at, message: "An array is a tag collection: send it as ut.name." });
      continue;
    }
    if (Object.hasOwn(attributes, ours)) {
      issues.push({ path: at, message: `"${ours}" is set twice.` });
      continue;
    }
    // Defined, not assigned: `__proto__` is a valid attribute name, not the object's prototype.
    Object.defineProperty(attributes, ours, {
      value: typed === "date" ? batchDate(value) : value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    keys.set(ours, key);
  }
  return { attributes, keys, issues };
}

function isTagValue(value: unknown): boolean {
  if (value === null || Array.isArray(value)) return true;
  return typeof value === "object" && !Array.isArray(value);
}
