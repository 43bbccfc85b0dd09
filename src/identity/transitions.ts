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

/** A cross-object transition, written before the first call to another object (SPEC §2). */
export type Intent = (
  | {
      kind: "identify";
      opId: string;
      key: string;
      customId: string;
      detachFrom: string | null;
      candidateProfileId: string;
      fresh: boolean;
      time: string;
      requestId: string;
    }
  | {
      kind: "logout";
      opId: string;
      key: string;
      customId: string;
      newProfileId: string;
      time: string;
      requestId: string;
    }
) & {
  /** The attempts started so far; counted in storage before each. */
  attempts?: number;
};

/** The identity op of a batch, as `planIntent` reads it. */
export type IdentityCommand =
  | { type: "identify"; id: string; time: string; custom_id: string }
  | { type: "logout"; id: string; time: string };

/**
 * The intent an identity op records, or null when it changes nothing. `key` makes the calls to
 * other objects idempotent; `freshProfileId` is used if the plan needs a new profile.
 */
export function planIntent(
  binding: Binding,
  op: IdentityCommand,
  ids: { key: string; requestId: string; freshProfileId: string },
): Intent | null {
  const base = { opId: op.id, key: ids.key, time: op.time, requestId: ids.requestId };
  if (op.type === "identify") {
    const plan = planIdentify(binding, op.custom_id, ids.freshProfileId);
    if (plan.kind === "noop") return null;
    const { detachFrom, candidateProfileId, fresh } = plan;
    return { kind: "identify", ...base, customId: op.custom_id, detachFrom, candidateProfileId, fresh };
  }
  const plan = planLogout(binding, ids.freshProfileId);
  if (plan.kind === "noop") return null;
  return { kind: "logout", ...base, customId: plan.customId, newProfileId: plan.newProfileId };
}

/**
 * How many attempts a transition gets (the SDK call that records it, the SDK's retries, the
 * alarm) before it ends in its terminal outcome, so a transition that can never complete does
 * not hold every later call of its installation.
 */
export const MAX_INTENT_ATTEMPTS = 5;

/** When the alarm tries a transition again after `attempt` attempts: 5 s, then doubling. */
export function resumeDelayMs(attempt: number): number {
  return 5_000 * 2 ** Math.max(0, Math.min(attempt - 1, 6));
}

export interface Abandonment {
  /** Where the installation ends. */
  binding: Binding;
  /** A fresh anonymous profile to create for it, if any. */
  newProfileId: string | null;
  /** The local profile whose identity history records the outcome; null when none is held here. */
  recordOn: string | null;
}

/**
 * The terminal outcome of a transition that failed every attempt. A step that fails every time
 * never committed (each call is idempotent: a retry of a committed one answers from memory),
 * so the installation stays where it is, except when it already left a user (`detached`):
 * then it goes on as anonymous, on the fresh profile the intent named.
 */
export function planAbandon(intent: Intent, binding: Binding, detached: boolean): Abandonment {
  if (intent.kind === "identify" && intent.detachFrom !== null && detached) {
    const fresh = { profileId: intent.candidateProfileId, customId: null };
    return { binding: fresh, newProfileId: intent.candidateProfileId, recordOn: intent.candidateProfileId };
  }
  return { binding, newProfileId: null, recordOn: binding.customId === null ? binding.profileId : null };
}
