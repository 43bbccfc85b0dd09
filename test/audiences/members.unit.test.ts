import { describe, expect, it } from "vitest";
import { checkMember } from "../../src/audiences/members";
import { customIdProblem, normalizeCustomId } from "../../src/identity/identifiers";

/** What the custom ID rules alone answer for `value`. */
function byTheRules(value: string) {
  const problem = customIdProblem(value);
  return problem ? { problem } : { member: normalizeCustomId(value) };
}

describe("checkMember for custom IDs: the plain ASCII shortcut answers as the full rules do", () => {
  it.each([
    "user-42",
    "A_b.c@d+e~!#$%&'()*,/:;<=>?[]^`{|}",
    "x".repeat(512),
    "x".repeat(513),
    "NULL",
    "Guest",
    "0",
    "-1",
    "[object Object]",
    "user 42",
    " user-42",
    "user-42\t",
    "user\u0000",
    "user\u007f",
    "user\u200b42",
    "ｕｓｅｒ",
    "cafe\u0301",
    "café",
    "\ud800",
    "",
  ])("%j", (value) => {
    expect(checkMember("custom_ids", value)).toEqual(byTheRules(value));
  });
});
