/**
 * Download links for Batch-compatible exports: `/v1/downloads/{project}/{request}.csv` with an
 * expiry and an HMAC-SHA256 signature in the query string, served by the Worker.
 *
 * Not an R2 presigned URL: presigning needs R2's S3 API credentials (an access key pair with
 * rights over the whole bucket, kept as more secrets) and the account's S3 endpoint, while the
 * Worker reaches R2 through its binding and holds neither. A link the Worker checks itself
 * names exactly one project's file, keeps the bucket private, and goes through the same logs.
 */

/** Batch's download links are valid 20 minutes. */
export const DOWNLOAD_TTL_SECONDS = 20 * 60;

async function signingKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(`edge-cdp export downloads\n${secret}`),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

const message = (projectId: string, requestId: string, expires: number) =>
  new TextEncoder().encode(`${projectId}\n${requestId}\n${expires}`);

const toBase64Url = (bytes: ArrayBuffer) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replaceAll("=", "");

function fromBase64Url(text: string): Uint8Array | null {
  try {
    const raw = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** The path and query of a link to one export, valid until `now + ttl`. */
export async function signDownload(
  secret: string,
  projectId: string,
  requestId: string,
  now: number,
  ttlSeconds = DOWNLOAD_TTL_SECONDS,
): Promise<string> {
  const expires = Math.floor(now / 1000) + ttlSeconds;
  const signature = await crypto.subtle.sign("HMAC", await signingKey(secret), message(projectId, requestId, expires));
  return `/v1/downloads/${projectId}/${requestId}.csv?expires=${expires}&signature=${toBase64Url(signature)}`;
}

/** True when the signature is this Worker's for exactly this file and has not expired. */
export async function verifyDownload(
  secret: string,
  projectId: string,
  requestId: string,
  expires: number,
  signature: string,
  now: number,
): Promise<boolean> {
  if (!Number.isSafeInteger(expires) || expires * 1000 < now) return false;
  const bytes = fromBase64Url(signature);
  if (bytes?.byteLength !== 32) return false;
  // crypto.subtle.verify compares in constant time.
  return crypto.subtle.verify("HMAC", await signingKey(secret), bytes, message(projectId, requestId, expires));
}
