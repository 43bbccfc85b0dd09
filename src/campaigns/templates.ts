import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { campaigns } from "../db/schema";
import { ApiError } from "../lib/errors";
import type { CampaignMessage } from "./campaigns.schema";

/**
 * The content a transactional send with `template_id` takes from that campaign (drafts
 * included, Batch's partner flow): its message without a language, else its first. Another
 * project's token is unknown here as elsewhere.
 */
export async function templateContent(env: Env, projectId: string, templateId: string): Promise<CampaignMessage> {
  const row = await drizzle(env.DB)
    .select({ content: campaigns.content })
    .from(campaigns)
    .where(and(eq(campaigns.token, templateId), eq(campaigns.projectId, projectId)))
    .get();
  if (!row) {
    throw new ApiError("VALIDATION_FAILED", `No campaign ${templateId} to use as a template.`, {
      issues: [{ path: "template_id", message: "Unknown campaign token." }],
    });
  }
  const list = JSON.parse(row.content) as CampaignMessage[];
  return (list.find((m) => m.language === undefined) ?? list[0]) as CampaignMessage;
}
