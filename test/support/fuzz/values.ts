import fc from "fast-check";

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/** A JSON literal JSON.stringify cannot produce (1e999 parses to Infinity), spliced in by `toJsonText`. */
export const RAW = (literal: string) => `@@RAW:${literal}@@`;
export const RAW_LITERALS = [
  "1e999",
  "-1e999",
  "1E400",
  "1e-999",
  "-0",
  "123456789012345678901234567890123456789",
  "9007199254740993",
  "0.000000000000000000000000000001",
  "1.7976931348623157e309",
];

export function toJsonText(value: unknown): string {
  return (JSON.stringify(value) ?? "null").replace(/"@@RAW:([^"@]+)@@"/g, "$1");
}

export const UNICODE_SAMPLES = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\t",
  "\r\n",
  "\u007f",
  "\u0085",
  "\u2028",
  "\u202eevil",
  "\ufeff",
  "\u200b",
  "\ud800",
  "\udfff",
  "a\ud83d",
  "😀",
  "e\u0301",
  "İ",
  "ß",
  "ﬀ",
  "null",
  "anonymous",
  "[object Object]",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "0",
  "-1",
  "%00",
  "%ZZ",
  "../..",
  "'; DROP TABLE profiles; --",
  "\\",
  '"',
  "x".repeat(31),
  "x".repeat(301),
  "x".repeat(513),
  "x".repeat(4097),
  "😀".repeat(300),
  "2026-11-22T10:00:00Z",
  "$email_address",
  "date(x)",
];

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...UNICODE_SAMPLES) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
  { weight: 1, arbitrary: fc.uuid().map((u) => ` ${u}\n`) },
);

export const hugeNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    Number.MAX_SAFE_INTEGER + 2,
    -0,
    1e21,
    2 ** 31,
    2 ** 63,
    -(2 ** 31) - 1,
    0.5,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(...RAW_LITERALS.map(RAW)),
);

export function nest(depth: number, kind: "array" | "object"): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = kind === "array" ? [value] : { a: value };
  return value;
}

export const deepValue = fc
  .tuple(fc.integer({ min: 20, max: 1500 }), fc.constantFrom("array" as const, "object" as const))
  .map(([depth, kind]) => nest(depth, kind));

export const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: nastyString },
  { weight: 4, arbitrary: hugeNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3, depthSize: "small" }) },
  { weight: 1, arbitrary: fc.array(nastyString, { maxLength: 30 }) },
  { weight: 1, arbitrary: fc.dictionary(nastyString, fc.oneof(nastyString, hugeNumber), { maxKeys: 5 }) },
  { weight: 1, arbitrary: deepValue },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>({}, [], [[]], [{}], { $add: ["a"] }, { $add: "a" }, { $remove: [1] }),
  },
);

// ---------------------------------------------------------------------------------------------
// Near misses: a valid body with one thing wrong
// ---------------------------------------------------------------------------------------------

export type Path = (string | number)[];
export type Action = "replace" | "delete" | "add" | "retype" | "repeat";
export interface Mutation {
  at: number;
  action: Action;
  key: string;
  value: unknown;
  times: number;
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function nodePaths(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) nodePaths(v, [...prefix, i], out);
  } else if (isObject(value)) for (const [k, v] of Object.entries(value)) nodePaths(v, [...prefix, k], out);
  return out;
}

/** Sets a property as JSON.parse would, so that `__proto__` is a plain key. */
export function put(target: Record<string, unknown> | unknown[], key: string | number, value: unknown) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function retype(value: unknown): unknown {
  if (typeof value === "string") return Number.isNaN(Number(value)) ? 42 : Number(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return {};
  if (Array.isArray(value)) return Object.fromEntries(value.map((v, i) => [String(i), v]));
  return Object.values(value as object);
}

export function mutate(base: unknown, m: Mutation): unknown {
  const root = structuredClone(base);
  const paths = nodePaths(root);
  const path = paths[m.at % paths.length] ?? [];
  const get = (p: Path) => p.reduce<unknown>((node, k) => (node as Record<string | number, unknown>)[k], root);
  const node = get(path);
  const parent = path.length ? (get(path.slice(0, -1)) as Record<string, unknown> | unknown[]) : undefined;
  const last = path.at(-1) as string | number;
  const set = (value: unknown) => {
    if (!parent) return value;
    put(parent, last, value);
    return root;
  };
  switch (m.action) {
    case "replace":
      return set(m.value);
    case "delete":
      if (!parent) return m.value;
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete parent[last as string];
      return root;
    case "add":
      if (Array.isArray(node)) node.push(m.value);
      else if (isObject(node)) put(node, m.key, m.value);
      else return set(m.value);
      return root;
    case "retype":
      return set(retype(node));
    case "repeat":
      if (!Array.isArray(node) || node.length === 0) return set(retype(node));
      return set(Array.from({ length: m.times }, (_, i) => structuredClone(node[i % node.length])));
  }
}

export function mutation(repeat: number[]): fc.Arbitrary<Mutation> {
  return fc.record({
    at: fc.nat(),
    action: fc.constantFrom<Action>("replace", "replace", "replace", "delete", "add", "add", "retype", "repeat"),
    key: fc.oneof(fc.constantFrom("extra", "id", "type", "$label", "__proto__", "date(x)", "$foo"), nastyString),
    value: weirdValue,
    times: fc.constantFrom(...repeat),
  });
}
