import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { ExportMessage } from "../../src/exports/exports.messages";
import { exportPaging, queueProfilesExport, runProfilesExport } from "../../src/exports/profiles-export";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { waitForProjection } from "../support/projection";
import { sha256Hex } from "./helpers";

type ProfilesExport = Extract<ExportMessage, { type: "profiles_export" }>;
const FIELDS = ["custom_id", "installation_ids", "tier", "n"];
const PEOPLE = Array.from({ length: 7 }, (_, k) => `split-${k}`);

let p: Project;
beforeAll(async () => {
  p = await createProject();
  const res = await call("POST", "/v1/profiles/update", {
    headers: restHeaders(p),
    body: PEOPLE.map((custom_id, k) => ({ identifiers: { custom_id }, attributes: { tier: `t${k % 2}`, n: k } })),
  });
  expect(res.status).toBe(202);
  await waitForProjection(p.projectId, [], PEOPLE);
}, 60_000);

/** Runs an export message by message, as the queue would; returns how many messages it took. */
async function runAll(requestId: string): Promise<{ messages: ProfilesExport[] }> {
  const queued: ProfilesExport[] = [];
  const capture = {
    ...env,
    EXPORT_TASKS: { send: async (body: ProfilesExport) => void queued.push(body) } as unknown as Queue,
  } as Env;
  await queueProfilesExport(capture, p.projectId, null, FIELDS, requestId);
  const messages: ProfilesExport[] = [];
  for (let next = queued.shift(); next; next = queued.shift()) {
    messages.push(next);
    await runProfilesExport(capture, next);
  }
  return { messages };
}

async function fileOf(requestId: string) {
  const status = await (await call("GET", `/v1/requests/${requestId}`, { headers: restHeaders(p) })).json<{
    status: string;
    file?: { key: string; rows: number; bytes: number; sha256: string };
  }>();
  const text = await (await call("GET", `/v1/exports/${status.file?.key}`, { headers: restHeaders(p) })).text();
  return { status, text };
}

describe("a profile export larger than one message", () => {
  it("is split into bounded messages that carry on one upload, and writes what one pass writes", async () => {
    const single = crypto.randomUUID();
    expect((await runAll(single)).messages).toHaveLength(1);
    const whole = await fileOf(single);
    expect(whole.status).toMatchObject({ status: "done", file: { rows: 7 } });

    const saved = { ...exportPaging };
    Object.assign(exportPaging, { page: 2, pagesPerMessage: 1 });
    const split = crypto.randomUUID();
    let messages: ProfilesExport[];
    try {
      ({ messages } = await runAll(split));
    } finally {
      Object.assign(exportPaging, saved);
    }
    // 7 profiles, 2 a page, 1 page a message: 4 messages, each after the last profile of the one before.
    expect(messages).toHaveLength(4);
    expect(messages.map((m) => m.resume?.part ?? 0)).toEqual([0, 1, 2, 3]);
    const parts = await fileOf(split);
    expect(parts.status).toMatchObject({ status: "done", file: { rows: 7, bytes: whole.status.file?.bytes } });
    expect(parts.text).toBe(whole.text);
    expect(parts.status.file?.sha256).toBe(await sha256Hex(new TextEncoder().encode(parts.text)));
    // The carried bytes are gone once the file is written.
    const work = await env.EXPORTS.list({ prefix: `exports-work/profiles/${p.projectId}/${split}/` });
    expect(work.objects).toEqual([]);
  });
});
