import { describe, expect, it } from "vitest";
import { limitBytes } from "../../src/lib/stream-limit";

function streamOf(...pieces: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(encoder.encode(piece));
      controller.close();
    },
  });
}

describe("limitBytes", () => {
  it("passes a stream at the limit through whole", async () => {
    const text = await new Response(limitBytes(streamOf("abc", "def"), 6, () => new Error("over"))).text();
    expect(text).toBe("abcdef");
  });

  it("errors the stream with the caller's error once the limit is passed", async () => {
    const read = new Response(limitBytes(streamOf("abc", "defg"), 6, () => new Error("over"))).text();
    await expect(read).rejects.toThrow("over");
  });
});
