import { DurableObject } from "cloudflare:workers";
import { encryptNotification } from "@block65/webcrypto-web-push";

interface BaselineEnv {
  COUNTERS: DurableObjectNamespace<Counter>;
  LIMITER: RateLimit;
  QUEUE: Queue;
  MASS: Queue<MassChunk>;
  PUSH: Queue<PushPiece>;
  DB: D1Database;
}

/**
 * One piece of a `/push` run: the deliveries it numbers, each `payload` encrypted for `keys` (one
 * browser subscription's, RFC 8291) and POSTed to `to` + `tag-n` with a VAPID JWT (RFC 8292).
 */
type PushPiece = {
  to: string;
  tag: string;
  payload: string;
  keys: { p256dh: string; auth: string };
  numbers: number[];
};

/** One chunk of the `/mass` yardstick: the custom IDs whose objects get one row each. */
type MassChunk = { tag: string; ids: string[] };

/** An object that writes rows: the least a durable per-identifier write can cost. */
export class Counter extends DurableObject<BaselineEnv> {
  constructor(ctx: DurableObjectState, env: BaselineEnv) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL)");
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS batch_rows (k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID");
  }

  /** Writes `rows` rows in one transaction. */
  hit(rows = 1): number {
    this.ctx.storage.transactionSync(() => {
      for (let k = 0; k < rows; k++) this.ctx.storage.sql.exec("INSERT INTO hits (at) VALUES (?)", Date.now());
    });
    return rows;
  }

  /**
   * The rows an SDK batch cannot avoid, in one transaction: the commit's row (its op IDs, for
   * idempotency, and the message it owes the queue, staged so that a crash cannot lose it), its
   * events, and its profile (attributes and activity in one row). `sent` forgets the message,
   * which the row's op IDs outlive: four rows written in all.
   */
  unavoidable(ops: number): string {
    const sql = this.ctx.storage.sql;
    const key = crypto.randomUUID();
    this.ctx.storage.transactionSync(() => {
      sql.exec("INSERT INTO batch_rows (k, v) VALUES (?, ?)", `commit:${key}`, `${ops} ops, message owed`);
      sql.exec("INSERT INTO batch_rows (k, v) VALUES (?, ?)", `events:${key}`, String(ops));
      sql.exec(
        "INSERT INTO batch_rows (k, v) VALUES ('profile', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
        String(Date.now()),
      );
    });
    return key;
  }

  /** The queue took the message: the commit's row keeps its op IDs only. */
  sent(key: string): void {
    this.ctx.storage.sql.exec("UPDATE batch_rows SET v = 'ops' WHERE k = ?", `commit:${key}`);
  }

  /** How many rows this object holds: the `/mass` yardstick's count of chunks done. */
  count(): number {
    return this.ctx.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM hits").one().n;
  }
}

type Batch = { installation_id?: string; ops?: unknown[] };

const counter = (env: BaselineEnv, name: string) => env.COUNTERS.get(env.COUNTERS.idFromName(name));

/** Runs `fn` on every item with at most `limit` in flight, as edge-cdp's Profile API does (16). */
async function bounded<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// edge-cdp's mass update (src/profiles/mass-update.ts, mass-update.consumer.ts): chunks of up
// to 20 identifiers, queued in sends of up to 100 messages, one chunk a consumer invocation
// (the queue's settings in wrangler.toml are edge-cdp's), 4 of a chunk's objects at a time.
const MASS_CHUNK_IDS = 20;
const MASS_SENDS = 100;
const MASS_IN_FLIGHT = 4;

