import { installationObjectName } from "../identity/identifiers";
import type { PushTarget } from "../identity/installation-object";
import type { SendOutcome } from "./channels/channel";
import { type MessageRow, markRecorded } from "./store";

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
 * the installation, so a second recording is a duplicate), the token removed when gone, and
 * the delivery marked recorded.
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
  await markRecorded(env, message.token, target.installationId);
}
