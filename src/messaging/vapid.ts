import { readChannel, writeChannel } from "./channel-store";
import { toBase64Url } from "./secrets";

/** A project's VAPID identity (RFC 8292): the key pair and the JWT's `sub` contact. */
export interface Vapid {
  /** The uncompressed P-256 point, base64url (65 bytes): what `PushManager.subscribe` takes. */
  publicKey: string;
  /** The private scalar `d`, base64url. */
  privateKey: string;
  /** `mailto:` or `https:`: some push services refuse a JWT without one. */
  subject: string;
}

interface VapidSecret {
  privateKey: string;
  subject: string;
}

/** The contact a project gets until it sets its own: a mailbox that names the project. */
export const defaultSubject = (projectId: string) => `mailto:push+${projectId}@edge-cdp.invalid`;

/** A fresh P-256 key pair for VAPID, in the forms the Web Push library and browsers take. */
export async function generateVapidKeys(): Promise<{ publicKey: string; privateKey: string }> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const raw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const jwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  if (!jwk.d) throw new Error("the generated key has no private scalar");
  return { publicKey: toBase64Url(raw), privateKey: jwk.d };
}

/** Makes the project's VAPID key pair unless it has one (at creation, or lazily for older projects). */
export async function createVapid(env: Env, projectId: string): Promise<void> {
  const keys = await generateVapidKeys();
  const secret: VapidSecret = { privateKey: keys.privateKey, subject: defaultSubject(projectId) };
  await writeChannel(env, projectId, "webpush", { public: keys.publicKey, secret }, { onlyIfMissing: true });
}

/** The project's VAPID identity, made on first use for projects created before Web Push. */
export async function vapidOf(env: Env, projectId: string): Promise<Vapid> {
  let stored = await readChannel<VapidSecret>(env, projectId, "webpush");
  if (!stored) {
    await createVapid(env, projectId);
    stored = await readChannel<VapidSecret>(env, projectId, "webpush");
  }
  if (!stored?.public) throw new Error(`project ${projectId} has no VAPID key`);
  return { publicKey: stored.public, privateKey: stored.secret.privateKey, subject: stored.secret.subject };
}

/** Sets the VAPID contact, keeping the key pair (subscriptions are bound to its public key). */
export async function setVapidSubject(env: Env, projectId: string, subject: string): Promise<void> {
  const current = await vapidOf(env, projectId);
  const secret: VapidSecret = { privateKey: current.privateKey, subject };
  await writeChannel(env, projectId, "webpush", { public: current.publicKey, secret });
}