/** Queues the custom IDs of a mass-update body in chunks; answers how many chunks. */
async function queueMass(env: BaselineEnv, request: Request, tag: string): Promise<number> {
  const ops = (await request.json()) as { identifiers?: { custom_id?: string } }[];
  const ids = [...new Set(ops.map((op) => op.identifiers?.custom_id ?? "default"))];
  const chunks: MassChunk[] = [];
  for (let k = 0; k < ids.length; k += MASS_CHUNK_IDS) chunks.push({ tag, ids: ids.slice(k, k + MASS_CHUNK_IDS) });
  for (let k = 0; k < chunks.length; k += MASS_SENDS) {
    await env.MASS.sendBatch(chunks.slice(k, k + MASS_SENDS).map((body) => ({ body, contentType: "json" as const })));
  }
  return chunks.length;
}

// edge-cdp's message fan-out (src/messaging/send.ts, fanout.ts): pieces of 25 targets, queued
// in sends of up to 100 messages; the consumer (the queue's settings in wrangler.toml are
// edge-cdp's) takes a batch's pieces at once and POSTs 6 of a piece's pushes at a time.
const PUSH_PIECE = 25;
const PUSH_SENDS = 100;
const PUSH_IN_FLIGHT = 6;

/** Queues a `/push` run (`{to, tag, count, payload, keys}`) of `count` deliveries in pieces; answers how many pieces. */
async function queuePush(env: BaselineEnv, request: Request): Promise<number> {
  const run = (await request.json()) as Omit<PushPiece, "numbers"> & { count: number };
  const pieces: PushPiece[] = [];
  for (let k = 0; k < run.count; k += PUSH_PIECE) {
    const numbers = Array.from({ length: Math.min(PUSH_PIECE, run.count - k) }, (_, n) => k + n);
    pieces.push({ to: run.to, tag: run.tag, payload: run.payload, keys: run.keys, numbers });
  }
  for (let k = 0; k < pieces.length; k += PUSH_SENDS) {
    await env.PUSH.sendBatch(pieces.slice(k, k + PUSH_SENDS).map((body) => ({ body, contentType: "json" as const })));
  }
  return pieces.length;
}

const base64url = (bytes: ArrayBuffer | Uint8Array) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

/** This isolate's VAPID key pair: a push service knows an application by it, as it knows a project's. */
let vapidKeys: Promise<{ pair: CryptoKeyPair; publicKey: string }> | null = null;
function vapid() {
  vapidKeys ??= (async () => {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    return { pair, publicKey: base64url((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer) };
  })();
  return vapidKeys;
}

/** A VAPID `Authorization` header for `endpoint`, signed for each delivery as edge-cdp signs it. */
async function vapidHeader(endpoint: string): Promise<string> {
  const { pair, publicKey } = await vapid();
  const encode = (value: unknown) => base64url(new TextEncoder().encode(JSON.stringify(value)));
  const claims = {
    aud: new URL(endpoint).origin,
    exp: Math.floor(Date.now() / 1000) + 12 * 3600,
    sub: "mailto:bench@example.com",
  };
  const unsigned = `${encode({ typ: "JWT", alg: "ES256" })}.${encode(claims)}`;
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    pair.privateKey,
    new TextEncoder().encode(unsigned),
  );
  return `vapid t=${unsigned}.${base64url(signature)}, k=${publicKey}`;
}

/** POSTs a piece's deliveries, each encrypted (aes128gcm, the library edge-cdp uses) and signed. */
async function pushPiece(piece: PushPiece): Promise<void> {
  const plaintext = new TextEncoder().encode(piece.payload);
  await bounded(piece.numbers, PUSH_IN_FLIGHT, async (n) => {
    const endpoint = `${piece.to}${piece.tag}-${n}`;
    const body = await encryptNotification({ endpoint, expirationTime: null, keys: piece.keys }, plaintext);
    const res = await fetch(endpoint, {
      method: "POST",
      headers: {
        Authorization: await vapidHeader(endpoint),
        TTL: "86400",
        Urgency: "normal",
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
      },
      body,
    });
    await res.body?.cancel();
  });
}

