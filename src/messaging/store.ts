import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { messagePieces, messages } from "../db/schema";
import type { OutgoingMessage } from "./channels/channel";

/** What a message row keeps of the send: the content, and whom it may reach. */
export interface StoredPayload {
  message: Omit<OutgoingMessage, "token" | "tokenField">;
  /** Only installations of these apps (the 1.1 path's app, or `app_ids`); null: every app. */
  appIds: string[] | null;
  /** A campaign's send: its messages by language (a piece names one), and the token's field. */
  variants?: Omit<OutgoingMessage, "token" | "tokenField">[];
  tokenField?: OutgoingMessage["tokenField"];
}

export interface MessageRow {
  token: string;
  projectId: string;
  groupId: string;
  payload: StoredPayload;
  recipients: number;
  pieces: number;
  createdAt: string;
  expiresAt: string;
  completedAt: string | null;
}

/** An Idempotency-Key answers with its first send's token for this long (SPEC §10). */
export const IDEMPOTENCY_MS = 24 * 3600 * 1000;

/**
 * Records a new message; or, when `idempotencyKey` was used by the project in the last 24 h,
 * returns that send's token and records nothing (`created: false`). The unique index decides a
 * race between two requests with one key; a key older than 24 h is let go first.
 */
export async function insertMessage(
  env: Env,
  row: Omit<MessageRow, "completedAt">,
  idempotencyKey: string | null,
): Promise<{ token: string; created: boolean }> {
  const db = drizzle(env.DB);
  const values = {
    token: row.token,
    projectId: row.projectId,
    groupId: row.groupId,
    idempotencyKey,
    payload: JSON.stringify(row.payload),
    recipients: row.recipients,
    pieces: row.pieces,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
  };
  if (idempotencyKey === null) {
    await db.insert(messages).values(values);
    return { token: row.token, created: true };
  }
  const cutoff = new Date(Date.parse(row.createdAt) - IDEMPOTENCY_MS).toISOString();
  const [, inserted] = await db.batch([
    db
      .update(messages)
      .set({ idempotencyKey: null })
      .where(
        and(
          eq(messages.projectId, row.projectId),
          eq(messages.idempotencyKey, idempotencyKey),
          sql`${messages.createdAt} < ${cutoff}`,
        ),
      ),
    db.insert(messages).values(values).onConflictDoNothing().returning({ token: messages.token }),
  ]);
  if (inserted.length) return { token: row.token, created: true };
  const first = await db
    .select({ token: messages.token })
    .from(messages)
    .where(and(eq(messages.projectId, row.projectId), eq(messages.idempotencyKey, idempotencyKey)))
    .get();
  if (!first) throw new Error("idempotency key neither inserted nor found");
  return { token: first.token, created: false };
}

export async function readMessage(env: Env, projectId: string, token: string): Promise<MessageRow | null> {
  const row = await drizzle(env.DB)
    .select()
    .from(messages)
    .where(and(eq(messages.token, token), eq(messages.projectId, projectId)))
    .get();
  if (!row) return null;
  return { ...row, payload: JSON.parse(row.payload) as StoredPayload };
}

/** Deletes a message that could not be queued, so its token is not left `sending` forever. */
export async function deleteMessage(env: Env, token: string): Promise<void> {
  await drizzle(env.DB).delete(messages).where(eq(messages.token, token));
}

export interface MessageCounts {
  sent: number;
  errors: number;
  tokens_deleted: number;
  unreachable: number;
}

/** The outcome counts of a message: installations by final state, identifiers that reached nobody. */
export async function countOutcomes(env: Env, token: string): Promise<MessageCounts> {
  const [states, pieces] = await env.DB.batch<{ state?: string; n: number }>([
    env.DB.prepare("SELECT state, count(*) AS n FROM message_deliveries WHERE token = ? GROUP BY state").bind(token),
    env.DB.prepare("SELECT coalesce(sum(unreachable), 0) AS n FROM message_pieces WHERE token = ?").bind(token),
  ]);
  const by = new Map((states?.results ?? []).map((r) => [r.state, r.n]));
  return {
    sent: by.get("sent") ?? 0,
    errors: by.get("error") ?? 0,
    tokens_deleted: by.get("token_deleted") ?? 0,
    unreachable: pieces?.results[0]?.n ?? 0,
  };
}

