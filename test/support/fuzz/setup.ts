/** Projects, profiles and audiences the endpoints' runs start from, and audience bodies. */
import fc from "fast-check";
import { expect } from "vitest";
import { call, type Project, restHeaders } from "../harness";
import { attributes, batch, event, identify } from "../identity";
import { shardDb } from "../shards";
import { settle } from "./check";
import { type Body, encoder, segment } from "./requests";
import { nastyString } from "./values";

// ---------------------------------------------------------------------------------------------
// Setup helpers
// ---------------------------------------------------------------------------------------------

export const withRestHeaders = (p: Project) =>
  fc
    .boolean()
    .map((batchHeader) =>
      batchHeader ? { Authorization: `Bearer ${p.restKey}`, "X-Batch-Project": p.projectId } : restHeaders(p),
    );

export async function seedProfiles(p: Project) {
  const installation = crypto.randomUUID();
  const answer = await batch(p, installation, [
    identify("fz-known"),
    attributes({ tier: "gold", interests: ["golf"] }),
    event("opened"),
  ]);
  const update = await call("POST", "/v1/profiles/update", {
    headers: restHeaders(p),
    body: [{ identifiers: { custom_id: "fz-known-api" }, attributes: { plan: "pro" } }],
  });
  expect(update.status).toBe(202);
  await settle();
  return { installation, customId: "fz-known", apiCustomId: "fz-known-api", profileId: answer.profile_id };
}

export async function ensureAudiences(p: Project) {
  const existing = await (await shardDb(p.projectId))
    .prepare("SELECT name FROM audiences WHERE project_id = ?")
    .bind(p.projectId)
    .all<{ name: string }>();
  const names = new Set(existing.results.map((r) => r.name));
  for (const [name, type, ids] of [
    ["vip", "custom_ids", ["fz-a", "fz-b"]],
    ["devices", "installation_ids", [crypto.randomUUID()]],
  ] as const) {
    if (names.has(name)) continue;
    const created = await call("POST", "/v1/audiences", { headers: restHeaders(p), body: { name, type } });
    expect(created.status).toBe(201);
    const put = await call("PUT", `/v1/audiences/${name}`, { headers: restHeaders(p), body: { ids } });
    expect(put.status).toBe(200);
  }
}

export const audienceName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("vip", "devices") },
  { weight: 1, arbitrary: fc.constantFrom("VIP", "nope", "a".repeat(100), "a".repeat(101)) },
  { weight: 2, arbitrary: segment },
);

export const csvValue = fc.oneof(
  fc.constantFrom(
    "fz-a",
    "fz-c",
    "custom_id",
    "id",
    "installation_id",
    "",
    " ",
    '"quoted"',
    '"unterminated',
    'a"b',
    '"a""b"',
    '"a"b',
    "a,b",
    "null",
    "anonymous",
    "\u0000",
    "x".repeat(513),
    "x".repeat(70_000),
  ),
  nastyString,
  fc.uuid(),
  fc.uuid().map((u) => u.toUpperCase()),
);

export const csvBodies: fc.Arbitrary<Body> = fc
  .record({
    lines: fc.array(csvValue, { maxLength: 15 }),
    eol: fc.constantFrom("\n", "\r\n", "\r"),
    trailing: fc.boolean(),
    bom: fc.boolean(),
    contentType: fc.constantFrom(
      "text/csv",
      "text/csv; charset=utf-8",
      'text/csv; charset="UTF-8"',
      "text/CSV",
      "text/csv; charset=latin1",
      "text/csv;charset=utf8",
    ),
    bad: fc.option(fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80])),
  })
  .map(({ lines, eol, trailing, bom, contentType, bad }) => {
    const bytes = encoder.encode(`${bom ? "\ufeff" : ""}${lines.join(eol)}${trailing ? eol : ""}`);
    return {
      label: "csv",
      bytes: bad ? new Uint8Array([...bytes, ...bad, 0x0a]) : bytes,
      contentType,
    };
  });

export const idLists = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom("fz-a", "fz-b", "fz-new") },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: nastyString.filter((s) => s.length < 600) },
  ),
  { maxLength: 5 },
);
