import fc from "fast-check";
import { NATIVE_ATTRIBUTES } from "../../../src/identity/attributes";
import { hugeNumber, nastyString, weirdValue } from "./values";

// ---------------------------------------------------------------------------------------------
// Shaped bodies: the route's fields, each with an arbitrary (often invalid) value
// ---------------------------------------------------------------------------------------------

export const DAY = 24 * 3600 * 1000;

/** Op and event times around the accepted window (30 days back, 5 minutes ahead), and garbage. */
export const opTime: fc.Arbitrary<string> = fc.oneof(
  fc.integer({ min: -31 * DAY, max: 10 * 60 * 1000 }).map((offset) => new Date(Date.now() + offset).toISOString()),
  fc
    .integer({ min: -DAY, max: 0 })
    .map((offset) => new Date(Date.now() + offset).toISOString().replace("Z", "+00:00").replace(/\.\d+/, "")),
  fc.constantFrom("2026-13-01T00:00:00Z", "1970-01-01T00:00:00Z", "+275760-09-13T00:00:00Z", "now", "", "T"),
  nastyString,
);

export const attributeKey: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "plan",
      "PLAN",
      "a".repeat(30),
      "a".repeat(31),
      "date(d)",
      "url(u)",
      "date()",
      "url(x",
      "DATE(d)",
      ...NATIVE_ATTRIBUTES,
      "$unknown",
      "$",
      "__proto__",
      "constructor",
      "tostring",
      "$label",
      "$tags",
    ),
  },
  { weight: 1, arbitrary: nastyString },
);

export const attributeValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: weirdValue },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "a@b.co",
      " a@b.co ",
      "subscribed",
      "+33612345678",
      "fr",
      "FR",
      "Europe/Paris",
      "Mars/Olympus",
      "2026-01-01T00:00:00Z",
      "https://example.com",
      "not a url",
    ),
  },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 300 }), { maxLength: 26 }) },
  {
    weight: 1,
    arbitrary: fc.record(
      { $add: fc.oneof(fc.array(nastyString, { maxLength: 3 }), weirdValue), $remove: fc.array(nastyString) },
      { requiredKeys: [] },
    ),
  },
);

export const flatObject = fc.dictionary(
  fc.oneof(fc.constantFrom("k", "__proto__", "constructor", ""), nastyString),
  fc.oneof(nastyString, hugeNumber, fc.boolean(), fc.constant(null), fc.array(nastyString, { maxLength: 3 })),
  { maxKeys: 5 },
);

export const attributesObject = fc.dictionary(attributeKey, attributeValue, { maxKeys: 8 });
export const eventAttributes = fc.dictionary(
  attributeKey,
  fc.oneof(attributeValue, flatObject, fc.array(flatObject, { maxLength: 3 })),
  { maxKeys: 6 },
);
export const eventName = fc.oneof(
  fc.constantFrom("bought", "BOUGHT", "a".repeat(30), "a".repeat(31), "constructor", "__proto__", "e-1"),
  nastyString,
);
export const opId = fc.oneof({ weight: 4, arbitrary: fc.uuid() }, { weight: 1, arbitrary: nastyString });
export const customId = fc.oneof(
  fc.constantFrom("fz-user-1", "fz-user-2", "fz-known", "fz-known-api"),
  nastyString,
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }),
);

