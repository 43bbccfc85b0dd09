/* Chunked request bodies, built as they are pulled, for the chunked-body fuzz tests. */
import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { expect } from "vitest";
import { BASE, type Project, restHeaders, sdkHeaders } from "../support/harness";

export const MiB = 1024 * 1024;
export const TEST_TIMEOUT = 60_000;
export const encoder = new TextEncoder();

interface Streamed {
  stream: ReadableStream<Uint8Array>;
  /** Whether the reader got to the end, and whether it cancelled the stream. */
  ended: () => boolean;
  cancelled: () => boolean;
}

/** `total` bytes: `head`, then `fill` repeated, then `tail`, in pieces of the given sizes in turn. */
export function pieces(
  parts: { head: Uint8Array; fill?: Uint8Array; total?: number; tail?: Uint8Array },
  sizes: number[],
): Streamed {
  const fill = parts.fill ?? new Uint8Array(0);
  const tail = parts.tail ?? new Uint8Array(0);
  const total = parts.total ?? parts.head.length + tail.length;
  const fillLength = total - parts.head.length - tail.length;
  let at = 0;
  let turn = 0;
  let ended = false;
  let cancelled = false;
  /** The bytes from `at` to `at + n`, built only as they are pulled: bodies are up to 128 MiB. */
  const slice = (from: number, n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; ) {
      const pos = from + i;
      if (pos < parts.head.length) {
        const part = parts.head.subarray(pos, Math.min(parts.head.length, pos + n - i));
        out.set(part, i);
        i += part.length;
      } else if (pos < parts.head.length + fillLength) {
        const into = (pos - parts.head.length) % fill.length;
        const part = fill.subarray(
          into,
          Math.min(fill.length, into + n - i, into + parts.head.length + fillLength - pos),
        );
        out.set(part, i);
        i += part.length;
      } else {
        const part = tail.subarray(pos - parts.head.length - fillLength, pos - parts.head.length - fillLength + n - i);
        out.set(part, i);
        i += part.length;
      }
    }
    return out;
  };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= total) {
        ended = true;
        controller.close();
        return;
      }
      const n = Math.min(sizes[turn++ % sizes.length] ?? 1, total - at);
      controller.enqueue(slice(at, n));
      at += n;
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, ended: () => ended, cancelled: () => cancelled };
}

export function request(
  p: Project,
  method: string,
  path: string,
  contentType: string,
  body: BodyInit | ReadableStream,
) {
  const sdk = path === "/v1/sdk/batch";
  const headers = { ...(sdk ? sdkHeaders(p) : restHeaders(p)), "Content-Type": contentType };
  // @ts-expect-error workerd's Request takes a stream body with `duplex: "half"`
  const r = new Request(`${BASE}${path}`, { method, headers, body, duplex: "half" });
  if (body instanceof ReadableStream) expect(r.headers.has("content-length")).toBe(false);
  return exports.default.fetch(r);
}

/** Sizes taken in turn; large bodies get a floor, or a run of 1-byte pieces makes millions of reads. */
export const pieceSizes = (max: number, min = 1) => fc.array(fc.integer({ min, max }), { minLength: 1, maxLength: 16 });
