/**
 * Chunked bodies over the limit (see chunked.test.ts for the ones under it): a 413 in the
 * envelope and nothing written, for the JSON endpoints and the CSV audience upload; a CSV of
 * nothing but blank lines is cut at the line cap, refused, and not read to its end.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createProject, errorOf, type Project, restHeaders } from "../support/harness";
import { profileBy } from "../support/identity";
import { encoder, MiB, pieceSizes, pieces, request, TEST_TIMEOUT } from "./chunked-streams.support";

// ---------------------------------------------------------------------------------------------
// Over the limit: 413, nothing written
// ---------------------------------------------------------------------------------------------

const SPACES = encoder.encode(" ".repeat(64 * 1024));

async function massUpdates(p: Project): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM requests WHERE project_id = ?").bind(p.projectId).first<{
    n: number;
  }>();
  return row?.n ?? 0;
}

describe("a chunked body over the limit is a 413 and writes nothing (fuzz)", () => {
  let p: Project;
  beforeAll(async () => {
    p = await createProject();
  });

  const JSON_ROUTES = [
    { path: "/v1/sdk/batch", limit: MiB / 2, runs: 8, piece: 32 * 1024 },
    { path: "/v1/profiles/update", limit: 5 * MiB, runs: 4, piece: 512 * 1024 },
    { path: "/v1/profiles/mass-update", limit: 50 * MiB, runs: 2, piece: 2 * MiB },
  ];
  for (const route of JSON_ROUTES) {
    it(
      `${route.path}: a valid body padded past ${route.limit} bytes`,
      async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.uuid(),
            fc.uuid(),
            fc.integer({ min: 1, max: 64 * 1024 }),
            pieceSizes(route.piece, route.piece / 16),
            async (installation, user, over, sizes) => {
              const customId = `big-${user}`;
              // Valid JSON whatever its length: the spaces sit between the value and its end.
              const [head, tail] =
                route.path === "/v1/sdk/batch"
                  ? [
                      `{"installation_id":"${installation}","ops":[{"id":"${user}","type":"identify","custom_id":"${customId}"}]`,
                      "}",
                    ]
                  : [`[{"identifiers":{"custom_id":"${customId}"},"attributes":{"tier":"gold"}}`, "]"];
              const body = pieces(
                { head: encoder.encode(head), fill: SPACES, total: route.limit + over, tail: encoder.encode(tail) },
                sizes,
              );
              const res = await request(p, "POST", route.path, "application/json", body.stream);
              expect(res.status).toBe(413);
              expect((await errorOf(res)).code).toBe("PAYLOAD_TOO_LARGE");
              expect((await profileBy(p, { custom_id: customId })).status).toBe(404);
              expect((await profileBy(p, { installation_id: installation })).status).toBe(404);
              expect(await massUpdates(p)).toBe(0);
            },
          ),
          { numRuns: route.runs },
        );
      },
      TEST_TIMEOUT,
    );
  }

  it(
    "CSV audience replace: valid IDs, then blank lines of spaces past 128 MiB",
    async () => {
      const members = await keptAudience(p, "over");
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.uuid(), { minLength: 1, maxLength: 50 }),
          fc.integer({ min: 1, max: 64 * 1024 }),
          pieceSizes(2 * MiB, 64 * 1024),
          async (ids, over, sizes) => {
            const line = new Uint8Array(SPACES.length + 1).fill(32);
            line[SPACES.length] = 10;
            const body = pieces(
              { head: encoder.encode(`custom_id\n${ids.join("\n")}\n`), fill: line, total: 128 * MiB + over },
              sizes,
            );
            const res = await request(p, "PUT", "/v1/audiences/over", "text/csv", body.stream);
            expect(res.status).toBe(413);
            expect((await errorOf(res)).code).toBe("PAYLOAD_TOO_LARGE");
            expect(await members()).toBe(true);
          },
        ),
        { numRuns: 2 },
      );
    },
    TEST_TIMEOUT,
  );

  it(
    "CSV audience replace: a stream of blank lines is cut at the line cap",
    async () => {
      const members = await keptAudience(p, "blank");
      const blank = fc.constantFrom("\n", "\r\n", "  \n", "\t\r\n", " \u3000\u00a0\n");
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.uuid(), { maxLength: 5 }),
          fc.array(blank, { minLength: 1, maxLength: 8 }),
          pieceSizes(256 * 1024, 1024),
          async (ids, pattern, sizes) => {
            const head = encoder.encode(`custom_id\n${ids.map((id) => `${id}\n`).join("")}`);
            const fill = encoder.encode(pattern.join(""));
            // Three times the cap: the test ends even if the upload were read to its end.
            const lines = 3 * 1_100_000;
            const total = head.length + Math.ceil(lines / pattern.length) * fill.length;
            const body = pieces({ head, fill, total }, sizes);
            const res = await request(p, "PUT", "/v1/audiences/blank", "text/csv", body.stream);
            expect(res.status).toBe(400);
            const error = await errorOf(res);
            expect(error.issues).toEqual([
              { path: "line 1100001", message: "More than 1100000 lines, blank ones included." },
            ]);
            expect(body.ended()).toBe(false);
            expect(await members()).toBe(true);
          },
        ),
        { numRuns: 5 },
      );
    },
    TEST_TIMEOUT,
  );
});

/** Creates an audience with two members; the check says whether they are still all it holds. */
async function keptAudience(p: Project, name: string): Promise<() => Promise<boolean>> {
  const headers = restHeaders(p);
  expect((await call("POST", "/v1/audiences", { headers, body: { name, type: "custom_ids" } })).status).toBe(201);
  const put = await call("PUT", `/v1/audiences/${name}`, { headers, body: { ids: ["keep-1", "keep-2"] } });
  expect(put.status).toBe(200);
  const before = await put.json<{ size: number; updated_at: string }>();
  return async () => {
    const now = await (await call("GET", `/v1/audiences/${name}`, { headers })).json<typeof before>();
    return now.size === 2 && now.updated_at === before.updated_at;
  };
}
