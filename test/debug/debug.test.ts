import { describe, expect, it } from "vitest";
import { call } from "../support/harness";

describe("GET /debug: the profile debugger page", () => {
  it("is an HTML page under a strict Content-Security-Policy", async () => {
    const res = await call("GET", "/debug");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toContain("text/html");
    const csp = res.headers.get("Content-Security-Policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
    expect(await res.text()).toContain("Profile debugger");
  });

  it("loads only its own script and styles: nothing external, no inline script, no fonts", async () => {
    const html = await (await call("GET", "/debug")).text();
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    // An empty inline icon, so the browser does not ask for /favicon.ico.
    expect(refs.sort()).toEqual(["/debug/debug.css", "/debug/debug.js", "data:,"]);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(html).not.toMatch(/\sstyle="/);

    const js = await call("GET", "/debug/debug.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("Content-Type")).toContain("text/javascript");
    expect(js.headers.get("Content-Security-Policy")).toContain("default-src 'none'");
    expect(await js.text()).not.toMatch(/https?:\/\//);

    const css = await call("GET", "/debug/debug.css");
    expect(css.status).toBe(200);
    expect(css.headers.get("Content-Type")).toContain("text/css");
    const styles = await css.text();
    expect(styles).not.toMatch(/@import|@font-face|url\(/);
  });

  it("answers 404 in the error envelope for a file it does not serve", async () => {
    const res = await call("GET", "/debug/other.js");
    expect(res.status).toBe(404);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("NOT_FOUND");
  });
});
