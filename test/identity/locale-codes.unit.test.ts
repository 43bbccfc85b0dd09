import { describe, expect, it } from "vitest";
import { languageCode, regionCode } from "../../src/identity/locale-codes";

const letters = "abcdefghijklmnopqrstuvwxyz";
const pairs = [...letters].flatMap((a) => [...letters].map((b) => a + b));

describe("ISO code lists for $language and $region (SPEC §3)", () => {
  it("holds the 183 ISO 639-1 languages and the 249 ISO 3166-1 regions plus XK", () => {
    expect(pairs.filter((p) => languageCode(p) === p)).toHaveLength(183);
    expect(pairs.filter((p) => regionCode(p) === p.toUpperCase())).toHaveLength(250);
  });

  it("normalises case and maps the withdrawn codes older Android releases still send", () => {
    expect(languageCode("FR")).toBe("fr");
    expect(languageCode("iw")).toBe("he");
    expect(languageCode("in")).toBe("id");
    expect(languageCode("ji")).toBe("yi");
    expect(regionCode("fr")).toBe("FR");
    expect(regionCode("xk")).toBe("XK");
  });

  it.each(["xx", "zz", "sh", "fra", "f", "", "français"])("refuses the language %j", (value) => {
    expect(languageCode(value)).toBeNull();
  });

  it.each(["ZZ", "EU", "UK", "YU", "XA", "FRA", "F", "", "419"])("refuses the region %j", (value) => {
    expect(regionCode(value)).toBeNull();
  });
});
