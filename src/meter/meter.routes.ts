import { createRoute, z } from "@hono/zod-openapi";
import { errorResponsesOf } from "../lib/errors";
import { UNITS, type Unit } from "./counters";

const security = [{ AdminToken: [] }];

const UnitsSchema = z
  .object(Object.fromEntries(UNITS.map((u) => [u, z.int().min(0)])) as Record<Unit, z.ZodInt>)
  .openapi("MeterUnits", {
    description:
      "Billable units spent since `since`, counted as they are spent (docs/decisions.md, “Billable-unit meter”).",
  });

const MeterSchema = z
  .object({
    units: UnitsSchema,
    since: z.iso.datetime().openapi({ description: "When the counters were last zeroed." }),
  })
  .openapi("Meter");

const off = '404 when the Worker runs without `METER = "on"` (the bench starts it with `--var METER:on`).';

export const getMeter = createRoute({
  method: "get",
  path: "/",
  tags: ["admin"],
  summary: "Billable units spent since the last reset (local benchmarking only)",
  description: off,
  security,
  responses: {
    200: { description: "The counters", content: { "application/json": { schema: MeterSchema } } },
    ...errorResponsesOf(401, 403, 404),
  },
});

export const resetMeter = createRoute({
  method: "post",
  path: "/reset",
  tags: ["admin"],
  summary: "Zeroes the billable-unit counters",
  description: off,
  security,
  responses: {
    200: { description: "Zeroed", content: { "application/json": { schema: MeterSchema } } },
    ...errorResponsesOf(401, 403, 404),
  },
});
