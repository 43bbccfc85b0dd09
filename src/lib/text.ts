import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { ApiError, type ErrorIssue, issuePath } from "./errors";

/** Only a `\u` escape can put a lone surrogate in a JSON body: raw UTF-8 cannot encode one. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;
const JSON_TYPE = /^application\/(?:[a-z0-9.+-]+\+)?json\b/i;
/** A body full of bad text gets this many issues back, not one per string. */
const MAX_ISSUES = 100;

/**
 * Refuses a JSON body holding text that is not valid Unicode (a lone surrogate, as `\uD800`),
 * anywhere: key or value. Storage and queues carry UTF-8, where such text becomes U+FFFD, so the
 * value kept would not be the value sent, and two different names could become one. Runs before
 * the route's validation; the body it parses is the one validation reads.
 */
export const wellFormedText: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method === "GET" || !JSON_TYPE.test(c.req.header("Content-Type") ?? "")) return next();
  const text = await c.req.text();
  if (!SURROGATE_ESCAPE.test(text)) return next();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return next(); // validation answers INVALID_JSON
  }
  const issues = illFormed(body, []);
  if (issues.length > 0) {
    throw new ApiError("VALIDATION_FAILED", "Text must be valid Unicode: a lone surrogate cannot be stored.", {
      issues,
    });
  }
  return next();
};

function illFormed(value: unknown, path: PropertyKey[], found: ErrorIssue[] = []): ErrorIssue[] {
  if (found.length >= MAX_ISSUES) return found;
  const message = "Not valid Unicode (a lone surrogate).";
  if (typeof value === "string") {
    if (!value.isWellFormed()) found.push({ path: issuePath(path), message });
  } else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) illFormed(item, [...path, i], found);
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      // The path shows the key as storage would have kept it.
      if (!key.isWellFormed()) found.push({ path: issuePath([...path, key.toWellFormed()]), message });
      else illFormed(item, [...path, key], found);
    }
  }
  return found;
}
