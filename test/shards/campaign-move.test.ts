import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { handleCampaignPage } from "../../src/campaigns/fanout";
import { updateCampaign } from "../../src/campaigns/lifecycle";
import { campaignPaging } from "../../src/campaigns/targeting";
import { projectionFor } from "../../src/db/shards";
import {
  campaignProject,
  createCampaign,
  hello,
  type Person,
  person,
  projected,
  type Queued,
  recordingEnv,
} from "../campaigns/support";
import { adminHeaders, call, type Project } from "../support/harness";
import { instantMoves, moveDone, placeOn } from "../support/shards";

/*
 * A campaign whose project moves between two of its pages (SPEC §11 and §10): the pages after
 * the move read the new placement, and every targeted installation is queued exactly once.
 */

instantMoves();

async function seeded(placement: string[]): Promise<{ p: Project; people: Person[] }> {
  const p = await campaignProject();
  await placeOn(p.projectId, placement);
  const people: Person[] = [];
  for (let k = 0; k < 10; k++) people.push(await person(p, { attrs: { wave: "moving" } }));
  await projected(p, people);
  return { p, people };
}

/** Walks the campaign's pages as the queue would, running `between` after the first page. */
async function walk(p: Project, between: () => Promise<void>): Promise<string[]> {
  const queued: Queued[] = [];
  const fake = recordingEnv(queued);
  const token = await createCampaign(p, {
    name: "Moving",
    live: false,
    push_time: "now",
    targeting: { where: { attribute: "wave", op: "eq", value: "moving" } },
    messages: hello,
  });
  await updateCampaign(fake, p.projectId, token, { live: true }, new Date());
  const saved = campaignPaging.profiles;
  campaignPaging.profiles = 3;
  const ids: string[] = [];
  try {
    let pages = 0;
    for (let k = 0; k < queued.length; k++) {
      const { body } = queued[k] as Queued;
      if (body.type === "message_piece") ids.push(...body.install_ids);
      else {
        await handleCampaignPage(fake, body);
        if (++pages === 1) await between();
      }
    }
    expect(pages).toBeGreaterThan(2);
  } finally {
    campaignPaging.profiles = saved;
  }
  return ids;
}

async function move(p: Project, body: unknown, to: string[]) {
  const res = await call("POST", `/v1/admin/projects/${p.projectId}/move`, { headers: adminHeaders, body });
  expect(res.status).toBe(202);
  await moveDone((await res.json<{ request_id: string }>()).request_id);
  expect((await projectionFor(env, p.projectId)).shards.map((s) => s.name)).toEqual(to);
}

describe("a campaign while its project moves", () => {
  it("reaches every installation once when a split project is gathered onto one shard mid-send", async () => {
    const { p, people } = await seeded(["PROJECTION_1", "PROJECTION_2"]);
    const ids = await walk(p, () => move(p, { shard: "PROJECTION_2" }, ["PROJECTION_2"]));
    expect(ids.sort()).toEqual(people.map((x) => x.installationId).sort());
  });

  it("reaches every installation once when a project is split mid-send", async () => {
    const { p, people } = await seeded(["PROJECTION_1"]);
    const ids = await walk(p, () =>
      move(p, { shards: ["PROJECTION_1", "PROJECTION_2"] }, ["PROJECTION_1", "PROJECTION_2"]),
    );
    expect(ids.sort()).toEqual(people.map((x) => x.installationId).sort());
  });
});
