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
 * Characters that look like the letters, digits and signs of the placeholders and that NFKC
 * leaves apart (small capitals, Greek and Cyrillic letters, dotless i, minus signs), by the ASCII
 * character they pass for. Hand-kept from Unicode's confusables for the placeholder check only:
 * no stored ID is folded. The web SDK keeps the same table (a test asserts it).
 */
export const PLACEHOLDER_CONFUSABLES: Readonly<Record<string, string>> = {
  a: "\u0251\u03b1\u0430\u237a\u1d00\u0391",
  b: "\u0299\u0432\u044c\u0185\u0392",
  c: "\u0441\u1d04",
  d: "\u0501\u1d05",
  e: "\u0435\u04bd\u1d07\u0395",
  f: "\ua730",
  g: "\u0261\u0262",
  h: "\u04bb\u029c\u043d\u0397",
  i: "\u0131\u0269\u03b9\u0456\u04cf\u026a\u01c0\u0399",
  j: "\u0458\u03f3\u1d0a\u0237",
  k: "\u0138\u03ba\u043a\u1d0b\u039a",
  l: "\u029f",
  m: "\u043c\u1d0d\u039c",
  n: "\u0274\u0578\u039d",
  o: "\u03bf\u043e\u0585\u1d0f\u039f",
  p: "\u0440\u03c1\u1d18\u03a1",
  q: "\u051b\ua7af",
  r: "\u0280\u0433",
  s: "\u0455\ua731",
  t: "\u0442\u03c4\u1d1b\u03a4",
  u: "\u1d1c\u03c5\u057d\u028b",
  v: "\u03bd\u0475\u1d20",
  w: "\u051d\u0461\u1d21",
  x: "\u0445\u03c7\u03a7",
  y: "\u0443\u04af\u03b3\u028f\u03a5\u04ae",
  z: "\u1d22\u0396",
  "-": "\u2010\u2012\u2013\u2014\u2015\u2212\u2043\u02d7\u2796",
};

/** Each look-alike to its ASCII character. */
const CONFUSABLE_TO_ASCII: ReadonlyMap<string, string> = new Map(
  Object.entries(PLACEHOLDER_CONFUSABLES).flatMap(([ascii, chars]) => [...chars].map((c) => [c, ascii] as const)),
);

/**
 * ASCII characters that pass for one another in the placeholders, `0` and `o`; `1`, `i`, `l` and
 * `|`: folded only in a value that holds a look-alike, so `nulı` is `null` and `n0ne` stays an ID.
 */
const ASCII_TWINS: ReadonlyMap<string, string> = new Map([
  ["0", "o"],
  ["1", "l"],
  ["i", "l"],
  ["|", "l"],
]);

const fold = (text: string, map: ReadonlyMap<string, string>) => Array.from(text, (c) => map.get(c) ?? c).join("");

/**
 * Whether a value is a placeholder: compared compatibility-folded (fullwidth `ｕｓｅｒ` is `user`),
 * case-folded and trimmed. A value that still holds a non-ASCII character is also folded from
 * look-alikes NFKC keeps apart to the ASCII they pass for (before and after the case fold, since
 * a capital and its small letter may pass for different ones), with the ASCII twins made one.
 * An ASCII value is compared as written: `o` or `nu11` may be someone's ID; `nulı` is not.
 */
function isPlaceholder(value: string): boolean {
  const compatible = value.normalize("NFKC");
  if (/^\p{ASCII}*$/u.test(compatible)) return PLACEHOLDER_CUSTOM_IDS.has(compatible.toLowerCase().trim());
  const folded = fold(fold(compatible, CONFUSABLE_TO_ASCII).toLowerCase(), CONFUSABLE_TO_ASCII);
  return FOLDED_PLACEHOLDERS.has(fold(folded, ASCII_TWINS).trim());
}

/** The placeholders with their ASCII twins made one, as look-alike values are compared. */
const FOLDED_PLACEHOLDERS: ReadonlySet<string> = new Set(
  Array.from(PLACEHOLDER_CUSTOM_IDS, (id) => fold(id, ASCII_TWINS)),
);

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
  if (isPlaceholder(value)) {
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
