import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import type { CampaignPageMessage } from "../../src/campaigns/fanout";
import type { MessagePieceMessage } from "../../src/messaging/send";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { attributes, batch, identify, type Op, opId } from "../support/identity";
import { waitForProjection } from "../support/projection";
import { type Push, pushesTo, subscription, type TestSubscription } from "../support/webpush";

/** A new project, placed on a shard as any project is; `platform` is its app's. */
export function campaignProject(platform: "ios" | "android" | "web" = "web"): Promise<Project> {
  return createProject(platform);
}

export interface Person {
  sub: TestSubscription;
  installationId: string;
  profileId: string;
}

/**
 * A device subscribed on the test push service (opted in unless told), optionally signed in as
 * `customId`, with attributes; the projection is not waited for (see `projected`).
 */
export async function person(
  project: Project,
  options: {
    customId?: string;
    attrs?: Record<string, unknown>;
    optedIn?: boolean;
    installationId?: string;
    language?: string;
  } = {},
): Promise<Person> {
  const sub = await subscription(project);
  const installationId = options.installationId ?? crypto.randomUUID();
  const ops: Op[] = [
    { id: opId(), type: "push_token", provider: "webpush", token: sub.token },
    { id: opId(), type: "push_optin", opted_in: options.optedIn ?? true },
  ];
  if (options.customId) ops.push(identify(options.customId));
  if (options.attrs) ops.push(attributes(options.attrs));
  const answer = await batch(project, installationId, ops, options.language ? { language: options.language } : {});
  return { sub, installationId, profileId: answer.profile_id };
}

/** Waits until the projection holds what the Durable Objects hold for these people. */
export async function projected(project: Project, people: Person[], customIds: string[] = []) {
  await waitForProjection(
    project.projectId,
    people.map((p) => p.installationId),
    customIds,
  );
}

export interface CampaignAnswer {
  campaign_token: string;
  state: "draft" | "scheduled" | "sending" | "sent";
  live: boolean;
  stats: { targeted: number; sent: number; errors: number; tokens_deleted: number; opened: number };
  completed_at: string | null;
}

export async function createCampaign(project: Project, body: unknown): Promise<string> {
  const res = await call("POST", "/v1/campaigns", { headers: restHeaders(project), body });
  if (res.status !== 201) throw new Error(`create: ${res.status} ${await res.text()}`);
  return (await res.json<{ campaign_token: string }>()).campaign_token;
}

export async function readCampaign(project: Project, token: string): Promise<CampaignAnswer> {
  const res = await call("GET", `/v1/campaigns/${token}`, { headers: restHeaders(project) });
  if (res.status !== 200) throw new Error(`get: ${res.status} ${await res.text()}`);
  return res.json<CampaignAnswer>();
}

/** Polls the campaign until its send completed (the real queue consumer runs it). */
export async function untilSent(project: Project, token: string): Promise<CampaignAnswer> {
  let last: CampaignAnswer | null = null;
  await vi.waitFor(
    async () => {
      last = await readCampaign(project, token);
      expect(last.state).toBe("sent");
    },
    { timeout: 20_000, interval: 100 },
  );
  return last as unknown as CampaignAnswer;
}

/** Every push each person received. */
export async function pushesOf(people: Person[]): Promise<Push[][]> {
  return Promise.all(people.map((p) => pushesTo(p.sub)));
}

export const hello = [{ title: "Hello", body: "News for you" }];

export type Queued = { body: CampaignPageMessage | MessagePieceMessage; delaySeconds?: number };

/** The Worker's env with a message queue that only records what it is given. */
export function recordingEnv(queued: Queued[]): Env {
  const MESSAGES = {
    send: async (body: Queued["body"], options?: { delaySeconds?: number }) => {
      queued.push({ body, delaySeconds: options?.delaySeconds ?? 0 });
    },
    sendBatch: async (batch: { body: Queued["body"]; delaySeconds?: number }[]) => {
      for (const m of batch) queued.push({ body: m.body, delaySeconds: m.delaySeconds ?? 0 });
    },
  };
  return { ...env, MESSAGES } as unknown as Env;
}
