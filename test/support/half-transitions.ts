import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import type { AttachResult } from "../../src/identity/custom-id-object";
import { INTENT_SCHEMA } from "../../src/identity/intent-runner";
import { snapshotOf } from "../../src/identity/profile-handover";
import type { Intent } from "../../src/identity/transitions";
import { customIdStub, installationStub } from "./identity";

/**
 * Leaves the installation as if it crashed right after recording `intent`; with `alarm`, its
 * resume alarm armed as the object arms it.
 */
export async function recordIntent(projectId: string, installationId: string, intent: Intent, { alarm = true } = {}) {
  await runInDurableObject(installationStub(projectId, installationId), (_o, state) => {
    // The object makes the table before it records its first transition.
    state.storage.sql.exec(INTENT_SCHEMA);
    state.storage.sql.exec("INSERT INTO intent (id, body) VALUES (1, ?)", JSON.stringify(intent));
    return alarm ? state.storage.setAlarm(Date.now() + 5_000) : undefined;
  });
  await abortAllDurableObjects();
}

/**
 * The custom ID's half of a sign-in or login of `installationId`'s anonymous profile, done as
 * the installation would do it (its snapshot attached under the intent's key), before the
 * installation records anything: the test then plays the crash with {@link recordIntent}.
 */
export async function attachFirstHalf(
  projectId: string,
  installationId: string,
  anonymousProfileId: string,
  { customId, opId, requestId }: { customId: string; opId: string; requestId: string },
): Promise<{ intent: Intent; answer: AttachResult }> {
  const time = new Date().toISOString();
  const intent: Intent = {
    kind: "identify",
    opId,
    key: `${installationId}:${opId}`,
    customId,
    detachFrom: null,
    candidateProfileId: anonymousProfileId,
    fresh: false,
    time,
    requestId,
  };
  const snapshot = await runInDurableObject(installationStub(projectId, installationId), (o) =>
    // biome-ignore lint/complexity/useLiteralKeys: the test plays the installation's half of the transition.
    snapshotOf(o["store"], anonymousProfileId),
  );
  const answer = await customIdStub(projectId, customId).attach({
    projectId,
    customId,
    installationId,
    key: intent.key,
    candidate: snapshot,
    time,
    requestId,
  });
  return { intent, answer };
}
