/**
 * Whether a URL's host is loopback, private, link-local, reserved or an internal name: where a
 * customer-chosen URL must not aim our requests (SSRF). IPv6 is parsed into its eight groups, so
 * an IPv4 address carried inside one (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo,
 * ISATAP) is judged by the IPv4 rules whichever way it is written. Written by hand: the URL
 * parser normalises the text but says nothing about what an address is, and the rules are a
 * short table.
 */

/** Loopback, private, link-local and internal names and addresses. */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  if (host.startsWith("[")) {
    const groups = parseIpv6(host.slice(1, -1));
    // Not an address the rules can read: refused rather than guessed at.
    return groups === null || isPrivateIpv6(groups);
  }
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (host.endsWith(".local") || host.endsWith(".internal") || host.endsWith(".home.arpa")) return true;
  if (!host.includes(".")) return true;
  const v4 = parseIpv4(host);
  return v4 !== null && isPrivateIpv4(v4);
}

/** The four octets of a dotted IPv4 address (the URL parser has already normalised other forms). */
export function parseIpv4(host: string): number[] | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  const octets = parts.map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

/**
 * The eight 16-bit groups of an IPv6 address written without brackets (`::` and a dotted IPv4
 * tail allowed, a zone refused), or null when the text is not one.
 */
export function parseIpv6(text: string): number[] | null {
  let host = text;
  const lastColon = host.lastIndexOf(":");
  if (lastColon === -1) return null;
  const tail = host.slice(lastColon + 1);
  if (tail.includes(".")) {
    const v4 = parseIpv4(tail);
    if (!v4) return null;
    const [a = 0, b = 0, c = 0, d = 0] = v4;
    host = `${host.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = host.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (part: string) => (part === "" ? [] : part.split(":").map(group));
  const head = groupsOf(halves[0] ?? "");
  const rest = halves.length === 2 ? groupsOf(halves[1] ?? "") : [];
  if ([...head, ...rest].some((g) => g === null)) return null;
  const known = [...head, ...rest] as number[];
  if (halves.length === 1) return known.length === 8 ? known : null;
  if (known.length > 7) return null;
  return [...(head as number[]), ...new Array<number>(8 - known.length).fill(0), ...(rest as number[])];
}

function group(text: string): number | null {
  return /^[0-9a-f]{1,4}$/i.test(text) ? Number.parseInt(text, 16) : null;
}

/** The IPv4 address in two groups (high, low). */
const v4Of = (high: number, low: number) => [high >> 8, high & 255, low >> 8, low & 255];

export function isPrivateIpv4([a = 0, b = 0, c = 0]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) ||
    (a === 192 && b === 168) ||
    (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) ||
    (a === 203 && b === 0 && c === 113) ||
    a >= 224
  );
}

/**
 * The IPv4 addresses an IPv6 address stands for or carries, each of which must be public, or
 * null when it embeds none.
 */
function embeddedIpv4(g: number[]): number[][] | null {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const low = v4Of(g6, g7);
  // ::/96 (unspecified, loopback ::1 and IPv4-compatible), ::ffff:0:0/96 mapped, ::ffff:0:0:0/96 translated.
  if (zeros(0, 6) || (zeros(0, 5) && g5 === 0xffff) || (zeros(0, 4) && g4 === 0xffff && g5 === 0)) return [low];
  // NAT64 well-known prefix 64:ff9b::/96.
  if (g0 === 0x64 && g1 === 0xff9b && zeros(2, 6)) return [low];
  // 6to4 2002::/16: the IPv4 address follows the prefix.
  if (g0 === 0x2002) return [v4Of(g1, g2)];
  // Teredo 2001:0::/32: the server, then the client with its bits inverted.
  if (g0 === 0x2001 && g1 === 0) return [v4Of(g2, g3), v4Of(~g6 & 0xffff, ~g7 & 0xffff)];
  // ISATAP interface identifiers (::0:5efe:a.b.c.d and ::200:5efe:a.b.c.d, any prefix).
  if ((g4 & 0xfcff) === 0 && g5 === 0x5efe) return [low];
  return null;
}

function isPrivateIpv6(g: number[]): boolean {
  const [g0 = 0, g1 = 0, g2 = 0] = g;
  const embedded = embeddedIpv4(g);
  if (embedded) return embedded.some(isPrivateIpv4);
  // NAT64 local-use 64:ff9b:1::/48 translates into the operator's own networks.
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return true;
  // Documentation 2001:db8::/32.
  if (g0 === 0x2001 && g1 === 0xdb8) return true;
  // Only 2000::/3 is global unicast: unique-local fc00::/7, link-local fe80::/10, multicast
  // ff00::/8, discard 100::/64 and the rest of the space are not public.
  return (g0 & 0xe000) !== 0x2000;
}
