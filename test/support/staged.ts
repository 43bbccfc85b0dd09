import { env } from "cloudflare:workers";
import { vi } from "vitest";
import { listKeys, parseStaged, type StagedEvent, stagedPrefix } from "../../src/exports/staging";

/**
 * Every event staged in R2 for the project (every project when null), redelivered copies
 * dropped, by time then ID.
 */
export async function stagedEvents(projectId: string | null): Promise<StagedEvent[]> {
  const seen = new Map<string, StagedEvent>();
  for await (const { key } of listKeys(env.EXPORTS, projectId === null ? "events/" : stagedPrefix(projectId))) {
    const object = await env.EXPORTS.get(key);
    for (const e of parseStaged((await object?.text()) ?? "")) seen.set(`${e.profile_id}/${e.id}`, e);
  }
  return [...seen.values()].sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
}

/** Waits for the event queue's consumer to stage at least `count` of the project's events. */
export function waitForStaged(projectId: string, count: number): Promise<StagedEvent[]> {
  return vi.waitFor(
    async () => {
      const events = await stagedEvents(projectId);
      if (events.length < count) throw new Error(`${events.length} of ${count} events staged`);
      return events;
    },
    { timeout: 10_000, interval: 50 },
  );
}
