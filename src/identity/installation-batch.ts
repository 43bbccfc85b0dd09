import type { EventAttributes } from "../lib/json";
import type { Source } from "./attributes";
import type { ApplyResult, DataOp } from "./profile-types";
import type { IdentityCommand } from "./transitions";

export interface DeviceContext {
  platform?: string;
  app_version?: string;
  sdk_version?: string;
  os_version?: string;
  device_model?: string;
  language?: string;
  region?: string;
  timezone?: string;
}

/** Ops that change the installation itself rather than its profile's data. */
export type InstallationOp =
  | { type: "push_token"; id: string; time: string; provider: string; token: string }
  | { type: "push_optin"; id: string; time: string; opted_in: boolean }
  | { type: "push_opened"; id: string; time: string; campaign_token: string | null; transactional_token: string | null }
  | {
      type: "inapp";
      id: string;
      time: string;
      event: "supplied" | "shown" | "clicked" | "closed";
      campaign_token: string;
      campaign_id: string | null;
      cta_index: number | null;
      cta_label: string | null;
    };

export type IdentityOp = IdentityCommand;

export type BatchOp = IdentityOp | InstallationOp | DataOp;

export interface BatchInput {
  projectId: string;
  installationId: string;
  appId: string | null;
  platform: string | null;
  context: DeviceContext;
  ops: BatchOp[];
  requestId: string;
  receivedAt: string;
  source: "sdk" | "api";
}

export interface BatchResult {
  profile_id: string;
  custom_id: string | null;
  accepted: number;
  duplicates: number;
  rejected: ApplyResult["rejected"];
}

export function isDataOp(op: BatchOp): op is DataOp {
  return op.type === "attributes" || op.type === "event";
}

/** The device context's language, region and timezone are `sdk_auto` writes (SPEC §5). */
export function contextWrites(input: BatchInput): DataOp[] {
  const c = input.context;
  const source: Source = "sdk_auto";
  const writes = [
    c.language ? { name: "$language", value: c.language } : null,
    c.region ? { name: "$region", value: c.region } : null,
    c.timezone ? { name: "$timezone", value: c.timezone } : null,
  ]
    .filter((w) => w !== null)
    .map((w) => ({ name: w.name, kind: "set" as const, type: "string" as const, value: w.value }));
  return writes.length ? [{ type: "attributes", id: null, time: input.receivedAt, source, writes }] : [];
}

/** What an installation op does: a change to the installation row, an event on the profile. */
export interface InstallationOpEffect {
  push?: { provider: string; token: string } | { optedIn: boolean };
  event?: { name: string; attributes: EventAttributes };
}

/** Decides an installation op against the opt-in the installation holds (null: never said). */
export function planInstallationOp(op: InstallationOp, optedIn: boolean | null): InstallationOpEffect {
  switch (op.type) {
    case "push_token":
      return { push: { provider: op.provider, token: op.token } };
    case "push_optin":
      // Only a change of mind is an event: SDKs send their opt-in state again and again.
      return optedIn === op.opted_in
        ? { push: { optedIn: op.opted_in } }
        : {
            push: { optedIn: op.opted_in },
            event: { name: op.opted_in ? "push_optin" : "push_optout", attributes: {} },
          };
    case "push_opened":
      return {
        event: {
          name: "push_opened",
          attributes: { campaign_token: op.campaign_token, transactional_token: op.transactional_token },
        },
      };
    case "inapp":
      return {
        event: {
          name: `inapp_${op.event}`,
          attributes: {
            campaign_token: op.campaign_token,
            campaign_id: op.campaign_id,
            cta_index: op.cta_index,
            cta_label: op.cta_label,
          },
        },
      };
  }
}
