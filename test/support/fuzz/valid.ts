import fc from "fast-check";
import { hugeNumber, nastyString, weirdValue } from "./values";

// ---------------------------------------------------------------------------------------------
// Valid bodies
// ---------------------------------------------------------------------------------------------

export const nowIso = () => new Date().toISOString();

export const CONTEXT = {
  platform: "ios",
  app_version: "4.2.0",
  sdk_version: "1.0.0",
  os_version: "18.1",
  device_model: "iPhone16,1",
  language: "fr",
  region: "FR",
  timezone: "Europe/Paris",
};

export const SDK_OPS: Record<string, (id: string, customId: string) => Record<string, unknown>> = {
  identify: (id, customId) => ({ id, time: nowIso(), type: "identify", custom_id: customId }),
  attributes: (id) => ({
    id,
    type: "attributes",
    attributes: {
      plan: "pro",
      score: 3.5,
      vip: true,
      tags: ["a", "b"],
      "date(renewal)": "2026-01-01T00:00:00Z",
      "url(site)": "https://example.com",
      $email_address: "a@b.co",
      $language: "fr",
      old: null,
    },
  }),
  event: (id) => ({
    id,
    time: nowIso(),
    type: "event",
    name: "add_to_cart",
    attributes: { sku: "X1", price: 9.99, item: { sku: "a", qty: 1 }, items: [{ sku: "b" }] },
    $label: "label",
    $tags: ["t1"],
  }),
  push_token: (id) => ({ id, type: "push_token", provider: "apns", token: "tok" }),
  push_optin: (id) => ({ id, type: "push_optin", opted_in: true }),
  push_opened: (id) => ({ id, type: "push_opened", campaign_token: "ct" }),
  inapp: (id) => ({
    id,
    type: "inapp",
    event: "shown",
    campaign_token: "ct",
    campaign_id: "c1",
    cta_index: 1,
    cta_label: "Buy",
  }),
  logout: (id) => ({ id, type: "logout" }),
};

export function sdkBatches(knownInstallation: string): fc.Arbitrary<unknown> {
  return fc
    .record({
      installation: fc.oneof(fc.constant(knownInstallation), fc.uuid()),
      seed: fc.uuid(),
      customId: fc.constantFrom("fz-user-1", "fz-user-2"),
      kinds: fc.subarray(Object.keys(SDK_OPS), { minLength: 1 }),
      context: fc.boolean(),
    })
    .map(({ installation, seed, customId, kinds, context }) => ({
      installation_id: installation,
      ...(context ? { context: CONTEXT } : {}),
      ops: kinds.map((k, i) => SDK_OPS[k]?.(`${seed}-${i}`, customId)),
    }));
}

export function profileOperations(known: { customId: string; installation: string }): fc.Arbitrary<unknown> {
  const operation = fc
    .record({
      byCustomId: fc.boolean(),
      customId: fc.oneof(
        fc.constant(known.customId),
        fc.uuid().map((u) => `fz-${u}`),
      ),
      installation: fc.oneof(fc.constant(known.installation), fc.uuid()),
      seed: fc.uuid(),
      time: fc.boolean(),
    })
    .map(({ byCustomId, customId, installation, seed, time }) => ({
      identifiers: byCustomId ? { custom_id: customId } : { installation_id: installation },
      ...(time ? { time: nowIso() } : {}),
      attributes: {
        plan: "pro",
        visits: 3,
        "date(signup)": "2025-06-01T00:00:00Z",
        interests: { $add: ["golf"], $remove: ["tennis"] },
        $email_marketing: "subscribed",
        $phone_number: "+33612345678",
        gone: null,
      },
      events: [{ name: "bought", id: seed, time: nowIso(), attributes: { amount: 10, $label: "l" } }],
    }));
  return fc.array(operation, { minLength: 1, maxLength: 3 });
}

