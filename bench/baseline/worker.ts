import { DurableObject } from "cloudflare:workers";

interface BaselineEnv {
  COUNTERS: DurableObjectNamespace<Counter>;
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
  /** Takes the same body as an SDK batch, so both Workers parse the same bytes. */
  async fetch(request: Request, env: BaselineEnv): Promise<Response> {
    const body = (await request.json().catch(() => ({}))) as { installation_id?: string };
    await env.COUNTERS.get(env.COUNTERS.idFromName(body.installation_id ?? "default")).hit();
    return Response.json({ ok: true });
  },
} satisfies ExportedHandler<BaselineEnv>;
