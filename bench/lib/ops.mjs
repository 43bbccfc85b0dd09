// The request bodies the scenarios send.
let counter = 0;

/** An SDK op with a unique ID. */
export const op = (o) => ({ id: `b${++counter}-${Math.random().toString(36).slice(2)}`, ...o });

/** The 10-op SDK batch the hot-path scenarios send: 5 attribute writes, 5 events. */
export const tenOps = () =>
  Array.from({ length: 10 }, (_, k) =>
    k % 2
      ? op({ type: "event", name: "viewed", attributes: { k } })
      : op({ type: "attributes", attributes: { [`a${k}`]: k } }),
  );

/**
 * A Profile API update body: one operation on each custom ID. Not `tier`: the segment scenario
 * counts `tier = gold` over seeded rows only, the same in both Workers' D1.
 */
export const profileUpdates = (customIds) =>
  customIds.map((id, k) => ({
    identifiers: { custom_id: id },
    // A score never sent before: every update changes the profile, so it is projected.
    attributes: { plan: k % 3 ? "gold" : "silver", score: ++counter },
  }));
