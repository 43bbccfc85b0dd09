/**
 * Unicode look-alikes of custom IDs, from outside (SPEC §2, docs/decisions.md "Identifiers and
 * values that mean one thing"), across the SDK batch, the Profile API and audience uploads:
 *
 *  - a placeholder in compatibility forms (fullwidth `ｕｓｅｒ`, mathematical `𝐧𝐮𝐥𝐥`, circled
 *    `ⓘⓓ`), an ID with invisible format characters inserted (zero-width space, joiners, word
 *    joiner, BOM, bidi overrides and isolates, soft hyphen), or with leading or trailing
 *    whitespace of any kind, is refused with a clear error in the envelope (or, on the Profile
 *    API, reported by `bulk_index` as its contract says) and creates no profile.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, errorOf, type Project, restHeaders } from "../support/harness";
import { attributes, identify, profileBy, sendBatch } from "../support/identity";
import {
  assertNoProfile,
  createAudience,
  type LookAlike,
  NUM_RUNS,
  PLACEHOLDERS,
  replace,
  TEST_TIMEOUT,
} from "./lookalikes.support";

/** Compatibility forms of one ASCII character: NFKC folds each back to the character. */
const FORMS: Record<string, (c: string) => string> = {
  ascii: (c) => c,
  upper: (c) => c.toUpperCase(),
  fullwidth: (c) => (c === " " ? "\u3000" : String.fromCodePoint(c.charCodeAt(0) + 0xfee0)),
  bold: (c) => offset(c, 0x1d41a, 0x1d400, 0x1d7ce),
  monospace: (c) => offset(c, 0x1d68a, 0x1d670, 0x1d7f6),
  circled: (c) =>
    c === "0" ? "\u24ea" : /[1-9]/.test(c) ? String.fromCodePoint(0x2460 + Number(c) - 1) : offset(c, 0x24d0, 0x24b6),
};

function offset(c: string, lower: number, upper: number, digit?: number): string {
  const code = c.charCodeAt(0);
  if (c >= "a" && c <= "z") return String.fromCodePoint(lower + code - 97);
  if (c >= "A" && c <= "Z") return String.fromCodePoint(upper + code - 65);
  if (digit !== undefined && c >= "0" && c <= "9") return String.fromCodePoint(digit + code - 48);
  return c;
}

/** Zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen, bidi embeddings, overrides and isolates. */
const INVISIBLE = [
  "\u200b",
  "\u200c",
  "\u200d",
  "\u2060",
  "\ufeff",
  "\u00ad",
  ..."\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
];
/** Whitespace a trim removes: ASCII, no-break, the typographic spaces, separators, ideographic. */
const WHITESPACE = [
  " ",
  "\t",
  "\u00a0",
  "\u1680",
  ..."\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a",
  "\u2028",
  "\u2029",
  "\u202f",
  "\u205f",
  "\u3000",
];

const REFUSAL = /placeholder|invisible characters|start or end with whitespace|control characters/;

const placeholderLike: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...PLACEHOLDERS),
    fc.array(fc.constantFrom(...Object.keys(FORMS)), { minLength: 20, maxLength: 20 }),
  )
  .map(([p, forms]) => [...p].map((c, i) => FORMS[forms[i] ?? "ascii"]?.(c) ?? c).join(""));

const legitimate = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,12}$/).map((s) => `u-${s}`);

function insert(value: string, chars: [number, string][]): string {
  const units = [...value];
  for (const [at, c] of chars) units.splice(at % (units.length + 1), 0, c);
  return units.join("");
}

const base: fc.Arbitrary<LookAlike> = fc.oneof(
  placeholderLike.map((value) => ({ value, readAs: null })),
  legitimate.map((value) => ({ value, readAs: value })),
);
const invisibles = fc.array(fc.tuple(fc.nat(), fc.constantFrom(...INVISIBLE)), { minLength: 1, maxLength: 3 });
const spaces = fc.array(fc.constantFrom(...WHITESPACE), { maxLength: 3 }).map((a) => a.join(""));
const padding = fc.tuple(spaces, spaces).filter(([lead, trail]) => lead.length + trail.length > 0);

/** Each trick on its own, then all of them together. */
const lookAlike: fc.Arbitrary<LookAlike> = fc.oneof(
  // A legitimate ID in compatibility forms is its own ID: only placeholders are folded.
  placeholderLike.filter((v) => /[^\x20-\x7e]/.test(v)).map((value) => ({ value, readAs: null })),
  fc.tuple(base, invisibles).map(([b, chars]) => ({ ...b, value: insert(b.value, chars) })),
  fc.tuple(base, padding).map(([b, [lead, trail]]) => ({ ...b, value: lead + b.value + trail })),
  fc
    .tuple(base, invisibles, padding)
    .map(([b, chars, [lead, trail]]) => ({ ...b, value: lead + insert(b.value, chars) + trail })),
);

/** Sends look-alikes at random positions among valid items. */
function mixed<T>(valid: fc.Arbitrary<T>, maxValid = 3): fc.Arbitrary<{ items: (T | LookAlike)[]; bad: number[] }> {
  return fc
    .tuple(
      fc.array(valid, { maxLength: maxValid }),
      fc.array(lookAlike, { minLength: 1, maxLength: 3 }),
      fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
    )
    .map(([good, bad, positions]) => {
      const items: { item: T | LookAlike; bad: boolean }[] = good.map((item) => ({ item, bad: false }));
      for (const [i, item] of bad.entries()) {
        items.splice((positions[i] ?? 0) % (items.length + 1), 0, { item, bad: true });
      }
      return { items: items.map((x) => x.item), bad: items.flatMap((x, i) => (x.bad ? [i] : [])) };
    });
}

