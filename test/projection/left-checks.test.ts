import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";

/*
 * A synchronous update records that it wrote its profiles (`projected_checks`) for its delayed
 * check to find. One whose objects took longer than the delay writes its row after the check ran:
 * the daily cron deletes such rows, a day on, in bounded pages.
 */

const DAY = 24 * 60 * 60 * 1000;

async function insertChecks(prefix: string, n: number, createdAt: string): Promise<void> {
  const rows = Array.from({ length: n }, (_, k) => [`${prefix}:${k}`, createdAt]);
  // 50 rows a statement: 100 bound parameters, the most a statement takes.
  const statements = [];
  for (let k = 0; k < rows.length; k += 50) {
    const page = rows.slice(k, k + 50);
    statements.push(
      env.DB.prepare(
        `INSERT INTO projected_checks (check_id, created_at) VALUES ${page.map(() => "(?, ?)").join(", ")}`,
      ).bind(...page.flat()),
    );
  }
  await env.DB.batch(statements);
}

async function checkIds(): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT check_id FROM projected_checks ORDER BY check_id").all<{
    check_id: string;
  }>();
  return results.map((r) => r.check_id);
}

async function dailyPurgeCron(at: number): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled?.(createScheduledController({ cron: "30 3 * * *", scheduledTime: at }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("checks left behind by a slow update", () => {
  it("are deleted by the daily cron once a day old, in pages, and a recent one stays", async () => {
    const now = Date.now();
    // More than one page (1,000 rows a statement).
    await insertChecks("left", 1_500, new Date(now - 2 * DAY).toISOString());
    await insertChecks("recent", 2, new Date(now - 60_000).toISOString());
    await dailyPurgeCron(now);
    expect(await checkIds()).toEqual(["recent:0", "recent:1"]);
  });

  it("stay while younger than a day: their check may still be on its way", async () => {
    const now = Date.now();
    await insertChecks("young", 1, new Date(now - DAY + 60_000).toISOString());
    await dailyPurgeCron(now);
    expect(await checkIds()).toContain("young:0");
  });
});
