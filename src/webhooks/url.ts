/**
 * Which URLs a webhook may POST to. Only `https://` to a public host, unless the variable
 * `ALLOW_HTTP_WEBHOOKS` is set (local development, where receivers run on localhost): the URL is
 * chosen by a customer, so a private or loopback host would let them aim our requests inside a
 * network (SSRF). Hostnames are checked as written; Workers cannot reach private networks anyway.
 */

export const MAX_URL_LENGTH = 2048;

/** Why the URL is refused, or null when it is fine. */
export function urlProblem(raw: string, allowHttp: boolean): string | null {
  if (raw.length > MAX_URL_LENGTH) return `The URL is longer than ${MAX_URL_LENGTH} characters.`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "The URL is not a valid absolute URL.";
  }
  if (url.protocol !== "https:" && !(allowHttp && url.protocol === "http:")) {
    return "Webhook URLs must use https://.";
  }
  if (url.username || url.password) return "Webhook URLs may not carry credentials; put a token in the path or query.";
  if (!allowHttp && isPrivateHost(url.hostname)) return "Webhook URLs must point to a public host.";
  return null;
}

export function allowsHttp(env: Env): boolean {
  const value = env.ALLOW_HTTP_WEBHOOKS;
  return value !== undefined && value !== "" && value !== "0" && value !== "false";
}

/** Loopback, private, link-local and internal names and addresses. */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (host.endsWith(".local") || host.endsWith(".internal") || host.endsWith(".home.arpa")) return true;
  if (!host.includes(".") && !host.startsWith("[")) return true;
  if (host.startsWith("[")) return isPrivateIpv6(host.slice(1, -1));
  const v4 = ipv4(host);
  return v4 !== null && isPrivateIpv4(v4);
}

/** The four octets of a dotted IPv4 address (the URL parser has already normalised other forms). */
function ipv4(host: string): number[] | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  const octets = parts.map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

function isPrivateIpv4([a = 0, b = 0]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    a >= 224
  );
}

function isPrivateIpv6(host: string): boolean {
  if (host === "::" || host === "::1") return true;
  const mapped = /^::ffff:(.+)$/.exec(host);
  if (mapped?.[1]) {
    const v4 = ipv4(mapped[1]);
    if (v4) return isPrivateIpv4(v4);
    // The URL parser writes a mapped address as two hex groups.
    const groups = mapped[1].split(":").map((g) => Number.parseInt(g, 16));
    if (groups.length === 2) {
      const [hi = 0, lo = 0] = groups;
      return isPrivateIpv4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
    }
    return true;
  }
  const first = Number.parseInt(host.split(":")[0] || "0", 16);
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00;
}
