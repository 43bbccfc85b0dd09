/**
 * A webhook receiver for the tests, run by miniflare as the Worker's outbound service (see
 * vitest.config.ts): every `fetch` the Worker makes to another host lands here, in Node.
 *
 * - `POST https://receiver.test/ok/{key}` records the call and answers 204;
 * - `POST https://receiver.test/fail/{n}/{key}` answers 500 to the first n calls, then 204;
 * - `GET https://receiver.test/received/{key}` lists what was recorded under the key.
 * - Web Push deliveries go to the push service of ./push-service.mjs.
 */
import { pushService } from "./push-service.mjs";

interface Received {
  headers: Record<string, string>;
  body: string;
  status: number;
}

const received = new Map<string, Received[]>();

export async function receiver(request: Request): Promise<Response> {
  const pushed = await pushService(request);
  if (pushed) return pushed;
  const url = new URL(request.url);
  if (url.hostname !== "receiver.test") return new Response("no such host in tests", { status: 502 });
  const parts = url.pathname.split("/").filter(Boolean);
  if (request.method === "GET" && parts[0] === "received" && parts[1]) {
    return Response.json(received.get(parts[1]) ?? []);
  }
  const key = parts.at(-1) ?? "";
  const calls = received.get(key) ?? [];
  const failures = parts[0] === "fail" ? Number(parts[1]) : 0;
  const status = calls.length < failures ? 500 : 204;
  calls.push({ headers: Object.fromEntries(request.headers), body: await request.text(), status });
  received.set(key, calls);
  return new Response(null, { status });
}
