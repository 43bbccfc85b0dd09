import { and, desc, eq, lt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { campaignOpens, campaignPages, campaigns, messages } from "../db/schema";
import { countOutcomes } from "../messaging/store";
import type { CampaignMessage, CampaignView, Targeting } from "./campaigns.schema";

export type CampaignState = (typeof campaigns.$inferSelect)["state"];

/** A campaign as the domain reads it: JSON columns parsed. */
export interface Campaign {
  token: string;
  projectId: string;
  name: string;
  state: CampaignState;
  pushTime: string;
  pushAt: string | null;
  targeting: Targeting;
  messages: CampaignMessage[];
  sendRate: number | null;
  appIds: string[] | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
}

type Row = typeof campaigns.$inferSelect;

const fromRow = (r: Row): Campaign => ({
  token: r.token,
  projectId: r.projectId,
  name: r.name,
  state: r.state,
  pushTime: r.pushTime,
  pushAt: r.pushAt,
  targeting: JSON.parse(r.targeting) as Targeting,
  messages: JSON.parse(r.content) as CampaignMessage[],
  sendRate: r.sendRate,
  appIds: r.appIds === null ? null : (JSON.parse(r.appIds) as string[]),
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
  startedAt: r.startedAt,
});

/** The row of a campaign, for insert or update. */
export const toRow = (c: Campaign): Row => ({
  token: c.token,
  projectId: c.projectId,
  name: c.name,
  state: c.state,
  pushTime: c.pushTime,
  pushAt: c.pushAt,
  targeting: JSON.stringify(c.targeting),
  content: JSON.stringify(c.messages),
  sendRate: c.sendRate,
  appIds: c.appIds === null ? null : JSON.stringify(c.appIds),
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
  startedAt: c.startedAt,
});

export async function insertCampaign(env: Env, c: Campaign): Promise<void> {
  await drizzle(env.DB).insert(campaigns).values(toRow(c));
}

/** A project's campaign; null for another project's token, as for an unknown one. */
export async function readCampaign(env: Env, projectId: string, token: string): Promise<Campaign | null> {
  const row = await drizzle(env.DB)
    .select()
    .from(campaigns)
    .where(and(eq(campaigns.token, token), eq(campaigns.projectId, projectId)))
    .get();
  return row ? fromRow(row) : null;
}

/**
 * Writes an edited campaign if it is still in the state it was read in (`from`): two updates
 * racing cannot both take a draft live. Answers whether it was written.
 */
export async function writeCampaign(env: Env, c: Campaign, from: CampaignState): Promise<boolean> {
  const { token, projectId, createdAt, ...rest } = toRow(c);
  const rows = await drizzle(env.DB)
    .update(campaigns)
    .set(rest)
    .where(and(eq(campaigns.token, token), eq(campaigns.projectId, projectId), eq(campaigns.state, from)))
    .returning({ token: campaigns.token });
  return rows.length > 0;
}

/**
 * Deletes a campaign and its send: pieces still queued find no message and send nothing
 * (src/messaging/fanout.ts), and no further page is read.
 */
export async function deleteCampaignRows(env: Env, projectId: string, token: string): Promise<boolean> {
  const db = drizzle(env.DB);
  const [deleted] = await db.batch([
    db
      .delete(campaigns)
      .where(and(eq(campaigns.token, token), eq(campaigns.projectId, projectId)))
      .returning({ token: campaigns.token }),
    db.delete(messages).where(and(eq(messages.token, token), eq(messages.projectId, projectId))),
    db.delete(campaignPages).where(eq(campaignPages.token, token)),
    db.delete(campaignOpens).where(eq(campaignOpens.token, token)),
  ]);
  return deleted.length > 0;
}

/** A page of the project's campaigns, newest first (tokens are UUIDv7: time-ordered). */
export async function listCampaigns(env: Env, projectId: string, before: string | null, limit: number) {
  const rows = await drizzle(env.DB)
    .select()
    .from(campaigns)
    .where(and(eq(campaigns.projectId, projectId), before === null ? undefined : lt(campaigns.token, before)))
    .orderBy(desc(campaigns.token))
    .limit(limit + 1);
  return { campaigns: rows.slice(0, limit).map(fromRow), more: rows.length > limit };
}

/** Campaigns due to start at `now`, a bounded number per call. */
export async function dueCampaigns(
  env: Env,
  until: string,
  limit: number,
): Promise<{ token: string; projectId: string; pushAt: string | null }[]> {
  return drizzle(env.DB)
    .select({ token: campaigns.token, projectId: campaigns.projectId, pushAt: campaigns.pushAt })
    .from(campaigns)
    .where(and(eq(campaigns.state, "scheduled"), sql`${campaigns.pushAt} <= ${until}`))
    .orderBy(campaigns.pushAt)
    .limit(limit);
}

/** The stats of a campaign (SPEC §10), and when its send completed. */
export async function campaignStats(env: Env, token: string) {
  const [counts, extra] = await Promise.all([
    countOutcomes(env, token),
    env.DB.prepare(
      `SELECT (SELECT coalesce(sum(targeted), 0) FROM campaign_pages WHERE token = ?1) AS targeted,
              (SELECT count(*) FROM campaign_opens WHERE token = ?1) AS opened,
              (SELECT completed_at FROM messages WHERE token = ?1) AS completed_at`,
    )
      .bind(token)
      .first<{ targeted: number; opened: number; completed_at: string | null }>(),
  ]);
  return {
    stats: {
      targeted: extra?.targeted ?? 0,
      sent: counts.sent,
      errors: counts.errors,
      tokens_deleted: counts.tokens_deleted,
      opened: extra?.opened ?? 0,
    },
    completedAt: extra?.completed_at ?? null,
  };
}

/** The campaign as the API shows it, with its stats; a send that completed shows `sent`. */
export async function viewOf(env: Env, c: Campaign): Promise<CampaignView> {
  const { stats, completedAt } = await campaignStats(env, c.token);
  return {
    campaign_token: c.token,
    name: c.name,
    live: c.state !== "draft",
    state: c.state === "sending" && completedAt ? "sent" : c.state,
    push_time: c.pushTime,
    push_at: c.pushAt,
    targeting: c.targeting as Record<string, unknown>,
    messages: c.messages,
    send_rate: c.sendRate,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    started_at: c.startedAt,
    completed_at: completedAt,
    stats,
  };
}
