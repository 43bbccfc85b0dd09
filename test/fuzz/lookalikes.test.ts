/**
 * Unicode look-alikes of custom IDs, from outside (SPEC §2, docs/decisions.md "Identifiers and
 * values that mean one thing"), across the SDK batch, the Profile API and audience uploads:
 *
 *  - a placeholder in compatibility forms (fullwidth `ｕｓｅｒ`, mathematical `𝐧𝐮𝐥𝐥`, circled
 *    `ⓘⓓ`), an ID with invisible format characters inserted (zero-width space, joiners, word
 *    joiner, BOM, bidi overrides and isolates, soft hyphen), or with leading or trailing
 *    whitespace of any kind, is refused with a clear error in the envelope (or, on the Profile
 *    API, reported by `bulk_index` as its contract says) and creates no profile;
 *  - an ID written with combining marks reaches one profile whether it is sent in NFC or NFD, and
 *    an audience counts it once.
 */
import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, call, createProject, errorOf, type Project, restHeaders } from "../support/harness";
import { attributes, customIdStub, identify, profileBy, sendBatch } from "../support/identity";

const NUM_RUNS = 30;
const TEST_TIMEOUT = 60_000;

/** SPEC §2, as written there (lower case). */
const PLACEHOLDERS = [
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

interface LookAlike {
  /** What is sent. */
  value: string;
  /** The ID a person reads in it, when that ID is not itself refused. */
  readAs: string | null;
}

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

/** No profile exists for the look-alike: not under it, its NFC form, nor the ID a person reads in it. */
async function assertNoProfile(p: Project, l: LookAlike) {
  expect(await customIdStub(p.projectId, l.value).view()).toBeNull();
  expect(await customIdStub(p.projectId, l.value.normalize("NFC")).view()).toBeNull();
  if (l.readAs !== null) expect((await profileBy(p, { custom_id: l.readAs })).status).toBe(404);
  // The read API refuses the look-alike itself as the writes do.
  const read = await call("GET", `/v1/profiles?${new URLSearchParams({ custom_id: l.value })}`, {
    headers: restHeaders(p),
  });
  expect(read.status).toBe(400);
  expect((await errorOf(read)).code).toBe("INVALID_CUSTOM_ID");
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

// ---------------------------------------------------------------------------------------------
// Look-alikes NFKC does not fold
// ---------------------------------------------------------------------------------------------

/** Placeholders spelt with characters NFKC keeps apart from the ASCII they pass for. */
const UNFOLDED = [
  "\u22121", // −1, the minus sign
  "\u20131", // –1, the en dash
  "\u1d1cs\u1d07\u0280", // ᴜsᴇʀ, small capitals
  "\u0274\u1d1c\u029f\u029f", // ɴᴜʟʟ
  "nul\u0131", // nulı, dotless i
  "\u0131d", // ıd
  "n\u043en\u0435", // nоnе, Cyrillic o and e
  "\u0430n\u043enym\u043eus", // аnоnymоus
  "\u039dULL", // ΝULL, Greek capital nu
  "\u0442ru\u0435", // тruе
  "gu\u0435s\u0442", // guеsт
  "\u1d1c\u0455er", // ᴜѕer
  "\u1d07\u1d0d\u1d00\u026a\u029f", // ᴇᴍᴀɪʟ
  "d\u0456st\u0456nct_\u0456d", // dіstіnct_іd
  "[\u043ebject \u043ebject]",
];

/** A few look-alikes per letter, written here apart from the server's table. */
const KIN: Record<string, string[]> = {
  a: ["\u0430", "\u1d00", "\u03b1"],
  e: ["\u0435", "\u1d07"],
  i: ["\u0131", "\u0456", "\u026a"],
  l: ["\u029f", "\u0131"],
  n: ["\u0274", "\u039d"],
  o: ["\u043e", "\u03bf", "\u1d0f"],
  r: ["\u0280"],
  s: ["\u0455"],
  t: ["\u0442", "\u1d1b"],
  u: ["\u1d1c", "\u03c5"],
  "-": ["\u2212", "\u2010", "\u2013"],
};

const unfolded: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...PLACEHOLDERS), fc.array(fc.nat(), { minLength: 20, maxLength: 20 }))
  .map(([p, picks]) =>
    [...p]
      .map((c, i) => {
        const kin = KIN[c] ?? [];
        const pick = picks[i] ?? 0;
        return kin.length === 0 || pick % 3 === 0 ? c : (kin[pick % kin.length] ?? c);
      })
      .join(""),
  );

describe("placeholder look-alikes that NFKC does not fold are refused and write nothing", () => {
  let p: Project;
  beforeAll(async () => {
    p = await createProject();
  });

  it.each(UNFOLDED)("SDK batch and Profile API refuse %s", async (value) => {
    const installation = crypto.randomUUID();
    const res = await sendBatch(p, installation, [identify(value)]);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("INVALID_CUSTOM_ID");
    expect(error.message + (error.issues?.[0]?.message ?? "")).toMatch(/placeholder/);
    const update = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [{ identifiers: { custom_id: value }, attributes: { tier: "gold" } }],
    });
    expect(update.status).toBe(400);
    await assertNoProfile(p, { value, readAs: null });
    expect((await profileBy(p, { installation_id: installation })).status).toBe(404);
  });

  it(
    "any mix of look-alike letters in a placeholder is refused by an SDK batch (fuzz)",
    async () => {
      await fc.assert(
        fc.asyncProperty(unfolded, fc.uuid(), async (value, installation) => {
          const res = await sendBatch(p, installation, [identify(value)]);
          expect(res.status, JSON.stringify(value)).toBe(400);
          expect((await errorOf(res)).code).toBe("INVALID_CUSTOM_ID");
          expect(await customIdStub(p.projectId, value).view()).toBeNull();
        }),
        { numRuns: NUM_RUNS },
      );
    },
    TEST_TIMEOUT,
  );

  it("an ID that merely contains such letters, or ASCII alone, is its own ID", async () => {
    for (const value of [
      "\u1d1cs\u1d07\u0280-42",
      "n\u043en\u0435-of-them",
      "user\u22121",
      "o",
      "nu11",
      "n0ne",
      "ld",
    ]) {
      const res = await sendBatch(p, crypto.randomUUID(), [identify(value)]);
      expect(res.status, value).toBe(200);
    }
  });
});

