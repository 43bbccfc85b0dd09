import { describe, expect, it } from "vitest";
import { createProject } from "../support/harness";
import {
  attributes,
  batch,
  customIdStub,
  event,
  identify,
  installationStub,
  logout,
  profileBy,
  querySql,
} from "../support/identity";

const uuid = () => crypto.randomUUID();

/** One test per row of the SPEC §2 table, through the HTTP API. */
describe("identity transitions (SPEC §2)", () => {
  it("first SDK contact of an unknown installation creates an anonymous profile holding it", async () => {
    const p = await createProject();
    const i = uuid();
    const answer = await batch(p, i, []);
    expect(answer.custom_id).toBeNull();
    const { status, body } = await profileBy(p, { installation_id: i });
    expect(status).toBe(200);
    expect(body?.profile_id).toBe(answer.profile_id);
    expect(body?.custom_id).toBeNull();
    expect(body?.installations.map((x) => x.installation_id)).toEqual([i]);
    expect(body?.identity_history.map((h) => h.kind)).toEqual(["created"]);
    // A second contact stays on the same profile.
    expect((await batch(p, i, [])).profile_id).toBe(answer.profile_id);
  });

  it("an unknown custom ID written alone creates a profile whose data applies once an installation logs in", async () => {
    const p = await createProject();
    const created = await customIdStub(p.projectId, "crm-7").applyOps(
      {
        projectId: p.projectId,
        customId: "crm-7",
        installationId: null,
        appId: null,
        requestId: "req-api",
        receivedAt: new Date().toISOString(),
      },
      [
        {
          type: "attributes",
          id: "api-1",
          time: new Date().toISOString(),
          source: "api",
          writes: [{ name: "tier", kind: "set", type: "string", value: "gold" }],
        },
      ],
    );
    const before = await profileBy(p, { custom_id: "crm-7" });
    expect(before.body?.installations).toEqual([]);
    expect(before.body?.attributes.tier?.value).toBe("gold");

    const i = uuid();
    const answer = await batch(p, i, [identify("crm-7")]);
    expect(answer.profile_id).toBe(created.profileId);
    const after = await profileBy(p, { installation_id: i });
    expect(after.body?.attributes.tier?.value).toBe("gold");
    expect(after.body?.installations.map((x) => x.installation_id)).toEqual([i]);
  });

  it("sign-in: a new custom ID on an anonymous profile keeps the profile and all its data", async () => {
    const p = await createProject();
    const i = uuid();
    const anon = await batch(p, i, [attributes({ plan: "pro" }), event("viewed_item")]);
    const answer = await batch(p, i, [identify("user-42")]);
    expect(answer).toMatchObject({ profile_id: anon.profile_id, custom_id: "user-42" });
    const { body } = await profileBy(p, { custom_id: "user-42" });
    expect(body?.profile_id).toBe(anon.profile_id);
    expect(body?.attributes.plan?.value).toBe("pro");
    expect(body?.events.map((e) => e.name)).toEqual(["viewed_item"]);
    expect(body?.identity_history.map((h) => h.kind)).toEqual(["created", "sign_in"]);
    // The installation no longer keeps a copy of the profile.
    const local = await querySql(installationStub(p.projectId, i), "SELECT profile_id FROM profiles");
    expect(local).toEqual([]);
  });

  it("login: a known custom ID takes the installation; the anonymous profile is orphaned, not merged", async () => {
    const p = await createProject();
    const first = uuid();
    const second = uuid();
    const q = await batch(p, first, [identify("user-42"), attributes({ plan: "pro" })]);
    const anon = await batch(p, second, [attributes({ plan: "free", colour: "red" })]);
    const answer = await batch(p, second, [identify("user-42")]);
    expect(answer.profile_id).toBe(q.profile_id);

    const { body } = await profileBy(p, { custom_id: "user-42" });
    expect(body?.installations.map((x) => x.installation_id).sort()).toEqual([first, second].sort());
    expect(body?.attributes.plan?.value).toBe("pro");
    expect(body?.attributes.colour).toBeUndefined();
    expect(body?.identity_history.map((h) => h.kind)).toEqual(["created", "sign_in", "login"]);

    const orphan = await querySql(
      installationStub(p.projectId, second),
      "SELECT state FROM profiles WHERE profile_id = ?",
      anon.profile_id,
    );
    expect(orphan).toEqual([{ state: "orphaned" }]);
  });

  it("identify with the custom ID the installation already holds changes nothing", async () => {
    const p = await createProject();
    const i = uuid();
    const signedIn = await batch(p, i, [identify("user-42")]);
    const again = await batch(p, i, [identify("user-42")]);
    expect(again).toMatchObject({ profile_id: signedIn.profile_id, custom_id: "user-42", accepted: 1 });
    const { body } = await profileBy(p, { custom_id: "user-42" });
    expect(body?.identity_history.map((h) => h.kind)).toEqual(["created", "sign_in"]);
  });

  it("switching user: the installation leaves the first user, then signs in as the second on a fresh profile", async () => {
    const p = await createProject();
    const i = uuid();
    const q1 = await batch(p, i, [identify("alice"), attributes({ plan: "pro" })]);
    const q2 = await batch(p, i, [identify("bob")]);
    expect(q2.profile_id).not.toBe(q1.profile_id);
    expect(q2.custom_id).toBe("bob");

    const alice = await profileBy(p, { custom_id: "alice" });
    expect(alice.body?.profile_id).toBe(q1.profile_id);
    expect(alice.body?.installations).toEqual([]);
    expect(alice.body?.attributes.plan?.value).toBe("pro");
    expect(alice.body?.identity_history.map((h) => h.kind)).toEqual(["created", "sign_in", "switch_user"]);

    const bob = await profileBy(p, { custom_id: "bob" });
    expect(bob.body?.installations.map((x) => x.installation_id)).toEqual([i]);
    expect(bob.body?.attributes.plan).toBeUndefined();
    expect(bob.body?.identity_history.map((h) => h.kind)).toEqual(["created", "sign_in"]);
  });

  it("switching to a user who already has a profile logs the installation in to it", async () => {
    const p = await createProject();
    const other = uuid();
    const bob = await batch(p, other, [identify("bob")]);
    const i = uuid();
    await batch(p, i, [identify("alice")]);
    const answer = await batch(p, i, [identify("bob")]);
    expect(answer.profile_id).toBe(bob.profile_id);
    const view = await profileBy(p, { custom_id: "bob" });
    expect(view.body?.installations.map((x) => x.installation_id).sort()).toEqual([other, i].sort());
  });

  it("logout: the installation gets a fresh anonymous profile; the user's profile keeps its custom ID and data", async () => {
    const p = await createProject();
    const i = uuid();
    const q = await batch(p, i, [identify("user-42"), attributes({ plan: "pro" })]);
    const answer = await batch(p, i, [logout(), attributes({ theme: "dark" })]);
    expect(answer.custom_id).toBeNull();
    expect(answer.profile_id).not.toBe(q.profile_id);

    const user = await profileBy(p, { custom_id: "user-42" });
    expect(user.body?.profile_id).toBe(q.profile_id);
    expect(user.body?.installations).toEqual([]);
    expect(user.body?.attributes.plan?.value).toBe("pro");
    expect(user.body?.attributes.theme).toBeUndefined();
    expect(user.body?.identity_history.at(-1)).toMatchObject({ kind: "logout", installation_id: i });

    const device = await profileBy(p, { installation_id: i });
    expect(device.body?.profile_id).toBe(answer.profile_id);
    expect(device.body?.attributes.theme?.value).toBe("dark");
    expect(device.body?.attributes.plan).toBeUndefined();
    expect(device.body?.identity_history.map((h) => h.kind)).toEqual(["logout"]);
  });

  it("logout of an anonymous installation changes nothing", async () => {
    const p = await createProject();
    const i = uuid();
    const anon = await batch(p, i, []);
    expect((await batch(p, i, [logout()])).profile_id).toBe(anon.profile_id);
  });

  it("applies ops in order around transitions within one batch", async () => {
    const p = await createProject();
    const i = uuid();
    const answer = await batch(p, i, [
      attributes({ step: "anonymous" }),
      identify("user-9"),
      attributes({ after_login: true }),
      logout(),
      attributes({ after_logout: true }),
    ]);
    const user = await profileBy(p, { custom_id: "user-9" });
    expect(user.body?.attributes.step?.value).toBe("anonymous");
    expect(user.body?.attributes.after_login?.value).toBe(true);
    expect(user.body?.attributes.after_logout).toBeUndefined();
    const device = await profileBy(p, { installation_id: i });
    expect(device.body?.profile_id).toBe(answer.profile_id);
    expect(Object.keys(device.body?.attributes ?? {})).toEqual(["after_logout"]);
  });

  it("records time, kind, installation, custom ID, source and request ID in the identity history", async () => {
    const p = await createProject();
    const i = uuid();
    await batch(p, i, [identify("user-1")]);
    const { body } = await profileBy(p, { custom_id: "user-1" });
    const signIn = body?.identity_history.find((h) => h.kind === "sign_in");
    expect(signIn).toMatchObject({ installation_id: i, custom_id: "user-1", source: "sdk" });
    expect(signIn?.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("device context", () => {
  it("writes language, region and timezone as sdk_auto, without counting them as ops", async () => {
    const p = await createProject();
    const i = uuid();
    const answer = await batch(p, i, [attributes({ plan: "pro" })], {
      language: "FR",
      region: "fr",
      timezone: "Europe/Paris",
      app_version: "4.2.0",
    });
    expect(answer.accepted).toBe(1);
    const { body } = await profileBy(p, { installation_id: i });
    expect(body?.attributes.$language).toMatchObject({ value: "fr", source: "sdk_auto" });
    expect(body?.attributes.$region).toMatchObject({ value: "FR", source: "sdk_auto" });
    expect(body?.attributes.$timezone).toMatchObject({ value: "Europe/Paris", source: "sdk_auto" });
    expect(body?.attributes.plan).toMatchObject({ value: "pro", source: "sdk" });
    expect(body?.installations[0]).toMatchObject({ app_version: "4.2.0", platform: "ios" });
  });

  it("takes the withdrawn Hebrew code older Android releases report, as he, and Kosovo's XK", async () => {
    const p = await createProject();
    const i = uuid();
    await batch(p, i, [], { language: "iw", region: "xk" });
    const { body } = await profileBy(p, { installation_id: i });
    expect(body?.attributes.$language).toMatchObject({ value: "he", source: "sdk_auto" });
    expect(body?.attributes.$region).toMatchObject({ value: "XK", source: "sdk_auto" });
  });
});
