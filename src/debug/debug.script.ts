/**
 * The debugger's browser script, served as /debug/debug.js so the CSP needs no inline script.
 * Plain ES2020 in a string (the Worker has no browser build step); the browser tests drive it.
 * Everything the API returns goes into the page through textContent, never as HTML.
 */
export const DEBUG_SCRIPT = String.raw`"use strict";
(function () {
  var KEY = "edge-cdp.debug.credentials";
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, props, children) {
    var node = document.createElement(tag);
    if (props) for (var k in props) {
      if (k === "text") node.textContent = props[k];
      else if (k === "className") node.className = props[k];
      else node.setAttribute(k, props[k]);
    }
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.append(child);
    });
    return node;
  }

  // Kept in sessionStorage: this tab only, gone when it closes, never in a URL.
  function loadCredentials() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch (e) { return null; }
  }
  function saveCredentials(c) {
    try { sessionStorage.setItem(KEY, JSON.stringify(c)); } catch (e) { memory = c; }
  }
  var memory = null;
  function credentials() { return loadCredentials() || memory; }

  function showCredentialsState() {
    var c = credentials();
    $("credentials-state").textContent = c ? "Using project " + c.projectId + " (kept in this tab only)." : "Kept in this tab only.";
    if (c) $("project-id").value = c.projectId;
  }

  function when(iso) {
    if (!iso) return "—";
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
  }
  function show(value) {
    if (value === null || value === undefined) return "null";
    if (typeof value === "string") return value;
    return JSON.stringify(value);
  }
  function status(message, kind) {
    var box = $("status");
    box.textContent = message || "";
    box.className = kind || "";
  }

  var LABELS = { custom_id: "custom ID", installation_id: "installation ID", profile_id: "profile ID" };

  function explain(res, body, kind, value) {
    var error = (body && body.error) || {};
    var detail = error.message ? " " + error.message : "";
    var issues = (error.issues || []).map(function (i) { return (i.path ? i.path + ": " : "") + i.message; }).join("; ");
    switch (res.status) {
      case 400: return "The " + LABELS[kind] + " is not valid." + detail + (issues ? " (" + issues + ")" : "");
      case 401: return "The project ID or the REST API key is wrong (401). Use the project's REST API key, not an SDK key." + detail;
      case 403: return "This key may not read that project (403)." + detail;
      case 404: return "No profile has the " + LABELS[kind] + " " + JSON.stringify(value) + " (404).";
      case 409: return "The request contradicts the identity rules (409)." + detail;
      case 429: return "Too many requests for this key (429); wait a few seconds and try again.";
      default: return "The server answered " + res.status + "." + detail + (error.request_id ? " Request ID " + error.request_id + "." : "");
    }
  }

  async function lookUp(kind, value) {
    var c = credentials();
    if (!c) { status("Enter the project ID and the REST API key first.", "error"); return; }
    status("Looking up the " + LABELS[kind] + " " + value + "…", "busy");
    var res;
    try {
      res = await fetch("/v1/profiles?" + new URLSearchParams([[kind, value]]), {
        headers: { Authorization: "Bearer " + c.key, "X-Project-Id": c.projectId, Accept: "application/json" },
        cache: "no-store",
        referrerPolicy: "no-referrer",
      });
    } catch (e) {
      status("The server could not be reached: " + e.message, "error");
      return;
    }
    var body = await res.json().catch(function () { return null; });
    if (!res.ok) {
      $("profile").hidden = true;
      status(explain(res, body, kind, value), "error");
      return;
    }
    status("");
    render(body);
  }

  function link(kind, value) {
    if (!value) return el("span", { className: "muted", text: "none" });
    var a = el("button", { type: "button", className: "id-link", title: "Look up this " + LABELS[kind], text: value });
    a.addEventListener("click", function () {
      $("kind").value = kind;
      $("identifier").value = value;
      lookUp(kind, value);
    });
    return a;
  }

  function table(headers, rows, emptyText) {
    if (rows.length === 0) return el("p", { className: "muted", text: emptyText });
    return el("div", { className: "scroll" }, [
      el("table", null, [
        el("thead", null, [el("tr", null, headers.map(function (h) { return el("th", { text: h }); }))]),
        el("tbody", null, rows.map(function (cells) {
          return el("tr", null, cells.map(function (cell, i) {
            return el("td", { "data-label": headers[i] }, [typeof cell === "string" ? document.createTextNode(cell) : cell]);
          }));
        })),
      ]),
    ]);
  }

  function section(id, title, count, content) {
    return el("section", { id: id, className: "card" }, [
      el("h2", null, [title, count === null ? null : el("span", { className: "count", text: String(count) })]),
      content,
    ]);
  }

  function push(p) {
    if (!p || (!p.provider && p.opted_in === null)) return el("span", { className: "muted", text: "no push" });
    var state = p.opted_in === true ? "opted in" : p.opted_in === false ? "opted out" : "opt-in unknown";
    return el("span", null, [
      el("span", { className: "badge " + (p.opted_in ? "ok" : "off"), text: state }),
      " " + (p.provider || "no token") + (p.token ? " · " + p.token.slice(0, 12) + "…" : ""),
    ]);
  }

  function render(p) {
    var box = $("profile");
    box.replaceChildren();
    var ids = el("section", { id: "identifiers", className: "card identity" }, [
      el("h2", { text: "Identifiers" }),
      el("dl", null, [
        el("dt", { text: "Profile ID" }), el("dd", null, [el("code", { text: p.profile_id })]),
        el("dt", { text: "Custom ID" }), el("dd", null, [p.custom_id ? el("code", { text: p.custom_id }) : el("span", { className: "muted", text: "anonymous" })]),
        el("dt", { text: "State" }), el("dd", null, [el("span", { className: "badge " + (p.state === "active" ? "ok" : "off"), text: p.state })]),
        el("dt", { text: "Created" }), el("dd", { text: when(p.created_at) }),
        el("dt", { text: "Last activity" }), el("dd", { text: when(p.last_activity_at) }),
      ]),
    ]);

    var installs = section("installations", "Installations", p.installations.length, table(
      ["Installation", "Platform", "App / SDK", "Push", "Last seen"],
      p.installations.map(function (i) {
        return [
          link("installation_id", i.installation_id),
          (i.platform || "—") + (i.os_version ? " " + i.os_version : "") + (i.device_model ? " · " + i.device_model : ""),
          (i.app_version || "—") + " / " + (i.sdk_version || "—"),
          push(i.push),
          when(i.last_seen_at),
        ];
      }),
      "No installation: this profile is reachable by its custom ID only."
    ));

    var names = Object.keys(p.attributes).sort();
    var attributes = section("attributes", "Attributes", names.length, table(
      ["Name", "Type", "Value", "Source", "Updated"],
      names.map(function (name) {
        var a = p.attributes[name];
        return [
          el("code", { text: name }),
          el("span", { className: "muted", text: a.type || "—" }),
          show(a.value),
          el("span", { className: "badge src-" + a.source, text: a.source }),
          when(a.updated_at),
        ];
      }),
      "No attributes."
    ));

    // Newest first, as the API returns them; the profile keeps up to 1,000.
    var shown = p.events.slice(0, 50);
    var events = section("events", "Recent events", p.events.length, p.events.length === 0
      ? el("p", { className: "muted", text: "No events." })
      : el("ol", { className: "events" }, shown.map(function (e) {
          var attrs = Object.keys(e.attributes || {}).length ? el("pre", { text: JSON.stringify(e.attributes, null, 2) }) : null;
          return el("li", null, [
            el("div", { className: "event-head" }, [
              el("strong", { text: e.name }),
              e.label ? el("span", { className: "badge", text: e.label }) : null,
              el("time", { datetime: e.time, text: when(e.time) }),
            ]),
            (e.tags || []).length ? el("div", { className: "muted", text: "tags: " + e.tags.join(", ") }) : null,
            attrs,
          ]);
        })));

    var history = section("history", "Identity history", p.identity_history.length, p.identity_history.length === 0
      ? el("p", { className: "muted", text: "No identity changes." })
      : el("ol", { className: "timeline" }, p.identity_history.map(function (h) {
          return el("li", { className: "kind-" + h.kind }, [
            el("div", { className: "event-head" }, [
              el("strong", { className: "kind", text: h.kind.replace(/_/g, " ") }),
              el("time", { datetime: h.time, text: when(h.time) }),
            ]),
            el("div", { className: "meta" }, [
              h.installation_id ? el("span", null, ["installation ", link("installation_id", h.installation_id)]) : null,
              h.custom_id ? el("span", null, ["custom ID ", link("custom_id", h.custom_id)]) : null,
              el("span", { text: "source " + h.source }),
              h.request_id ? el("span", { className: "muted", text: "request " + h.request_id }) : null,
            ]),
          ]);
        })));

    box.append(
      el("div", { className: "grid" }, [
        el("div", { className: "col" }, [ids, installs, attributes]),
        el("div", { className: "col" }, [history, events]),
      ])
    );
    box.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    showCredentialsState();
    $("credentials").addEventListener("submit", function (e) {
      e.preventDefault();
      saveCredentials({ projectId: $("project-id").value.trim(), key: $("rest-key").value.trim() });
      $("rest-key").value = "";
      showCredentialsState();
    });
    $("forget").addEventListener("click", function () {
      try { sessionStorage.removeItem(KEY); } catch (e) {}
      memory = null;
      $("project-id").value = "";
      $("rest-key").value = "";
      $("profile").hidden = true;
      showCredentialsState();
    });
    $("lookup").addEventListener("submit", function (e) {
      e.preventDefault();
      var value = $("identifier").value.trim();
      if (value) lookUp($("kind").value, value);
    });
  });
})();
`;
