import type { Context } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "./errors";

/** The window of AUTH_FAILURE_LIMITER in wrangler.toml, in seconds. */
const WINDOW_SECONDS = 60;
const MAX_HELD = 10_000;

/**
 * Addresses and targets past their budget of failed attempts, until when (ms). The binding
 * counts across the location; this per-isolate note lets the next attempt be refused before
 * any look-up or hash, which is the work a guesser wants us to spend.
 */
const heldBack = new Map<string, number>();

function clientKey(c: Context<AppEnv>): string | null {
  const address = c.req.header("CF-Connecting-IP");
  return address ? `ip:${address}` : null;
}

/**
 * What a failure is counted against besides the address. Only the admin token is held back as
 * a target: it is one secret chosen by a person. Project and app keys carry 256 random bits, and
 * holding a project back would let anyone lock a tenant out of its own API.
 */
function targetKey(target: "admin" | null): string | null {
  return target === "admin" ? "target:admin" : null;
}

function isHeld(key: string | null, now: number): boolean {
  if (!key) return false;
  const until = heldBack.get(key);
  if (until === undefined) return false;
  if (until > now) return true;
  heldBack.delete(key);
  return false;
}

function hold(key: string, now: number): void {
  heldBack.delete(key);
  if (heldBack.size >= MAX_HELD) heldBack.delete(heldBack.keys().next().value as string);
  heldBack.set(key, now + WINDOW_SECONDS * 1000);
}

const tooMany = () =>
  new ApiError("RATE_LIMITED", "Too many failed attempts; retry after the delay in Retry-After.", {
    headers: { "Retry-After": String(WINDOW_SECONDS) },
  });

/**
 * Refuses, before a look-up or the admin token's check, an address (and with `target` "admin"
 * the admin token) that spent its budget of failures.
 */
export function refuseHeldBack(c: Context<AppEnv>, target: "admin" | null): void {
  const now = Date.now();
  if (isHeld(clientKey(c), now) || isHeld(targetKey(target), now)) throw tooMany();
}

/**
 * Counts a failed attempt against its address and, with `target` "admin" (a guess at the admin
 * token, on whichever route), the admin token; past a budget, answers 429 instead of 401.
 */
export async function countFailure(c: Context<AppEnv>, target: "admin" | null): Promise<void> {
  const now = Date.now();
  let over = false;
  for (const key of [clientKey(c), targetKey(target)]) {
    if (!key) continue;
    const { success } = await c.env.AUTH_FAILURE_LIMITER.limit({ key });
    if (!success) {
      hold(key, now);
      over = true;
    }
  }
  if (over) throw tooMany();
}
