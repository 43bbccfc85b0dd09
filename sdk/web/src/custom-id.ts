/**
 * IDs that real apps send by mistake when no user is signed in, compared case-insensitively.
 * This module is the one home of the custom ID rules: the server imports it too
 * (src/identity/identifiers.ts), so a refusal happens here, where the developer sees it, instead
 * of in a batch that is dropped. It imports nothing, so it bundles into the Worker as it is.
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

/**
 * Characters that look like the letters, digits and signs of the placeholders and that NFKC
 * leaves apart (small capitals, Greek and Cyrillic letters, dotless i, minus signs), by the ASCII
 * character they pass for. Hand-kept from Unicode's confusables for the placeholder check only:
 * no stored ID is folded.
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
  if (/^\p{ASCII}*$/u.test(compatible)) return PLACEHOLDER_CUSTOM_IDS.includes(compatible.toLowerCase().trim());
  const folded = fold(fold(compatible, CONFUSABLE_TO_ASCII).toLowerCase(), CONFUSABLE_TO_ASCII);
  return FOLDED_PLACEHOLDERS.has(fold(folded, ASCII_TWINS).trim());
}

/** The placeholders with their ASCII twins made one, as look-alike values are compared. */
const FOLDED_PLACEHOLDERS: ReadonlySet<string> = new Set(
  Array.from(PLACEHOLDER_CUSTOM_IDS, (id) => fold(id, ASCII_TWINS)),
);

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
  // Placeholders are matched after compatibility, look-alike and case folding: `ｕｓｅｒ` and `ᴜsᴇʀ` are `user`.
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
