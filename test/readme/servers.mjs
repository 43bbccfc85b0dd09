// The README run's two local servers: a recording HTTP proxy that every example's curl goes
// through (so each request and response is seen whole, as sent), and the receiver that webhooks
// and privacy callbacks are delivered to.
import { createServer, request as httpRequest } from "node:http";

/** Listens on 127.0.0.1 on a free port; resolves to the port. */
export function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}

async function readAll(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const HOP_BY_HOP = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "expect",
  "transfer-encoding",
  "te",
  "upgrade",
]);
const TAG = "x-readme-call";

function bodyOf(buffer, headers) {
  const text = buffer.toString("utf8");
  const out = { body: text };
  if (/json/i.test(headers["content-type"] ?? "") && text !== "") {
    try {
      out.json = JSON.parse(text);
    } catch {}
  }
  return out;
}

/**
 * A forward proxy for http:// URLs (curl --proxy): forwards each request unchanged but for the
 * tag header `X-Readme-Call` (where in the docs the call comes from), and hands every exchange
 * to `record`.
 */
export function recordingProxy(record) {
  return createServer(async (req, res) => {
    try {
      if (!/^http:\/\//.test(req.url ?? "")) {
        res.writeHead(400).end("absolute http:// URLs only (a forward proxy)");
        return;
      }
      const url = new URL(req.url);
      const tag = req.headers[TAG];
      const headers = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (!HOP_BY_HOP.has(name) && name !== TAG) headers[name] = value;
      }
      const body = await readAll(req);
      if (body.length > 0) headers["content-length"] = String(body.length);
      const upstream = await new Promise((resolve, reject) => {
        const out = httpRequest(
          { host: url.hostname, port: url.port, method: req.method, path: `${url.pathname}${url.search}`, headers },
          resolve,
        );
        out.on("error", reject);
        out.end(body);
      });
      const answer = await readAll(upstream);
      const responseHeaders = {};
      for (const [name, value] of Object.entries(upstream.headers)) {
        if (!HOP_BY_HOP.has(name)) responseHeaders[name] = value;
      }
      responseHeaders["content-length"] = String(answer.length);
      res.writeHead(upstream.statusCode ?? 502, upstream.statusMessage, responseHeaders);
      res.end(answer);
      record({
        tag: typeof tag === "string" ? tag : null,
        request: {
          method: req.method,
          url: req.url,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers,
          ...bodyOf(body, headers),
        },
        response: { status: upstream.statusCode, headers: responseHeaders, ...bodyOf(answer, responseHeaders) },
      });
    } catch (error) {
      res.writeHead(502).end(String(error));
    }
  });
}

/** The local receiver of webhooks and privacy callbacks: records each POST, answers 204. */
export function receiver(received) {
  return createServer(async (req, res) => {
    const body = (await readAll(req)).toString("utf8");
    received.push({ method: req.method, path: req.url, headers: req.headers, body });
    res.writeHead(req.method === "POST" ? 204 : 404).end();
  });
}
