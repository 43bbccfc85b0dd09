import { allowsHttp } from "../../webhooks/url";
import { vapidOf } from "../vapid";
import type { Channel } from "./channel";
import { WebPushChannel } from "./webpush";

/**
 * The channels a project can send through, by the installation's push provider: `webpush`
 * always (its VAPID keys are made on first use), the others once set up.
 */
export async function channelsOf(env: Env, projectId: string): Promise<Map<string, Channel>> {
  const channels = new Map<string, Channel>();
  channels.set("webpush", new WebPushChannel(await vapidOf(env, projectId), allowsHttp(env)));
  return channels;
}
