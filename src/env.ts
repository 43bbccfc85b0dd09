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
