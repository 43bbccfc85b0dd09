import { describe, expect, it } from "vitest";
import { latestOnly, type OutboxEntry, paired } from "../../src/identity/outbox-table";
import type { QueueMessage } from "../../src/queue/messages";

const PROJECT = "p1";
const holder = (id: string, kind: "installation" | "custom_id" = "installation") => ({ projectId: PROJECT, kind, id });

function entry(seq: number, body: QueueMessage): OutboxEntry {
  const dedupe =
    body.type === "profile_changed"
      ? `p:${body.profile_id}`
      : body.type === "installation_changed"
        ? `i:${body.installation_id}`
        : null;
  return { seq, queue: "projection", dedupe, body, bytes: JSON.stringify(body).length };
}
const installation = (seq: number, id = "i1") =>
  entry(seq, { type: "installation_changed", project_id: PROJECT, installation_id: id });
const profile = (seq: number, id: string, held = holder("i1")) =>
  entry(seq, { type: "profile_changed", project_id: PROJECT, profile_id: id, holder: held });

describe("projection messages paired when sent", () => {
  it("sends an installation and the profile its object holds as one message", () => {
    const out = paired([installation(1), profile(1, "a")]);
    expect(out.map((e) => e.body)).toEqual([
      { type: "installation_and_profile_changed", project_id: PROJECT, installation_id: "i1", profile_id: "a" },
    ]);
    expect(out[0]?.bytes).toBe(JSON.stringify(out[0]?.body).length);
  });

  it("pairs one profile only, and leaves the others as they are", () => {
    const out = paired([profile(1, "orphan"), installation(2), profile(2, "b")]);
    expect(out.map((e) => e.body)).toEqual([
      { type: "installation_and_profile_changed", project_id: PROJECT, installation_id: "i1", profile_id: "orphan" },
      profile(2, "b").body,
    ]);
  });

  it("leaves a profile held elsewhere, and messages without an installation, alone", () => {
    const elsewhere = [installation(1), profile(1, "c", holder("user-1", "custom_id")), profile(1, "d", holder("i2"))];
    expect(paired(elsewhere)).toEqual(elsewhere);
    const profilesOnly = [profile(1, "a"), profile(2, "b")];
    expect(paired(profilesOnly)).toEqual(profilesOnly);
  });

  it("pairs after the latest of each subject is kept, so neither half is dropped", () => {
    const sent = paired(latestOnly([installation(1), profile(1, "a"), installation(2)]));
    expect(sent.map((e) => [e.seq, e.body])).toEqual([
      [2, { type: "installation_and_profile_changed", project_id: PROJECT, installation_id: "i1", profile_id: "a" }],
    ]);
  });

  it("does not pair the memory it was given", () => {
    const given = [installation(1), profile(1, "a")];
    paired(given);
    expect(given[0]?.body).toEqual(installation(1).body);
  });
});
