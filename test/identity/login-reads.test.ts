import { describe, expect, it } from "vitest";
import { createProject } from "../support/harness";
import { batch, customIdStub, event, identify, installationStub } from "../support/identity";
import { rowsRead, total } from "../support/rows-written";

/*
 * Rows read are billed as rows written are (SPEC §8), and a custom ID that many installations
 * log into at once must not read its whole history of logins for each one: what a login reads
 * in the custom ID's object stays the same however many came before.
 */

const EARLIER = 60;
const MEASURED = 10;

describe("rows read by a login into a custom ID many installations logged into", () => {
  it("do not grow with the logins before it", async () => {
    const p = await createProject();
    const customId = `crowd-${crypto.randomUUID()}`;
    const crowd = Array.from({ length: EARLIER + MEASURED }, () => crypto.randomUUID());
    for (const i of crowd) await batch(p, i, [event("first_open")]);
    for (const i of crowd.slice(0, EARLIER)) await batch(p, i, [identify(customId)]);
    const user = customIdStub(p.projectId, customId);
    const read = await rowsRead({ custom_id: user }, async () => {
      for (const i of crowd.slice(EARLIER)) await batch(p, i, [identify(customId)]);
    });
    console.log("rows read per login", JSON.stringify(read), total(read) / MEASURED);
    // Each login reads the profile row, its own transition key and member, a few rows each.
    expect(total(read) / MEASURED).toBeLessThan(EARLIER / 3);
  });

  it("read nothing of the installation's schema: what its wake read is enough", async () => {
    const p = await createProject();
    const customId = `crowd-${crypto.randomUUID()}`;
    const crowd = Array.from({ length: 5 }, () => crypto.randomUUID());
    for (const i of crowd) await batch(p, i, [event("first_open")]);
    const objects = Object.fromEntries(crowd.map((i) => [i, installationStub(p.projectId, i)]));
    const read = await rowsRead(objects, async () => {
      for (const i of crowd) await batch(p, i, [identify(customId)]);
    });
    for (const i of crowd) expect(read[i]?.sqlite_master ?? 0).toBe(0);
  });
});
