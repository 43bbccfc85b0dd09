import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { shardDb } from "../support/shards";
import {
  audienceRow,
  expectMembers,
  generatedCsv,
  putCsvStream,
  putJson,
  refused,
  rowsByGeneration,
  seededAudience,
} from "./helpers";

let p: Project;

beforeAll(async () => {
  p = await createProject();
});

const seeded = (members: string[]) => seededAudience(p, members);

describe("concurrent replaces never mix", () => {
  /** A CSV body that sends `first`, then waits for `release()` before sending `rest`. */
  function pausedBody(first: string, rest: string) {
    const encoder = new TextEncoder();
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let sentFirst = false;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!sentFirst) {
          sentFirst = true;
          controller.enqueue(encoder.encode(first));
          return;
        }
        await released;
        controller.enqueue(encoder.encode(rest));
        controller.close();
      },
    });
    const length = encoder.encode(first).length + encoder.encode(rest).length;
    return { stream, release, length };
  }

  const lines = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}\n`).join("");

  it("a replace that finishes while an earlier one streams wins; the earlier one gets 409 and leaves no row", async () => {
    const { name } = await seeded(["keep"]);
    // More than one batch before the pause, so rows of the slow replace are already in D1.
    const slow = pausedBody(lines("slow-", 12_000), lines("late-", 3_000));
    const pending = putCsvStream(p, name, slow.stream, { "Content-Length": String(slow.length) });
    await expect.poll(async () => Object.keys(await rowsByGeneration(p, name)).length, { timeout: 10_000 }).toBe(2);

    expect((await putJson(p, name, { ids: ["fast-1", "fast-2"] })).status).toBe(200);
    slow.release();
    const error = await refused(await pending, 409, "CONFLICT");
    expect(error.message).toMatch(/retry/);
    await expectMembers(p, name, ["fast-1", "fast-2"]);
  });

  it("a replace whose audience is deleted while it streams gets 404 and leaves no row", async () => {
    const { name } = await seeded(["keep"]);
    const slow = pausedBody(lines("slow-", 11_000), lines("late-", 10));
    const pending = putCsvStream(p, name, slow.stream, { "Content-Length": String(slow.length) });
    await expect.poll(async () => Object.keys(await rowsByGeneration(p, name)).length, { timeout: 10_000 }).toBe(2);

    expect((await call("DELETE", `/v1/audiences/${name}`, { headers: restHeaders(p) })).status).toBe(204);
    slow.release();
    await refused(await pending, 404, "NOT_FOUND");
    expect(await audienceRow(p, name)).toBeNull();
    expect(await rowsByGeneration(p, name)).toEqual({});
  });

  it("two replaces sent together end with exactly one of the two sets", async () => {
    const { name } = await seeded(["keep"]);
    const [a, b] = await Promise.all([
      putCsvStream(p, name, generatedCsv(20_000, "a-")),
      putCsvStream(p, name, generatedCsv(20_000, "b-")),
    ]);
    const statuses = [a.status, b.status].sort();
    expect([
      [200, 200],
      [200, 409],
    ]).toContainEqual(statuses);
    const row = await audienceRow(p, name);
    expect(row?.size).toBe(20_000);
    expect(await rowsByGeneration(p, name)).toEqual({ [row?.generation ?? -1]: 20_000 });
    const prefixes = await (await shardDb(p.projectId))
      .prepare(
        `SELECT DISTINCT substr(member, 1, 2) AS prefix FROM audience_members WHERE project_id = ? AND audience = ?`,
      )
      .bind(p.projectId, name)
      .all<{ prefix: string }>();
    expect(prefixes.results).toHaveLength(1);
  });
});
