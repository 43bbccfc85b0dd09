// The responses the docs show, as patterns: `# → HTTP/1.1 201 Created` or `# → 202 {…}` or
// `# → {…}`, JSON where `…` stands for what varies. Written by hand because the docs' notation
// (JSON with elisions and <NAME> placeholders) is our own; no library reads it.
//
// - a value `…` matches anything; a member or element `…` allows further members or elements;
// - a string holding `…` matches any text there; `<NAME>` (capitals) matches text and binds it:
//   the same name must match the same text again in the same document. `<other words>` matches
//   any text;
// - an object without `…` must have exactly the keys shown; numbers, booleans and null match
//   themselves.

const ELLIPSIS = "…";
const ANY = { kind: "any" };
const REST = { kind: "rest" };

/** Parses the text after `# →` (continuation lines joined) into {status, body}. */
export function parseExpectation(text) {
  let rest = text.trim();
  let status;
  const http = /^HTTP\/[\d.]+ (\d{3})(?: [^{[]*)?/.exec(rest);
  const bare = /^(\d{3})(?=\s|$)/.exec(rest);
  if (http) {
    status = Number(http[1]);
    rest = rest.slice(http[0].length).trim();
  } else if (bare) {
    status = Number(bare[1]);
    rest = rest.slice(bare[0].length).trim();
  }
  return { status, body: rest === "" ? undefined : parsePattern(rest), text: text.trim() };
}

/** Parses JSON with `…` into a pattern tree; throws on anything else. */
export function parsePattern(text) {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const fail = (what) => {
    throw new Error(`${what} at ${i} in ${text}`);
  };
  const value = () => {
    ws();
    const ch = text[i];
    if (ch === ELLIPSIS) {
      i++;
      return ANY;
    }
    if (ch === "{") return object();
    if (ch === "[") return array();
    if (ch === '"') return { kind: "string", text: string() };
    const literal = /^(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    if (!literal) fail("unexpected character");
    i += literal[0].length;
    return { kind: "literal", value: JSON.parse(literal[0]) };
  };
  const string = () => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    if (i >= text.length) fail("unterminated string");
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const list = (close, item) => {
    i++;
    const items = [];
    ws();
    if (text[i] === close) {
      i++;
      return items;
    }
    for (;;) {
      ws();
      if (text[i] === ELLIPSIS) {
        i++;
        items.push(REST);
      } else items.push(item());
      ws();
      if (text[i] === ",") i++;
      else if (text[i] === close) {
        i++;
        return items;
      } else fail(`expected , or ${close}`);
    }
  };
  const object = () => {
    const members = list("}", () => {
      if (text[i] !== '"') fail("expected a key");
      const key = string();
      ws();
      if (text[i] !== ":") fail("expected :");
      i++;
      return { key, value: value() };
    });
    return {
      kind: "object",
      open: members.includes(REST),
      members: members.filter((m) => m !== REST),
    };
  };
  const array = () => {
    const items = list("]", value);
    const at = items.indexOf(REST);
    return at === -1
      ? { kind: "array", head: items, tail: [], open: false }
      : { kind: "array", head: items.slice(0, at), tail: items.slice(at + 1).filter((x) => x !== REST), open: true };
  };
  const result = value();
  ws();
  if (i !== text.length) fail("trailing text");
  return result;
}

/**
 * Where `actual` differs from `pattern`, as a list of "path: why" (empty when it matches).
 * `bindings` (a Map) carries the <NAME> values across calls.
 */
export function mismatches(pattern, actual, bindings, path = "$") {
  switch (pattern.kind) {
    case "any":
      return [];
    case "literal":
      return Object.is(pattern.value, actual)
        ? []
        : [`${path}: expected ${JSON.stringify(pattern.value)}, got ${show(actual)}`];
    case "string":
      if (typeof actual !== "string") return [`${path}: expected a string, got ${show(actual)}`];
      return matchString(pattern.text, actual, bindings)
        ? []
        : [`${path}: expected "${pattern.text}", got ${show(actual)}`];
    case "object": {
      if (actual === null || typeof actual !== "object" || Array.isArray(actual))
        return [`${path}: expected an object, got ${show(actual)}`];
      const out = [];
      for (const { key, value } of pattern.members) {
        if (!(key in actual)) out.push(`${path}.${key}: missing`);
        else out.push(...mismatches(value, actual[key], bindings, `${path}.${key}`));
      }
      if (!pattern.open) {
        const shown = new Set(pattern.members.map((m) => m.key));
        for (const key of Object.keys(actual)) if (!shown.has(key)) out.push(`${path}.${key}: not shown in the docs`);
      }
      return out;
    }
    case "array": {
      if (!Array.isArray(actual)) return [`${path}: expected an array, got ${show(actual)}`];
      const { head, tail, open } = pattern;
      if (open ? actual.length < head.length + tail.length : actual.length !== head.length) {
        return [`${path}: expected ${open ? "at least " : ""}${head.length + tail.length} items, got ${actual.length}`];
      }
      const out = head.flatMap((p, k) => mismatches(p, actual[k], bindings, `${path}[${k}]`));
      const from = actual.length - tail.length;
      return out.concat(tail.flatMap((p, k) => mismatches(p, actual[from + k], bindings, `${path}[${from + k}]`)));
    }
    default:
      throw new Error(`unknown pattern ${pattern.kind}`);
  }
}

function show(value) {
  const text = JSON.stringify(value);
  return text === undefined ? "nothing" : text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** A string with `…` and <NAME> against the actual text; binds new names on success. */
function matchString(expected, actual, bindings) {
  if (!expected.includes(ELLIPSIS) && !expected.includes("<")) return expected === actual;
  const names = [];
  let source = "";
  for (const part of expected.split(/(…|<[^<>]+>)/)) {
    if (part === ELLIPSIS) source += "[\\s\\S]*";
    else if (/^<[A-Z][A-Z0-9_]*>$/.test(part)) {
      const name = part.slice(1, -1);
      if (bindings.has(name)) source += escapeRegExp(bindings.get(name));
      else if (names.includes(name)) source += `\\k<${name}>`;
      else {
        names.push(name);
        source += `(?<${name}>[\\s\\S]+?)`;
      }
    } else if (/^<[^<>]+>$/.test(part)) source += "[\\s\\S]+?";
    else source += escapeRegExp(part);
  }
  const match = new RegExp(`^${source}$`).exec(actual);
  if (!match) return false;
  for (const name of names) bindings.set(name, match.groups[name]);
  return true;
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
