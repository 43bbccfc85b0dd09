import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, createProject, type Project } from "../support/harness";
import { profileBy } from "../support/identity";
import { batchCall, batchErrorOf, credentialsOf } from "./support";

let owner: Project;
let other: Project;
beforeAll(async () => {
  owner = await createProject();
  other = await createProject();
});

const update = { overwrite: false, values: { "u.plan": "gold" } };

describe("Batch's /1.x/{API_KEY} authentication", () => {
  const refused: { name: string; credentials: () => { apiKey?: string; restKey?: string } }[] = [
    { name: "no X-Authorization", credentials: () => ({ apiKey: owner.sdkKey }) },
    { name: "an empty X-Authorization", credentials: () => ({ apiKey: owner.sdkKey, restKey: " " }) },
    { name: "another project's REST key", credentials: () => ({ apiKey: owner.sdkKey, restKey: other.restKey }) },
    { name: "a wrong REST key", credentials: () => ({ apiKey: owner.sdkKey, restKey: `${owner.restKey}x` }) },
    { name: "the app's own SDK key as REST key", credentials: () => ({ apiKey: owner.sdkKey, restKey: owner.sdkKey }) },
    { name: "the admin token", credentials: () => ({ apiKey: owner.sdkKey, restKey: ADMIN_TOKEN }) },
    { name: "an unknown API key", credentials: () => ({ apiKey: "NOT_A_KEY", restKey: owner.restKey }) },
    {
      name: "an API key of another project's app",
      credentials: () => ({ apiKey: other.sdkKey, restKey: owner.restKey }),
    },
    {
      name: "a REST key given as the API key",
      credentials: () => ({ apiKey: owner.restKey, restKey: owner.restKey }),
    },
  ];

  for (const { name, credentials } of refused) {
    it(`refuses ${name} with 401 and batch_code 10, writing nothing`, async () => {
      const res = await batchCall("POST", credentials(), "/data/users/sec-user", { body: update });
      expect(res.status).toBe(401);
      const error = await batchErrorOf(res);
      expect(error).toMatchObject({ code: "UNAUTHORIZED", batch_code: 10 });
      expect((await profileBy(owner, { custom_id: "sec-user" })).status).toBe(404);
      expect((await profileBy(other, { custom_id: "sec-user" })).status).toBe(404);
    });
  }

  it("answers an unknown key with 401 on an unknown route too, never 404", async () => {
    const res = await batchCall("GET", { apiKey: "nope", restKey: owner.restKey }, "/no/such/route");
    expect(res.status).toBe(401);
    expect((await batchErrorOf(res)).batch_code).toBe(10);
  });

  it("answers an unknown route under valid keys with 404 and batch_code 20", async () => {
    const res = await batchCall("POST", credentialsOf(owner), "/no/such/route", { body: {} });
    expect(res.status).toBe(404);
    expect(await batchErrorOf(res)).toMatchObject({ code: "NOT_FOUND", batch_code: 20 });
  });

  it("accepts a trailing slash", async () => {
    const res = await batchCall("POST", credentialsOf(owner), "/data/users/slash-user/", { body: update });
    expect(res.status).toBe(202);
    expect((await profileBy(owner, { custom_id: "slash-user" })).body?.attributes.plan?.value).toBe("gold");
  });

  it("budgets failed attempts per address: past it, 429 with batch_code 60", async () => {
    const address = { "CF-Connecting-IP": "203.0.113.77" };
    let last: Response | null = null;
    for (let k = 0; k < 40; k++) {
      const res = await batchCall("POST", { apiKey: owner.sdkKey, restKey: `${owner.restKey}x` }, "/data/users/u", {
        body: update,
        headers: address,
      });
      if (res.status === 429) {
        last = res;
        break;
      }
      expect(res.status).toBe(401);
      await res.body?.cancel();
    }
    expect(last).not.toBeNull();
    expect(await batchErrorOf(last as Response)).toMatchObject({ code: "RATE_LIMITED", batch_code: 60 });
    // The address is held back before any look-up; keys already known still work from it (as on
    // every REST route: one guesser behind a NAT does not shut out its neighbours).
    const unknownApp = { apiKey: `sdk_${crypto.randomUUID()}_${"a".repeat(43)}`, restKey: owner.restKey };
    const held = await batchCall("POST", unknownApp, "/data/users/u", { body: update, headers: address });
    expect(held.status).toBe(429);
    const elsewhere = await batchCall("POST", credentialsOf(owner), "/data/users/u", {
      body: update,
      headers: { "CF-Connecting-IP": "203.0.113.78" },
    });
    expect(elsewhere.status).toBe(202);
  });
});
