/**
 * The single source of truth for D1; `npm run db:generate` turns changes into migrations/.
 * One file per concern under schema/; drizzle-kit and the code read them all from here.
 */

export * from "./schema/audience-feeds";
export * from "./schema/control";
export * from "./schema/directory";
export * from "./schema/exports";
export * from "./schema/messaging";
export * from "./schema/privacy";
export * from "./schema/projection";
export * from "./schema/webhooks";
