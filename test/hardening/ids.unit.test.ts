import { describe, expect, it } from "vitest";
import { UUID_PATTERN, uuidv7 } from "../../src/lib/ids";
import { keyScope } from "../../src/lib/keys";

describe("uuidv7", () => {
  it("puts the milliseconds in the first 48 bits, then the version and variant", () => {
    const id = uuidv7(0x0123456789ab);
    expect(id).toMatch(UUID_PATTERN);
    expect(id.slice(0, 13)).toBe("01234567-89ab");
    expect(id[14]).toBe("7");
    expect(["8", "9", "a", "b"]).toContain(id[19]);
  });

  it("writes every byte as two lowercase hex digits", () => {
    const ids = Array.from({ length: 200 }, () => uuidv7(1));
    for (const id of ids) expect(id).toMatch(/^00000000-0001-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(200);
  });
});

describe("keyScope", () => {
  const scope = "0190c0de-0000-7000-8000-000000000001";
  const secret = "A".repeat(43);

  it("reads the scope of a key of the prefix asked, and of no other", () => {
    expect(keyScope(`sdk_${scope}_${secret}`, "sdk")).toBe(scope);
    expect(keyScope(`rest_${scope}_${secret}`, "rest")).toBe(scope);
    expect(keyScope(`rest_${scope}_${secret}`, "sdk")).toBeNull();
    expect(keyScope(`sdk_${scope}_${secret}`, "rest")).toBeNull();
    expect(keyScope(`sdk_${scope}_${secret}x`, "sdk")).toBeNull();
  });
});
