import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LIMITS } from "../../src/identity/attributes";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { attributes, batch, customIdStub, event, identify, installationStub, type Op } from "../support/identity";
import { type RowsByTable, rowsWritten, total } from "../support/rows-written";

/*
 * What one call costs in Durable Object rows written (SPEC §8: every row and every index entry
 * is billed). Each case counts one request, then waits for the outbox to send and forget what
 * it staged, which a quiet object does on its own shortly after. The clock is fixed a few
 * seconds into a minute, so no case crosses a minute or an hour by chance.
 */

const context = { platform: "ios", app_version: "4.2.0", sdk_version: "1.0.0", os_version: "18.1", language: "fr" };

/** Five attribute sets and five events: the SDK batch of SPEC §8's cost target. */
function tenOps(round: number): Op[] {
  return [
    ...Array.from({ length: 5 }, (_, k) => attributes({ [`attr_${k}`]: `value-${round}-${k}` })),
    ...Array.from({ length: 5 }, (_, k) => event(`event_${k}`, { n: k })),
  ];
}

/**
 * Runs the object's alarm, which forgets what the outbox sent (a quiet object's sent rows wait
 * for it), then waits until the outbox holds nothing: what it staged went out and was forgotten.
 */
function drained(stub: DurableObjectStub<Rpc.DurableObjectBranded | undefined>) {
  return () =>
    vi.waitFor(
      async () => {
        await runDurableObjectAlarm(stub);
        const left = await runInDurableObject(stub, (_o, state) => {
          const sql = state.storage.sql;
          const exists = sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'commits'").toArray().length > 0;
          const owed = "SELECT count(*) AS n FROM commits WHERE messages <> ''";
          return exists ? sql.exec<{ n: number }>(owed).one().n : 0;
        });
        expect(left).toBe(0);
      },
      { timeout: 10_000, interval: 50 },
    );
}

/**
 * Rows written per case, by object and table: lower is cheaper; docs/decisions.md says why each
 * stays. `commits` 2: the commit's row (its op IDs and its messages), then its messages set to
 * null once sent; an installation whose call went to its custom ID owes nothing, so 1. No
 * `event_batches`: a call's events are in its profile's row, until the row holds
 * `ROW_EVENTS_CHARS` of them (then one row takes them).
 */
const EXPECTED = {
  // No history table: the profile's first entry, its creation, is in its row.
  newInstallation: {
    installation: { schema: 6, profiles: 1, installation: 1, commits: 2 },
  },
  warmInstallation: { installation: { commits: 2, profiles: 1 } },
  // A week on, the commit's row takes the place of the first one, past the idempotency window,
  // rather than the prune deleting it; the installation's row (the visit, in a later hour: its
  // version for the projection too, in the same statement) is in the batch's commit.
  warmAWeekOn: { installation: { commits: 2, profiles: 1, installation: 1 } },
  signedIn: {
    custom_id: { commits: 2, profiles: 1 },
    installation: { commits: 1 },
  },
  // A batch in a later minute of the same hour: the installation keeps its last visit to the
  // minute (its row), the custom ID its member's to the hour (nothing).
  signedInLaterMinute: {
    custom_id: { commits: 2, profiles: 1 },
    installation: { commits: 1, installation: 1 },
  },
  // In a later hour: the installation's visit moves the projection (its row, in the commit of
  // the op IDs it forwarded, which now owes a message: sent, then forgotten), and the custom ID
  // records its member's visit (the row and its index entry).
  signedInLaterHour: {
    custom_id: { commits: 2, profiles: 1, members: 2 },
    installation: { commits: 2, installation: 1 },
  },
  profileApiNewCustomId: {
    custom_id: { schema: 4, profiles: 1, commits: 2 },
  },
  // No events: no events table (its two schema rows) and no row in it. The update writes the
  // profile to D1 itself (src/profiles/apply-projected.ts): the commit's row holds its op IDs
  // and owes no message, so nothing is forgotten after.
  profileApiNewCustomIdAttributesOnly: {
    custom_id: { schema: 4, profiles: 1, commits: 1 },
  },
} satisfies Record<string, RowsByTable>;

/**
 * Rows written by a 10-op batch on an installation signed in with a batch like it, `later` ms
 * after that first batch was sent and forgotten: by the installation and its custom ID.
 */
async function signedInBatch(later: number): Promise<RowsByTable> {
  const p = await createProject();
  const i = crypto.randomUUID();
  const customId = `user-${crypto.randomUUID()}`;
  const installation = installationStub(p.projectId, i);
  const user = customIdStub(p.projectId, customId);
  await batch(p, i, [identify(customId), ...tenOps(1)], context);
  await drained(installation)();
  await drained(user)();
  vi.setSystemTime(Date.now() + later);
  return rowsWritten(
    { installation, custom_id: user },
    () => batch(p, i, tenOps(2), context),
    async () => {
      await drained(installation)();
      await drained(user)();
    },
  );
}

function update(p: Project, operations: unknown[]) {
  return call("POST", "/v1/profiles/update", { headers: restHeaders(p), body: operations });
}

