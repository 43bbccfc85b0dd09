import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: { ADMIN_TOKEN: "test-admin-token", TEST_MIGRATIONS: migrations },
          // Lets tests call `exports.default.queue()` directly (test-only flag).
          compatibilityFlags: ["service_binding_extra_handlers"],
          queueConsumers: {
            "edge-cdp-events": { maxBatchTimeout: 0.05 },
            "edge-cdp-projection": { maxBatchTimeout: 0.05 },
            "edge-cdp-tasks": { maxBatchTimeout: 0.05 },
            "edge-cdp-tasks-dlq": { maxBatchTimeout: 0.05 },
            "edge-cdp-webhooks": { maxBatchTimeout: 0.05 },
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
