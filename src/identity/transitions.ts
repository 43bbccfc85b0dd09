/**
 * The identity transitions of SPEC §2 as pure functions: (state, command) → decision.
 * The Durable Objects load the state, call these, then store and perform what they return.
 */

/** Which profile an installation is on, and the custom ID that profile holds (null: anonymous). */
export interface Binding {
  profileId: string;
  customId: string | null;
}

export type IdentifyPlan =
  | { kind: "noop" }
  | {
      kind: "claim";
      /** The custom ID the installation leaves first (switching user), if any. */
      detachFrom: string | null;
      /** The anonymous profile offered to the custom ID: the current one, or a fresh stand-in. */
      candidateProfileId: string;
      fresh: boolean;
    };

/** identify(I, C): sign-in or login, after leaving another user if I holds one. */
export function planIdentify(binding: Binding, customId: string, freshProfileId: string): IdentifyPlan {
  if (binding.customId === customId) return { kind: "noop" };
  if (binding.customId === null) {
    return { kind: "claim", detachFrom: null, candidateProfileId: binding.profileId, fresh: false };
  }
  return { kind: "claim", detachFrom: binding.customId, candidateProfileId: freshProfileId, fresh: true };
}

export type LogoutPlan = { kind: "noop" } | { kind: "leave"; customId: string; newProfileId: string };

/** logout(I): leave the custom ID's profile for a fresh anonymous one; anonymous stays as is. */
export function planLogout(binding: Binding, newProfileId: string): LogoutPlan {
  if (binding.customId === null) return { kind: "noop" };
  return { kind: "leave", customId: binding.customId, newProfileId };
}

export type AttachOutcome = "sign_in" | "login";

/**
 * What a custom ID does with an installation that claims it: adopt the offered anonymous
 * profile when the custom ID has none (sign-in), or take the installation onto its own (login).
 */
export function decideAttach(existingProfileId: string | null): AttachOutcome {
  return existingProfileId === null ? "sign_in" : "login";
}

/** What the installation does with its anonymous profile once the custom ID answered. */
export function settleCandidate(outcome: AttachOutcome, fresh: boolean): "moved" | "orphaned" | "none" {
  if (fresh) return "none";
  return outcome === "sign_in" ? "moved" : "orphaned";
}
