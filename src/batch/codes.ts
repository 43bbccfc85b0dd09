import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import type { ApiError, ErrorCode } from "../lib/errors";

/** Batch's numeric error codes (SPEC §9), carried in `error.batch_code` on Batch's paths. */
export const BATCH_CODE = {
  AUTHENTICATION_INVALID: 10,
  API_MISUSE: 12,
  ROUTE_NOT_FOUND: 20,
  MISSING_PARAMETER: 30,
  MALFORMED_PARAMETER: 31,
  MALFORMED_JSON_BODY: 32,
  TOO_MANY_REQUESTS: 60,
} as const;

/** The Batch code of each of our codes; an internal error has none (Batch's clients retry on 5xx). */
const BY_CODE: Partial<Record<ErrorCode, number>> = {
  UNAUTHORIZED: BATCH_CODE.AUTHENTICATION_INVALID,
  FORBIDDEN: BATCH_CODE.AUTHENTICATION_INVALID,
  NOT_FOUND: BATCH_CODE.ROUTE_NOT_FOUND,
  VALIDATION_FAILED: BATCH_CODE.MALFORMED_PARAMETER,
  INVALID_CUSTOM_ID: BATCH_CODE.MALFORMED_PARAMETER,
  PAYLOAD_TOO_LARGE: BATCH_CODE.MALFORMED_PARAMETER,
  INVALID_JSON: BATCH_CODE.MALFORMED_JSON_BODY,
  UNSUPPORTED_MEDIA_TYPE: BATCH_CODE.MALFORMED_JSON_BODY,
  CONFLICT: BATCH_CODE.API_MISUSE,
  CUSTOM_ID_REQUIRED: BATCH_CODE.API_MISUSE,
  RATE_LIMITED: BATCH_CODE.TOO_MANY_REQUESTS,
};

/** Batch's code for an error: the one it was raised with, else its code's. */
export function batchCodeOf(error: ApiError): number | undefined {
  return error.batchCode ?? BY_CODE[error.code];
}

const BATCH_PATH = /^\/(?:1\.\d+\/|2\.\d+\/audiences(?:\/|$))/;

/** Whether a path is one of Batch's own (`/1.x/{API_KEY}/…`, `/2.x/audiences/…`). */
export function isBatchPath(path: string): boolean {
  return BATCH_PATH.test(path);
}

/**
 * On Batch's paths, every error envelope (auth, body limits, validation, unknown routes) also
 * carries `batch_code`. Runs first, so errors of the middleware after it get the code too.
 */
export const batchErrorCodes: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (isBatchPath(c.req.path)) {
    c.set("errorExtras", (error) => {
      const code = batchCodeOf(error);
      return code === undefined ? {} : { batch_code: code };
    });
  }
  await next();
};
