import { allowsHttp } from "../../webhooks/url";
import { readChannel } from "../channel-store";
import { vapidOf } from "../vapid";
import type { Channel } from "./channel";
import { EmailChannel, type EmailSender } from "./email";
import { FcmChannel, type ServiceAccount } from "./fcm";
import { WebPushChannel } from "./webpush";

/**
 * The channels a project can send through, by the installation's push provider (and `email`):
 * `webpush` always (its VAPID keys are made on first use), the others once set up.
 */
export async function channelsOf(env: Env, projectId: string): Promise<Map<string, Channel>> {
  const channels = new Map<string, Channel>();
  channels.set("webpush", new WebPushChannel(await vapidOf(env, projectId), allowsHttp(env)));
  const fcm = await readChannel<ServiceAccount>(env, projectId, "fcm");
  if (fcm) channels.set("fcm", new FcmChannel(fcm.secret, env.FCM_API_BASE || "https://fcm.googleapis.com"));
  const email = await readChannel<EmailSender>(env, projectId, "email");
  if (email) channels.set("email", new EmailChannel(env.EMAIL, email.secret));
  return channels;
}
