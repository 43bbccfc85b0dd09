import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { receiver } from "./test/support/receiver.ts";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: { ADMIN_TOKEN: "test-admin-token", TEST_MIGRATIONS: migrations, PRIVACY_RETRY_BASE_SECONDS: "0" },
          // Lets tests call `exports.default.queue()` directly (test-only flag).
          compatibilityFlags: ["service_binding_extra_handlers"],
          // Outbound calls (privacy callbacks, webhooks) reach a receiver in Node, never the network.
          outboundService: receiver,
          queueConsumers: {
            "edge-cdp-events": { maxBatchTimeout: 0.05 },
            "edge-cdp-projection": { maxBatchTimeout: 0.05 },
            "edge-cdp-tasks": { maxBatchTimeout: 0.05 },
            "edge-cdp-tasks-dlq": { maxBatchTimeout: 0.05 },
            // Miniflare takes the consumer's settings from here whole: retries and DLQ as in wrangler.toml.
            "edge-cdp-privacy": { maxBatchTimeout: 0.05, maxRetries: 8, deadLetterQueue: "edge-cdp-privacy-dlq" },
            "edge-cdp-privacy-dlq": { maxBatchTimeout: 0.05 },
          },
        },
      }),
    ],
    test: {
      setupFiles: ["./test/support/apply-migrations.ts"],
      testTimeout: 30_000,
      hookTimeout: 30_000,
    },
  };
});
