import { describe, expect, it } from "vitest";
import { call, createProject, errorOf, restHeaders } from "../support/harness";
import { attributes, batch, identify, profileBy } from "../support/identity";
import { waitForProjection } from "../support/projection";

describe("GET /v1/profiles?profile_id=", () => {
  it("finds anonymous and signed-in profiles through the projection, never an orphan or another project's", async () => {
    const p = await createProject();
    const anonDevice = crypto.randomUUID();
    const userDevice = crypto.randomUUID();
    const orphanDevice = crypto.randomUUID();
    const anon = await batch(p, anonDevice, [attributes({ plan: "free" })]);
    const user = await batch(p, userDevice, [identify("pid-user"), attributes({ plan: "pro" })]);
    const orphan = await batch(p, orphanDevice, [attributes({ plan: "lost" })]);
    await batch(p, orphanDevice, [identify("pid-user")]);
    await waitForProjection(p.projectId, [anonDevice, userDevice, orphanDevice], ["pid-user"]);

    const byAnon = await profileBy(p, { profile_id: anon.profile_id });
    expect(byAnon.body).toMatchObject({
      profile_id: anon.profile_id,
      custom_id: null,
      attributes: { plan: { value: "free" } },
    });
    const byUser = await profileBy(p, { profile_id: user.profile_id.toUpperCase() });
    expect(byUser.body?.custom_id).toBe("pid-user");
    expect(byUser.body?.installations.map((x) => x.installation_id).sort()).toEqual([userDevice, orphanDevice].sort());

    expect((await profileBy(p, { profile_id: orphan.profile_id })).status).toBe(404);
    expect((await profileBy(p, { profile_id: crypto.randomUUID() })).status).toBe(404);
    const other = await createProject();
    expect((await profileBy(other, { profile_id: user.profile_id })).status).toBe(404);
  });

  it("refuses a profile ID that is not a UUID, or two identifiers at once", async () => {
    const p = await createProject();
    for (const query of ["profile_id=nope", `profile_id=${crypto.randomUUID()}&custom_id=x`]) {
      const res = await call("GET", `/v1/profiles?${query}`, { headers: restHeaders(p) });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe("VALIDATION_FAILED");
    }
  });
});
