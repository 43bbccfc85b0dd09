import { DurableObject } from "cloudflare:workers";

interface BaselineEnv {
  COUNTERS: DurableObjectNamespace<Counter>;
  LIMITER: RateLimit;
}

/** One SQLite row written per call: the least a durable per-identifier write can cost. */
export class Counter extends DurableObject<BaselineEnv> {
  constructor(ctx: DurableObjectState, env: BaselineEnv) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL)");
  }

  hit(): number {
    this.ctx.storage.sql.exec("INSERT INTO hits (at) VALUES (?)", Date.now());
    return 1;
  }
}

export default {
  /**
   * Takes the same body as an SDK batch, so both Workers parse the same bytes. `/limited` first
   * asks a Rate Limiting binding, as every edge-cdp call does: the benchmark's measure of what
   * that binding costs where it runs (locally, a Durable Object write of its own).
   */
  async fetch(request: Request, env: BaselineEnv): Promise<Response> {
    if (new URL(request.url).pathname === "/limited") await env.LIMITER.limit({ key: "bench" });
    const body = (await request.json().catch(() => ({}))) as { installation_id?: string };
    await env.COUNTERS.get(env.COUNTERS.idFromName(body.installation_id ?? "default")).hit();
    return Response.json({ ok: true });
  },
} satisfies ExportedHandler<BaselineEnv>;