const show = (l: LookAlike) => JSON.stringify(l.value);

describe("custom ID look-alikes are refused and write nothing (fuzz)", () => {
  let p: Project;
  beforeAll(async () => {
    p = await createProject();
  });

  it(
    "SDK batch: an identify op with a look-alike refuses the whole batch with INVALID_CUSTOM_ID",
    async () => {
      const op = fc.oneof(
        fc.uuid().map((u) => ({ kind: "identify" as const, id: `ok-${u}` })),
        fc.constant({ kind: "attributes" as const }),
      );
      await fc.assert(
        fc.asyncProperty(mixed(op), fc.uuid(), async ({ items, bad }, installation) => {
          const ops = items.map((x) =>
            "value" in x ? identify(x.value) : x.kind === "identify" ? identify(x.id) : attributes({ plan: "pro" }),
          );
          const res = await sendBatch(p, installation, ops);
          expect(res.status, items.map((x) => ("value" in x ? show(x) : x.kind)).join(", ")).toBe(400);
          const error = await errorOf(res);
          expect(error.code).toBe("INVALID_CUSTOM_ID");
          expect(error.issues?.map((i) => i.path).sort()).toEqual(bad.map((i) => `ops.${i}.custom_id`).sort());
          for (const issue of error.issues ?? []) expect(issue.message).toMatch(REFUSAL);
          expect((await profileBy(p, { installation_id: installation })).status).toBe(404);
          for (const x of items) {
            if ("value" in x) await assertNoProfile(p, x);
            else if (x.kind === "identify") expect((await profileBy(p, { custom_id: x.id })).status).toBe(404);
          }
        }),
        { numRuns: NUM_RUNS },
      );
    },
    TEST_TIMEOUT,
  );

  it(
    "Profile API update: look-alike operations are refused by bulk_index (400 when none is valid), the others applied",
    async () => {
      await fc.assert(
        fc.asyncProperty(mixed(fc.uuid().map((u) => `ok-${u}`)), async ({ items, bad }) => {
          const body = items.map((x) => ({
            identifiers: { custom_id: typeof x === "string" ? x : x.value },
            attributes: { tier: "gold" },
          }));
          const res = await call("POST", "/v1/profiles/update", { headers: restHeaders(p), body });
          const label = JSON.stringify(body.map((o) => o.identifiers.custom_id));
          if (bad.length === items.length) {
            expect(res.status, label).toBe(400);
            const error = await errorOf(res);
            expect(error.code).toBe("VALIDATION_FAILED");
            expect(error.issues?.map((i) => i.path).sort()).toEqual(
              bad.map((i) => `${i}.identifiers.custom_id`).sort(),
            );
            for (const issue of error.issues ?? []) expect(issue.message).toMatch(REFUSAL);
          } else {
            expect(res.status, label).toBe(202);
            const answer = await res.json<{ code: string; errors: Record<string, unknown>[] }>();
            expect(answer.code).toBe("SUCCESS_WITH_PARTIAL_ERRORS");
            expect(answer.errors.map((e) => e.bulk_index)).toEqual(bad);
            for (const e of answer.errors) {
              expect(e).toMatchObject({ category: "identifiers", attribute: "custom_id" });
              expect(e.reason).toMatch(REFUSAL);
            }
          }
          for (const x of items) {
            if (typeof x !== "string") await assertNoProfile(p, x);
            else expect((await profileBy(p, { custom_id: x })).body?.attributes.tier?.value).toBe("gold");
          }
        }),
        { numRuns: NUM_RUNS },
      );
    },
    TEST_TIMEOUT,
  );

  for (const format of ["json", "csv"] as const) {
    it(
      `audience replace (${format}): a look-alike member refuses the upload, line by line, and the members stay`,
      async () => {
        let audiences = 0;
        await fc.assert(
          fc.asyncProperty(mixed(legitimate, 5), async ({ items, bad }) => {
            // A fresh audience each run, so that a failing run does not spoil the shrunk ones.
            const name = `look-${format}-${++audiences}`;
            await createAudience(p, name);
            const before = await replace(p, name, format, ["keep-1", "keep-2"]);
            expect(before.status).toBe(200);
            const kept = await before.json<{ size: number; updated_at: string }>();
            const ids = items.map((x) => (typeof x === "string" ? x : x.value));
            const res = await replace(p, name, format, ids);
            expect(res.status, JSON.stringify(ids)).toBe(400);
            const error = await errorOf(res);
            expect(error.code).toBe("VALIDATION_FAILED");
            // The CSV starts with a header line: an ID at index i is on line i + 2.
            const path = (i: number) => (format === "json" ? `ids.${i}` : `line ${i + 2}`);
            expect(error.issues?.map((i) => i.path)).toEqual(bad.map(path));
            for (const issue of error.issues ?? []) expect(issue.message).toMatch(REFUSAL);
            const after = await call("GET", `/v1/audiences/${name}`, { headers: restHeaders(p) });
            expect(await after.json()).toMatchObject({ size: 2, updated_at: kept.updated_at });
          }),
          { numRuns: NUM_RUNS },
        );
      },
      TEST_TIMEOUT,
    );
  }
});
