import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { ApiError } from "../lib/errors";

const MiB = 1024 * 1024;
/** 10,000 IDs of 512 characters fit; larger sets come as CSV, which is streamed, not parsed whole. */
const MAX_JSON_BODY = 16 * MiB;
/** 1,000,000 IDs of a hundred characters, with room to spare; counted as the body streams. */
export const MAX_CSV_BODY = 128 * MiB;

export const csvTooLarge = () => new ApiError("PAYLOAD_TOO_LARGE", `A CSV body is at most ${MAX_CSV_BODY} bytes.`);

export type MemberBodyKind = "json" | "csv";

/** Which of the two member formats a Content-Type names, or null for any other. */
export function memberBodyKind(contentType: string | undefined): MemberBodyKind | null {
  const [essence = "", ...params] = (contentType ?? "").split(";").map((s) => s.trim().toLowerCase());
  if (essence === "application/json") return "json";
  if (essence !== "text/csv") return null;
  const charset = params
    .find((p) => p.startsWith("charset="))
    ?.slice("charset=".length)
    .replaceAll('"', "");
  return charset === undefined || charset === "utf-8" || charset === "utf8" ? "csv" : null;
}

/**
 * Refuses, before the body is read, a replace whose body is neither JSON nor UTF-8 CSV (415),
 * and a body too large (413) by its announced length. A chunked JSON body is counted as it
 * arrives by the app's body limit; a CSV one by the replace itself.
 */
export const requireMemberBody = createMiddleware<AppEnv>(async (c, next) => {
  const kind = memberBodyKind(c.req.header("Content-Type"));
  if (!kind) {
    throw new ApiError(
      "UNSUPPORTED_MEDIA_TYPE",
      'Send the members as `application/json` ({"ids": [...]}) or as UTF-8 `text/csv` (one ID per line).',
    );
  }
  if (kind === "json" && Number(c.req.header("Content-Length") ?? 0) > MAX_JSON_BODY) {
    throw new ApiError(
      "PAYLOAD_TOO_LARGE",
      `A JSON body is at most ${MAX_JSON_BODY} bytes; send large sets as text/csv.`,
    );
  }
  // The CSV is counted again as it streams (see `limitBytes`): a chunked body announces nothing.
  if (Number(c.req.header("Content-Length") ?? 0) > MAX_CSV_BODY) throw csvTooLarge();
  await next();
});
