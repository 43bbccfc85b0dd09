import { describe, expect, it } from "vitest";
import { identityMessage } from "../../src/webhooks/items";
import { backoffSeconds, defaultRuntime, GIVE_UP_MS } from "../../src/webhooks/runtime";
import { isValidTopic, subscribed, topicMatches } from "../../src/webhooks/topics";
import { urlProblem } from "../../src/webhooks/url";

describe("backoff", () => {
  it("doubles from 10 s up to an hour, each delay drawn between half and all of its step", () => {
    expect([1, 2, 3, 4].map((n) => backoffSeconds(n, 1))).toEqual([10, 20, 40, 80]);
    expect([1, 2, 3, 4].map((n) => backoffSeconds(n, 0))).toEqual([5, 10, 20, 40]);
    expect(backoffSeconds(30, 1)).toBe(3600);
    expect(backoffSeconds(30, 0.5)).toBe(2700);
  });

  it("keeps a delivery retried for the whole 24 h within the queue's 100 retries", () => {
    let elapsed = 0;
    let attempts = 0;
    while (elapsed < GIVE_UP_MS / 1000) elapsed += backoffSeconds(++attempts, 0);
    expect(attempts).toBeLessThan(100);
  });

  it("gives a receiver 10 s to answer in production", () => {
    expect(defaultRuntime().timeoutMs).toBe(10_000);
  });
});

describe("topics", () => {
  it("match their items", () => {
    expect(topicMatches("event.purchase", "event.purchase")).toBe(true);
    expect(topicMatches("event.purchase", "event.refund")).toBe(false);
    expect(topicMatches("event.*", "event.push_opened")).toBe(true);
    expect(topicMatches("event.*", "identity.login")).toBe(false);
    expect(topicMatches("push.*", "event.push_opened")).toBe(true);
    expect(topicMatches("push.*", "event.inapp_shown")).toBe(false);
    expect(topicMatches("inapp.*", "event.inapp_shown")).toBe(true);
    expect(topicMatches("identity.*", "identity.orphaned")).toBe(true);
    expect(topicMatches("identity.login", "identity.logout")).toBe(false);
    expect(topicMatches("profile.removed", "profile.removed")).toBe(true);
    expect(topicMatches("identity.*", "profile.removed")).toBe(false);
    expect(subscribed(["privacy.completed", "event.a"], "event.a")).toBe(true);
    expect(subscribed(["privacy.completed"], "event.a")).toBe(false);
  });

  it("are refused when unknown", () => {
    expect(isValidTopic("event.a_b_1")).toBe(true);
    expect(isValidTopic("event.")).toBe(false);
    expect(isValidTopic(`event.${"a".repeat(31)}`)).toBe(false);
    expect(isValidTopic("identity.switch_user")).toBe(false);
    expect(isValidTopic("ping")).toBe(false);
  });
});

describe("URLs", () => {
  it("take http:// and private hosts only where ALLOW_HTTP_WEBHOOKS is set", () => {
    expect(urlProblem("http://localhost:8787/hook", false)).not.toBeNull();
    expect(urlProblem("https://127.0.0.1/hook", false)).not.toBeNull();
    expect(urlProblem("http://localhost:8787/hook", true)).toBeNull();
    expect(urlProblem("http://127.0.0.1:9000/hook", true)).toBeNull();
    expect(urlProblem("ftp://localhost/hook", true)).not.toBeNull();
    expect(urlProblem("https://hooks.example.com/a?token=1", false)).toBeNull();
    expect(urlProblem("https://[2606:4700::1111]/a", false)).toBeNull();
    expect(urlProblem("https://8.8.8.8/a", false)).toBeNull();
  });
});

describe("identity messages", () => {
  const entry = {
    time: "2026-01-01T00:00:00.000Z",
    installation_id: "i-1",
    custom_id: null,
    source: "sdk" as const,
    request_id: "r-1",
  };

  it("are made for the five published kinds only", () => {
    for (const kind of ["created", "sign_in", "login", "orphaned"]) {
      expect(identityMessage("m", "p", "prof", null, { ...entry, kind })?.kind).toBe(kind);
    }
    expect(identityMessage("m", "p", "prof", "c", { ...entry, kind: "switch_user" })).toBeNull();
    expect(identityMessage("m", "p", "prof", "c", { ...entry, kind: "created_by_custom_id" })).toBeNull();
  });

  it("announce a logout once, from the profile holding the custom ID", () => {
    expect(identityMessage("m", "p", "user", "c", { ...entry, kind: "logout" })).toMatchObject({
      profile_id: "user",
      custom_id: "c",
      installation_id: "i-1",
    });
    expect(identityMessage("m", "p", "fresh", null, { ...entry, kind: "logout", custom_id: "c" })).toBeNull();
  });
});
