import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "../env";

/** Every error code the API can answer with, and the status it maps to (SPEC §5). */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  INVALID_CUSTOM_ID: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  CUSTOM_ID_REQUIRED: 409,
  GONE: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorIssue {
  path: string;
  message: string;
}

/** The one error type handlers throw; `app.onError` renders it in the envelope. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly issues: ErrorIssue[] | undefined;
  readonly headers: Record<string, string> | undefined;
  /** Batch's numeric code when the code alone does not say it (a missing parameter is 30). */
  readonly batchCode: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { issues?: ErrorIssue[]; headers?: Record<string, string>; batchCode?: number } = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.issues = options.issues;
    this.headers = options.headers;
    this.batchCode = options.batchCode;
  }

  get status(): ContentfulStatusCode {
    return ERROR_STATUS[this.code];
  }
}

export const ErrorEnvelopeSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "VALIDATION_FAILED" }),
      message: z.string(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      request_id: z.string(),
      batch_code: z
        .int()
        .optional()
        .openapi({ description: "On Batch's paths (SPEC §9): Batch's numeric error code." }),
    }),
  })
  .openapi("Error");

export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;

/** Joins a zod issue path the way the envelope shows it: `0.attributes.$email_address`. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.map(String).join(".");
}

export function issuesFromZod(error: z.ZodError): ErrorIssue[] {
  return error.issues.flatMap((issue) =>
    // zod reports unknown fields on their parent; name each field instead.
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: issuePath([...issue.path, key]), message: `Unknown field "${key}".` }))
      : [{ path: issuePath(issue.path), message: issue.message }],
  );
}

/** Reports the fields of `value` that `known` does not list, as zod's strict objects would. */
export function reportUnknownFields(value: object, known: readonly string[], ctx: z.core.$RefinementCtx): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) ctx.addIssue({ code: "custom", path: [key], message: `Unknown field "${key}".` });
  }
}

/** Issues raised with `params: { code }` choose the envelope's code (placeholder custom IDs do). */
export function validationFailed(error: z.ZodError, message = "The request is invalid."): ApiError {
  const special = error.issues.find((i) => i.code === "custom" && i.params?.code === "INVALID_CUSTOM_ID");
  return special
    ? new ApiError("INVALID_CUSTOM_ID", special.message, { issues: issuesFromZod(error) })
    : new ApiError("VALIDATION_FAILED", message, { issues: issuesFromZod(error) });
}

export function errorResponse(c: Context<AppEnv>, error: ApiError): Response {
  const body: ErrorEnvelope = {
    error: {
      code: error.code,
      message: error.message,
      ...(error.issues ? { issues: error.issues } : {}),
      request_id: c.get("requestId"),
      // Set on Batch's paths (src/batch/codes.ts), so their clients read the code they know.
      ...c.get("errorExtras")?.(error),
    },
  };
  return c.json(body, error.status, error.headers);
}

/** Maps anything thrown in a handler to the envelope; unknown errors are logged, never leaked. */
export function onError(err: Error, c: Context<AppEnv>): Response {
  if (err instanceof ApiError) return errorResponse(c, err);
  if (err instanceof HTTPException) {
    // Hono's body validators throw a bare 400 only when the body cannot be parsed.
    const code = err.status === 400 ? "INVALID_JSON" : codeForStatus(err.status);
    // The route's media-type gate refuses any other Content-Type (or none) before reading the body.
    const message =
      code === "UNSUPPORTED_MEDIA_TYPE"
        ? `The body must be JSON: send it with Content-Type: application/json${
            c.req.header("Content-Type") ? ` (not ${c.req.header("Content-Type")?.slice(0, 100)})` : ""
          }.`
        : err.message || defaultMessage(code);
    return errorResponse(c, new ApiError(code, message));
  }
  console.error(
    JSON.stringify({
      level: "error",
      request_id: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      error: err.name,
      message: err.message,
      stack: err.stack,
    }),
  );
  return errorResponse(c, new ApiError("INTERNAL_ERROR", "Internal error."));
}

function codeForStatus(status: number): ErrorCode {
  const match = (Object.entries(ERROR_STATUS) as [ErrorCode, number][]).find(([, s]) => s === status);
  return match?.[0] ?? (status >= 500 ? "INTERNAL_ERROR" : "VALIDATION_FAILED");
}

function defaultMessage(code: ErrorCode): string {
  return code.toLowerCase().replaceAll("_", " ");
}

export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

/** What each error status means, with the codes it carries: the OpenAPI document's wording. */
export const ERROR_DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: "Invalid input, every issue with its path: VALIDATION_FAILED, INVALID_JSON, INVALID_CUSTOM_ID",
  401: "UNAUTHORIZED: missing or wrong key",
  403: "FORBIDDEN: a key used outside its scope or project",
  404: "NOT_FOUND",
  409: "CONFLICT or CUSTOM_ID_REQUIRED: the request contradicts the current state",
  410: "GONE: the copy was deleted (by a remove) or is past its retention",
  413: "PAYLOAD_TOO_LARGE: the body is over this route's limit",
  415: "UNSUPPORTED_MEDIA_TYPE: send the body as application/json",
  429: "RATE_LIMITED: too many calls with this key; retry after Retry-After seconds",
  500: "INTERNAL_ERROR: logged under the request ID, which is all the body carries",
};

const errorContent = { "application/json": { schema: ErrorEnvelopeSchema } };

/** The error responses of the given statuses, to spread into a route's `responses`. */
export function errorResponsesOf<const S extends ErrorStatus>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((status) => [status, { description: ERROR_DESCRIPTIONS[status], content: errorContent }]),
  ) as Record<S, { description: string; content: typeof errorContent }>;
}

/**
 * The error responses of a route that checks a key and can find nothing. 413, 415, 429 and 500
 * are added to every route they apply to when the document is served (`completeDocument`).
 */
export const errorResponses = errorResponsesOf(400, 401, 403, 404);
