import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  // wrangler's migrations_dir: wrangler applies these, and the tests read them with readD1Migrations.
  out: "./migrations",
});
