import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { allShards } from "../../src/db/shards";
import { TOMBSTONE_VERSION } from "../../src/privacy/erase-d1";
import { project } from "../../src/projection/project";
import { prepare, profileStatements } from "../../src/projection/statements";
import type { ProjectionMessage } from "../../src/queue/messages";
import { countingShard } from "../support/counting-d1";
import { createProject } from "../support/harness";
import { attributes, batch, identify } from "../support/identity";
import { heldState, projectedState, waitForProjection } from "../support/projection";
import { shardDb } from "../support/shards";

/** Twenty attributes: seventeen scalars of every kind, two dates, one array of three items. */
function twentyAttributes(): Record<string, unknown> {
  const attrs: Record<string, unknown> = { tags: ["red", "green", "blue"], vip: true, score: 7 };
  for (let k = 0; k < 15; k++) attrs[`s${k}`] = `value-${k}`;
  attrs.signup_date = "2026-01-02T03:04:05.000Z";
  attrs.last_seen = "2026-03-04T05:06:07.000Z";
  return attrs;
}

/** A profile held by a custom ID, projected; returns the message that re-reads it. */
async function projectedProfile() {
  const p = await createProject();
  const installation = crypto.randomUUID();
  const customId = `c-${crypto.randomUUID()}`;
  const answer = await batch(p, installation, [identify(customId), attributes(twentyAttributes())]);
  await waitForProjection(p.projectId, [installation], [customId]);
  const message: ProjectionMessage = {
    type: "profile_changed",
    project_id: p.projectId,
    profile_id: answer.profile_id,
    holder: { projectId: p.projectId, kind: "custom_id", id: customId },
  };
  return { p, installation, customId, profileId: answer.profile_id, message };
}

/** Runs on every shard: the statements name a profile or installation by its (unique) ID alone. */
async function d1(sql: string, ...values: unknown[]) {
  for (const s of allShards(env))
    await s.d1
      .prepare(sql)
      .bind(...values)
      .run();
}

/** Projects `messages` through a counting D1 and returns what it cost. */
async function projectCounted(messages: ProjectionMessage[]) {
  const { env: counted, tally } = await countingShard((messages[0] as ProjectionMessage).project_id);
  await project(counted, messages);
  return tally;
}

/** D1 as it was one version ago, `changes` being how that version differed from the object's. */
async function oneVersionBehind(profileId: string, ...changes: string[]) {
  await d1("UPDATE profiles SET version = version - 1 WHERE profile_id = ?", profileId);
  for (const change of changes) await d1(change, profileId);
}

/** The object's state of the profile against D1's, attribute by attribute and item by item. */
async function expectConverged(projectId: string, installation: string, customId: string, profileId: string) {
  const held = await heldState(projectId, [installation], [customId]);
  const projected = await projectedState(projectId);
  expect(projected.profiles.get(profileId)).toEqual(held.profiles.get(profileId));
  const items = await (await shardDb(projectId))
    .prepare("SELECT item FROM profile_attribute_items WHERE profile_id = ? AND name = 'tags' ORDER BY item")
    .bind(profileId)
    .all<{ item: string }>();
  const tags = held.profiles.get(profileId)?.attributes.tags as string[];
  expect(items.results.map((r) => r.item)).toEqual([...tags].sort());
}