async function createAudience(p: Project, name: string) {
  const res = await call("POST", "/v1/audiences", { headers: restHeaders(p), body: { name, type: "custom_ids" } });
  expect(res.status).toBe(201);
}

/** Every value quoted: inside quotes a CSV cell is kept as is, so its whitespace reaches the check. */
const csvOf = (ids: string[]) => ["custom_id", ...ids.map((id) => `"${id.replaceAll('"', '""')}"`)].join("\r\n");

function replace(p: Project, name: string, format: "json" | "csv", ids: string[]): Promise<Response> {
  if (format === "json") return call("PUT", `/v1/audiences/${name}`, { headers: restHeaders(p), body: { ids } });
  return exports.default.fetch(
    new Request(`${BASE}/v1/audiences/${name}`, {
      method: "PUT",
      headers: { ...restHeaders(p), "Content-Type": "text/csv" },
      body: csvOf(ids),
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// NFC and NFD
// ---------------------------------------------------------------------------------------------

const BASES = "aeiouncyszAEIOUNCYSZ";
/** Grave, acute, circumflex, tilde, diaeresis, ring, caron, cedilla, dot below, ogonek. */
const MARKS = "\u0300\u0301\u0302\u0303\u0308\u030a\u030c\u0327\u0323\u0328";

/** A word of base letters with combining marks, whose NFC and NFD forms differ. */
const accented: fc.Arbitrary<string> = fc
  .array(
    fc
      .tuple(fc.constantFrom(...BASES), fc.array(fc.constantFrom(...MARKS), { maxLength: 2 }))
      .map(([b, m]) => b + m.join("")),
    { minLength: 1, maxLength: 8 },
  )
  .map((letters) => letters.join(""))
  .filter((s) => s.normalize("NFC") !== s.normalize("NFD"));

let word = 0;
/** Unique per run, so every run starts with no profile. */
const freshAccented = accented.map((s) => `${s}-${++word}-${crypto.randomUUID().slice(0, 8)}`);
const FORMS_OF = { nfc: (s: string) => s.normalize("NFC"), nfd: (s: string) => s.normalize("NFD") };
const form = fc.constantFrom("nfc" as const, "nfd" as const);

describe("NFC and NFD spellings of one custom ID are one ID (fuzz)", () => {
  let p: Project;
  beforeAll(async () => {
    p = await createProject();
  });

  it(
    "SDK batches and the Profile API reach one profile whichever form each sends",
    async () => {
      await fc.assert(
        fc.asyncProperty(freshAccented, form, form, form, async (id, first, api, read) => {
          const second = first === "nfc" ? "nfd" : "nfc";
          const a = await sendBatch(p, crypto.randomUUID(), [identify(FORMS_OF[first](id))]);
          expect(a.status).toBe(200);
          const signedIn = await a.json<{ profile_id: string; custom_id: string }>();
          expect(signedIn.custom_id).toBe(id.normalize("NFC"));
          const b = await sendBatch(p, crypto.randomUUID(), [identify(FORMS_OF[second](id))]);
          expect(b.status).toBe(200);
          expect(await b.json()).toMatchObject({ profile_id: signedIn.profile_id, custom_id: id.normalize("NFC") });
          const update = await call("POST", "/v1/profiles/update", {
            headers: restHeaders(p),
            body: [{ identifiers: { custom_id: FORMS_OF[api](id) }, attributes: { tier: "gold" } }],
          });
          expect(await update.json()).toEqual({ code: "SUCCESS" });
          const view = await profileBy(p, { custom_id: FORMS_OF[read](id) });
          expect(view.body).toMatchObject({ profile_id: signedIn.profile_id, custom_id: id.normalize("NFC") });
          expect(view.body?.attributes.tier?.value).toBe("gold");
          expect(view.body?.installations).toHaveLength(2);
        }),
        { numRuns: NUM_RUNS },
      );
    },
    TEST_TIMEOUT,
  );

  for (const format of ["json", "csv"] as const) {
    it(
      `audience replace (${format}): members sent in both forms count once`,
      async () => {
        const name = `forms-${format}`;
        await createAudience(p, name);
        const members = fc.uniqueArray(accented, { minLength: 1, maxLength: 6, selector: (s) => s.normalize("NFC") });
        const sent = fc.array(fc.tuple(fc.nat(), form), { minLength: 1, maxLength: 12 });
        await fc.assert(
          fc.asyncProperty(members, sent, async (words, picks) => {
            // Every word at least once, in a random form; then more copies in either form.
            const ids = [
              ...words.map((w, i) => FORMS_OF[picks[i % picks.length]?.[1] ?? "nfd"](w)),
              ...picks.map(([n, f]) => FORMS_OF[f](words[n % words.length] ?? "")),
            ];
            const res = await replace(p, name, format, ids);
            expect(res.status, JSON.stringify(ids)).toBe(200);
            expect(await res.json()).toMatchObject({ size: words.length });
          }),
          { numRuns: NUM_RUNS },
        );
      },
      TEST_TIMEOUT,
    );
  }
});
