const encoder = new TextEncoder();

/** A random secret of 32 bytes, base64url, behind a prefix that says what kind of key it is. */
export function generateKey(prefix: string, scope: string): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  const secret = btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
  return `${prefix}_${scope}_${secret}`;
}

/**
 * Keys carry 256 random bits, so a single SHA-256 is enough to store them:
 * there is nothing to brute-force that a slow hash would protect.
 */
export async function hashKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(key));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compares a presented secret with a stored hash in constant time. */
export async function keyMatches(presented: string, storedHash: string): Promise<boolean> {
  const presentedHash = await hashKey(presented);
  const a = encoder.encode(presentedHash);
  const b = encoder.encode(storedHash);
  if (a.byteLength !== b.byteLength) return false;
  return crypto.subtle.timingSafeEqual(a, b);
}

/** Constant-time equality of two secrets of any length (compares their digests). */
export async function secretsEqual(presented: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(presented)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** The pattern of each prefix's keys, compiled once: every authenticated call reads one. */
const keyPatterns = new Map<string, RegExp>();

/** Reads the scope (project or app ID) a key was minted for, without trusting it. */
export function keyScope(key: string, prefix: string): string | null {
  let pattern = keyPatterns.get(prefix);
  if (!pattern) {
    pattern = new RegExp(`^${prefix}_([0-9a-f-]{36})_[A-Za-z0-9_-]{43}$`);
    keyPatterns.set(prefix, pattern);
  }
  return pattern.exec(key)?.[1] ?? null;
}
