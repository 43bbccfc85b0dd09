import { exports } from "cloudflare:workers";
import { BASE } from "../support/harness";

/** What a Batch customer's backend holds: an app's API key and the project's REST key. */
export interface BatchCredentials {
  apiKey: string;
  restKey: string;
}

/**
 * A client that knows only Batch's contract: the API key in the path, the REST key in
 * `X-Authorization`, JSON bodies. `path` is what follows `/1.0/{API_KEY}`.
 */
export function batchCall(
  method: string,
  credentials: Partial<BatchCredentials>,
  path: string,
  options: { body?: unknown; raw?: string; version?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (credentials.restKey !== undefined) headers["X-Authorization"] = credentials.restKey;
  let body = options.raw;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers["Content-Type"] ??= "application/json";
  const key = encodeURIComponent(credentials.apiKey ?? "");
  return exports.default.fetch(
    new Request(`${BASE}/${options.version ?? "1.0"}/${key}${path}`, { method, headers, body }),
  );
}

export interface BatchError {
  error: { code: string; message: string; batch_code?: number; request_id: string; issues?: { path: string }[] };
}

/** Reads an error answer: the §5 envelope with Batch's numeric code. */
export async function batchErrorOf(res: Response): Promise<BatchError["error"]> {
  const body = await res.json<BatchError>();
  if (!body.error || typeof body.error.request_id !== "string")
    throw new Error(`not an envelope: ${JSON.stringify(body)}`);
  return body.error;
}

/** Credentials of a project made by the test harness, as a Batch client holds them. */
export const credentialsOf = (p: { sdkKey: string; restKey: string }): BatchCredentials => ({
  apiKey: p.sdkKey,
  restKey: p.restKey,
});
