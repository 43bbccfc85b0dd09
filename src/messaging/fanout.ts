import { onEachShard } from "../db/fan-out";
import { projectionFor } from "../db/shards";
import type { CustomIdObject } from "../identity/custom-id-object";
import { customIdStub, installationStub } from "../identity/identifiers";
import type { PushTarget } from "../identity/installation-object";
import { mapBounded, settleBounded } from "../lib/concurrency";
import { retryLater } from "../queue/retry";
import type { Channel, OutgoingMessage, SendOutcome } from "./channels/channel";
import { channelsOf } from "./channels/registry";
import { recordEmailOutcome, recordOutcome } from "./outcomes";
import type { MessagePieceMessage } from "./send";
import {
  claimDeliveries,
  type DeliveryRow,
  finishPiece,
  type MessageRow,
  markRecorded,
  readDeliveries,
  readMessage,
  type Settled,
  settleDeliveries,
} from "./store";
import { pushTokenKey } from "./subscription";

/** Installations looked at per custom ID: a person's devices, not a crowd. */
const INSTALLATIONS_PER_CUSTOM_ID = 50;
/** Durable Object calls and pushes in flight at once within a piece. */
const IN_FLIGHT = 6;
/**
 * A delivery left `sending` this long ago by an attempt that never wrote its answer (the
 * Worker went away mid-POST) is not sent again: it may have arrived, and a message is sent
 * at most once. It ends as an error whose outcome is unknown.
 */
const ABANDONED_SENDING_MS = 5 * 60 * 1000;

/** One delivery this piece may make: to an installation's push token, or to a profile's email address. */
interface Reachable {
  /** The delivery's key in message_deliveries: the installation ID, or `email:<profile ID>`. */
  key: string;
  address: string;
  channel: Channel;
  /** Records the outcome on the profile (its event, the gone token removed) and marks it recorded. */
  record(outcome: SendOutcome, requestId: string): Promise<void>;
}

/**
 * Whether an address may get this email: SPEC §10, an unsubscribed address is not sent to, but
 * a transactional email ignores `$email_marketing` (a receipt is not marketing). Campaigns pass
 * `marketing: true`.
 */
export function emailAllowed(contact: { email: string | null; marketing: string | null }, marketing: boolean) {
  if (!contact.email) return false;
  return !marketing || contact.marketing !== "unsubscribed";
}

/**
 * The deliveries an identifier makes, through the Durable Objects (not the projection, so a
 * sign-in a moment ago counts): each installation with a push token, opted in, of an app the
 * message may reach, on a channel the project has set up for its provider; and, for a custom
 * ID when the message has an `email` part and the project an email sender, its profile's
 * `$email_address`.
 */
async function resolve(
  env: Env,
  message: MessageRow,
  piece: MessagePieceMessage,
  channels: Map<string, Channel>,
): Promise<{ reachable: Reachable[]; unreachable: number }> {
  const reachableOf = (target: PushTarget | null, customId: string | null): Reachable | null => {
    if (!target?.token || target.optedIn !== true || !target.provider) return null;
    if (customId !== null && target.customId !== customId) return null;
    const appIds = message.payload.appIds;
    if (appIds && (target.appId === null || !appIds.includes(target.appId))) return null;
    const channel = target.provider === "email" ? undefined : channels.get(target.provider);
    if (!channel) return null;
    return {
      key: target.installationId,
      address: target.token,
      channel,
      record: (outcome, requestId) => recordOutcome(env, message, target, outcome, requestId),
    };
  };
  const email = message.payload.message.email ? channels.get("email") : undefined;
  const emailOf = async (customId: string, stub: DurableObjectStub<CustomIdObject>): Promise<Reachable[]> => {
    if (!email) return [];
    const contact = await stub.emailContact();
    if (!contact || !emailAllowed(contact, false)) return [];
    return [
      {
        key: `email:${contact.profileId}`,
        address: contact.email as string,
        channel: email,
        record: (outcome, requestId) =>
          recordEmailOutcome(env, message, { customId, profileId: contact.profileId }, outcome, requestId),
      },
    ];
  };
  const byCustomId = await mapBounded(piece.custom_ids, IN_FLIGHT, async (customId) => {
    const stub = customIdStub(env, piece.project_id, customId);
    const [ids, mail] = await Promise.all([stub.installationIds(INSTALLATIONS_PER_CUSTOM_ID), emailOf(customId, stub)]);
    const targets = await mapBounded(ids, IN_FLIGHT, (id) => installationStub(env, piece.project_id, id).pushTarget());
    return [...targets.map((t) => reachableOf(t, customId)).filter((r) => r !== null), ...mail];
  });
  const byInstallation = await mapBounded(piece.install_ids, IN_FLIGHT, async (id) => {
    const target = await installationStub(env, piece.project_id, id).pushTarget();
    const r = reachableOf(target, null);
    return r ? [r] : [];
  });
  const located = await installationsByToken(env, piece.project_id, piece.tokens);
  const byToken = await mapBounded(piece.tokens, IN_FLIGHT, async (token) => {
    const targets = await mapBounded(located.get(token) ?? [], IN_FLIGHT, (id) =>
      installationStub(env, piece.project_id, id).pushTarget(),
    );
    // The projection only points: the object says whether the token is still this installation's.
    return targets
      .filter((t) => t !== null && pushTokenKey(t.provider, t.token) === token)
      .map((t) => reachableOf(t, null))
      .filter((r) => r !== null);
  });
  const groups = [...byCustomId, ...byInstallation, ...byToken];
  const seen = new Set<string>();
  const reachable = groups.flat().filter((r) => !seen.has(r.key) && seen.add(r.key));
  const unreachable = groups.filter((g) => g.length === 0).length;
  return { reachable, unreachable };
}

