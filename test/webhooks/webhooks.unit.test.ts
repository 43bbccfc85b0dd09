import { describe, expect, it } from "vitest";
import { identityMessage } from "../../src/webhooks/items";
import { parseIpv6 } from "../../src/webhooks/private-host";
import { backoffSeconds, defaultRuntime, GIVE_UP_MS } from "../../src/webhooks/runtime";
import { isValidTopic, subscribed, topicMatches } from "../../src/webhooks/topics";
import { allowsHttp, isPrivateHost, urlProblem } from "../../src/webhooks/url";

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

describe("private hosts inside IPv6", () => {
  /** IPv6 forms that carry a private IPv4 address, as written and as the URL parser rewrites them. */
  const refused = [
    "[::7f00:1]",
    "[::127.0.0.1]",
    "[::a9fe:a9fe]",
    "[::169.254.169.254]",
    "[::a00:1]",
    "[::ffff:7f00:1]",
    "[::ffff:0:7f00:1]",
    "[64:ff9b::7f00:1]",
    "[64:ff9b::169.254.169.254]",
    "[64:ff9b:1::a00:1]",
    "[2002:7f00:1::]",
    "[2002:a9fe:a9fe::1]",
    "[2002:c0a8:1::]",
    // Teredo: a private server, or a client 127.0.0.1 (inverted bits 80ff:fffe).
    "[2001:0:a00:1::1]",
    "[2001:0:808:808::80ff:fffe]",
    "[2606:4700::5efe:7f00:1]",
    "[2606:4700::200:5efe:a00:1]",
    "[::]",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[fe80::1]",
    "[fc00::1]",
    "[fec0::1]",
    "[ff02::1]",
    "[100::1]",
    "[2001:db8::1]",
    "[not-an-address]",
  ];
  it.each(refused)("refuses %s, as written and through a URL", (host) => {
    expect(isPrivateHost(host)).toBe(true);
    if (host !== "[not-an-address]") expect(urlProblem(`https://${host}/hook`, false)).not.toBeNull();
  });

  it("accepts the same forms carrying a public IPv4 address, and global unicast", () => {
    for (const host of [
      "[64:ff9b::808:808]",
      "[::ffff:808:808]",
      "[2002:808:808::1]",
      "[2606:4700:4700::1111]",
      "[2a00:1450:4007:80f::200e]",
    ]) {
      expect(isPrivateHost(host), host).toBe(false);
      expect(urlProblem(`https://${host}/hook`, false), host).toBeNull();
    }
  });

  it("parses every spelling of one address to the same groups", () => {
    const loop = [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1];
    expect(parseIpv6("::ffff:127.0.0.1")).toEqual(loop);
    expect(parseIpv6("0:0:0:0:0:ffff:7f00:1")).toEqual(loop);
    expect(parseIpv6("::FFFF:7F00:0001")).toEqual(loop);
    for (const bad of ["1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "::1.2.3", ":1", "1:2:3:4:5:6:7"]) {
      expect(parseIpv6(bad), bad).toBeNull();
    }
  });
});

describe("ALLOW_HTTP_WEBHOOKS", () => {
  it("is read one way for webhooks and callbacks: off when unset, empty, 0, false or off", () => {
    for (const off of [undefined, "", " ", "0", "false", "FALSE", "off"]) {
      expect(allowsHttp({ ALLOW_HTTP_WEBHOOKS: off }), String(off)).toBe(false);
    }
    for (const on of ["1", "true", "yes", "on"]) expect(allowsHttp({ ALLOW_HTTP_WEBHOOKS: on }), on).toBe(true);
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