export function shapedSdkBatches(knownInstallation: string): fc.Arbitrary<unknown> {
  const op = fc.oneof(
    fc.record(
      { id: opId, type: fc.constant("identify"), custom_id: customId, time: opTime },
      { requiredKeys: ["id", "type", "custom_id"] },
    ),
    fc.record({ id: opId, type: fc.constant("attributes"), attributes: fc.oneof(attributesObject, weirdValue) }),
    fc.record(
      {
        id: opId,
        type: fc.constant("event"),
        name: eventName,
        time: opTime,
        attributes: eventAttributes,
        $label: fc.oneof(nastyString, fc.constantFrom("", "l".repeat(201))),
        $tags: fc.oneof(fc.array(nastyString, { maxLength: 11 }), weirdValue),
      },
      { requiredKeys: ["id", "type", "name"] },
    ),
    fc.record({
      id: opId,
      type: fc.constant("push_token"),
      provider: fc.oneof(fc.constantFrom("apns", "fcm", "hms", "webpush", "APNS"), nastyString),
      token: fc.oneof(nastyString, fc.constant("t".repeat(4097))),
    }),
    fc.record({ id: opId, type: fc.constant("push_optin"), opted_in: fc.oneof(fc.boolean(), weirdValue) }),
    fc.record(
      { id: opId, type: fc.constant("push_opened"), campaign_token: nastyString, transactional_token: nastyString },
      { requiredKeys: ["id", "type"] },
    ),
    fc.record(
      {
        id: opId,
        type: fc.constant("inapp"),
        event: fc.oneof(fc.constantFrom("supplied", "shown", "clicked", "closed"), nastyString),
        campaign_token: nastyString,
        campaign_id: nastyString,
        cta_index: fc.oneof(fc.integer({ min: -1, max: 101 }), hugeNumber),
        cta_label: nastyString,
      },
      { requiredKeys: ["id", "type", "event", "campaign_token"] },
    ),
    fc.record({ id: opId, type: fc.constant("logout"), time: opTime }, { requiredKeys: ["id", "type"] }),
  );
  const context = fc.record(
    {
      platform: fc.oneof(fc.constantFrom("ios", "android", "web"), nastyString),
      app_version: nastyString,
      sdk_version: nastyString,
      os_version: nastyString,
      device_model: fc.oneof(nastyString, fc.constant("d".repeat(129))),
      language: fc.oneof(fc.constantFrom("fr", "FR", "fra", "zz"), nastyString),
      region: fc.oneof(fc.constantFrom("fr", "FR", "FRA"), nastyString),
      timezone: fc.oneof(
        fc.constantFrom("Europe/Paris", "UTC", "Etc/GMT+5", "Mars/Olympus", "europe/paris"),
        nastyString,
      ),
    },
    { requiredKeys: [] },
  );
  return fc.record(
    {
      installation_id: fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom(knownInstallation, knownInstallation.toUpperCase()) },
        { weight: 2, arbitrary: fc.uuid() },
        { weight: 1, arbitrary: nastyString },
      ),
      context: fc.oneof(context, weirdValue),
      ops: fc.oneof({ weight: 4, arbitrary: fc.array(op, { maxLength: 6 }) }, { weight: 1, arbitrary: weirdValue }),
    },
    { requiredKeys: ["installation_id", "ops"] },
  );
}

export function shapedProfileOperations(knownInstallation: string): fc.Arbitrary<unknown> {
  const installation = fc.oneof(
    fc.constantFrom(knownInstallation, knownInstallation.toUpperCase()),
    fc.uuid(),
    nastyString,
  );
  const operation = fc.record(
    {
      identifiers: fc.oneof(
        { weight: 3, arbitrary: fc.record({ custom_id: customId }) },
        { weight: 3, arbitrary: fc.record({ installation_id: installation }) },
        { weight: 1, arbitrary: fc.record({ custom_id: customId, installation_id: installation }) },
        { weight: 1, arbitrary: weirdValue },
      ),
      attributes: fc.oneof({ weight: 3, arbitrary: attributesObject }, { weight: 1, arbitrary: weirdValue }),
      events: fc.oneof(
        {
          weight: 3,
          arbitrary: fc.array(
            fc.record(
              { name: eventName, id: opId, time: opTime, attributes: eventAttributes },
              { requiredKeys: ["name"] },
            ),
            { maxLength: 3 },
          ),
        },
        { weight: 1, arbitrary: weirdValue },
      ),
      time: opTime,
    },
    { requiredKeys: ["identifiers"] },
  );
  return fc.oneof({ weight: 5, arbitrary: fc.array(operation, { maxLength: 5 }) }, { weight: 1, arbitrary: operation });
}

/** A flat object of `keys` 300-character strings: valid in event attributes, about 310 bytes a key. */
export const flatOf = (keys: number) =>
  Object.fromEntries(Array.from({ length: keys }, (_, i) => [`k${i}`, "x".repeat(300)]));
