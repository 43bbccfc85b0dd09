import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { hasMovedOn, VIEW_INSTALLATIONS } from "../../src/identity/custom-id-members";
import type { CustomIdObject } from "../../src/identity/custom-id-object";
import type { ProfileStore } from "../../src/identity/profile-store";
import { createProject } from "../support/harness";
import { attributes, batch, customIdStub, identify, logout, profileBy, querySql } from "../support/identity";

const members = async (projectId: string, customId: string) =>
  (await querySql(customIdStub(projectId, customId), "SELECT installation_id FROM members"))
    .map((r) => String(r.installation_id))
    .sort();

describe("the installations a custom ID's view shows (SPEC §5)", () => {
  it("lists the most recently seen installations of a custom ID with many, and counts the others", async () => {
    const p = await createProject();
    const devices = Array.from({ length: VIEW_INSTALLATIONS + 6 }, () => crypto.randomUUID());
    for (const i of devices) await batch(p, i, [identify("many")]);
    const last = devices.at(-1) ?? "";

    const { body } = await profileBy(p, { custom_id: "many" });
    expect(body?.installations).toHaveLength(VIEW_INSTALLATIONS);
    expect(body?.installations_not_shown).toBe(6);
    expect(body?.installations[0]?.installation_id).toBe(last);
    for (const shown of body?.installations ?? []) expect(devices).toContain(shown.installation_id);
    // Every installation stays attached: the bound is on what is shown.
    expect(await members(p.projectId, "many")).toEqual([...devices].sort());
  });

  it("an installation that writes again comes first, the others keep their place", async () => {
    const p = await createProject();
    const devices = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    for (const i of devices) await batch(p, i, [identify("recent")]);
    const [first] = devices;
    // A write through the custom ID in a later hour (the object takes the call's time as given;
    // a member's last visit is kept to the hour).
    const later = new Date(Date.now() + 2 * 3_600_000).toISOString();
    await customIdStub(p.projectId, "recent").applyOps(
      {
        projectId: p.projectId,
        customId: "recent",
        installationId: first ?? "",
        appId: null,
        requestId: "r",
        receivedAt: later,
      },
      [],
    );
    const { body } = await profileBy(p, { custom_id: "recent" });
    expect(body?.installations[0]?.installation_id).toBe(first);
    expect(body?.installations).toHaveLength(3);
  });

  it("a visit undone by a failed write is recorded by the next write of the same hour", async () => {
    const p = await createProject();
    const [first, second] = [crypto.randomUUID(), crypto.randomUUID()];
    for (const i of [first, second]) await batch(p, i, [identify("undone")]);
    const later = new Date(Date.now() + 2 * 3_600_000).toISOString();
    const ctx = {
      projectId: p.projectId,
      customId: "undone",
      installationId: first,
      appId: null,
      requestId: "r",
      receivedAt: later,
    };
    await runInDurableObject(customIdStub(p.projectId, "undone"), (object: CustomIdObject) => {
      // biome-ignore lint/complexity/useLiteralKeys: the object's store, made to fail once.
      const store = object["store"] as ProfileStore;
      const applyData = store.applyData;
      store.applyData = () => {
        throw new Error("the write fails");
      };
      expect(() => object.applyOps(ctx, [])).toThrow("the write fails");
      store.applyData = applyData;
      object.applyOps(ctx, []);
    });
    const { body } = await profileBy(p, { custom_id: "undone" });
    expect(body?.installations[0]?.installation_id).toBe(first);
  });

  it("an installation that logs in elsewhere, or logs out, leaves the list", async () => {
    const p = await createProject();
    const [stays, moves, leaves] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    for (const i of [stays, moves, leaves]) await batch(p, i, [identify("home")]);
    await batch(p, moves, [identify("away")]);
    await batch(p, leaves, [logout()]);

    expect(await members(p.projectId, "home")).toEqual([stays]);
    expect(await members(p.projectId, "away")).toEqual([moves]);
    const { body } = await profileBy(p, { custom_id: "home" });
    expect(body?.installations.map((x) => x.installation_id)).toEqual([stays]);
    expect(body?.installations_not_shown).toBe(0);
  });

  it("a member whose installation moved on without leaving is dropped when a view finds it", async () => {
    const p = await createProject();
    const [member, elsewhere, unknown] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    await batch(p, member, [identify("stale")]);
    await batch(p, elsewhere, [attributes({ anonymous: true })]);
    // Rows a lost detach would leave: one for an anonymous installation, one for an installation never seen.
    const stub = customIdStub(p.projectId, "stale");
    const now = new Date().toISOString();
    for (const i of [elsewhere, unknown]) {
      await querySql(stub, "INSERT INTO members (installation_id, attached_at, seen_at) VALUES (?, ?, ?)", i, now, now);
    }

    const { body } = await profileBy(p, { custom_id: "stale" });
    expect(body?.installations.map((x) => x.installation_id)).toEqual([member]);
    expect(await members(p.projectId, "stale")).toEqual([member]);
  });
});

describe("hasMovedOn", () => {
  const bound = (customId: string | null, transitionPending = false) => ({
    binding: { profileId: "p", customId },
    transitionPending,
  });

  it("keeps a member bound here, and one whose transition is under way", () => {
    expect(hasMovedOn("c", bound("c"))).toBe(false);
    expect(hasMovedOn("c", bound(null, true))).toBe(false);
    expect(hasMovedOn("c", bound("other", true))).toBe(false);
  });

  it("drops a member bound elsewhere, anonymous, or unknown", () => {
    expect(hasMovedOn("c", bound("other"))).toBe(true);
    expect(hasMovedOn("c", bound(null))).toBe(true);
    expect(hasMovedOn("c", null)).toBe(true);
  });
});
