// The flat-file drop as a developer makes it: `wrangler r2 object put --local` while `npm run
// dev` runs, then the 5-minute sweep fired through `/__scheduled`.
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";

const dev = inject("dev");
const wrangler = (args) =>
  promisify(execFile)("node_modules/.bin/wrangler", args, {
    cwd: dev.dir,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
const rest = {
  Authorization: `Bearer ${dev.REST_KEY}`,
  "X-Project-Id": dev.PROJECT_ID,
  "Content-Type": "application/json",
};

describe("a flat file dropped while `npm run dev` runs", () => {
  it("becomes an audience after the sweep, and is deleted", async () => {
    const name = `dropped_${crypto.randomUUID().slice(0, 8)}`;
    const feed = await fetch(`${dev.BASE}/v1/audience-feeds/${name}`, {
      method: "PUT",
      headers: rest,
      body: JSON.stringify({ header: true, delimiter: ",", column: "user_id", type: "custom_ids", mode: "replace" }),
    });
    expect(feed.status).toBe(200);
    const file = path.join(mkdtempSync(path.join(tmpdir(), "feed-")), `${name}.csv`);
    writeFileSync(file, "email,user_id\na@example.com,user-1\nb@example.com,user-2\nc@example.com,user-3\n");
    const object = `edge-cdp-exports/inbox/${dev.PROJECT_ID}/audiences/${name}.csv`;
    await wrangler(["r2", "object", "put", object, "--file", file, "--local"]);

    const cron = await fetch(`${dev.BASE}/__scheduled?cron=${encodeURIComponent("*/5 * * * *")}`);
    expect(cron.status).toBe(200);
    let audience = null;
    for (let i = 0; i < 100 && audience?.size !== 3; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const res = await fetch(`${dev.BASE}/v1/audiences/${name}`, { headers: rest });
      audience = res.status === 200 ? await res.json() : null;
    }
    expect(audience).toMatchObject({ name, size: 3 });
    const runs = await (await fetch(`${dev.BASE}/v1/audience-feeds/${name}/runs`, { headers: rest })).json();
    expect(runs.runs[0]).toMatchObject({ status: "done", lines: 4, ids: 3, rejected: 0 });
    await expect(wrangler(["r2", "object", "get", object, "--pipe", "--local"])).rejects.toThrow();
  });
});