/**
 * The installations whose push token a send's `tokens` name (FCM tokens, Web Push endpoint
 * URLs), from the projection's index of token keys, on every shard of the project.
 */
async function installationsByToken(env: Env, projectId: string, tokens: string[]): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  if (tokens.length === 0) return found;
  const projection = await projectionFor(env, projectId);
  const answers = await onEachShard(projection, (s) =>
    s.d1
      .prepare(
        `SELECT installation_id, push_token_key FROM installations
           WHERE project_id = ? AND push_token_key IN (SELECT value FROM json_each(?))`,
      )
      .bind(projectId, JSON.stringify(tokens))
      .all<{ installation_id: string; push_token_key: string }>(),
  );
  for (const row of answers.flatMap((a) => a.results)) {
    const ids = found.get(row.push_token_key) ?? [];
    if (!ids.includes(row.installation_id)) ids.push(row.installation_id);
    found.set(row.push_token_key, ids);
  }
  return found;
}

/** What one installation's delivery came to in this attempt: settled, or to be tried again in `retryAfter` s. */
type Step = { settled: true } | { settled: false; retryAfter: number };

/** What a piece's attempt does about one delivery: the state to write, the outcome to record, a wait. */
interface Decision {
  r: Reachable;
  settle?: Omit<Settled, "key">;
  record?: SendOutcome;
  retryAfter?: number;
}

const stateOf = (outcome: SendOutcome): DeliveryRow["state"] =>
  outcome.status === "sent" ? "sent" : outcome.status === "token_gone" ? "token_deleted" : "error";

/**
 * A delivery an earlier attempt claimed. One left `sending` is waited for, or, once abandoned,
 * ends as an error whose outcome is unknown; one settled but not yet recorded gets its outcome
 * recorded.
 */
function afterEarlierAttempt(r: Reachable, row: DeliveryRow | undefined, now: number): Decision {
  if (!row) return { r };
  if (row.state === "sending") {
    if (now - Date.parse(row.updated_at) < ABANDONED_SENDING_MS) return { r, retryAfter: 60 };
    return {
      r,
      settle: { state: "error", error: "outcome_unknown" },
      record: { status: "error", reason: "outcome_unknown" },
    };
  }
  if (row.state === "retry" || row.recorded !== 0) return { r };
  const outcome: SendOutcome =
    row.state === "sent"
      ? { status: "sent" }
      : row.state === "token_deleted"
        ? { status: "token_gone", reason: row.error ?? "gone" }
        : { status: "error", reason: row.error ?? "error" };
  return { r, record: outcome };
}

