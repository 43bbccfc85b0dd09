/**
 * Every CSV we write is safe to open in a spreadsheet (SPEC §5, OWASP "CSV Injection"): a cell
 * beginning with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` and is quoted.
 * Values sent with the public SDK key reach customers' spreadsheets, so the check is end to end.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { csvRows } from "../../src/exports/files";
import { spreadsheetSafe } from "../../src/lib/csv";
import { call, createProject, type Project, restHeaders } from "../support/harness";
import { waitForProjection } from "../support/projection";
import { onDemandExport } from "./helpers";

describe("the cell writer", () => {
  it("neutralises each formula start, strings and numbers alike, and quotes the cell", () => {
    const row = ['=HYPERLINK("http://x","y")', "+1", "-1", -1, "@SUM(A1)", "\tx", "\rx", "a=b", 3, true, null, ""];
    expect(csvRows([row])).toBe(
      `"'=HYPERLINK(""http://x"",""y"")","'+1","'-1","'-1","'@SUM(A1)","'\tx","'\rx",a=b,3,true,,\r\n`,
    );
  });

  it("reads back by dropping a leading ' before one of those characters", () => {
    for (const text of ["=1+1", "+x", "-2.5", "@me", "\tt", "\rr", "plain", "'quoted already", "'=x", "''-1", "''a"]) {
      const { value } = spreadsheetSafe(text);
      const back = /^'+[=+\-@\t\r]/.test(value) ? value.slice(1) : value;
      expect(back).toBe(text);
    }
  });
});

describe("an on-demand profile export of hostile values", () => {
  let p: Project;
  beforeAll(async () => {
    p = await createProject();
    const res = await call("POST", "/v1/profiles/update", {
      headers: restHeaders(p),
      body: [
        {
          identifiers: { custom_id: "=cmd|' /C calc'!A0" },
          attributes: { cta: '=HYPERLINK("https://evil.example","click")', score: -3, label: "@team" },
        },
      ],
    });
    expect(res.status).toBe(202);
    await waitForProjection(p.projectId, [], ["=cmd|' /C calc'!A0"]);
  }, 60_000);

  it("writes every such cell with a leading ' and in quotes", async () => {
    const text = await onDemandExport(p, { type: "profiles", fields: ["custom_id", "cta", "score", "label"] });
    expect(text).toBe(
      [
        "custom_id,cta,score,label",
        `"'=cmd|' /C calc'!A0","'=HYPERLINK(""https://evil.example"",""click"")","'-3","'@team"`,
        "",
      ].join("\r\n"),
    );
  });
});
