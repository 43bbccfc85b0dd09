import { z } from "@hono/zod-openapi";
import { UUID_PATTERN } from "../lib/ids";

/** IDs that real apps send by mistake when no user is signed in (SPEC §2); compared case-insensitively. */
export const PLACEHOLDER_CUSTOM_IDS: ReadonlySet<string> = new Set([
  "anonymous",
  "guest",
  "null",
  "none",
  "nil",
  "undefined",
  "nan",
  "0",
  "-1",
  "true",
  "false",
  "id",
  "user",
  "email",
  "distinct_id",
  "not_authenticated",
  "[object object]",
]);

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
// Zero-width characters, bidi controls, the BOM, soft hyphens: format characters show nothing,
// so `user\u200b42` and `user42` would be two profiles a person cannot tell apart. So do the
// characters outside `Cf` that render nothing: the Hangul fillers, the combining grapheme joiner,
// variation selectors and the Braille blank.
const INVISIBLE_CHARACTERS = /[\p{Cf}\p{Variation_Selector}\u115f\u1160\u3164\uffa0\u2800]|\u034f/u;

/**
 * The form a placeholder is recognised in: compatibility-folded (fullwidth `ｕｓｅｒ` is `user`)
 * and case-folded, so a look-alike of a placeholder is refused as the placeholder is.
 */
function placeholderForm(value: string): string {
  return value.normalize("NFKC").toLowerCase().trim();
}

/**
 * The one stored form of a custom ID: Unicode NFC. An iOS keyboard and a web form can send `é` as
 * one code point or as `e` plus a combining accent; both are the same person.
 */
export function normalizeCustomId(value: string): string {
  return value.normalize("NFC");
}

/** Why a custom ID is refused, or null when it is acceptable. */
export function customIdProblem(value: string): string | null {
  if (value.trim() === "") return "A custom ID cannot be empty or only whitespace.";
  // A lone surrogate would be replaced on the way to storage, and two IDs would become one.
  if (!value.isWellFormed()) return "A custom ID must be valid Unicode (no lone surrogate).";
  if (PLACEHOLDER_CUSTOM_IDS.has(placeholderForm(value))) {
    return `"${value}" is a placeholder, not a user ID; send the real ID or nothing.`;
  }
  if (normalizeCustomId(value).length > 512) return "A custom ID is at most 512 characters.";
  if (CONTROL_CHARACTERS.test(value)) return "A custom ID cannot contain control characters.";
  if (INVISIBLE_CHARACTERS.test(value)) {
    return "A custom ID cannot contain invisible characters (zero-width, bidi controls, byte order mark).";
  }
  if (value !== value.trim()) return "A custom ID cannot start or end with whitespace.";
  return null;
}

/** Installation IDs are UUIDs compared case-insensitively: stored and routed lowercase. */
export const InstallationIdSchema = z
  .string()
  .regex(UUID_PATTERN, "An installation ID is a UUID.")
  .transform((s) => s.toLowerCase())
  .openapi({ example: "6f1c2d0e-8a4b-4c1e-9f3a-0d2b7c9e1a55" });

/** Custom IDs that pass the length, character and placeholder rules, in their NFC form. */
export const CustomIdSchema = z
  .string()
  .superRefine((value, ctx) => {
    const problem = customIdProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem, params: { code: "INVALID_CUSTOM_ID" } });
  })
  .transform(normalizeCustomId)
  .openapi({ example: "user-42" });

/** Durable Object names: one object per (project, identifier). */
export const installationObjectName = (projectId: string, installationId: string) => `${projectId}:i:${installationId}`;
export const customIdObjectName = (projectId: string, customId: string) => `${projectId}:c:${customId}`;
