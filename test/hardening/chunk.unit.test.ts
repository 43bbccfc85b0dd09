import { describe, expect, it } from "vitest";
import { chunkBy, jsonBytes, utf8Bytes } from "../../src/lib/chunk";

const encoded = (text: string) => new TextEncoder().encode(text).byteLength;

describe("utf8Bytes", () => {
  it.each([
    "",
    "plain ascii, with \u0000 and \u007f",
    "café",
    "ü€",
    "日本語のテキスト",
    "emoji 😀 and flags 🇫🇷",
    "\u07ff\u0800\uffff",
    "\ud83d\ude00\ud83d",
    "lone \ud800 high, lone \udc00 low, \udc00\ud800 reversed",
    `${"a".repeat(10_000)}é`,
  ])("counts what TextEncoder writes for %j", (text) => {
    expect(utf8Bytes(text)).toBe(encoded(text));
  });

  it("sizes JSON as its encoded text", () => {
    const value = { name: "événement", tags: ["😀", "x"], n: 1.5, nested: [{ k: "\u2028" }] };
    expect(jsonBytes(value)).toBe(encoded(JSON.stringify(value)));
  });

  it("splits by encoded size, not by string length", () => {
    // 3 characters of 4 bytes each: 12 bytes plus the quotes.
    const items = ["😀😀😀", "😀😀😀", "😀😀😀"];
    expect(chunkBy(items, 10, 28)).toEqual([["😀😀😀", "😀😀😀"], ["😀😀😀"]]);
  });
});