// edge-cdp's audience writer (src/audiences/members.ts): up to 10,000 IDs (300,000 characters)
// a statement as one JSON array, five statements a D1 batch. Sent one batch after the other;
// edge-cdp overlaps a batch's write with reading the next, which is its own doing.
const IDS_PER_STATEMENT = 10_000;
const CHARS_PER_STATEMENT = 300_000;
const STATEMENTS_PER_BATCH = 5;
const ROWS_PER_DELETE = 50_000;

/** Reads a CSV body line by line and inserts its IDs as audience_members rows under `generation`. */
async function insertAudience(env: BaselineEnv, request: Request, project: string, generation: number) {
  const insert = env.DB.prepare(
    "INSERT INTO audience_members (project_id, audience, generation, member) SELECT ?, 'bench_audience', ?, value FROM json_each(?) WHERE true ON CONFLICT DO NOTHING",
  );
  let statements: D1PreparedStatement[] = [];
  let slice: string[] = [];
  let chars = 0;
  let rows = 0;
  const flushSlice = async (force: boolean) => {
    if (slice.length) statements.push(insert.bind(project, generation, JSON.stringify(slice)));
    rows += slice.length;
    slice = [];
    chars = 0;
    if (statements.length >= STATEMENTS_PER_BATCH || (force && statements.length)) {
      await env.DB.batch(statements);
      statements = [];
    }
  };
  let rest = "";
  const decoder = new TextDecoder();
  for await (const chunk of request.body ?? new ReadableStream()) {
    const lines = (rest + decoder.decode(chunk as Uint8Array, { stream: true })).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      if (!line) continue;
      const id = line.trim();
      slice.push(id);
      chars += id.length + 3;
      if (slice.length >= IDS_PER_STATEMENT || chars >= CHARS_PER_STATEMENT) await flushSlice(false);
    }
  }
  if (rest.trim()) slice.push(rest.trim());
  await flushSlice(true);
  // As a replace does once it switched generations: the older ones go, in bounded pieces.
  for (;;) {
    const r = await env.DB.prepare(
      "DELETE FROM audience_members WHERE rowid IN (SELECT rowid FROM audience_members WHERE project_id = ? AND audience = 'bench_audience' AND generation < ? LIMIT ?)",
    )
      .bind(project, generation, ROWS_PER_DELETE)
      .run();
    if (r.meta.changes < ROWS_PER_DELETE) break;
  }
  return rows;
}