/** Sends a claimed delivery (unless the message expired) and decides its state from the answer. */
async function attempt(message: MessageRow, r: Reachable): Promise<Decision> {
  const now = Date.now();
  let outcome: SendOutcome;
  if (new Date(now).toISOString() >= message.expiresAt) {
    outcome = { status: "error", reason: "expired" };
  } else {
    const tokenField = message.payload.tokenField ?? "transactional_token";
    const outgoing: OutgoingMessage = { ...message.payload.message, token: message.token, tokenField };
    // The push service is told how long is left of the message's life, not its whole TTL.
    outgoing.ttl = Math.max(0, Math.floor((Date.parse(message.expiresAt) - now) / 1000));
    try {
      outcome = await r.channel.send(r.address, outgoing);
    } catch (error) {
      outcome = { status: "error", reason: `internal: ${String(error).slice(0, 200)}` };
    }
  }
  if (outcome.status === "error" && outcome.retryAfter !== undefined) {
    if (now + outcome.retryAfter * 1000 < Date.parse(message.expiresAt)) {
      return { r, settle: { state: "retry", error: outcome.reason }, retryAfter: outcome.retryAfter };
    }
  }
  return {
    r,
    settle: { state: stateOf(outcome), error: outcome.status === "sent" ? null : outcome.reason },
    record: outcome,
  };
}

/**
 * Sends a piece's deliveries at most once: they are claimed in D1 (one statement for the
 * piece) before any push service is called, and settled after (one batch). Outcomes are
 * then recorded on the profiles and marked recorded (one statement). A delivery settled by
 * an earlier attempt only gets its outcome recorded, if that was not done yet.
 */
async function deliverAll(env: Env, message: MessageRow, reachable: Reachable[], requestId: string): Promise<Step> {
  const { token } = message;
  const keys = reachable.map((r) => r.key);
  const now = Date.now();
  const claimed = await claimDeliveries(env, token, keys, new Date(now).toISOString());
  const earlier = await readDeliveries(
    env,
    token,
    keys.filter((k) => !claimed.has(k)),
  );
  const decisions = await mapBounded(reachable, IN_FLIGHT, (r) =>
    claimed.has(r.key) ? attempt(message, r) : Promise.resolve(afterEarlierAttempt(r, earlier.get(r.key), now)),
  );
  await settleDeliveries(
    env,
    token,
    decisions.flatMap((d) => (d.settle ? [{ key: d.r.key, ...d.settle }] : [])),
  );
  const toRecord = decisions.filter((d) => d.record !== undefined);
  const recorded = await settleBounded(toRecord, IN_FLIGHT, (d) => d.r.record(d.record as SendOutcome, requestId));
  await markRecorded(
    env,
    token,
    toRecord.filter((_, k) => recorded[k]?.status === "fulfilled").map((d) => d.r.key),
  );
  const failed = recorded.find((s) => s.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const waits = decisions.flatMap((d) => (d.retryAfter === undefined ? [] : [d.retryAfter]));
  return waits.length ? { settled: false, retryAfter: Math.max(...waits) } : { settled: true };
}

/**
 * One piece of a message: resolves its identifiers, sends to each reachable installation, and
 * marks the piece done once every delivery is settled. A piece with deliveries to retry (429,
 * 5xx) comes back after the longest Retry-After; what was settled is not sent again.
 */
export async function handlePiece(env: Env, piece: MessagePieceMessage, requestId: string): Promise<Step> {
  const stored = await readMessage(env, piece.project_id, piece.token);
  if (!stored) return { settled: true };
  // A campaign's piece carries the people of one language: its message is that variant.
  const variant = piece.variant === undefined ? undefined : stored.payload.variants?.[piece.variant];
  const message = variant ? { ...stored, payload: { ...stored.payload, message: variant } } : stored;
  const channels = await channelsOf(env, piece.project_id);
  const { reachable, unreachable } = await resolve(env, message, piece, channels);
  const step = await deliverAll(env, message, reachable, requestId);
  if (!step.settled) return step;
  await finishPiece(env, piece.token, piece.piece, unreachable);
  return { settled: true };
}

/** The message queue's consumer: one piece per message, each retried on its own. */
export async function consumeMessagePieces(batch: MessageBatch<MessagePieceMessage>, env: Env): Promise<void> {
  await Promise.all(
    batch.messages.map(async (m) => {
      try {
        const step = await handlePiece(env, m.body, m.id);
        if (step.settled) m.ack();
        else m.retry({ delaySeconds: Math.min(Math.max(1, step.retryAfter), 12 * 3600) });
      } catch (error) {
        retryLater(m, "message piece failed", error);
      }
    }),
  );
}