export const whereLeaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.record(
    {
      attribute: fc.oneof(
        fc.constantFrom("tier", "TIER", "$email_address", "$language", "visits", "plan", "date(x)", "$", ""),
        nastyString,
      ),
      op: fc.constantFrom("eq", "neq", "gt", "gte", "lt", "lte", "exists", "contains", "in", "like", "EQ"),
      value: fc.oneof(
        fc.constantFrom<unknown>("gold", 3, true, "2026-01-01T00:00:00Z", ["a", 1, false], []),
        weirdValue,
      ),
    },
    { requiredKeys: ["attribute", "op"] },
  ),
  fc.record({ has_custom_id: fc.oneof(fc.boolean(), weirdValue) }),
  fc.record({ in_audience: fc.oneof(fc.constantFrom("vip", "nope"), nastyString) }),
  fc.record({ platform: fc.oneof(fc.constantFrom("ios", "android", "web"), nastyString) }),
  fc.record({ push_optin: fc.oneof(fc.boolean(), weirdValue) }),
  fc.record({ email_marketing: fc.oneof(fc.constantFrom("subscribed", "unsubscribed"), nastyString) }),
  fc.record({
    last_activity: fc.record(
      {
        after: fc.oneof(
          fc.constantFrom("2020-01-01T00:00:00Z", "2020-01-01", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z"),
          nastyString,
        ),
        before: fc.oneof(fc.constantFrom("2099-01-01T00:00:00+14:00", "2024-02-30T00:00:00Z"), nastyString),
      },
      { requiredKeys: [] },
    ),
  }),
);

/** A node with arbitrary keys: near the real ones, prototype names, or anything. */
export const oddNode = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      "and",
      "or",
      "not",
      "attribute",
      "op",
      "value",
      "has_custom_id",
      "in_audience",
      "platform",
      "push_optin",
      "email_marketing",
      "last_activity",
      "constructor",
      "__proto__",
      "toString",
    ),
    nastyString,
  ),
  weirdValue,
  { minKeys: 1, maxKeys: 3 },
);

export const whereTree: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 3, arbitrary: whereLeaf },
    { weight: 1, arbitrary: oddNode },
    fc.record({ and: fc.array(tie("node"), { maxLength: 5 }) }),
    fc.record({ or: fc.array(tie("node"), { maxLength: 5 }) }),
    fc.record({ not: tie("node") }),
  ),
})).node;

export const VALID_WHERE = [
  { attribute: "tier", op: "eq", value: "gold" },
  { and: [{ push_optin: true }, { platform: "ios" }] },
  { or: [{ has_custom_id: true }, { not: { attribute: "visits", op: "gte", value: 3 } }] },
  { in_audience: "vip" },
  { attribute: "interests", op: "contains", value: "golf" },
  { attribute: "plan", op: "in", value: ["pro", "free"] },
  { attribute: "$email_address", op: "exists" },
  { email_marketing: "subscribed" },
  { last_activity: { after: "2020-01-01T00:00:00Z", before: "2099-01-01T00:00:00Z" } },
];

/** Valid where trees: the shapes above, combined. */
export const validWhere: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 3, arbitrary: fc.constantFrom<unknown>(...VALID_WHERE) },
    { weight: 1, arbitrary: fc.record({ and: fc.array(tie("node"), { minLength: 1, maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ or: fc.array(tie("node"), { minLength: 1, maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ not: tie("node") }) },
  ),
})).node;

export function segmentQueries(profileId: string): fc.Arbitrary<unknown> {
  return fc.record(
    {
      where: validWhere,
      limit: fc.integer({ min: 1, max: 1000 }),
      cursor: fc.constant(btoa(profileId).replaceAll("=", "")),
      count_only: fc.boolean(),
    },
    { requiredKeys: ["where"] },
  );
}

export function shapedSegmentQueries(profileId: string): fc.Arbitrary<unknown> {
  return fc.record(
    {
      where: whereTree,
      limit: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(0, 1001, 1.5, -1), hugeNumber),
      cursor: fc.oneof(
        fc.constant(btoa(profileId).replaceAll("=", "")),
        fc.constant(btoa(profileId.toUpperCase())),
        // The default unit is printable ASCII, which btoa takes.
        fc.string({ maxLength: 40 }).map((s) => btoa(s)),
        nastyString,
      ),
      count_only: fc.oneof(fc.boolean(), weirdValue),
    },
    { requiredKeys: ["where"] },
  );
}
