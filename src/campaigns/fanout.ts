import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { byText, onEachShard } from "../db/fan-out";
import { campaignPages, messages } from "../db/schema";
import { projectionFor, type Shard } from "../db/shards";
import type { MessagePieceMessage } from "../messaging/send";
import { sendInBatches } from "../queue/send";
import type { CampaignMessage } from "./campaigns.schema";
import { alignSlot, delayUntil, dueAt, pageLimitFor, pieceSizeFor } from "./pacing";
import { readCampaign } from "./store";
import { campaignPaging, type TargetRow, targetPage } from "./targeting";

/**
 * One page of a campaign's fan-out, on the message queue. Pages run one after the other (each
 * queues the next), so what a page carries is the whole state of the walk: where it is, how
 * many pieces and slots went before.
 */
export interface CampaignPageMessage {
  type: "campaign_page";
  token: string;
  project_id: string;
  page: number;
  /**
   * Last profile ID read ("" to begin). Pages walk the project's shards together in profile ID
   * order, so the cursor names no shard: a move or split between two pages changes where the
   * next is read, not what it reads.
   */
  after: string;
  /** Pieces queued before this page: the next piece's number. */
  pieces: number;
  /** Pacing slots used before this page (src/campaigns/pacing.ts). */
  slot: number;
  /** Installations queued before this page (for the message's recipients). */
  targeted: number;
}

/** Starts a send at its time (a delayed message; the cron catches any that is lost). */
export interface CampaignStartMessage {
  type: "campaign_start";
  token: string;
  project_id: string;
}

/** Next page this long before its first piece is due, so pieces are queued ahead of time. */
const PAGE_LEAD_MS = 60_000;

/**
 * The message index for a profile's `$language`: the message in that language, else the one
 * without a language, else the first (SPEC §10).
 */
export function variantFor(messagesOf: CampaignMessage[], language: string | null): number {
  const lang = language?.toLowerCase() ?? null;
  const exact = lang === null ? -1 : messagesOf.findIndex((m) => m.language === lang);
  if (exact >= 0) return exact;
  const neutral = messagesOf.findIndex((m) => m.language === undefined);
  return neutral >= 0 ? neutral : 0;
}

/** Each shard's page of targets, read side by side. */
async function targetsAcross(
  env: Env,
  projectId: string,
  read: (shard: Shard) => Promise<TargetRow[]>,
): Promise<TargetRow[]> {
  return (await onEachShard(await projectionFor(env, projectId), read)).flat();
}

/**
 * The rows of the first `limit` profiles of the project, in profile ID order, from each shard's
 * page of its own first `limit` (rows of one profile come from one shard, whole): a profile among
 * the first `limit` of all is among the first `limit` of its shard.
 */
export function firstProfiles(rows: TargetRow[], limit: number): TargetRow[] {
  const sorted = rows.sort(
    (a, b) => byText(a.profile_id, b.profile_id) || byText(a.installation_id ?? "", b.installation_id ?? ""),
  );
  const kept: TargetRow[] = [];
  let profiles = 0;
  let previous: string | null = null;
  for (const row of sorted) {
    if (row.profile_id !== previous) {
      if (++profiles > limit) break;
      previous = row.profile_id;
    }
    kept.push(row);
  }
  return kept;
}

/**
 * Reads one page of targets and queues its pieces, each delayed to its pacing slot, then the
 * next page (or, after the last, the message's final piece count). A page already recorded
 * queues nothing again; its pieces' deliveries are claimed, so even a page run twice sends
 * nothing twice.
 */
export async function handleCampaignPage(env: Env, msg: CampaignPageMessage, now = Date.now()): Promise<void> {
  const campaign = await readCampaign(env, msg.project_id, msg.token);
  if (campaign?.state !== "sending" || !campaign.startedAt) return;
  const db = drizzle(env.DB);
  const done = await db
    .select({ page: campaignPages.page })
    .from(campaignPages)
    .where(and(eq(campaignPages.token, msg.token), eq(campaignPages.page, msg.page)))
    .get();
  if (done) return;
  const rate = campaign.sendRate;
  const limit = pageLimitFor(rate, campaignPaging.profiles);
  const rows = await targetsAcross(env, msg.project_id, (shard) =>
    targetPage(shard, msg.project_id, campaign.targeting, campaign.appIds, msg.after, limit),
  ).then((all) => firstProfiles(all, limit));

  // A page holds at most `limit` profiles and their installations: memory bounded whatever the target.
  const byVariant = new Map<number, string[]>();
  const seen = new Set<string>();
  const profiles = new Set<string>();
  for (const r of rows) {
    profiles.add(r.profile_id);
    if (r.installation_id === null || seen.has(r.installation_id)) continue;
    seen.add(r.installation_id);
    const v = variantFor(campaign.messages, r.language);
    const list = byVariant.get(v);
    if (list) list.push(r.installation_id);
    else byVariant.set(v, [r.installation_id]);
  }
  const size = pieceSizeFor(rate);
  // Paced from the start, never from a start time ahead of this clock (a cron run early or a skewed clock).
  const started = Math.min(Date.parse(campaign.startedAt), now);
  let slot = msg.slot;
  let piece = msg.pieces;
  const queued: { body: MessagePieceMessage; delaySeconds: number }[] = [];
  for (const [variant, ids] of [...byVariant].sort((a, b) => a[0] - b[0])) {
    for (let k = 0; k < ids.length; k += size) {
      slot = alignSlot(slot, size);
      queued.push({
        body: {
          type: "message_piece",
          token: msg.token,
          project_id: msg.project_id,
          piece: piece++,
          custom_ids: [],
          install_ids: ids.slice(k, k + size),
          tokens: [],
          variant,
        },
        delaySeconds: delayUntil(dueAt(started, slot, rate), now),
      });
      slot += size;
    }
  }
  const targeted = seen.size;
  const last = [...profiles].at(-1);
  const next: CampaignPageMessage | null =
    profiles.size >= limit && last
      ? { ...msg, page: msg.page + 1, after: last, pieces: piece, slot, targeted: msg.targeted + targeted }
      : null;

  await sendInBatches(
    env.MESSAGES,
    queued.map((q) => ({ body: q.body, contentType: "json", delaySeconds: q.delaySeconds })),
  );
  if (next) {
    const delaySeconds = delayUntil(dueAt(started, next.slot, rate) - PAGE_LEAD_MS, now);
    await env.MESSAGES.send(next, { contentType: "json", delaySeconds });
  }
  const statements = [
    db.insert(campaignPages).values({ token: msg.token, page: msg.page, targeted }).onConflictDoNothing(),
  ] as const;
  if (next) {
    await db.batch(statements);
    return;
  }
  // The last page: the message learns how many pieces it has, and is done if they all are.
  const total = piece;
  const at = new Date(now).toISOString();
  await db.batch([
    ...statements,
    db
      .update(messages)
      .set({
        pieces: total,
        recipients: msg.targeted + targeted,
        completedAt: sql`CASE WHEN ${messages.piecesDone} >= ${total} THEN coalesce(${messages.completedAt}, ${at}) ELSE ${messages.completedAt} END`,
      })
      .where(eq(messages.token, msg.token)),
  ]);
}
