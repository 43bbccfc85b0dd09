import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/* The projection (SPEC §5, §11): on each project's shard (src/db/shards.ts), written from the objects. */

export const profiles = sqliteTable(
  "profiles",
  {
    projectId: text("project_id").notNull(),
    profileId: text("profile_id").notNull(),
    customId: text("custom_id"),
    /**
     * `active`, or `orphaned`: orphans never match a query. `removed` is a tombstone left by a
     * privacy remove or a purge, at the highest version, so no late message can bring it back.
     */
    state: text("state", { enum: ["active", "orphaned", "removed"] }).notNull(),
    version: integer("version").notNull(),
    createdAt: text("created_at").notNull(),
    lastActivityAt: text("last_activity_at").notNull(),
    /** The object that holds the profile (`custom_id` or `installation`, and its identifier): where a purge asks. */
    holderKind: text("holder_kind", { enum: ["custom_id", "installation"] }),
    holderId: text("holder_id"),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.profileId] }),
    // Partial: a custom ID is looked up by its value, and most profiles (anonymous installations)
    // have none, so their rows pay no entry here (each entry is a row written).
    index("profiles_custom_id_idx").on(t.projectId, t.customId).where(sql`${t.customId} IS NOT NULL`),
    index("profiles_activity_idx").on(t.projectId, t.lastActivityAt),
    // Segment queries: a count checks `state` for each matching profile from this index alone
    // (no table read), and pages walk the active profiles in profile ID order.
    index("profiles_state_idx").on(t.projectId, t.state, t.profileId),
  ],
);

export const profileAttributes = sqliteTable(
  "profile_attributes",
  {
    projectId: text("project_id").notNull(),
    profileId: text("profile_id").notNull(),
    name: text("name").notNull(),
    type: text("type").notNull(),
    /** Strings, dates and URLs (ISO dates compare as text); booleans as "true"/"false". */
    valueText: text("value_text"),
    valueNum: real("value_num"),
    /** Arrays, for `contains`. */
    valueJson: text("value_json"),
    /** The profile version this row was written for; older rows are swept after each write. */
    version: integer("version").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.profileId, t.name] }),
    // With the profile ID, a segment condition reads its matches from the index alone.
    index("profile_attributes_text_idx").on(t.projectId, t.name, t.valueText, t.profileId),
    // Partial: only numbers have a value here, and a condition on it always names one. `exists`
    // reads the text index, which holds every row (a number's with a null text value).
    index("profile_attributes_num_idx")
      .on(t.projectId, t.name, t.valueNum, t.profileId)
      .where(sql`${t.valueNum} IS NOT NULL`),
  ],
);

/**
 * One row per item of an array attribute, so that `contains` is an index lookup on
 * `(project_id, name, item)` rather than a `json_each` scan of every profile's array.
 * Kept in step with `profile_attributes` by the projection: same version guard, same sweep.
 */
export const profileAttributeItems = sqliteTable(
  "profile_attribute_items",
  {
    projectId: text("project_id").notNull(),
    profileId: text("profile_id").notNull(),
    name: text("name").notNull(),
    item: text("item").notNull(),
    /** The profile version this row was written for; older rows are swept after each write. */
    version: integer("version").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.profileId, t.name, t.item] }),
    index("profile_attribute_items_item_idx").on(t.projectId, t.name, t.item, t.profileId),
  ],
);

export const installations = sqliteTable(
  "installations",
  {
    projectId: text("project_id").notNull(),
    installationId: text("installation_id").notNull(),
    profileId: text("profile_id").notNull(),
    customId: text("custom_id"),
    appId: text("app_id"),
    platform: text("platform"),
    pushOptin: integer("push_optin", { mode: "boolean" }),
    lastSeenAt: text("last_seen_at").notNull(),
    /** The push token's key (src/messaging/subscription.ts `pushTokenKey`): a send's `tokens` find it here. */
    pushTokenKey: text("push_token_key"),
    version: integer("version").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.installationId] }),
    index("installations_profile_idx").on(t.projectId, t.profileId),
    index("installations_platform_idx").on(t.projectId, t.platform, t.profileId),
    // Partial: segments ask for opted-in installations only (`push_optin: false` is the complement
    // of this set), so the others, a new installation among them, pay no entry here.
    index("installations_push_idx").on(t.projectId, t.profileId).where(sql`${t.pushOptin} = 1`),
    index("installations_push_token_idx").on(t.projectId, t.pushTokenKey).where(sql`${t.pushTokenKey} IS NOT NULL`),
    // The optin_users export pages through an app's installations in this order.
    index("installations_app_seen_idx").on(t.projectId, t.appId, t.lastSeenAt, t.installationId),
  ],
);

export const audiences = sqliteTable(
  "audiences",
  {
    projectId: text("project_id").notNull(),
    name: text("name").notNull(),
    type: text("type", { enum: ["custom_ids", "installation_ids"] }).notNull(),
    description: text("description"),
    size: integer("size").notNull().default(0),
    /** Members of other generations are a replace in progress, or one that failed. */
    generation: integer("generation").notNull().default(0),
    createdAt: text("created_at").notNull(),
    updatedAt: text("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.name] })],
);

export const audienceMembers = sqliteTable(
  "audience_members",
  {
    projectId: text("project_id").notNull(),
    audience: text("audience").notNull(),
    generation: integer("generation").notNull(),
    member: text("member").notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.audience, t.generation, t.member] })],
);
