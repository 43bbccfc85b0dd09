import { customIdObjectName, installationObjectName } from "../identity/identifiers";
import type { PushTarget } from "../identity/installation-object";
import type { SendOutcome } from "./channels/channel";
import type { MessageRow } from "./store";

/** The event an outcome is on the profile, in the daily `push_events` export and on webhooks (`push.*`). */
export function outcomeEvent(outcome: SendOutcome): { name: string; error: string | null } {
  switch (outcome.status) {
    case "sent":
      return { name: "push_sent", error: null };
    case "token_gone":
      return { name: "token_deleted", error: outcome.reason };
    case "error":
      return { name: "push_error", error: outcome.reason };
  }
}

/**
 * Records one installation's outcome: its event on the profile (ID derived from the message and
 * the installation, so a second recording is a duplicate), and the token removed when gone.
 * The caller marks the delivery recorded.
 */
export async function recordOutcome(
  env: Env,
  message: MessageRow,
  target: PushTarget,
  outcome: SendOutcome,
  requestId: string,
): Promise<void> {
  const { name, error } = outcomeEvent(outcome);
  const stub = env.INSTALLATIONS.get(
    env.INSTALLATIONS.idFromName(installationObjectName(message.projectId, target.installationId)),
  );
  await stub.recordPushOutcome({
    projectId: message.projectId,
    installationId: target.installationId,
    requestId,
    goneToken: outcome.status === "token_gone" ? target.token : null,
    event: {
      type: "event",
      id: `msg:${message.token}:${target.installationId}`,
      time: new Date().toISOString(),
      source: "api",
      name,
      attributes: {
        [message.payload.tokenField ?? "transactional_token"]: message.token,
        ...(error === null ? {} : { error }),
      },
      label: null,
      tags: [],
    },
  });
}

/** The event an email's outcome is on the profile: `email_sent`, or `email_error` with the reason. */
export function emailOutcomeEvent(outcome: SendOutcome): { name: string; error: string | null } {
  return outcome.status === "sent"
    ? { name: "email_sent", error: null }
    : { name: "email_error", error: outcome.reason };
}

/**
 * Records one email's outcome on the custom ID's profile (event ID derived from the message and
 * the profile, so a second recording is a duplicate). The caller marks the delivery recorded.
 */
export async function recordEmailOutcome(
  env: Env,
  message: MessageRow,
  to: { customId: string; profileId: string },
  outcome: SendOutcome,
  requestId: string,
): Promise<void> {
  const { name, error } = emailOutcomeEvent(outcome);
  const key = `email:${to.profileId}`;
  const time = new Date().toISOString();
  const stub = env.CUSTOM_IDS.get(env.CUSTOM_IDS.idFromName(customIdObjectName(message.projectId, to.customId)));
  await stub.applyOps(
    {
      projectId: message.projectId,
      customId: to.customId,
      installationId: null,
      appId: null,
      requestId,
      receivedAt: time,
    },
    [
      {
        type: "event",
        id: `msg:${message.token}:${key}`,
        time,
        source: "api",
        name,
        attributes: { transactional_token: message.token, ...(error === null ? {} : { error }) },
        label: null,
        tags: [],
      },
    ],
  );
}
