import { createMessageBatch } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { stageEvents } from "../../src/exports/staging";
import { PRIVACY_QUEUE, type PrivacyMessage } from "../../src/privacy/messages";
import { consumePrivacy } from "../../src/privacy/privacy.consumer";
import { stagedPaging } from "../../src/privacy/staged-erasure";
import type { EventsMessage } from "../../src/queue/messages";
import { createProject, type Project } from "../support/harness";
import { batch, identify } from "../support/identity";
import { stagedEvents } from "../support/staged";
import { getRequest } from "./support";

/** R2 reads and listings one invocation made, and the privacy messages it queued. */
interface Counted {
  lists: number;
  gets: number;
  sent: PrivacyMessage[];
}

/** The environment with the bucket's listings and reads counted, and the privacy queue's sends kept. */
function counting(c: Counted): Env {
  const bucket = new Proxy(env.EXPORTS, {
    get(target, prop) {
      if (prop === "list") c.lists++;
      if (prop === "get") c.gets++;
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const privacy = {
    send: async (body: PrivacyMessage) => {
      c.sent.push(body);
    },
    sendBatch: async (bodies: { body: PrivacyMessage }[]) => {
      c.sent.push(...bodies.map((b) => b.body));
    },
  } as unknown as Env["PRIVACY"];
  return { ...env, EXPORTS: bucket, PRIVACY: privacy };
}

const staged = (p: Project, profileId: string, hour: number, id: string): EventsMessage => ({
  type: "events",
  project_id: p.projectId,
  profile_id: profileId,
  custom_id: null,
  installation_id: crypto.randomUUID(),
  app_id: p.appId,
  received_at: "2026-11-01T00:00:00.000Z",
  events: [
    {
      id,
      name: "played",
      time: `2026-11-01T${String(hour).padStart(2, "0")}:30:00.000Z`,
      attributes: {},
      label: null,
      tags: [],
      source: "sdk",
    },
  ],
});

/** `removes` signed-in profiles, each with an event in each of `hours` staged objects, beside a kept one's. */
async function project(removes: number, hours: number) {
  const p = await createProject();
  const profiles: string[] = [];
  for (let k = 0; k < removes; k++) {
    profiles.push((await batch(p, crypto.randomUUID(), [identify(`gone-${k}`)])).profile_id);
  }
  for (let h = 0; h < hours; h++) {
    // One object per hour: a batch staged alone.
    await stageEvents(env, [
      ...profiles.map((id, k) => staged(p, id, h, `e-${k}-${h}`)),
      staged(p, "kept", h, `kept-${h}`),
    ]);
  }
  const requests: string[] = [];
  for (let k = 0; k < removes; k++) {
    const id = crypto.randomUUID();
    await env.DB.prepare(
      `INSERT INTO privacy_requests (id, project_id, type, identifier_type, identifier_value, status, created_at)
       VALUES (?, ?, 'remove', 'custom_id', ?, 'pending', ?)`,
    )
      .bind(id, p.projectId, `gone-${k}`, new Date().toISOString())
      .run();
    requests.push(id);
  }
  return { p, requests };
}

async function consume(c: Counted, bodies: PrivacyMessage[]) {
  const b = createMessageBatch<PrivacyMessage>(
    PRIVACY_QUEUE,
    bodies.map((body, k) => ({ id: `m${k}-${crypto.randomUUID()}`, timestamp: new Date(), attempts: 1, body })),
  );
  await consumePrivacy(b, counting(c));
}

describe("removes of one project in one batch", () => {
  it("read the project's staged history once for all of them", async () => {
    const { p, requests } = await project(4, 6);
    const c: Counted = { lists: 0, gets: 0, sent: [] };
    await consume(
      c,
      requests.map((id) => ({ type: "privacy_request", project_id: p.projectId, request_id: id })),
    );
    for (const id of requests) {
      const body = await getRequest(p, id);
      expect(body.status).toBe("done");
      expect(body.receipt?.totals["r2.events"]).toBe(6);
    }
    // Six objects, one listing: each object read once, not once per remove.
    expect(c.lists).toBe(1);
    expect(c.gets).toBeLessThanOrEqual(6);
    expect((await stagedEvents(p.projectId)).map((e) => e.profile_id)).toEqual(Array(6).fill("kept"));
  });

  it("read no more than one allowance per invocation, and go on through the queue", async () => {
    const { p, requests } = await project(3, 7);
    const paging = { ...stagedPaging };
    Object.assign(stagedPaging, { pages: 1, objects: 3 });
    try {
      let bodies: PrivacyMessage[] = requests.map((id) => ({
        type: "privacy_request",
        project_id: p.projectId,
        request_id: id,
      }));
      let invocations = 0;
      while (bodies.length > 0) {
        expect(++invocations).toBeLessThan(10);
        const c: Counted = { lists: 0, gets: 0, sent: [] };
        await consume(c, bodies);
        expect(c.gets).toBeLessThanOrEqual(3);
        expect(c.lists).toBeLessThanOrEqual(1);
        bodies = c.sent.filter((m) => m.type === "privacy_request");
      }
      // Seven objects, three a message: three invocations for the three removes together.
      expect(invocations).toBe(3);
    } finally {
      Object.assign(stagedPaging, paging);
    }
    for (const id of requests) {
      const body = await getRequest(p, id);
      expect(body.status).toBe("done");
      expect(body.receipt?.totals["r2.events"]).toBe(7);
    }
    expect((await stagedEvents(p.projectId)).every((e) => e.profile_id === "kept")).toBe(true);
  });
});
