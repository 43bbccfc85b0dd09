/**
 * Unicode look-alikes of custom IDs, from outside (SPEC §2, docs/decisions.md "Identifiers and
 * values that mean one thing"), across the SDK batch, the Profile API and audience uploads:
 *
 *  - a placeholder spelt with look-alike letters NFKC does not fold (small capitals, Greek,
 *    Cyrillic, dotless i, minus signs) is refused too and creates no profile;
 *  - an ID written with combining marks reaches one profile whether it is sent in NFC or NFD, and
 *    an audience counts it once.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, errorOf, type Project, restHeaders } from "../support/harness";
import { customIdStub, identify, profileBy, sendBatch } from "../support/identity";
import { assertNoProfile, createAudience, NUM_RUNS, PLACEHOLDERS, replace, TEST_TIMEOUT } from "./lookalikes.support";

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
