import { z } from "@hono/zod-openapi";
import {
  customIdProblem,
  normalizeCustomId,
  PLACEHOLDER_CONFUSABLES,
  PLACEHOLDER_CUSTOM_IDS as PLACEHOLDER_LIST,
} from "../../sdk/web/src/custom-id";
import { UUID_PATTERN } from "../lib/ids";

/*
 * The custom ID rules (SPEC §2) live in one module, the web SDK's, so the browser refuses exactly
 * what the server refuses, where the developer sees it, instead of in a batch that is dropped.
 * The module imports nothing and is bundled into the Worker like any other source file.
 */
export { customIdProblem, normalizeCustomId, PLACEHOLDER_CONFUSABLES };

/** IDs that real apps send by mistake when no user is signed in; compared case-insensitively. */
export const PLACEHOLDER_CUSTOM_IDS: ReadonlySet<string> = new Set(PLACEHOLDER_LIST);

/** Installation IDs are UUIDs compared case-insensitively: stored and routed lowercase. */
export const InstallationIdSchema = z
  .string()
  .regex(UUID_PATTERN, "An installation ID is a UUID.")
  .transform((s) => s.toLowerCase())
  .openapi({ example: "6f1c2d0e-8a4b-4c1e-9f3a-0d2b7c9e1a55" });

/** Custom IDs that pass the length, character and placeholder rules, in their NFC form. */
export const CustomIdSchema = z
  .string()
  .superRefine((value, ctx) => {
    const problem = customIdProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem, params: { code: "INVALID_CUSTOM_ID" } });
  })
  .transform(normalizeCustomId)
  .openapi({ example: "user-42" });

/** Durable Object names: one object per (project, identifier). */
export const installationObjectName = (projectId: string, installationId: string) => `${projectId}:i:${installationId}`;
export const customIdObjectName = (projectId: string, customId: string) => `${projectId}:c:${customId}`;

/** The object of a custom ID in a project. */
export function customIdStub(env: Env, projectId: string, customId: string) {
  return env.CUSTOM_IDS.get(env.CUSTOM_IDS.idFromName(customIdObjectName(projectId, customId)));
}

/** The object of an installation in a project. */
export function installationStub(env: Env, projectId: string, installationId: string) {
  return env.INSTALLATIONS.get(env.INSTALLATIONS.idFromName(installationObjectName(projectId, installationId)));
}
