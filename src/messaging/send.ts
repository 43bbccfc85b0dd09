import { templateContent } from "../campaigns/templates";
import { ApiError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { sendInBatches } from "../queue/send";
import { MAX_WEBPUSH_PAYLOAD_BYTES, webPushPayload } from "./channels/webpush";
import { DEFAULT_TTL_SECONDS, type ResolvedRequest, type TransactionalRequest } from "./messages.routes";
import { deleteMessage, insertMessage, type StoredPayload } from "./store";

export const MESSAGES_QUEUE = "edge-cdp-messages";

/** Identifiers per queued piece: a piece's Durable Object calls and pushes fit one invocation. */
export const PIECE_SIZE = 25;

/** One bounded piece of a message's recipients, on the message queue. */
export interface MessagePieceMessage {
  type: "message_piece";
  token: string;
  project_id: string;
  piece: number;
  custom_ids: string[];
  install_ids: string[];
  /** FCM tokens or Web Push endpoint URLs, found through the projection's index of push token keys. */
  tokens: string[];
  /** A campaign's piece: the index of its message in the payload's `variants`. */
  variant?: number;
}

/** A request to send, with what only the route knows (the 1.1 path's app, the key). */
export interface SendRequest {
  projectId: string;
  body: TransactionalRequest;
  appIds: string[] | null;
  idempotencyKey: string | null;
}

/** The message as every channel reads it, from the request body. */
export function outgoingOf(body: ResolvedRequest): StoredPayload["message"] {
  return {
    title: body.message.title,
    body: body.message.body,
    ...(body.deeplink ? { deeplink: body.deeplink } : {}),
    ...(body.media?.icon ? { icon: body.media.icon } : {}),
    ...(body.media?.picture ? { image: body.media.picture } : {}),
    ...(body.custom_payload ? { data: JSON.parse(body.custom_payload) } : {}),
    ttl: body.time_to_live ?? DEFAULT_TTL_SECONDS,
    priority: body.priority ?? "normal",
    ...(body.email ? { email: body.email } : {}),
  };
}

/** Fills the message from `template_id`'s campaign; the request's own fields override it. */
async function resolveTemplate(env: Env, projectId: string, body: TransactionalRequest): Promise<ResolvedRequest> {
  if (body.template_id === undefined) return body as ResolvedRequest;
  const t = await templateContent(env, projectId, body.template_id);
  return {
    ...body,
    message: { title: body.message?.title ?? t.title, body: body.message?.body ?? t.body },
    ...((body.deeplink ?? t.deeplink) ? { deeplink: body.deeplink ?? t.deeplink } : {}),
  };
}

const unique = <T>(items: T[] | undefined) => [...new Set(items ?? [])];

/** Splits the recipients into pieces of at most PIECE_SIZE identifiers. */
export function piecesOf(
  body: TransactionalRequest,
): Omit<MessagePieceMessage, "type" | "token" | "project_id" | "piece">[] {
  const all = [
    ...unique(body.recipients.custom_ids).map((id) => ["custom_ids", id] as const),
    ...unique(body.recipients.install_ids?.map((id) => id.toLowerCase())).map((id) => ["install_ids", id] as const),
    ...unique(body.recipients.tokens).map((id) => ["tokens", id] as const),
  ];
  const pieces = [];
  for (let start = 0; start < all.length; start += PIECE_SIZE) {
    const piece = { custom_ids: [] as string[], install_ids: [] as string[], tokens: [] as string[] };
    for (const [list, id] of all.slice(start, start + PIECE_SIZE)) piece[list].push(id);
    pieces.push(piece);
  }
  return pieces;
}

/**
 * Records a transactional send and queues its pieces; answers its token at once. A repeated
 * Idempotency-Key answers the first send's token and queues nothing (`created: false`).
 * Campaigns send through this too.
 */
export async function sendTransactional(env: Env, req: SendRequest): Promise<{ token: string; created: boolean }> {
  const message = outgoingOf(await resolveTemplate(env, req.projectId, req.body));
  const token = uuidv7();
  // Every push of this message carries the same payload: one check refuses what would not fit.
  const payload = webPushPayload({ ...message, token, tokenField: "transactional_token" });
  const bytes = new TextEncoder().encode(JSON.stringify(payload)).byteLength;
  if (bytes > MAX_WEBPUSH_PAYLOAD_BYTES) {
    throw new ApiError(
      "VALIDATION_FAILED",
      `The push payload is ${bytes} bytes; at most ${MAX_WEBPUSH_PAYLOAD_BYTES}.`,
      {
        issues: [{ path: "message", message: "Shorten the title, body, links or custom_payload." }],
      },
    );
  }
  const pieces = piecesOf(req.body);
  const now = new Date();
  const stored = await insertMessage(
    env,
    {
      token,
      projectId: req.projectId,
      groupId: req.body.group_id,
      payload: { message, appIds: req.appIds },
      recipients: pieces.reduce((n, p) => n + p.custom_ids.length + p.install_ids.length + p.tokens.length, 0),
      pieces: pieces.length,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + message.ttl * 1000).toISOString(),
    },
    req.idempotencyKey,
  );
  if (!stored.created) return stored;
  const bodies: MessagePieceMessage[] = pieces.map((p, piece) => ({
    type: "message_piece",
    token,
    project_id: req.projectId,
    piece,
    ...p,
  }));
  try {
    await sendInBatches(
      env.MESSAGES,
      bodies.map((body) => ({ body, contentType: "json" })),
    );
  } catch (error) {
    // Pieces already queued send nothing: their message is gone, so they are acknowledged.
    await deleteMessage(env, token);
    throw error;
  }
  return stored;
}