/**
 * Claims a piece's deliveries (keys: installation IDs, or `email:<profile ID>`) before anything
 * is sent, in one statement: a new delivery, or one waiting to be retried, becomes `sending`.
 * Answers the keys claimed. Any other is not sent again: it was sent, or is being sent, or
 * failed for good.
 */
export async function claimDeliveries(env: Env, token: string, keys: string[], now: string): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const { results } = await env.DB.prepare(
    `INSERT INTO message_deliveries (token, installation_id, state, attempts, recorded, updated_at)
     SELECT ?1, value, 'sending', 1, 0, ?2 FROM json_each(?3) WHERE true
     ON CONFLICT (token, installation_id) DO UPDATE SET state = 'sending', attempts = attempts + 1, updated_at = ?2
       WHERE state = 'retry'
     RETURNING installation_id`,
  )
    .bind(token, now, JSON.stringify(keys))
    .all<{ installation_id: string }>();
  return new Set(results.map((r) => r.installation_id));
}

export interface DeliveryRow {
  state: "sending" | "retry" | "sent" | "error" | "token_deleted";
  error: string | null;
  recorded: number;
  updated_at: string;
}

/** The delivery rows of `keys` (those an earlier attempt claimed), by key. */
export async function readDeliveries(env: Env, token: string, keys: string[]): Promise<Map<string, DeliveryRow>> {
  if (keys.length === 0) return new Map();
  const { results } = await env.DB.prepare(
    `SELECT installation_id, state, error, recorded, updated_at FROM message_deliveries
       WHERE token = ?1 AND installation_id IN (SELECT value FROM json_each(?2))`,
  )
    .bind(token, JSON.stringify(keys))
    .all<DeliveryRow & { installation_id: string }>();
  return new Map(results.map(({ installation_id, ...row }) => [installation_id, row]));
}

/** A delivery's state after the provider answered (or the message expired). */
export interface Settled {
  key: string;
  state: DeliveryRow["state"];
  error: string | null;
}

/** Writes the states of a piece's deliveries, in one batch. */
export async function settleDeliveries(env: Env, token: string, settled: Settled[]): Promise<void> {
  if (settled.length === 0) return;
  const now = new Date().toISOString();
  const update = env.DB.prepare(
    "UPDATE message_deliveries SET state = ?1, error = ?2, updated_at = ?3 WHERE token = ?4 AND installation_id = ?5",
  );
  await env.DB.batch(settled.map((s) => update.bind(s.state, s.error, now, token, s.key)));
}

/** Marks deliveries whose outcome is recorded on the profile, in one statement. */
export async function markRecorded(env: Env, token: string, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  await env.DB.prepare(
    `UPDATE message_deliveries SET recorded = 1
       WHERE token = ?1 AND installation_id IN (SELECT value FROM json_each(?2))`,
  )
    .bind(token, JSON.stringify(keys))
    .run();
}

/**
 * Marks a piece done (once, whatever the redeliveries) and the message `done` when it was the
 * last: one batch, so the count and the completion agree. The message counts its finished
 * pieces as they finish: `changes()` is 1 when this piece's row was new, 0 on a redelivery.
 * Counting `message_pieces` instead read every finished piece again for each one (a campaign
 * to a million targets has 40,000).
 */
export async function finishPiece(env: Env, token: string, piece: number, unreachable: number): Promise<void> {
  const now = new Date().toISOString();
  const db = drizzle(env.DB);
  await db.batch([
    db.insert(messagePieces).values({ token, piece, done: 1, unreachable }).onConflictDoNothing(),
    db
      .update(messages)
      .set({
        // Both read the row as it was before this update, and `changes()` the insert above.
        piecesDone: sql`${messages.piecesDone} + changes()`,
        completedAt: sql`CASE WHEN ${messages.completedAt} IS NULL AND ${messages.piecesDone} + changes() >= ${messages.pieces} THEN ${now} ELSE ${messages.completedAt} END`,
      })
      .where(eq(messages.token, token)),
  ]);
}
