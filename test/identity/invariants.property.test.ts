import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createProject } from "../support/harness";
import {
  attributes,
  batch,
  event,
  identify,
  invariantViolations,
  logout,
  type Op,
  readWorld,
} from "../support/identity";

const INSTALLATIONS = 4;
const CUSTOM_IDS = ["alice", "bob", "carol"];

type Command =
  | { kind: "identify"; customId: string }
  | { kind: "logout" }
  | { kind: "attributes"; value: number }
  | { kind: "event" };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ kind: fc.constant("identify" as const), customId: fc.constantFrom(...CUSTOM_IDS) }),
  fc.record({ kind: fc.constant("logout" as const) }),
  fc.record({ kind: fc.constant("attributes" as const), value: fc.integer({ min: 0, max: 1000 }) }),
  fc.record({ kind: fc.constant("event" as const) }),
);

/** A round: at most one batch per installation, all sent at once. */
const round = fc.uniqueArray(
  fc.record({
    installation: fc.nat({ max: INSTALLATIONS - 1 }),
    commands: fc.array(command, { minLength: 1, maxLength: 4 }),
  }),
  { minLength: 1, maxLength: INSTALLATIONS, selector: (b) => b.installation },
);

function toOp(c: Command): Op {
  switch (c.kind) {
    case "identify":
      return identify(c.customId);
    case "logout":
      return logout();
    case "attributes":
      return attributes({ counter: c.value });
    case "event":
      return event("tapped");
  }
}

describe("identity invariants under random concurrent workloads (SPEC §1)", () => {
  it("keeps invariants 1–5 and puts every accepted event on exactly one profile", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(round, { minLength: 1, maxLength: 5 }), async (rounds) => {
        const p = await createProject();
        const installations = Array.from({ length: INSTALLATIONS }, () => crypto.randomUUID());
        const expectedCustomId = new Map<string, string | null>();
        const eventIds: string[] = [];

        for (const r of rounds) {
          await Promise.all(
            r.map(async (b) => {
              const installation = installations[b.installation] as string;
              const ops = b.commands.map(toOp);
              for (const [k, c] of b.commands.entries()) {
                if (c.kind === "identify") expectedCustomId.set(installation, c.customId);
                if (c.kind === "logout") expectedCustomId.set(installation, null);
                if (c.kind === "event") eventIds.push(String(ops[k]?.id));
              }
              const answer = await batch(p, installation, ops);
              expect(answer.duplicates).toBe(0);
            }),
          );
        }

        const world = await readWorld(p.projectId, installations, CUSTOM_IDS);
        expect(invariantViolations(world)).toEqual([]);
        for (const [installation, customId] of expectedCustomId) {
          expect(world.installations.get(installation)?.customId ?? null).toBe(customId);
        }
        // Invariant 5: every accepted event is on exactly one profile.
        for (const id of eventIds) expect(world.events.get(id)).toHaveLength(1);
        expect(world.events.size).toBe(eventIds.length);
      }),
      { numRuns: 25 },
    );
    // 25 runs of concurrent batches take about 25 s alone on two cores; the default 30 s leaves
    // no room for a loaded machine.
  }, 180_000);
});
