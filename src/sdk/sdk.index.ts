import { bodyLimit } from "hono/body-limit";
import { requireKey } from "../lib/auth";
import { ApiError } from "../lib/errors";
import { createRouter } from "../lib/router";
import * as handlers from "./sdk.handlers";
import * as routes from "./sdk.routes";

const router = createRouter();
router.use("*", requireKey("sdk"));
router.use(
  "*",
  bodyLimit({
    maxSize: routes.SDK_BODY_LIMIT,
    onError: () => {
      throw new ApiError("PAYLOAD_TOO_LARGE", `An SDK batch is at most ${routes.SDK_BODY_LIMIT} bytes.`);
    },
  }),
);

export default router.openapi(routes.sdkBatch, handlers.sdkBatch);
