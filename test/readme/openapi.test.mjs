// `node --test test/readme/`: the exchange check finds each kind of disagreement.
import assert from "node:assert/strict";
import { test } from "node:test";
import { exchangeChecker } from "./openapi.mjs";

const doc = {
  openapi: "3.1.0",
  info: { title: "t", version: "1" },
  components: {
    schemas: {
      Thing: { type: "object", required: ["id"], properties: { id: { type: "string" } }, additionalProperties: false },
    },
  },
  paths: {
    "/v1/things/{id}": {
      get: {
        parameters: [
          { name: "id", in: "path", required: true, schema: { type: "string", pattern: "^t_" } },
          { name: "limit", in: "query", schema: { type: "integer", maximum: 10 } },
        ],
        responses: {
          200: { description: "", content: { "application/json": { schema: { $ref: "#/components/schemas/Thing" } } } },
        },
      },
    },
    "/v1/things/{id}.csv": {
      get: { responses: { 200: { description: "", content: { "text/csv": { schema: {} } } } } },
    },
    "/v1/things": {
      post: {
        requestBody: {
          required: true,
          content: { "application/json": { schema: { $ref: "#/components/schemas/Thing" } } },
        },
        responses: { 201: { description: "" } },
      },
    },
  },
};

const exchange = (method, url, status, body, request = {}) => {
  const u = new URL(url, "http://x");
  const json = typeof body === "object" ? body : undefined;
  return {
    request: { method, path: u.pathname, query: Object.fromEntries(u.searchParams), headers: {}, body: "", ...request },
    response: {
      status,
      headers: { "content-type": json ? "application/json" : "text/csv" },
      body: json ? JSON.stringify(json) : (body ?? ""),
      json,
    },
  };
};
const check = exchangeChecker(doc);
const jsonBody = (value) => ({
  headers: { "content-type": "application/json" },
  body: JSON.stringify(value),
  json: value,
});

test("an exchange the document describes passes", () => {
  assert.deepEqual(check(exchange("GET", "/v1/things/t_1?limit=3", 200, { id: "t_1" })), []);
  assert.deepEqual(check(exchange("GET", "/v1/things/t_1.csv", 200, "a,b\r\n")), []);
  assert.deepEqual(check(exchange("POST", "/v1/things", 201, undefined, jsonBody({ id: "x" }))), []);
});

test("a request the server refused is not expected to validate; its answer still is", () => {
  const refused = {
    ...exchange("POST", "/v1/things", 400, { id: "e" }),
  };
  refused.request = { ...refused.request, ...jsonBody({ nope: 1 }) };
  const documented400 = exchangeChecker({
    ...doc,
    paths: {
      "/v1/things": {
        post: { ...doc.paths["/v1/things"].post, responses: { 400: doc.paths["/v1/things/{id}"].get.responses[200] } },
      },
    },
  });
  assert.deepEqual(documented400(refused), []);
  assert.match(check(refused).join(), /status 400 is not documented/);
  assert.deepEqual(check(exchange("GET", "/v1/things/u_1?page=2", 404, { id: "t" })).length, 1);
});

test("each disagreement is reported", () => {
  const one = (x) => {
    const problems = check(x);
    assert.equal(problems.length, 1, JSON.stringify(problems));
    return problems[0];
  };
  assert.match(one(exchange("GET", "/v1/other", 200, { id: "t" })), /no documented route/);
  assert.match(one(exchange("DELETE", "/v1/things/t_1", 200, { id: "t" })), /no documented route/);
  assert.match(one(exchange("GET", "/v1/things/u_1", 200, { id: "t" })), /path parameter id/);
  assert.match(one(exchange("GET", "/v1/things/t_1?limit=30", 200, { id: "t" })), /query parameter limit/);
  assert.match(
    one(exchange("GET", "/v1/things/t_1?page=2", 200, { id: "t" })),
    /query parameter page is not documented/,
  );
  assert.match(one(exchange("GET", "/v1/things/t_1", 400, { id: "t" })), /status 400 is not documented/);
  assert.match(one(exchange("GET", "/v1/things/t_1", 200, { id: 1 })), /response body: \/id must be string/);
  assert.match(one(exchange("GET", "/v1/things/t_1", 200, { id: "t", x: 1 })), /additional properties/);
  assert.match(one(exchange("GET", "/v1/things/t_1", 200, "id\r\nt\r\n")), /text\/csv answer is not documented/);
  assert.match(
    one(exchange("POST", "/v1/things", 201, undefined, jsonBody({}))),
    /request body: .*required property 'id'/,
  );
  assert.match(one(exchange("POST", "/v1/things", 201)), /body is required/);
});
