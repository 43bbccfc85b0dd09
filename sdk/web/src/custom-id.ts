/**
 * IDs that real apps send by mistake when no user is signed in, compared case-insensitively.
 * The server refuses the same list (src/identity/identifiers.ts); a test asserts the two are equal,
 * so a refusal happens here, where the developer sees it, instead of in a batch that is dropped.
 */
export const PLACEHOLDER_CUSTOM_IDS: readonly string[] = [
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
];

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Format characters show nothing: `user\u200b42` and `user42` would be two people's IDs. Nor do
// the Hangul fillers, the combining grapheme joiner, variation selectors and the Braille blank.
const INVISIBLE_CHARACTERS = /[\p{Cf}\p{Variation_Selector}\u115f\u1160\u3164\uffa0\u2800]|\u034f/u;

/** The stored form of a custom ID, as the server keeps it: Unicode NFC. */
export function normalizeCustomId(value: string): string {
  return value.normalize("NFC");
}

/** Why the server would refuse `value` as a custom ID, or null when it is acceptable. */
export function customIdProblem(value: unknown): string | null {
  if (typeof value !== "string") return "A custom ID is a string.";
  if (value.trim() === "") return "A custom ID cannot be empty or only whitespace.";
  if (LONE_SURROGATE.test(value)) return "A custom ID must be valid Unicode (no lone surrogate).";
  // Placeholders are matched after compatibility and case folding: fullwidth `ｕｓｅｒ` is `user`.
  if (PLACEHOLDER_CUSTOM_IDS.includes(value.normalize("NFKC").toLowerCase().trim())) {
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
