import type { ApiError } from "./lib/errors";

/** Who called: set by the auth middleware, read by handlers. */
export type Caller =
  | { kind: "admin" }
  | { kind: "rest"; projectId: string }
  | { kind: "sdk"; projectId: string; appId: string; platform: Platform };

export type Platform = "ios" | "android" | "web";

export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    caller: Caller;
    /** On Batch's `/1.x/{API_KEY}` paths: the app the path's key names (src/batch/auth.ts). */
    batchApp?: { appId: string; projectId: string; platform: Platform };
    /** Fields added to every error envelope of this request (Batch's `batch_code`). */
    errorExtras?: (error: ApiError) => { batch_code?: number };
  };
}

declare global {
  interface Env {
    /**
     * Set only in `.dev.vars` for local work: webhooks may then use http:// and private hosts.
     * Kept out of wrangler.toml (and so out of `wrangler types`) so a deployment never has it.
     */
    ALLOW_HTTP_WEBHOOKS?: string;
  }
}