describe("rows the projection writes", () => {
  it("writes nothing for a message that finds D1 already holding the profile's state", async () => {
    const { message } = await projectedProfile();
    const tally = await projectCounted([message]);
    expect(tally.rowsWritten).toBe(0);
    expect(tally.roundTrips).toBe(1);
  });

  it("writes the profile row and the one changed attribute, not the other nineteen", async () => {
    const s = await projectedProfile();
    await oneVersionBehind(
      s.profileId,
      "UPDATE profile_attributes SET value_text = 'before' WHERE profile_id = ? AND name = 's3'",
    );
    // The profile row (its version; no indexed column changed) and the attribute row with its
    // text index entry. The number index is not touched: its column did not change.
    expect((await projectCounted([s.message])).rowsWritten).toBe(1 + 2);
    await expectConverged(s.p.projectId, s.installation, s.customId, s.profileId);
    // Delivered again: nothing left to write.
    expect((await projectCounted([s.message])).rowsWritten).toBe(0);
  });

  it("rewrites only the index of the value column that changed", async () => {
    const s = await projectedProfile();
    await oneVersionBehind(
      s.profileId,
      "UPDATE profile_attributes SET value_num = 6 WHERE profile_id = ? AND name = 'score'",
    );
    expect((await projectCounted([s.message])).rowsWritten).toBe(1 + 2);
    // A profile whose last activity moved: its row and the activity index.
    await oneVersionBehind(
      s.profileId,
      "UPDATE profiles SET last_activity_at = '2000-01-01T00:00:00.000Z' WHERE profile_id = ?",
    );
    expect((await projectCounted([s.message])).rowsWritten).toBe(2);
    await expectConverged(s.p.projectId, s.installation, s.customId, s.profileId);
  });

  it("writes an array's row and only the items that came or went", async () => {
    const s = await projectedProfile();
    await oneVersionBehind(
      s.profileId,
      `UPDATE profile_attributes SET value_json = '["red","green","yellow"]' WHERE profile_id = ? AND name = 'tags'`,
      `UPDATE profile_attribute_items SET item = 'yellow' WHERE profile_id = ? AND name = 'tags' AND item = 'blue'`,
    );
    // Profile row 1; the array's row 1 (no index holds value_json); 'blue' in (its row, primary
    // key and item index entries); 'yellow' out (D1 counts a deleted row alone).
    expect((await projectCounted([s.message])).rowsWritten).toBe(1 + 1 + 3 + 1);
    await expectConverged(s.p.projectId, s.installation, s.customId, s.profileId);
  });

  it("inserts an attribute D1 lacks and deletes one the object no longer holds", async () => {
    const s = await projectedProfile();
    await oneVersionBehind(
      s.profileId,
      "DELETE FROM profile_attributes WHERE profile_id = ? AND name = 's7'",
      `INSERT INTO profile_attributes (project_id, profile_id, name, type, value_text, version)
        SELECT project_id, profile_id, 'gone', 'string', 'x', version FROM profiles WHERE profile_id = ?`,
    );
    // The insert of a string: the row, its primary key entry and the text index entry (the
    // number index holds numbers only). The delete: D1 counts the row alone.
    expect((await projectCounted([s.message])).rowsWritten).toBe(1 + 3 + 1);
    await expectConverged(s.p.projectId, s.installation, s.customId, s.profileId);
  });

  it("leaves a profile alone when D1 holds a newer version or a tombstone", async () => {
    const s = await projectedProfile();
    await d1("UPDATE profiles SET version = version + 1 WHERE profile_id = ?", s.profileId);
    await d1("UPDATE profile_attributes SET value_text = 'newer' WHERE profile_id = ? AND name = 's3'", s.profileId);
    expect((await projectCounted([s.message])).rowsWritten).toBe(0);
    const s3 = await (await shardDb(s.p.projectId))
      .prepare("SELECT value_text FROM profile_attributes WHERE profile_id = ? AND name = 's3'")
      .bind(s.profileId)
      .first<{ value_text: string }>();
    expect(s3?.value_text).toBe("newer");

    await d1(`UPDATE profiles SET state = 'removed', version = ${TOMBSTONE_VERSION} WHERE profile_id = ?`, s.profileId);
    await d1("DELETE FROM profile_attributes WHERE profile_id = ?", s.profileId);
    await d1("DELETE FROM profile_attribute_items WHERE profile_id = ?", s.profileId);
    expect((await projectCounted([s.message])).rowsWritten).toBe(0);
    const left = await (await shardDb(s.p.projectId))
      .prepare(
        "SELECT (SELECT count(*) FROM profile_attributes WHERE profile_id = ?1) + (SELECT count(*) FROM profile_attribute_items WHERE profile_id = ?1) AS n",
      )
      .bind(s.profileId)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
  });

  it("writes an installation's row and the one index over what moved", async () => {
    const s = await projectedProfile();
    const message: ProjectionMessage = {
      type: "installation_changed",
      project_id: s.p.projectId,
      installation_id: s.installation,
    };
    expect((await projectCounted([message])).rowsWritten).toBe(0);
    // D1 one version behind, an hour earlier: the row and the (app, last seen) index entry,
    // not the profile, platform and push indexes.
    await d1(
      "UPDATE installations SET version = version - 1, last_seen_at = '2000-01-01T00:00:00.000Z' WHERE installation_id = ?",
      s.installation,
    );
    expect((await projectCounted([message])).rowsWritten).toBe(2);
    const row = await (await shardDb(s.p.projectId))
      .prepare("SELECT last_seen_at FROM installations WHERE installation_id = ?")
      .bind(s.installation)
      .first<{ last_seen_at: string }>();
    expect(row?.last_seen_at).not.toBe("2000-01-01T00:00:00.000Z");
  });
});