export default {
  /**
   * Each route takes the body of the edge-cdp call it is the yardstick of, so both Workers
   * parse the same bytes:
   * - `/`: one Durable Object SQLite write, to the object named by the batch's installation;
   * - `/limited`: a Rate Limiting call, then that write;
   * - `/unavoidable`: what an SDK batch cannot avoid: a Rate Limiting call, one object
   *   transaction writing its op IDs, its events, its profile and its staged queue message (a
   *   row each), one queue send, then that staged row deleted: the 5 rows edge-cdp writes;
   * - `/first`: a new object (idFromName of a fresh ID) and one row written in it;
   * - `/profiles`: one row written to the object of each custom ID of a Profile API update body;
   * - `/segment?project=`: the SQL edge-cdp's segment compiler makes of `tier eq gold`, count only;
   * - `/audience?project=&generation=`: a CSV of IDs inserted as audience members, as edge-cdp's
   *   replace writes them, then older generations deleted;
   * - `POST /mass?tag=`: a mass-update body, chunked and queued as edge-cdp queues it; its
   *   consumer writes one row into the object of each custom ID. `GET /mass?tag=`: chunks done;
   * - `/hook?to=`: answers, then POSTs the body it was given to `to` (a webhook delivery's body,
   *   as edge-cdp POSTs it after answering the SDK batch), with its `X-Bench-Probe` header;
   * - `POST /push` `{to, tag, count, payload, keys}`: `count` web push deliveries to `to`, queued
   *   in pieces and POSTed by the consumer as edge-cdp's message fan-out does (a transactional
   *   send's or a campaign's), each encrypted for `keys` and signed with a VAPID JWT, less what
   *   is edge-cdp's own: no lookups, claims or outcomes.
   */
  async fetch(request: Request, env: BaselineEnv, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/hook": {
        const body = await request.text();
        const headers = {
          "Content-Type": "application/json",
          "X-Bench-Probe": request.headers.get("X-Bench-Probe") ?? "",
        };
        ctx.waitUntil(
          fetch(url.searchParams.get("to") ?? "", { method: "POST", headers, body }).then((r) => r.arrayBuffer()),
        );
        return Response.json({ ok: true });
      }
      case "/push":
        return Response.json({ pieces: await queuePush(env, request) });
      case "/segment": {
        const project = url.searchParams.get("project") ?? "";
        const row = await env.DB.prepare(
          "SELECT count(*) AS n FROM profiles p WHERE p.project_id = ? AND p.state = 'active' AND p.profile_id IN (SELECT a.profile_id FROM profile_attributes a WHERE a.project_id = ? AND a.name = ? AND a.value_text = ?)",
        )
          .bind(project, project, "tier", "gold")
          .first<{ n: number }>();
        return Response.json({ count: row?.n ?? 0 });
      }
      case "/audience": {
        const project = url.searchParams.get("project") ?? "";
        const generation = Number(url.searchParams.get("generation") ?? 1);
        return Response.json({ size: await insertAudience(env, request, project, generation) });
      }
      case "/mass": {
        const tag = url.searchParams.get("tag") ?? "";
        if (request.method === "POST") return Response.json({ chunks: await queueMass(env, request, tag) });
        return Response.json({ done: await counter(env, `mass-done:${tag}`).count() });
      }
      case "/profiles": {
        const ops = (await request.json()) as { identifiers?: { custom_id?: string } }[];
        await bounded(ops, 16, (op) => counter(env, op.identifiers?.custom_id ?? "default").hit());
        return Response.json({ applied: ops.length });
      }
      case "/first":
        await request.arrayBuffer();
        await counter(env, crypto.randomUUID()).hit();
        return Response.json({ ok: true });
      case "/unavoidable": {
        await env.LIMITER.limit({ key: "bench" });
        const body = (await request.json().catch(() => ({}))) as Batch;
        const ops = body.ops?.length ?? 0;
        const object = counter(env, body.installation_id ?? "default");
        const staged = await object.unavoidable(ops);
        await env.QUEUE.send({ installation_id: body.installation_id, ops });
        // edge-cdp deletes what it sent after answering; so does this.
        ctx.waitUntil(object.sent(staged));
        return Response.json({ ok: true });
      }
      default: {
        if (url.pathname === "/limited") await env.LIMITER.limit({ key: "bench" });
        const body = (await request.json().catch(() => ({}))) as Batch;
        await counter(env, body.installation_id ?? "default").hit();
        return Response.json({ ok: true });
      }
    }
  },

  /**
   * The `/unavoidable` route's consumer acknowledges, as the cheapest consumer can. The `/mass` one
   * writes one row into each chunk's objects, then counts the chunk done. The `/push` one POSTs
   * its batch's pieces at once, as edge-cdp's message consumer does.
   */
  async queue(batch: MessageBatch, env: BaselineEnv): Promise<void> {
    if (batch.queue === "edge-cdp-baseline-push") {
      await Promise.all(
        (batch.messages as readonly Message<PushPiece>[]).map(async (m) => {
          await pushPiece(m.body);
          m.ack();
        }),
      );
      return;
    }
    if (batch.queue === "edge-cdp-baseline-mass") {
      for (const m of batch.messages as readonly Message<MassChunk>[]) {
        await bounded(m.body.ids, MASS_IN_FLIGHT, (id) => counter(env, id).hit());
        await counter(env, `mass-done:${m.body.tag}`).hit();
        m.ack();
      }
      return;
    }
    batch.ackAll();
  },
} satisfies ExportedHandler<BaselineEnv>;
