import type { RouteHandler, z } from "@hono/zod-openapi";
import { drizzle } from "drizzle-orm/d1";
import { privacyRequests } from "../db/schema";
import type { AppEnv } from "../env";
import { CustomIdSchema, InstallationIdSchema, installationStub } from "../identity/identifiers";
import { callerOf } from "../lib/auth";
import { ApiError } from "../lib/errors";
import { uuidv7 } from "../lib/ids";
import { allowsHttp, urlProblem } from "../webhooks/url";
import { COPY_DAYS } from "./copies";
import type { PrivacyMessage } from "./messages";
import type * as routes from "./privacy.routes";
import { finish, listRequests as listRows, loadRequest, requestView } from "./store";

type Body = z.infer<typeof routes.CreatePrivacyRequestBody>;

/** Our body and Batch's, as one shape. */
function normalise(body: Body) {
  return "request_type" in body
    ? { type: body.request_type, identifier: body.id, callbackUrl: body.callback_url, path: "id" }
    : { type: body.type, identifier: body.identifier, callbackUrl: body.callback_url, path: "identifier" };
}

/** The identifier's value, checked and normalised as every other identity call does. */
function identifierValue(identifier: { type: "custom_id" | "installation_id"; value: string }, path: string): string {
  const schema = identifier.type === "custom_id" ? CustomIdSchema : InstallationIdSchema;
  const parsed = schema.safeParse(identifier.value);
  if (parsed.success) return parsed.data;
  const message = parsed.error.issues[0]?.message ?? "The identifier is invalid.";
  throw new ApiError(identifier.type === "custom_id" ? "INVALID_CUSTOM_ID" : "VALIDATION_FAILED", message, {
    issues: parsed.error.issues.map((i) => ({ path: `${path}.value`, message: i.message })),
  });
}

/** The callback URL obeys the webhook URL rules (SPEC §5): refused before anything is written. */
function checkCallbackUrl(env: Env, url: string | undefined): void {
  if (url === undefined) return;
  const problem = urlProblem(url, allowsHttp(env));
  if (problem) {
    throw new ApiError("VALIDATION_FAILED", `The callback URL is refused: ${problem}`, {
      issues: [{ path: "callback_url", message: problem }],
    });
  }
}

export const createRequest: RouteHandler<typeof routes.createRequest, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { type, identifier, callbackUrl, path } = normalise(c.req.valid("json"));
  const value = identifierValue(identifier, path);
  checkCallbackUrl(c.env, callbackUrl);
  if (identifier.type === "installation_id") {
    // As Batch: a signed-in profile is reached through its custom ID only.
    const described = await installationStub(c.env, projectId, value).describe();
    if (described?.binding.customId) {
      throw new ApiError(
        "CUSTOM_ID_REQUIRED",
        "This installation's profile holds a custom ID: send the request with that custom ID.",
      );
    }
  }
  const id = uuidv7();
  const db = drizzle(c.env.DB);
  await db.insert(privacyRequests).values({
    id,
    projectId,
    type,
    identifierType: identifier.type,
    identifierValue: value,
    callbackUrl: callbackUrl ?? null,
    status: "pending",
    createdAt: new Date().toISOString(),
  });
  const message: PrivacyMessage = { type: "privacy_request", project_id: projectId, request_id: id };
  try {
    await c.env.PRIVACY.send(message);
  } catch (error) {
    const row = await loadRequest(c.env, projectId, id);
    if (row) await finish(c.env, row, { status: "failed", error: "internal" }, new Date().toISOString());
    throw error;
  }
  return c.json({ request_id: id }, 202);
};

export const listRequests: RouteHandler<typeof routes.listRequests, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { limit, cursor } = c.req.valid("query");
  const rows = await listRows(c.env, projectId, limit + 1, cursor);
  const page = rows.slice(0, limit);
  return c.json(
    {
      requests: page.map((r) => requestView(r)),
      next_cursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null,
    },
    200,
  );
};

export const getRequest: RouteHandler<typeof routes.getRequest, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { request_id } = c.req.valid("param");
  const row = await loadRequest(c.env, projectId, request_id);
  if (!row) throw new ApiError("NOT_FOUND", `No privacy request ${request_id}.`);
  return c.json(requestView(row), 200);
};

export const getArchive: RouteHandler<typeof routes.getArchive, AppEnv> = async (c) => {
  const { projectId } = callerOf(c, "rest");
  const { request_id } = c.req.valid("param");
  const row = await loadRequest(c.env, projectId, request_id);
  if (!row) throw new ApiError("NOT_FOUND", `No privacy request ${request_id}.`);
  if (!row.archiveKey) {
    throw new ApiError(
      "NOT_FOUND",
      row.type !== "review"
        ? "Only a review has an archive."
        : row.status === "pending"
          ? "The review is still pending."
          : "This review found no profile, so it has no archive.",
    );
  }
  // Expiry first: the retention run marks an expired archive deleted too.
  if (row.completedAt && Date.parse(row.completedAt) + COPY_DAYS * 86_400_000 < Date.now()) {
    throw new ApiError("GONE", `An archive is kept ${COPY_DAYS} days; this one has expired.`);
  }
  if (row.archiveDeletedAt) throw new ApiError("GONE", "The archive was deleted by a remove of its identifier.");
  const object = await c.env.EXPORTS.get(row.archiveKey);
  if (!object) throw new ApiError("NOT_FOUND", "The archive is no longer stored.");
  return c.body(object.body, 200, { "Content-Type": "application/json" }) as never;
};
