import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { channels } from "../db/schema";
import { openSecret, sealSecret } from "./secrets";

export type ChannelName = "webpush" | "fcm" | "email";

/** A channel's settings as stored: what may be shown, and the decrypted credentials. */
export interface StoredChannel<S> {
  public: string | null;
  secret: S;
  updatedAt: string;
}

/** Reads and decrypts a project's channel; null when the project has not set it up. */
export async function readChannel<S>(
  env: Env,
  projectId: string,
  channel: ChannelName,
): Promise<StoredChannel<S> | null> {
  const row = await drizzle(env.DB)
    .select()
    .from(channels)
    .where(and(eq(channels.projectId, projectId), eq(channels.channel, channel)))
    .get();
  if (!row) return null;
  return {
    public: row.public,
    secret: await openSecret<S>(env, projectId, channel, row.secret),
    updatedAt: row.updatedAt,
  };
}

/**
 * Stores a channel's settings, encrypted. `onlyIfMissing` keeps a row already there (two
 * requests making a project's VAPID keys at once agree on the first).
 */
export async function writeChannel(
  env: Env,
  projectId: string,
  channel: ChannelName,
  value: { public: string | null; secret: unknown },
  { onlyIfMissing = false } = {},
): Promise<void> {
  const row = {
    projectId,
    channel,
    public: value.public,
    secret: await sealSecret(env, projectId, channel, value.secret),
    updatedAt: new Date().toISOString(),
  };
  const insert = drizzle(env.DB).insert(channels).values(row);
  if (onlyIfMissing) await insert.onConflictDoNothing();
  else
    await insert.onConflictDoUpdate({
      target: [channels.projectId, channels.channel],
      set: { public: row.public, secret: row.secret, updatedAt: row.updatedAt },
    });
}
