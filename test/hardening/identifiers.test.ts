import { describe, expect, it } from "vitest";
import { call, createProject, errorOf, restHeaders } from "../support/harness";
import { attributes, identify, profileBy, sendBatch } from "../support/identity";

const NFC = "\u00e9lodie"; // é as one code point
const NFD = "e\u0301lodie"; // e + combining acute accent

describe("custom IDs mean one thing whatever their Unicode form", () => {
  it("NFC and NFD spellings of one ID reach one profile, through the SDK and the Profile API", async () => {
    const p = await createProject();
    const ios = crypto.randomUUID();
    const web = crypto.randomUUID();
    expect((await sendBatch(p, ios, [identify(NFC), attributes({ plan: "pro" })])).status).toBe(200);
    const second = await sendBatch(p, web, [identify(NFD)]);
    expect(second.status).toBe(200);
    const signedIn = await second.json<{ profile_id: string; custom_id: string }>();
    const first = await profileBy(p, { custom_id: NFC });
    expect(first.status).toBe(200);
    expect(signedIn.profile_id).toBe(first.body?.profile_id);
    expect(signedIn.custom_id).toBe(NFC);

    const api = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [{ identifiers: { custom_id: NFD }, attributes: { tier: "gold" } }],
    });
    expect(api.status).toBe(202);
    const view = await profileBy(p, { custom_id: NFD });
    expect(view.body?.profile_id).toBe(first.body?.profile_id);
    expect(Object.keys(view.body?.attributes ?? {}).sort()).toEqual(["plan", "tier"]);
  });

  it.each([
    ["fullwidth user", "\uff55\uff53\uff45\uff52"],
    ["null then a zero-width space", "null\u200b"],
    ["fullwidth ANONYMOUS", "\uff21\uff2e\uff2f\uff2e\uff39\uff2d\uff2f\uff35\uff33"],
    ["a zero-width joiner inside", "user\u200d42"],
    ["a right-to-left override", "\u202euser-42"],
    ["a byte order mark", "\ufeffuser-42"],
    ["a leading space", " user-42"],
    ["a trailing no-break space", "user-42\u00a0"],
    ["a combining grapheme joiner", "null\u034f"],
    ["a variation selector", "nu\ufe0fll"],
    ["a supplementary variation selector", "user-42\u{e0100}"],
    ["a Braille blank alone", "\u2800"],
  ])("%s is refused with INVALID_CUSTOM_ID", async (_label, customId) => {
    const p = await createProject();
    const res = await sendBatch(p, crypto.randomUUID(), [identify(customId)]);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("INVALID_CUSTOM_ID");
    expect(error.issues?.map((i) => i.path)).toEqual(["ops.0.custom_id"]);
  });

  it("the Profile API refuses a look-alike placeholder", async () => {
    const p = await createProject();
    const res = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [{ identifiers: { custom_id: "\uff55\uff53\uff45\uff52" }, attributes: { tier: "gold" } }],
    });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.issues?.map((i) => i.path)).toEqual(["0.identifiers.custom_id"]);
  });

  it("an audience stores the NFC form and refuses invisible characters", async () => {
    const p = await createProject();
    const headers = restHeaders(p);
    expect((await call("POST", "/v1/audiences", { headers, body: { name: "vip", type: "custom_ids" } })).status).toBe(
      201,
    );
    for (const id of ["null\u200b", " padded ", "\uff55\uff53\uff45\uff52"]) {
      const bad = await call("PUT", "/v1/audiences/vip", { headers, body: { ids: ["ok-1", id] } });
      expect(bad.status).toBe(400);
    }
    const put = await call("PUT", "/v1/audiences/vip", { headers, body: { ids: [NFD, NFC] } });
    expect(put.status).toBe(200);
    const audience = await call("GET", "/v1/audiences/vip", { headers });
    expect((await audience.json<{ size: number }>()).size).toBe(1);
  });
});
