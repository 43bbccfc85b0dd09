import { METHODS, type OpenAPIDocument } from "./openapi";

const escapeHtml = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

/**
 * A self-contained HTML page rendered from the OpenAPI document: no CDN script, so
 * it works offline under `wrangler dev` and never drifts from the route declarations.
 */
export function renderDocs(document: unknown): string {
  const doc = document as OpenAPIDocument;
  const schemaBlock = (label: string, schema: unknown) =>
    `<details><summary>${label}</summary><pre>${escapeHtml(JSON.stringify(schema ?? {}, null, 2))}</pre></details>`;
  const sections: string[] = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item?.[method];
      if (!op) continue;
      // Alternatives are separated by "or"; the schemes of one alternative are all sent.
      const auth = (op.security ?? []).map((s) => Object.keys(s).join(" + ")).join(" or ") || "none";
      const params = (op.parameters ?? [])
        .map((p) => `<code>${escapeHtml(p.name)}</code> (${p.in}${p.required ? ", required" : ""})`)
        .join(", ");
      const body = Object.entries(op.requestBody?.content ?? {})
        .map(([type, media]) => schemaBlock(`Body: <code>${escapeHtml(type)}</code>`, media.schema))
        .join("");
      const responses = Object.entries(op.responses ?? {})
        .map(([status, r]) => {
          const headers = Object.keys(r.headers ?? {});
          const contents = Object.entries(r.content ?? {})
            .map(([type, media]) => schemaBlock(`<code>${escapeHtml(type)}</code>`, media.schema))
            .join("");
          return `<li><code>${status}</code> ${escapeHtml(r.description ?? "")}${
            headers.length ? ` · headers: ${headers.map((h) => `<code>${escapeHtml(h)}</code>`).join(", ")}` : ""
          }${contents}</li>`;
        })
        .join("");
      sections.push(`<section id="${escapeHtml(`${method}-${path}`)}">
<h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>
<p>${escapeHtml(op.summary ?? "")}</p>
${op.description ? `<p>${escapeHtml(op.description)}</p>` : ""}
<p class="meta">Auth: ${escapeHtml(auth)}${params ? ` · Parameters: ${params}` : ""}</p>
${body}<p>Responses:</p><ul>${responses}</ul></section>`);
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.info.title)} API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
section{border-top:1px solid #ddd;padding:.5rem 0} .meta{color:#555;font-size:13px}
.m{display:inline-block;min-width:4.5em;font-size:12px;color:#fff;border-radius:4px;padding:2px 6px;text-align:center}
.get{background:#2b7a3d}.post{background:#1f5fa8}.put{background:#8a5a00}.patch{background:#6b3fa0}.delete{background:#a12c2c}
pre{background:#f6f6f6;padding:.5rem;overflow:auto;font-size:12px}
</style></head><body>
<h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1>
<p>${escapeHtml(doc.info.description ?? "")} Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<p>Errors always use one envelope: <code>{"error":{"code","message","issues"?,"request_id"}}</code>.</p>
${(doc.servers ?? []).map((s) => `<p>Server: <code>${escapeHtml(s.url)}</code></p>`).join("")}
${sections.join("\n")}
<h2>Schemas</h2>
${Object.entries(doc.components?.schemas ?? {})
  .map(
    ([name, schema]) =>
      `<section id="schema-${escapeHtml(name)}">${schemaBlock(`<code>${escapeHtml(name)}</code>`, schema)}</section>`,
  )
  .join("\n")}
<h2>Authentication</h2>
<ul>${Object.entries(doc.components?.securitySchemes ?? {})
    .map(
      ([name, scheme]) =>
        `<li><code>${escapeHtml(name)}</code>: <code>${escapeHtml(JSON.stringify(scheme))}</code></li>`,
    )
    .join("")}</ul>
</body></html>`;
}