describe("rows written per call", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    vi.setSystemTime(minute + 60_000 + 5_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a 10-op SDK batch on a new anonymous installation, then on the warm one", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const stub = installationStub(p.projectId, i);
    const first = await rowsWritten({ installation: stub }, () => batch(p, i, tenOps(1), context), drained(stub));
    console.log("new installation", JSON.stringify(first), total(first));
    vi.setSystemTime(Date.now() + 1_000);
    const warm = await rowsWritten({ installation: stub }, () => batch(p, i, tenOps(2), context), drained(stub));
    console.log("warm installation", JSON.stringify(warm), total(warm));
    expect(first).toEqual(EXPECTED.newInstallation);
    expect(warm).toEqual(EXPECTED.warmInstallation);
  });

  it("a 10-op SDK batch a week after the last costs the same 3 rows and the installation's", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const stub = installationStub(p.projectId, i);
    await batch(p, i, tenOps(1), context);
    await drained(stub)();
    vi.setSystemTime(Date.now() + LIMITS.idempotencyWindowMs + 60_000);
    const later = await rowsWritten({ installation: stub }, () => batch(p, i, tenOps(2), context), drained(stub));
    expect(later).toEqual(EXPECTED.warmAWeekOn);
    const left = await runInDurableObject(stub, (_o, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM commits").one(),
    );
    expect(left.n).toBe(1);
  });

  it("a 10-op SDK batch on a profile holding as many events as it keeps costs the same 3 rows, and a row each time its row's events move", async () => {
    // Past the events kept (LIMITS.eventsKeptPerProfile, 1,000, trimmed a tenth over), the row
    // the profile row's events move to takes the oldest's place: no insert now and delete later.
    const p = await createProject();
    const i = crypto.randomUUID();
    const stub = installationStub(p.projectId, i);
    for (let round = 0; round < 12; round++) {
      const hundred = Array.from({ length: 100 }, (_, k) => event(`fill_${k}`, { round }));
      await batch(p, i, hundred, context);
      vi.setSystemTime(Date.now() + 1_000);
    }
    await drained(stub)();
    let total = 0;
    let moves = 0;
    for (let round = 0; round < 30; round++) {
      vi.setSystemTime(Date.now() + 1_000);
      const warm = await rowsWritten({ installation: stub }, () => batch(p, i, tenOps(round), context), drained(stub));
      const { event_batches: moved = 0, ...rest } = warm.installation ?? {};
      expect({ installation: rest }).toEqual(EXPECTED.warmInstallation);
      expect(moved).toBeLessThanOrEqual(1);
      moves += moved;
      total += Object.values(warm.installation ?? {}).reduce((a, b) => a + b, 0);
    }
    // Five events of a batch are about 2,000 characters: the row's move about every eighth batch.
    expect(moves).toBeGreaterThanOrEqual(3);
    expect(moves).toBeLessThanOrEqual(5);
    expect(total).toBe(30 * 3 + moves);
    const held = await runInDurableObject(stub, (_o, state) =>
      state.storage.sql
        .exec<{ n: number }>(
          `SELECT (SELECT sum(n) FROM event_batches)
             + (SELECT coalesce(sum(json_array_length(events)), 0) FROM profiles) AS n`,
        )
        .one(),
    );
    expect(held.n).toBeGreaterThanOrEqual(1_000);
    expect(held.n).toBeLessThanOrEqual(1_100);
  });

  it("a 10-op SDK batch on a signed-in installation", async () => {
    const rows = await signedInBatch(1_000);
    console.log("signed in", JSON.stringify(rows), total(rows));
    expect(rows).toEqual(EXPECTED.signedIn);
  });

  it("a 10-op SDK batch on a signed-in installation in a later minute of the same hour", async () => {
    vi.setSystemTime(Math.floor(Date.now() / 3_600_000) * 3_600_000 + 3_600_000 + 5_000);
    expect(await signedInBatch(60_000)).toEqual(EXPECTED.signedInLaterMinute);
  });

  it("a 10-op SDK batch on a signed-in installation in a later hour", async () => {
    expect(await signedInBatch(3_600_000)).toEqual(EXPECTED.signedInLaterHour);
  });

  it("one Profile API operation on a new custom ID", async () => {
    const p = await createProject();
    const customId = `user-${crypto.randomUUID()}`;
    const user = customIdStub(p.projectId, customId);
    const op = {
      identifiers: { custom_id: customId },
      attributes: Object.fromEntries(Array.from({ length: 5 }, (_, k) => [`attr_${k}`, `value-${k}`])),
      events: Array.from({ length: 5 }, (_, k) => ({ name: `event_${k}`, attributes: { n: k } })),
    };
    const rows = await rowsWritten(
      { custom_id: user },
      async () => expect((await update(p, [op])).status).toBe(202),
      drained(user),
    );
    console.log("profile api", JSON.stringify(rows), total(rows));
    expect(rows).toEqual(EXPECTED.profileApiNewCustomId);
  });

  it("one Profile API operation of attributes alone on a new custom ID", async () => {
    const p = await createProject();
    const customId = `user-${crypto.randomUUID()}`;
    const user = customIdStub(p.projectId, customId);
    const op = { identifiers: { custom_id: customId }, attributes: { plan: "gold", score: 7 } };
    const rows = await rowsWritten(
      { custom_id: user },
      async () => expect((await update(p, [op])).status).toBe(202),
      drained(user),
    );
    expect(rows).toEqual(EXPECTED.profileApiNewCustomIdAttributesOnly);
  });
});
