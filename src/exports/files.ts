import { stringify } from "csv-stringify/sync";
import { spreadsheetSafe } from "../lib/csv";
import type { StagedEvent } from "./staging";

/**
 * The daily files of SPEC §6: their columns, which events feed them and how an event becomes a
 * row. CSV is written by csv-stringify's synchronous API a bounded slice of rows at a time: its
 * stream API needs Node's `stream`, which this Worker does not load (no nodejs_compat), and a
 * slice at a time streams just as well.
 */

export const DAILY_KINDS = ["push_events", "inapp_events", "optin_users"] as const;
export type DailyKind = (typeof DAILY_KINDS)[number];
export type EventKind = Exclude<DailyKind, "optin_users">;

export const COLUMNS: Record<DailyKind, readonly string[]> = {
  push_events: ["timestamp", "installation_id", "custom_id", "event", "campaign_token", "transactional_token", "error"],
  inapp_events: [
    "timestamp",
    "installation_id",
    "custom_id",
    "event",
    "campaign_token",
    "event_var_1",
    "event_var_2",
    "event_var_3",
  ],
  optin_users: ["custom_id", "installation_id", "platform", "push_optin", "updated_at"],
};

export const EVENT_NAMES: Record<EventKind, ReadonlySet<string>> = {
  push_events: new Set(["push_optin", "push_optout", "push_sent", "push_opened", "push_error", "token_deleted"]),
  inapp_events: new Set(["inapp_supplied", "inapp_shown", "inapp_clicked", "inapp_closed"]),
};

export function kindOf(name: string): EventKind | null {
  if (EVENT_NAMES.push_events.has(name)) return "push_events";
  if (EVENT_NAMES.inapp_events.has(name)) return "inapp_events";
  return null;
}

export type Cell = string | number | boolean | null | undefined;

/** A scalar attribute as a cell; anything else (absent, object) is empty. */
function cell(value: unknown): Cell {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? value : null;
}

export function eventRow(kind: EventKind, e: StagedEvent): Cell[] {
  const a = e.attributes;
  const head = [e.time, e.installation_id, e.custom_id, e.name, cell(a.campaign_token)];
  return kind === "push_events"
    ? [...head, cell(a.transactional_token), cell(a.error)]
    : [...head, cell(a.campaign_id), cell(a.cta_index), cell(a.cta_label)];
}

/** A string or number cell, made safe to open in a spreadsheet and quoted when it was changed. */
function safeCell(text: string): string | { value: string; quoted: boolean } {
  const { value, neutralised } = spreadsheetSafe(text);
  return neutralised ? { value, quoted: true } : value;
}

/**
 * RFC 4180: CRLF after every record, a field quoted when it holds a comma, quote, CR or LF. Every
 * CSV we write goes through here, so every cell is neutralised against formulas (SPEC §5).
 */
export function csvRows(rows: Cell[][]): string {
  if (rows.length === 0) return "";
  return stringify(rows, {
    record_delimiter: "\r\n",
    // Off by default once the delimiter is set; without it a value holding LF goes unquoted.
    quote_record_delimiter: true,
    cast: { boolean: (v) => (v ? "true" : "false"), number: (v) => safeCell(String(v)), string: safeCell },
  });
}

export const csvHeader = (columns: readonly string[]) => csvRows([[...columns]]);

/** `exports/{project}/{app}/{kind}/{date}.csv`, the SPEC §6 key; the manifest sits beside it. */
export function dailyKey(projectId: string, appId: string, kind: DailyKind, date: string): string {
  return `exports/${projectId}/${appId}/${kind}/${date}.csv`;
}

export const manifestKey = (csvKey: string) => csvKey.replace(/\.csv$/, ".manifest.json");

export interface Manifest {
  rows: number;
  bytes: number;
  sha256: string;
}
