import { describe, expect, it } from "vitest";
import { customIdProblem as sdkCustomIdProblem } from "../../sdk/web/src/custom-id";
import { CustomIdSchema, PLACEHOLDER_CUSTOM_IDS } from "../../src/identity/identifiers";

// The rules live in one module, the SDK's, which the server imports: what is checked here is that
// the server's validation (CustomIdSchema, on every route taking a custom ID) applies them.
describe("the web SDK refuses the custom IDs the server refuses", () => {
  it("gives the server's verdict on placeholders and their look-alikes, blanks, lengths, control and invisible characters", () => {
    const samples = [
      ...PLACEHOLDER_CUSTOM_IDS,
      "Anonymous",
      " NULL ",
      "[object Object]",
      "",
      "   ",
      "\t",
      "a".repeat(512),
      "a".repeat(513),
      "user\u0000x",
      "user\u009fx",
      "user\ud800x",
      "x\udc00",
      "emoji \ud83d\ude00",
      "user-42",
      "ada@example.com",
      "0x",
      "\uff55\uff53\uff45\uff52",
      "null\u200b",
      "user\u202e42",
      "\ufeffuser",
      " user-42",
      "user-42\u00a0",
      "e\u0301lodie",
      "\u00e9".repeat(512),
      "e\u0301".repeat(300),
      "\u22121",
      "\u1d1cs\u1d07\u0280",
      "nul\u0131",
      "\u039dULL",
      "n0ne",
      "\u1d1cs\u1d07\u0280-42",
    ];
    for (const sample of samples) {
      const server = CustomIdSchema.safeParse(sample);
      expect(server.success, JSON.stringify(sample)).toBe(sdkCustomIdProblem(sample) === null);
      if (!server.success) expect(server.error.issues[0]?.message).toBe(sdkCustomIdProblem(sample));
    }
  });
});
