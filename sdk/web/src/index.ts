import { customIdProblem, normalizeCustomId } from "./custom-id";
import { EdgeCdpError } from "./errors";
import { isUuid, uuid } from "./ids";
import { type SubscribePushOptions, subscribePush } from "./push";
import { OpQueue } from "./queue";
import { Sender, type SenderOptions } from "./sender";

export { customIdProblem, PLACEHOLDER_CUSTOM_IDS } from "./custom-id";
export { EdgeCdpError } from "./errors";
export type { SubscribePushOptions } from "./push";
export type { Op } from "./queue";

export const SDK_VERSION = "0.1.0";

/** A profile attribute value (SPEC §3). A `Date` is sent as `date(name)`, a `URL` as `url(name)`. */
export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | string[]
  | Date
  | URL
  | { $add?: string[]; $remove?: string[] };

/** An event attribute: the attribute values plus objects and arrays of flat objects. */
export type EventAttributeValue =
  | Exclude<AttributeValue, { $add?: string[] }>
  | Record<string, string | number | boolean | null>
  | Record<string, string | number | boolean | null>[];

export interface InitOptions {
  /** The Worker's base URL, e.g. `https://cdp.example.com`. */
  endpoint: string;
  /** The web app's SDK API key (public). */
  apiKey: string;
  /** Sent in the context as `app_version`. */
  appVersion?: string;
  /** How long ops wait for others to join their batch (default 1000 ms). */
  flushDelayMs?: number;
  /** The most ops kept waiting (default 1000); beyond it the oldest non-identity ops are dropped. */
  maxQueueSize?: number;
  /** First retry delay (default 1000 ms), doubled on each failure up to `maxRetryDelayMs` (default 60 s). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Where the installation ID and the queue are kept (default `localStorage`); null keeps them in memory. */
  storage?: Storage | null;
  /** Prefix of the storage keys (default `edge-cdp`). */
  storageKey?: string;
  /** Told about ops the server refused for good, ops dropped from a full queue, and failed sends. */
  onError?: (error: EdgeCdpError) => void;
}

export interface Client {
  /** This browser's installation ID: a UUID made on first start and kept in `localStorage`. */
  readonly installationId: string;
  /** Signs in (or logs in) as `customId`. Throws an `EdgeCdpError` for IDs the server refuses, like "null". */
  identify(customId: string): void;
  /** Leaves the current user: the installation gets a fresh anonymous profile. */
  logout(): void;
  setAttributes(attributes: Record<string, AttributeValue>): void;
  track(name: string, attributes?: Record<string, EventAttributeValue>): void;
  /** Sends what is queued now; resolves once the server has it, rejects when a send fails (retries go on). */
  flush(): Promise<void>;
  /**
   * Asks for notification permission and subscribes this browser to Web Push with the project's
   * key; registers the SDK's service worker (`/edge-cdp-sw.js` unless told). Null when refused.
   */
  subscribePush(options?: SubscribePushOptions): Promise<PushSubscription | null>;
}

function defaultStorage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    // Reading `localStorage` throws when the browser blocks site data.
    return null;
  }
}

function loadInstallationId(storage: Storage | null, key: string): string {
  try {
    const stored = storage?.getItem(key);
    if (isUuid(stored)) return stored.toLowerCase();
  } catch {}
  const id = uuid();
  try {
    storage?.setItem(key, id);
  } catch {}
  return id;
}

/** Dates and URLs become Batch's typed keys, `date(name)` and `url(name)`. */
function encodeAttributes(attributes: Record<string, AttributeValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (value instanceof Date) out[`date(${name})`] = value.toISOString();
    else if (value instanceof URL) out[`url(${name})`] = value.href;
    else out[name] = value;
  }
  return out;
}

/** The language, region and timezone the browser runs in: written as `sdk_auto` attributes. */
function browserContext(appVersion: string | undefined): Record<string, string> {
  const context: Record<string, string> = { platform: "web", sdk_version: SDK_VERSION };
  if (appVersion) context.app_version = appVersion;
  const [language, region] = (typeof navigator === "undefined" ? "" : navigator.language || "").split("-");
  if (language && /^[a-z]{2}$/i.test(language)) context.language = language.toLowerCase();
  if (region && /^[a-z]{2}$/i.test(region)) context.region = region.toUpperCase();
  try {
    const timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (timezone) context.timezone = timezone;
  } catch {}
  return context;
}

/** Starts the SDK: one client per page. */
export function init(options: InitOptions): Client {
  if (!options?.endpoint || !options.apiKey)
    throw new EdgeCdpError("INVALID_OPTIONS", "init needs endpoint and apiKey.");
  const storage = options.storage === undefined ? defaultStorage() : options.storage;
  const prefix = options.storageKey ?? "edge-cdp";
  const report = (error: EdgeCdpError) => {
    if (options.onError) options.onError(error);
    else console.warn(`[edge-cdp] ${error.message}`);
  };
  const installationId = loadInstallationId(storage, `${prefix}.installation_id`);
  const queue = new OpQueue(storage, `${prefix}.queue`, options.maxQueueSize ?? 1000, (dropped) =>
    report(new EdgeCdpError("QUEUE_FULL", `The queue is full: ${dropped.length} op(s) dropped.`, dropped)),
  );
  const senderOptions: SenderOptions = {
    url: `${options.endpoint.replace(/\/+$/, "")}/v1/sdk/batch`,
    apiKey: options.apiKey,
    installationId,
    context: () => browserContext(options.appVersion),
    flushDelayMs: options.flushDelayMs ?? 1000,
    retryDelayMs: options.retryDelayMs ?? 1000,
    maxRetryDelayMs: options.maxRetryDelayMs ?? 60_000,
    report,
  };
  const sender = new Sender(queue, senderOptions);

  const add = (fields: { type: string; [field: string]: unknown }) => {
    queue.push({ id: uuid(), time: new Date().toISOString(), ...fields });
    sender.queued();
  };

  if (typeof addEventListener === "function") {
    // `pagehide` is the last event a page reliably gets (also on mobile, and into the
    // back/forward cache); `visibilitychange` covers a tab that is hidden and then killed.
    addEventListener("pagehide", () => sender.sendOnExit());
    addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") sender.sendOnExit();
    });
    addEventListener("online", () => sender.retryNow());
  }
  // What a previous page left behind goes out with the first batch of this one.
  if (queue.size > 0) sender.queued();

  return {
    installationId,
    identify(customId) {
      const problem = customIdProblem(customId);
      if (problem) throw new EdgeCdpError("INVALID_CUSTOM_ID", problem);
      add({ type: "identify", custom_id: normalizeCustomId(customId) });
    },
    logout() {
      add({ type: "logout" });
    },
    setAttributes(attributes) {
      add({ type: "attributes", attributes: encodeAttributes(attributes) });
    },
    track(name, attributes) {
      if (attributes === undefined) return add({ type: "event", name });
      // Batch's `$label` and `$tags` ride on the event op itself, beside its attributes.
      const { $label, $tags, ...rest } = attributes;
      add({
        type: "event",
        name,
        attributes: encodeAttributes(rest as Record<string, AttributeValue>),
        ...($label === undefined ? {} : { $label }),
        ...($tags === undefined ? {} : { $tags }),
      });
    },
    flush: () => sender.flush(),
    subscribePush: (pushOptions) =>
      subscribePush(
        { endpoint: options.endpoint.replace(/\/+$/, ""), apiKey: options.apiKey, installationId, add },
        pushOptions,
      ),
  };
}
