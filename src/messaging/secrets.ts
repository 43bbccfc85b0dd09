/**
 * Channel credentials at rest (SPEC §10): AES-256-GCM under a key derived (HKDF-SHA-256) from the
 * Worker secret CHANNEL_SECRET_KEY, with the project and channel as associated data, so a
 * ciphertext copied to another project's row does not decrypt. Stored as `v1.<iv>.<ciphertext>`
 * in base64url.
 */

const encoder = new TextEncoder();
/**
 * Derived keys by secret, once derived: the key itself, never the promise of it, since a request
 * awaiting a promise another request made resumes on that one's behalf (src/lib/shared-flight.ts).
 * Requests that miss at once each derive it: a few microseconds of CPU, no I/O.
 */
const keys = new Map<string, CryptoKey>();

async function secretKey(env: Env): Promise<CryptoKey> {
  const secret = env.CHANNEL_SECRET_KEY;
  if (!secret) throw new Error("CHANNEL_SECRET_KEY is not set: channel credentials cannot be stored or read.");
  const known = keys.get(secret);
  if (known) return known;
  const material = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
  const key = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode("edge-cdp channels v1") },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
  keys.set(secret, key);
  return key;
}

export function toBase64Url(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function fromBase64Url(value: string): Uint8Array {
  const text = atob(value.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Encrypts a channel's credentials for one project. */
export async function sealSecret(env: Env, projectId: string, channel: string, value: unknown): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(`${projectId}:${channel}`) },
    await secretKey(env),
    encoder.encode(JSON.stringify(value)),
  );
  return `v1.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
}

/** Decrypts what `sealSecret` stored for the same project and channel. */
export async function openSecret<T>(env: Env, projectId: string, channel: string, sealed: string): Promise<T> {
  const [version, iv, body] = sealed.split(".");
  if (version !== "v1" || !iv || !body) throw new Error("unknown channel secret format");
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromBase64Url(iv), additionalData: encoder.encode(`${projectId}:${channel}`) },
    await secretKey(env),
    fromBase64Url(body),
  );
  return JSON.parse(new TextDecoder().decode(plain)) as T;
}
