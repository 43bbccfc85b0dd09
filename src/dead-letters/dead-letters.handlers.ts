import type { RouteHandler } from "@hono/zod-openapi";
import { and, desc, eq, max, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { deadLetters } from "../db/schema";
import type { AppEnv } from "../env";
import { callerOf } from "../lib/auth";
import { DEAD_LETTER_QUEUES } from "../queue/consumer";
import type * as routes from "./dead-letters.routes";

type DeadLetterQueue = (typeof DEAD_LETTER_QUEUES)[number];

export const listDeadLetters: RouteHandler<typeof routes.listDeadLetters, AppEnv> = async (c) => {
  callerOf(c, "admin");
  const query = c.req.valid("query");
  const db = drizzle(c.env.DB);
  const where = and(
    query.queue ? eq(deadLetters.queue, query.queue) : undefined,
    query.outcome ? eq(deadLetters.outcome, query.outcome) : undefined,
  );
  const [counts, recent] = await db.batch([
    db
      .select({
        queue: deadLetters.queue,
        replayed: sql<number>`sum(${deadLetters.outcome} = 'replayed')`,
        recorded: sql<number>`sum(${deadLetters.outcome} = 'recorded')`,
        lastAt: max(deadLetters.createdAt),
      })
      .from(deadLetters)
      .groupBy(deadLetters.queue),
    db
      .select({
        queue: deadLetters.queue,
        messageId: deadLetters.messageId,
        projectId: deadLetters.projectId,
        outcome: deadLetters.outcome,
        error: deadLetters.error,
        createdAt: deadLetters.createdAt,
      })
      .from(deadLetters)
      .where(where)
      .orderBy(desc(deadLetters.createdAt))
      .limit(query.limit),
  ]);
  // Every queue is listed, a quiet one with zeros, so a dashboard sees which queues exist.
  const queues = DEAD_LETTER_QUEUES.filter((q) => !query.queue || q === query.queue).map((queue) => {
    const row = counts.find((r) => r.queue === queue);
    return {
      queue,
      replayed: Number(row?.replayed ?? 0),
      recorded: Number(row?.recorded ?? 0),
      last_at: row?.lastAt ?? null,
    };
  });
  return c.json(
    {
      queues,
      recent: recent.map((r) => ({
        queue: r.queue as DeadLetterQueue,
        message_id: r.messageId,
        project_id: r.projectId,
        outcome: r.outcome,
        error: r.error,
        created_at: r.createdAt,
      })),
    },
    200,
  );
};
