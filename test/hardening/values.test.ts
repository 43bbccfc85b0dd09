import { describe, expect, it } from "vitest";
import { call, createProject, errorOf, restHeaders } from "../support/harness";
import { attributes, profileBy, sendBatch } from "../support/identity";

async function refusedAttribute(value: Record<string, unknown>, path: string) {
  const p = await createProject();
  const installationId = crypto.randomUUID();
  const res = await sendBatch(p, installationId, [attributes(value)]);
  expect(res.status).toBe(400);
  const error = await errorOf(res);
  expect(error.code).toBe("VALIDATION_FAILED");
  expect(error.issues?.map((i) => i.path)).toEqual([path]);
  expect((await profileBy(p, { installation_id: installationId })).status).toBe(404);
}

describe("url() attributes refuse schemes that execute", () => {
  it.each([
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "blob:https://example.com/0f2c",
  ])("%j", async (url) => {
    await refusedAttribute({ "url(link)": url }, "ops.0.attributes.url(link)");
  });

  it("keeps https links and app deep links", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    const res = await sendBatch(p, i, [
      attributes({ "url(site)": "https://example.com/a", "url(app)": "myapp://cart" }),
    ]);
    expect(res.status).toBe(200);
    const view = await profileBy(p, { installation_id: i });
    expect(view.body?.attributes.site?.value).toBe("https://example.com/a");
    expect(view.body?.attributes.app?.value).toBe("myapp://cart");
  });
});

describe("native values mean one thing", () => {
  it.each(["a@b\u0000.com", "a\u0007@b.com", "a@b.com\u007f", "a@b\u200b.com"])(
    "$email_address %j with an invisible or control character is refused",
    async (email) => {
      await refusedAttribute({ $email_address: email }, "ops.0.attributes.$email_address");
    },
  );

  it.each(["2026-02-30T00:00:00Z", "2026-04-31T10:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T24:00:00Z"])(
    "the impossible date %j is refused, not rolled over",
    async (date) => {
      await refusedAttribute({ "date(renewal)": date }, "ops.0.attributes.date(renewal)");
    },
  );

  it("a real leap day is kept", async () => {
    const p = await createProject();
    const i = crypto.randomUUID();
    expect((await sendBatch(p, i, [attributes({ "date(d)": "2028-02-29T12:00:00Z" })])).status).toBe(200);
    expect((await profileBy(p, { installation_id: i })).body?.attributes.d?.value).toBe("2028-02-29T12:00:00.000Z");
  });

  it("a segment on an impossible date is refused", async () => {
    const p = await createProject();
    const res = await call("POST", "/v1/segments/query", {
      headers: restHeaders(p),
      body: { where: { last_activity: { after: "2026-02-30T00:00:00Z" } } },
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("VALIDATION_FAILED");
  });
});
