import { consumeMessagePieces } from "../messaging/fanout";
import type { MessagePieceMessage } from "../messaging/send";
import { retryLater } from "../queue/retry";
import { type CampaignPageMessage, type CampaignStartMessage, handleCampaignPage } from "./fanout";
import { startCampaign } from "./lifecycle";
import { MAX_DELAY_SECONDS } from "./pacing";
import { dueCampaigns } from "./store";

/** Campaigns the cron looks at per run (each start is a few D1 writes and a queue message). */
const CRON_BATCH = 200;
/** The cron runs every five minutes: it queues the starts due before its next run, to the second. */
const LOOKAHEAD_MS = 10 * 60_000;

/**
 * The cron's part (every five minutes): starts any scheduled campaign whose time has passed
 * (a start message lost, or a time further than a queue can delay), and queues the exact start
 * of those due before the next run.
 */
export async function startDueCampaigns(env: Env, now: Date): Promise<{ started: number; queued: number }> {
  const due = await dueCampaigns(env, new Date(now.getTime() + LOOKAHEAD_MS).toISOString(), CRON_BATCH);
  let started = 0;
  let queued = 0;
  for (const c of due) {
    const wait = Date.parse(c.pushAt ?? "") - now.getTime();
    if (wait <= 0) {
      if (await startCampaign(env, c.projectId, c.token, now)) started++;
    } else {
      const start: CampaignStartMessage = { type: "campaign_start", token: c.token, project_id: c.projectId };
      await env.MESSAGES.send(start, {
        contentType: "json",
        delaySeconds: Math.min(MAX_DELAY_SECONDS, Math.ceil(wait / 1000)),
      });
      queued++;
    }
  }
  return { started, queued };
}

type MessagesQueueBody = MessagePieceMessage | CampaignPageMessage | CampaignStartMessage;

/**
 * The message queue's consumer: campaign pages and starts here, transactional and campaign
 * pieces to the sender (src/messaging/fanout.ts).
 */
export async function consumeMessagesQueue(batch: MessageBatch<MessagesQueueBody>, env: Env): Promise<void> {
  const pieces = batch.messages.filter((m) => m.body.type === "message_piece") as Message<MessagePieceMessage>[];
  const campaign = batch.messages.filter((m) => m.body.type !== "message_piece");
  await Promise.all([
    pieces.length
      ? consumeMessagePieces({ ...batch, messages: pieces } as MessageBatch<MessagePieceMessage>, env)
      : null,
    ...campaign.map(async (m) => {
      try {
        const body = m.body as CampaignPageMessage | CampaignStartMessage;
        if (body.type === "campaign_page") await handleCampaignPage(env, body);
        else await startCampaign(env, body.project_id, body.token, new Date());
        m.ack();
      } catch (error) {
        retryLater(m, "campaign message failed", error);
      }
    }),
  ]);
}
