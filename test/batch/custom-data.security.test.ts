import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { profileBy } from "../support/identity";
import { batchCall, credentialsOf } from "./support";

let owner: Project;
let other: Project;
beforeAll(async () => {
  owner = await createProject();
  other = await createProject();
});

describe("Custom Data API: one project's keys never reach another's profiles", () => {
  it("writes only to the project the path's app belongs to", async () => {
    const res = await batchCall("POST", credentialsOf(owner), "/data/users/shared-id", {
      body: { values: { "u.a": 1 } },
    });
    expect(res.status).toBe(202);
    expect((await profileBy(owner, { custom_id: "shared-id" })).body?.attributes.a?.value).toBe(1);
    expect((await profileBy(other, { custom_id: "shared-id" })).status).toBe(404);
  });

  it("refuses a DELETE with another project's REST key and leaves the profile as it was", async () => {
    await batchCall("POST", credentialsOf(owner), "/data/users/kept", { body: { values: { "u.a": 1 } } });
    const res = await batchCall("DELETE", { apiKey: owner.sdkKey, restKey: other.restKey }, "/data/users/kept");
    expect(res.status).toBe(401);
    expect((await profileBy(owner, { custom_id: "kept" })).body?.attributes.a?.value).toBe(1);
  });

  it("a bulk request's status is the project's own: another project cannot read it", async () => {
    const res = await batchCall("POST", credentialsOf(owner), "/data/users", {
      body: [{ id: "b1", update: { values: { "u.a": 1 } } }],
    });
    const { request_id } = await res.json<{ request_id: string }>();
    expect((await call("GET", `/v1/requests/${request_id}`, { headers: restHeaders(other) })).status).toBe(404);
    expect((await call("GET", `/v1/requests/${request_id}`, { headers: restHeaders(owner) })).status).toBe(200);
  });

  it("does not take a /v1 bearer key in place of X-Authorization", async () => {
    const res = await batchCall("POST", { apiKey: owner.sdkKey }, "/data/users/bearer", {
      body: { values: { "u.a": 1 } },
      headers: restHeaders(owner),
    });
    expect(res.status).toBe(401);
    expect((await profileBy(owner, { custom_id: "bearer" })).status).toBe(404);
  });
});
