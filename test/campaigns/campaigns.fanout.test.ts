import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type CampaignPageMessage, handleCampaignPage, variantFor } from "../../src/campaigns/fanout";
import { updateCampaign } from "../../src/campaigns/lifecycle";
import { alignSlot, pieceSizeFor } from "../../src/campaigns/pacing";
import { targetPage } from "../../src/campaigns/targeting";
import { projectShard } from "../../src/db/shards";
import type { MessagePieceMessage } from "../../src/messaging/send";
import type { Project } from "../support/harness";
import { deliverTo } from "../support/queues";
import { pushesTo } from "../support/webpush";
import {
  campaignProject,
  createCampaign,
  hello,
  type Person,
  person,
  projected,
  type Queued,
  readCampaign,
  recordingEnv,
  untilSent,
} from "./support";

const MESSAGES_QUEUE = "edge-cdp-messages";

let project: Project;
let people: Person[];
beforeAll(async () => {
  project = await campaignProject();
  people = [];
  for (let k = 0; k < 12; k++) people.push(await person(project, { attrs: { wave: "fanout" } }));
  await projected(project, people);
});

const wave = { where: { attribute: "wave", op: "eq", value: "fanout" } };

describe("pacing", () => {
  it("sizes pieces so a minute holds whole pieces, and aligns them", () => {
    expect(pieceSizeFor(null)).toBe(25);
    expect(pieceSizeFor(60)).toBe(20);
    expect(pieceSizeFor(7)).toBe(7);
    expect(pieceSizeFor(101)).toBe(1);
    expect(alignSlot(0, 5)).toBe(0);
    expect(alignSlot(7, 5)).toBe(10);
  });

  it("send_rate holds: no 60 s holds more deliveries than the rate, and the send takes as long as the rate says", async () => {
    const queued: Queued[] = [];
    const fake = recordingEnv(queued);
    const token = await createCampaign(project, {
      name: "Paced",
      live: false,
      push_time: "now",
      targeting: wave,
      messages: hello,
      send_rate: 5,
    });
    const now = Date.now();
    await updateCampaign(fake, project.projectId, token, { live: true }, new Date(now));
    const pieces: { at: number; ids: string[] }[] = [];
    // Walk the pages as the queue would, one after the other.
    for (let k = 0; k < queued.length; k++) {
      const q = queued[k] as Queued;
      if (q.body.type === "campaign_page") await handleCampaignPage(fake, q.body, now);
      else pieces.push({ at: now + (q.delaySeconds ?? 0) * 1000, ids: q.body.install_ids });
    }
    const ids = pieces.flatMap((p) => p.ids);
    expect(ids.sort()).toEqual(people.map((p) => p.installationId).sort());
    for (const p of pieces) {
      const inWindow = pieces.filter((q) => q.at >= p.at && q.at < p.at + 60_000).reduce((n, q) => n + q.ids.length, 0);
      expect(inWindow).toBeLessThanOrEqual(5);
    }
    // 12 deliveries at 5 a minute: the last ones two minutes after the first.
    const times = pieces.map((p) => p.at);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(120_000);
    expect((await readCampaign(project, token)).stats.targeted).toBe(12);
  });
});

describe("the fan-out", () => {
  it("pages through the targets in bounded pages: every profile once, none twice", async () => {
    const shard = await projectShard(env, project.projectId);
    const seen: string[] = [];
    let after = "";
    for (let page = 0; page < 10; page++) {
      const rows = await targetPage(shard, project.projectId, wave, null, after, 5);
      const profiles = [...new Set(rows.map((r) => r.profile_id))];
      expect(profiles.length).toBeLessThanOrEqual(5);
      seen.push(...rows.flatMap((r) => (r.installation_id ? [r.installation_id] : [])));
      if (profiles.length < 5) break;
      after = profiles.at(-1) as string;
    }
    expect(seen.sort()).toEqual(people.map((p) => p.installationId).sort());
  });

  it("a retried page or piece sends nothing twice", async () => {
    const p = await campaignProject();
    const mine = [await person(p, { attrs: { wave: "retry" } }), await person(p, { attrs: { wave: "retry" } })];
    await projected(p, mine);
    const token = await createCampaign(p, {
      name: "Retried",
      live: true,
      push_time: "now",
      targeting: { where: { attribute: "wave", op: "eq", value: "retry" } },
      messages: hello,
    });
    const done = await untilSent(p, token);
    expect(done.stats).toMatchObject({ targeted: 2, sent: 2 });
    const page0: CampaignPageMessage = {
      type: "campaign_page",
      token,
      project_id: p.projectId,
      page: 0,
      after: "",
      pieces: 0,
      slot: 0,
      targeted: 0,
    };
    const piece0: MessagePieceMessage = {
      type: "message_piece",
      token,
      project_id: p.projectId,
      piece: 0,
      custom_ids: [],
      install_ids: mine.map((m) => m.installationId),
      tokens: [],
      variant: 0,
    };
    // The same page and piece delivered again, as a queue does after a lost acknowledgement.
    const again = await deliverTo(MESSAGES_QUEUE, [page0, piece0], { prefix: "again-", attempts: 2 });
    expect(again.explicitAcks.length).toBe(2);
    // A page whose record was lost runs again: it queues its pieces again, and they send nothing.
    await env.DB.prepare("DELETE FROM campaign_pages WHERE token = ?").bind(token).run();
    await deliverTo(MESSAGES_QUEUE, [page0], { prefix: "lost-" });
    await deliverTo(MESSAGES_QUEUE, [piece0], { prefix: "late-" });
    await new Promise((r) => setTimeout(r, 1000));
    for (const m of mine) expect(await pushesTo(m.sub)).toHaveLength(1);
    expect((await readCampaign(p, token)).stats).toMatchObject({ targeted: 2, sent: 2, errors: 0 });
  });

  it("picks the message of a language, else the neutral one, else the first", () => {
    const m = [
      { language: "en", title: "a", body: "a" },
      { title: "b", body: "b" },
    ];
    expect(variantFor(m, "EN")).toBe(0);
    expect(variantFor(m, "fr")).toBe(1);
    expect(variantFor(m, null)).toBe(1);
    expect(variantFor([{ language: "en", title: "a", body: "a" }], "fr")).toBe(0);
  });
});
