import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE, createProject, errorOf, restHeaders } from "../support/harness";

const MiB = 1024 * 1024;

/** A body with no Content-Length: `chunks` pieces of `piece`, between `head` and `tail`. */
function chunked(head: string, piece: string, chunks: number, tail: string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const bytes = encoder.encode(piece);
  let sent = -1;
  return new ReadableStream({
    pull(controller) {
      if (sent === -1) controller.enqueue(encoder.encode(head));
      else if (sent < chunks) controller.enqueue(bytes);
      else {
        controller.enqueue(encoder.encode(tail));
        controller.close();
      }
      sent++;
    },
  });
}

async function put(p: Awaited<ReturnType<typeof createProject>>, contentType: string, body: ReadableStream) {
  const request = new Request(`${BASE}/v1/audiences/big`, {
    method: "PUT",
    headers: { ...restHeaders(p), "Content-Type": contentType },
    body,
    // @ts-expect-error workerd's Request takes the stream as it is
    duplex: "half",
  });
  expect(request.headers.has("content-length")).toBe(false);
  return exports.default.fetch(request);
}

async function createAudience(p: Awaited<ReturnType<typeof createProject>>) {
  const res = await exports.default.fetch(
    new Request(`${BASE}/v1/audiences`, {
      method: "POST",
      headers: { ...restHeaders(p), "Content-Type": "application/json" },
      body: JSON.stringify({ name: "big", type: "custom_ids" }),
    }),
  );
  expect(res.status).toBe(201);
}

describe("bodies are bounded as they stream, whatever their framing", () => {
  it("a chunked JSON replace over 16 MiB is refused with 413", async () => {
    const p = await createProject();
    await createAudience(p);
    const res = await put(p, "application/json", chunked('{"ids": ["a"', " ".repeat(MiB), 17, "]}"));
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("a chunked JSON body on another route over its limit is refused with 413", async () => {
    const p = await createProject();
    const request = new Request(`${BASE}/v1/segments/query`, {
      method: "POST",
      headers: { ...restHeaders(p), "Content-Type": "application/json" },
      body: chunked('{"where": {"has_custom_id": true}', " ".repeat(MiB), 2, "}"),
      // @ts-expect-error workerd's Request takes the stream as it is
      duplex: "half",
    });
    const res = await exports.default.fetch(request);
    expect(res.status).toBe(413);
  });

  it("a CSV of blank lines ends at the line cap instead of keeping the upload open", async () => {
    const p = await createProject();
    await createAudience(p);
    // 1.1 million blank lines: past the cap of 1,000,000 IDs plus the blank lines allowed.
    const res = await put(p, "text/csv", chunked("", "\n".repeat(110_000), 10, "\n"));
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.issues?.[0]?.message).toMatch(/lines/);
  });

  it("a CSV that announces more than 128 MiB is refused before it is read", async () => {
    const p = await createProject();
    await createAudience(p);
    const res = await exports.default.fetch(
      new Request(`${BASE}/v1/audiences/big`, {
        method: "PUT",
        headers: { ...restHeaders(p), "Content-Type": "text/csv", "Content-Length": String(129 * MiB) },
        body: "a\n",
      }),
    );
    expect(res.status).toBe(413);
  });
});
