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
