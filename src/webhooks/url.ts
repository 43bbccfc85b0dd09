import { isPrivateHost } from "./private-host";

/**
 * Which URLs we POST to: webhooks and privacy callbacks alike. Only `https://` to a public host,
 * without credentials, unless `ALLOW_HTTP_WEBHOOKS` is on (local development, where receivers
 * run on localhost): the URL is chosen by a customer, so a private or loopback host would let
 * them aim our signed requests inside a network (SSRF). Hosts are judged as written (see
 * docs/decisions.md for names that resolve to private addresses).
 */

export { isPrivateHost } from "./private-host";

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
    return "The URL must use https://.";
  }
  if (url.username || url.password) return "The URL may not carry credentials; put a token in the path or query.";
  if (!allowHttp && isPrivateHost(url.hostname)) return "The URL must point to a public host.";
  return null;
}

/**
 * The one reading of `ALLOW_HTTP_WEBHOOKS`, for every outbound URL: on when set to anything but
 * empty, `0`, `false` or `off` (any case, spaces around ignored).
 */
export function allowsHttp(env: { ALLOW_HTTP_WEBHOOKS?: string }): boolean {
  const value = env.ALLOW_HTTP_WEBHOOKS?.trim().toLowerCase();
  return value !== undefined && value !== "" && value !== "0" && value !== "false" && value !== "off";
}
