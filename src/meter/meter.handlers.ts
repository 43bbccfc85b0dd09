import type { RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../lib/errors";
import { meterOn, readMeter, resetMeter as zero } from "./counters";
import type * as routes from "./meter.routes";

function requireMeter(c: Context<AppEnv>): void {
  if (!meterOn(c.env)) throw new ApiError("NOT_FOUND", "The meter is off: start the Worker with METER=on.");
}

export const getMeter: RouteHandler<typeof routes.getMeter, AppEnv> = (c) => {
  requireMeter(c);
  return c.json(readMeter(), 200);
};

export const resetMeter: RouteHandler<typeof routes.resetMeter, AppEnv> = (c) => {
  requireMeter(c);
  zero();
  return c.json(readMeter(), 200);
};
