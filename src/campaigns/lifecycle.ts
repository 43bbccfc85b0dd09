import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { messages } from "../db/schema";
import { ApiError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { MAX_WEBPUSH_PAYLOAD_BYTES, webPushPayload } from "../messaging/channels/webpush";
import { MAX_TTL_SECONDS } from "../messaging/messages.routes";
import type { StoredPayload } from "../messaging/store";
import type { CampaignBody, CampaignMessage, CampaignUpdate } from "./campaigns.schema";
import type { CampaignPageMessage, CampaignStartMessage } from "./fanout";
import { MAX_DELAY_SECONDS } from "./pacing";
import { type Campaign, deleteCampaignRows, insertCampaign, readCampaign, writeCampaign } from "./store";
import { checkTargeting } from "./targeting";

/*
 * A campaign's life (SPEC §10): a draft (`live: false`) waits; a live one is `scheduled` until
 * its `push_at`, then `sending` (its targets read page by page), and shows `sent` once every
 * delivery is settled. Saving a campaign whose time has come starts it at once; a later time
 * is honoured by a delayed queue message and, as a safety net, the cron.
 */

const notFound = (token: string) => new ApiError("NOT_FOUND", `No campaign ${token}.`);

/** The push content of a campaign message, as the channels read it. */
export function outgoingOfCampaign(m: CampaignMessage): StoredPayload["message"] {
  return {
    title: m.title,
    body: m.body,
    ...(m.deeplink ? { deeplink: m.deeplink } : {}),
    // A campaign's send can last hours at its rate: each push lives as long as Web Push allows.
    ttl: MAX_TTL_SECONDS,
    priority: "normal",
  };
}

/** Refuses a message whose push would not fit, as a transactional send does. */
function checkPayloads(list: CampaignMessage[]): void {
  list.forEach((m, k) => {
    const payload = webPushPayload({ ...outgoingOfCampaign(m), token: uuidv7(), tokenField: "campaign_token" });
    const bytes = new TextEncoder().encode(JSON.stringify(payload)).byteLength;
    if (bytes > MAX_WEBPUSH_PAYLOAD_BYTES) {
      throw new ApiError(
        "VALIDATION_FAILED",
        `The push payload is ${bytes} bytes; at most ${MAX_WEBPUSH_PAYLOAD_BYTES}.`,
        {
          issues: [{ path: `messages.${k}`, message: "Shorten the title, body or deeplink." }],
        },
      );
    }
  });
}

/** When a live campaign starts: its ISO time, or `now`. */
const pushAtOf = (pushTime: string, now: Date) =>
  pushTime === "now" ? now.toISOString() : new Date(Date.parse(pushTime)).toISOString();

/**
 * Starts a scheduled campaign whose time has come: it becomes `sending` and its send a message
 * row (so deliveries are claimed and counted as transactional ones), then its first page is
 * queued. Only one caller wins the state change; the others do nothing.
 */
export async function startCampaign(env: Env, projectId: string, token: string, now: Date): Promise<boolean> {
  const c = await readCampaign(env, projectId, token);
  if (c?.state !== "scheduled" || !c.pushAt || c.pushAt > now.toISOString()) return false;
  const started = now.toISOString();
  const variants = c.messages.map(outgoingOfCampaign);
  const payload: StoredPayload = {
    message: variants[0] as StoredPayload["message"],
    variants,
    appIds: c.appIds,
    tokenField: "campaign_token",
  };
  const db = drizzle(env.DB);
  const won = await writeCampaign(env, { ...c, state: "sending", startedAt: started, updatedAt: started }, "scheduled");
  if (!won) return false;
  await db.insert(messages).values({
    token,
    projectId,
    groupId: `campaign:${c.name}`.slice(0, 100),
    payload: JSON.stringify(payload),
    recipients: 0,
    // Unknown until the last page is read (src/campaigns/fanout.ts): nothing completes before.
    pieces: Number.MAX_SAFE_INTEGER,
    createdAt: started,
    expiresAt: new Date(now.getTime() + 2 * MAX_TTL_SECONDS * 1000).toISOString(),
  });
  const first: CampaignPageMessage = {
    type: "campaign_page",
    token,
    project_id: projectId,
    page: 0,
    after: "",
    pieces: 0,
    slot: 0,
    targeted: 0,
  };
  try {
    await env.MESSAGES.send(first, { contentType: "json" });
  } catch (error) {
    // Not queued: back to scheduled, so the cron starts it again.
    await db.delete(messages).where(eq(messages.token, token));
    await writeCampaign(env, { ...c, updatedAt: started }, "sending");
    throw error;
  }
  return true;
}

/** Starts a live campaign that is due, or queues its start for its time when that is near. */
async function honourSchedule(env: Env, c: Campaign, now: Date): Promise<void> {
  if (c.state !== "scheduled" || !c.pushAt) return;
  const wait = Date.parse(c.pushAt) - now.getTime();
  if (wait <= 0) {
    await startCampaign(env, c.projectId, c.token, now);
    return;
  }
  if (wait <= MAX_DELAY_SECONDS * 1000) {
    const start: CampaignStartMessage = { type: "campaign_start", token: c.token, project_id: c.projectId };
    await env.MESSAGES.send(start, { contentType: "json", delaySeconds: Math.ceil(wait / 1000) });
  }
  // Further than a queue can delay: the cron (src/campaigns/schedule.ts) queues it when near.
}

/** Who creates: the project, and on the 1.1 path the app of API_KEY (its installations only). */
export interface Creator {
  projectId: string;
  appIds: string[] | null;
}

/** Creates a campaign (a draft, or live: scheduled or started). */
export async function createCampaign(env: Env, by: Creator, body: CampaignBody, now = new Date()): Promise<Campaign> {
  const targeting = await checkTargeting(env, by.projectId, body.targeting);
  checkPayloads(body.messages);
  const at = now.toISOString();
  const c: Campaign = {
    token: uuidv7(now.getTime()),
    projectId: by.projectId,
    name: body.name,
    state: body.live ? "scheduled" : "draft",
    pushTime: body.push_time,
    pushAt: body.live ? pushAtOf(body.push_time, now) : null,
    targeting,
    messages: body.messages,
    sendRate: body.send_rate ?? null,
    appIds: by.appIds,
    createdAt: at,
    updatedAt: at,
    startedAt: null,
  };
  await insertCampaign(env, c);
  await honourSchedule(env, c, now);
  return c;
}

/**
 * Replaces the fields an update names. A campaign that started sending cannot change or go
 * live again (Batch's rule); `live: false` on a scheduled one cancels it back to a draft.
 */
export async function updateCampaign(
  env: Env,
  projectId: string,
  token: string,
  patch: CampaignUpdate,
  now = new Date(),
): Promise<Campaign> {
  const c = await readCampaign(env, projectId, token);
  if (!c) throw notFound(token);
  if (c.state === "sending" || c.state === "sent") {
    throw new ApiError("CONFLICT", "This campaign has already been sent: it cannot be changed or go live again.");
  }
  const targeting = patch.targeting === undefined ? c.targeting : await checkTargeting(env, projectId, patch.targeting);
  if (patch.messages) checkPayloads(patch.messages);
  const live = patch.live ?? c.state !== "draft";
  const pushTime = patch.push_time ?? c.pushTime;
  const next: Campaign = {
    ...c,
    name: patch.name ?? c.name,
    targeting,
    messages: patch.messages ?? c.messages,
    sendRate: patch.send_rate ?? c.sendRate,
    pushTime,
    state: live ? "scheduled" : "draft",
    // `now` is when the campaign goes live; a campaign already live keeps its start unless re-timed.
    pushAt: !live
      ? null
      : c.state === "scheduled" && patch.push_time === undefined
        ? c.pushAt
        : pushAtOf(pushTime, now),
    updatedAt: now.toISOString(),
  };
  if (!(await writeCampaign(env, next, c.state))) {
    throw new ApiError("CONFLICT", "The campaign changed meanwhile (it may have started sending); read it and retry.");
  }
  await honourSchedule(env, next, now);
  return next;
}

/** Deletes a campaign; one that is sending stops: no more pages are read, queued pieces send nothing. */
export async function deleteCampaign(env: Env, projectId: string, token: string): Promise<void> {
  if (!(await deleteCampaignRows(env, projectId, token))) throw notFound(token);
}
