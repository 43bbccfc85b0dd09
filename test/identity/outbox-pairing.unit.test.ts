import { describe, expect, it } from "vitest";
import { bundled, carried, latestOnly, type OutboxEntry, paired } from "../../src/identity/outbox-messages";
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

describe("event queue messages bundled when sent", () => {
  const events = (seq: number, profileId: string, padding = ""): OutboxEntry => {
    const body: QueueMessage = {
      type: "events",
      project_id: PROJECT,
      profile_id: profileId,
      custom_id: null,
      installation_id: "i1",
      app_id: null,
      received_at: "2026-12-07T00:00:00.000Z",
      events: [
        {
          id: `e${seq}`,
          name: "opened",
          time: "2026-12-07T00:00:00.000Z",
          attributes: { padding },
          label: null,
          tags: [],
          source: "sdk",
        },
      ],
    };
    return { seq, queue: "events", dedupe: null, body, bytes: JSON.stringify(body).length };
  };
  const created = (seq: number): OutboxEntry => {
    const body: QueueMessage = {
      type: "identity",
      id: `h${seq}`,
      project_id: PROJECT,
      profile_id: "a",
      custom_id: null,
      installation_id: "i1",
      kind: "created",
      time: "2026-12-07T00:00:00.000Z",
      source: "sdk",
      request_id: null,
    };
    return { seq, queue: "events", dedupe: null, body, bytes: JSON.stringify(body).length };
  };

  it("sends a flush's messages as one bundle, in order", () => {
    const out = bundled([created(1), events(1, "a"), events(2, "a")]);
    expect(out).toHaveLength(1);
    expect(out[0]?.body).toEqual({
      type: "bundle",
      messages: [created(1).body, events(1, "a").body, events(2, "a").body],
    });
    expect(out[0]?.bytes).toBe(JSON.stringify(out[0]?.body).length);
  });

  it("leaves a message alone as it is", () => {
    const one = [events(1, "a")];
    expect(bundled(one)).toEqual(one);
    expect(bundled([])).toEqual([]);
  });

  it("starts another bundle past 100 KB, so each stays under a queue message's 128 KB", () => {
    const big = "x".repeat(60 * 1024);
    const out = bundled([events(1, "a", big), events(2, "a", big), created(3)]);
    expect(out.map((e) => e.body.type)).toEqual(["events", "bundle"]);
    for (const e of out) expect(e.bytes).toBeLessThan(128 * 1024);
  });

  it("leaves a message that is not the event queue's as it is", () => {
    const out = bundled([events(1, "a"), installation(1), created(2)]);
    expect(out.map((e) => e.body.type)).toEqual(["installation_changed", "bundle"]);
  });

  it("carries a flush's projection changes in its last event message, made a bundle", () => {
    const out = carried(bundled([events(1, "a")]), paired([installation(1), profile(1, "a")]));
    expect(out.projection).toEqual([]);
    expect(out.events).toHaveLength(1);
    expect(out.events[0]?.body).toEqual({
      type: "bundle",
      messages: [events(1, "a").body],
      projection: [
        { type: "installation_and_profile_changed", project_id: PROJECT, installation_id: "i1", profile_id: "a" },
      ],
    });
    expect(out.events[0]?.bytes).toBe(JSON.stringify(out.events[0]?.body).length);
  });

  it("adds to a bundle's messages nothing, and keeps their order", () => {
    const out = carried(bundled([created(1), events(1, "a")]), [profile(1, "a")]);
    expect(out.events.map((e) => e.body)).toEqual([
      { type: "bundle", messages: [created(1).body, events(1, "a").body], projection: [profile(1, "a").body] },
    ]);
  });

  it("sends projection changes on their own queue when the flush owes the event queue nothing", () => {
    const projection = paired([installation(1), profile(1, "a")]);
    expect(carried([], projection)).toEqual({ events: [], projection });
    expect(carried([events(1, "a")], [])).toEqual({ events: [events(1, "a")], projection: [] });
  });

  it("leaves on the projection queue what would take the bundle past 100 KB", () => {
    const full = events(1, "a", "x".repeat(100 * 1024 - 400));
    const out = carried([full], [profile(1, "a"), profile(1, "b")]);
    expect(out.events.map((e) => e.bytes).every((b) => b <= 100 * 1024)).toBe(true);
    const riding = out.events.flatMap((e) => (e.body.type === "bundle" ? (e.body.projection ?? []) : []));
    expect(riding.length + out.projection.length).toBe(2);
    expect(out.projection.length).toBeGreaterThan(0);
  });
});
