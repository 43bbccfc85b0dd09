import { describe, expect, it } from "vitest";
import { decideAttach, planIdentify, planLogout, settleCandidate } from "../../src/identity/transitions";

const anonymous = { profileId: "p-anon", customId: null };
const signedIn = { profileId: "p-alice", customId: "alice" };

describe("transition functions", () => {
  it("plans identify from an anonymous installation as a claim offering its own profile", () => {
    expect(planIdentify(anonymous, "alice", "p-fresh")).toEqual({
      kind: "claim",
      detachFrom: null,
      candidateProfileId: "p-anon",
      fresh: false,
    });
  });

  it("plans identify with the held custom ID as a no-op", () => {
    expect(planIdentify(signedIn, "alice", "p-fresh")).toEqual({ kind: "noop" });
  });

  it("plans identify as another user as leaving the first, with a fresh stand-in profile", () => {
    expect(planIdentify(signedIn, "bob", "p-fresh")).toEqual({
      kind: "claim",
      detachFrom: "alice",
      candidateProfileId: "p-fresh",
      fresh: true,
    });
  });

  it("plans logout as leaving for a new anonymous profile, and as a no-op when anonymous", () => {
    expect(planLogout(signedIn, "p-new")).toEqual({ kind: "leave", customId: "alice", newProfileId: "p-new" });
    expect(planLogout(anonymous, "p-new")).toEqual({ kind: "noop" });
  });

  it("decides sign-in for an unheld custom ID and login for a held one", () => {
    expect(decideAttach(null)).toBe("sign_in");
    expect(decideAttach("p-q")).toBe("login");
  });

  it("moves the anonymous profile on sign-in, orphans it on login, and drops an unused stand-in", () => {
    expect(settleCandidate("sign_in", false)).toBe("moved");
    expect(settleCandidate("login", false)).toBe("orphaned");
    expect(settleCandidate("login", true)).toBe("none");
    expect(settleCandidate("sign_in", true)).toBe("none");
  });
});