describe("rows a new installation and its anonymous profile write", () => {
  it("pays no entry in the custom ID and opt-in indexes, which hold values it does not have", async () => {
    const p = await createProject();
    const installation = crypto.randomUUID();
    const answer = await batch(p, installation, [attributes({})]);
    await waitForProjection(p.projectId, [installation], []);
    // As if never projected: the pair message inserts both rows again.
    await d1("DELETE FROM installations WHERE installation_id = ?", installation);
    await d1("DELETE FROM profiles WHERE profile_id = ?", answer.profile_id);
    const message: ProjectionMessage = {
      type: "installation_and_profile_changed",
      project_id: p.projectId,
      installation_id: installation,
      profile_id: answer.profile_id,
    };
    // The installation: its row, its key, and the profile, platform and (app, last seen)
    // indexes. The profile: its row, its key, and the activity and state indexes.
    expect((await projectCounted([message])).rowsWritten).toBe(5 + 4);
  });

  it("still finds a profile by its custom ID through that index", async () => {
    const db = await shardDb((await createProject()).projectId);
    // The look-up of src/privacy/held-in-d1.ts: a custom ID's profile, by value.
    const plan = await db
      .prepare(
        "EXPLAIN QUERY PLAN SELECT profile_id FROM profiles WHERE project_id = ? AND custom_id = ? AND state <> 'removed'",
      )
      .bind("p", "c")
      .all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail)).toEqual([
      expect.stringContaining("USING INDEX profiles_custom_id_idx (project_id=? AND custom_id=?)"),
    ]);
  });
});

describe("two holders reporting one profile in a batch", () => {
  it("keeps the highest version, whatever their order", async () => {
    const projectId = `p-${crypto.randomUUID()}`;
    const state = (version: number, customId: string, colour: string) => ({
      projectId,
      holder: { projectId, kind: "custom_id" as const, id: customId },
      state: {
        profile_id: "moving",
        custom_id: customId,
        state: "active" as const,
        created_at: "2026-01-01T00:00:00.000Z",
        last_activity_at: `2026-01-0${version}T00:00:00.000Z`,
        version,
        attributes: [{ name: "colour", type: "string", value: colour }],
      },
    });
    for (const order of [
      [state(2, "old", "red"), state(3, "new", "blue")],
      [state(5, "new", "green"), state(4, "old", "grey")],
    ]) {
      await env.DB.batch(profileStatements(order).map((s) => prepare(env.DB, s)));
      const row = await env.DB.prepare(
        `SELECT p.custom_id, p.version, a.value_text FROM profiles p JOIN profile_attributes a
          ON a.project_id = p.project_id AND a.profile_id = p.profile_id WHERE p.project_id = ?`,
      )
        .bind(projectId)
        .first();
      const newest = order.reduce((a, b) => (a.state.version > b.state.version ? a : b));
      expect(row).toEqual({
        custom_id: newest.state.custom_id,
        version: newest.state.version,
        value_text: newest.state.attributes[0]?.value,
      });
    }
  });
});
