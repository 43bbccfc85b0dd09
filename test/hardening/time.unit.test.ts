import { describe, expect, it } from "vitest";
import { parseTimestamp } from "../../src/lib/time";

describe("parseTimestamp", () => {
  it.each([
    "2026-02-30T00:00:00Z",
    "2026-11-31T10:00:00Z",
    "2026-01-01T24:00:00Z",
    "2026-01-01T10:60:00Z",
    "2026-13-01",
    "nope",
  ])("refuses %j instead of rolling it over", (value) => expect(parseTimestamp(value)).toBeNull());

  it.each([
    ["2028-02-29T12:00:00Z", Date.UTC(2028, 1, 29, 12)],
    ["2026-11-22T10:00:00.123Z", Date.UTC(2026, 10, 22, 10, 0, 0, 123)],
    ["2026-11-22T10:00:00+02:00", Date.UTC(2026, 10, 22, 8)],
    ["2026-11-22", Date.UTC(2026, 10, 22)],
  ])("reads %j", (value, expected) => expect(parseTimestamp(value)).toBe(expected));
});
