import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { receiver } from "./test/support/receiver.ts";

/** Test files that run with the meter on, in their own Worker. */
const METERED_TESTS = "test/meter/*.metered.test.ts";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  /** The Worker of wrangler.toml in workerd, with test bindings, plus `vars`. */
  const workerd = (vars: Record<string, string> = {}) =>
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          ADMIN_TOKEN: "test-admin-token",
          TEST_MIGRATIONS: migrations,
          // Callback retries without waiting, so a test sees every attempt.
          PRIVACY_RETRY_BASE_SECONDS: "0",
          // A synchronous update's check is tested on its own (update.projection.test.ts): here it
          // waits past any test, rather than landing, unlooked-for, in the middle of a later step.
          PROJECTION_CHECK_DELAY_SECONDS: "3600",
          CHANNEL_SECRET_KEY: "test-channel-secret",
          FCM_API_BASE: "https://fcm-stub.test",
          ...vars,
        },
        // The send_email binding as miniflare simulates it, restricted to these addresses: a send
        // to another is refused by the binding, which shows the address the fan-out handed it.
        email: {
          send_email: [{ name: "EMAIL", allowed_destination_addresses: ["buyer@shop.example", "a@b.co"] }],
        },
        // A third projection shard beside wrangler.toml's two, so tests see more than two.
        d1Databases: { PROJECTION_2: "00000000-0000-4000-8000-000000000002" },
        // Lets tests call `exports.default.queue()` directly (test-only flag).
        compatibilityFlags: ["service_binding_extra_handlers"],
        // Outbound calls (privacy callbacks, webhooks) reach a receiver in Node, never the network.
        outboundService: receiver,
        queueConsumers: {
          "edge-cdp-events": { maxBatchTimeout: 0.05 },
          "edge-cdp-events-dlq": { maxBatchTimeout: 0.05 },
          // Batches as large as wrangler.toml allows (miniflare would take 5), as deployed.
          "edge-cdp-projection": { maxBatchTimeout: 0.05, maxBatchSize: 100 },
          "edge-cdp-projection-dlq": { maxBatchTimeout: 0.05 },
          "edge-cdp-tasks": { maxBatchTimeout: 0.05 },
          "edge-cdp-tasks-dlq": { maxBatchTimeout: 0.05 },
          // Miniflare takes a consumer's settings from here whole: retries and DLQ as in wrangler.toml.
          "edge-cdp-privacy": {
            maxBatchTimeout: 0.05,
            maxRetries: 8,
            deadLetterQueue: "edge-cdp-privacy-dlq",
          },
          "edge-cdp-privacy-dlq": { maxBatchTimeout: 0.05 },
          "edge-cdp-purge": {
            maxBatchTimeout: 0.05,
            maxBatchSize: 1,
            maxRetries: 8,
            deadLetterQueue: "edge-cdp-privacy-dlq",
          },
          "edge-cdp-exports": { maxBatchTimeout: 0.05 },
          "edge-cdp-exports-dlq": { maxBatchTimeout: 0.05 },
          "edge-cdp-webhooks": { maxBatchTimeout: 0.05 },
          "edge-cdp-messages": { maxBatchTimeout: 0.05, maxRetries: 100 },
          "edge-cdp-audience-inbox": { maxBatchTimeout: 0.05, maxBatchSize: 1, maxRetries: 5 },
        },
      },
    });
  return {
    test: {
      projects: [
        {
          // The API, inside workerd with real D1, Durable Objects, Queues and R2.
          plugins: [workerd()],
          test: {
            name: "workerd",
            sequence: { groupOrder: 0 },
            include: ["test/**/*.test.ts"],
            exclude: ["test/browser/**", "test/batch-client/**", METERED_TESTS, "**/node_modules/**"],
            setupFiles: ["./test/support/apply-migrations.ts"],
            testTimeout: 30_000,
            hookTimeout: 30_000,
          },
        },
        {
          // The same Worker with the billable-unit meter on (`METER = "on"`, as the bench runs it).
          plugins: [workerd({ METER: "on" })],
          test: {
            name: "workerd-meter",
            sequence: { groupOrder: 0 },
            include: [METERED_TESTS],
            setupFiles: ["./test/support/apply-migrations.ts"],
            testTimeout: 30_000,
            hookTimeout: 30_000,
          },
        },
        {
          // The web SDK and the debugger page in Chromium, against the Worker under `wrangler dev`.
          test: {
            name: "browser",
            // After the workerd project, not beside it: a Worker under `wrangler dev` and Chromium
            // on the same cores slow the workerd tests that wait on real time windows.
            sequence: { groupOrder: 1 },
            include: ["test/browser/**/*.test.ts"],
            environment: "node",
            globalSetup: ["./test/browser/global-setup.ts"],
            // One Chromium at a time: the machine's cores go to workerd and the browser.
            fileParallelism: false,
            testTimeout: 60_000,
            hookTimeout: 180_000,
          },
        },
        {
          // A Batch customer's backend (Node, Batch's contract only) against `npm run dev`.
          test: {
            name: "batch-client",
            // After the browser project: one local server at a time on the machine's cores.
            sequence: { groupOrder: 2 },
            include: ["test/batch-client/**/*.test.mjs"],
            environment: "node",
            globalSetup: ["./test/batch-client/global-setup.mjs"],
            fileParallelism: false,
            testTimeout: 60_000,
            hookTimeout: 240_000,
          },
        },
      ],
    },
  };
});
