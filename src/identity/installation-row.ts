import { hourOf } from "../lib/time";
import { pushTokenKey } from "../messaging/subscription";
import type { InstallationProjection } from "../queue/messages";
import type { CommitLog } from "./commit-log";
import type { BatchInput } from "./installation-batch";
import type { Binding } from "./transitions";
import type { InstallationView } from "./view";

export interface InstallationRow {
  project_id: string;
  installation_id: string;
  app_id: string | null;
  platform: string | null;
  app_version: string | null;
  sdk_version: string | null;
  os_version: string | null;
  device_model: string | null;
  push_provider: string | null;
  push_token: string | null;
  push_opted_in: number | null;
  first_seen_at: string;
  last_seen_at: string;
  profile_id: string;
  custom_id: string | null;
  version: number;
}

export const INSTALLATION_SCHEMA = `
CREATE TABLE IF NOT EXISTS installation (
  id INTEGER PRIMARY KEY CHECK (id = 1), project_id TEXT NOT NULL, installation_id TEXT NOT NULL,
  app_id TEXT, platform TEXT, app_version TEXT, sdk_version TEXT, os_version TEXT, device_model TEXT,
  push_provider TEXT, push_token TEXT, push_opted_in INTEGER,
  first_seen_at TEXT NOT NULL, last_seen_at TEXT NOT NULL, profile_id TEXT NOT NULL, custom_id TEXT,
  version INTEGER NOT NULL DEFAULT 0);
`;

/**
 * The installation's one row: the device, its push state, and its binding to a profile. Kept
 * in memory as last read or written; `forget` after a rollback.
 */
export class InstallationTable {
  /** The row as last read; undefined once a write may have changed it. */
  #row: InstallationRow | null | undefined;

  constructor(
    private readonly sql: SqlStorage,
    private readonly commits: CommitLog,
  ) {}

  row(): InstallationRow | null {
    this.#row ??= (this.sql.exec("SELECT * FROM installation WHERE id = 1").toArray()[0] ??
      null) as InstallationRow | null;
    return this.#row;
  }

  binding(): Binding {
    const row = this.row();
    if (!row) throw new Error("installation not initialised");
    return { profileId: row.profile_id, customId: row.custom_id };
  }

  forget(): void {
    this.#row = undefined;
  }

  /** Writes the row (one INSERT or UPDATE) and keeps what it now holds. */
  private write(query: string, ...params: SqlStorageValue[]): void {
    this.#row = undefined;
    const rows = this.sql.exec(`${query} RETURNING *`, ...params).toArray();
    this.#row = (rows[0] ?? null) as InstallationRow | null;
  }

  /** Creates the row with what the call says of the device, at version 1: one row written. */
  create(input: BatchInput, profileId: string): void {
    const c = input.source === "sdk" ? input.context : {};
    this.write(
      `INSERT INTO installation (id, project_id, installation_id, app_id, platform, app_version, sdk_version,
         os_version, device_model, first_seen_at, last_seen_at, profile_id, version)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
      input.projectId,
      input.installationId,
      input.appId,
      input.platform,
      c.app_version ?? null,
      c.sdk_version ?? null,
      c.os_version ?? null,
      c.device_model ?? null,
      input.receivedAt,
      input.receivedAt,
      profileId,
    );
  }

  /**
   * Takes in what an SDK call says about the device, and the time of the visit. When that moves
   * what the projection shows, the same statement moves the version on and the projection is
   * told: one row written, not the visit and then the version.
   */
  refresh(input: BatchInput): void {
    const before = this.row();
    if (!before) return;
    const moved = projectedChange(before, {
      ...before,
      app_id: input.appId ?? before.app_id,
      platform: input.platform ?? before.platform,
      last_seen_at: input.receivedAt > before.last_seen_at ? input.receivedAt : before.last_seen_at,
    });
    const c = input.context;
    this.write(
      `UPDATE installation SET app_id = coalesce(?, app_id), platform = coalesce(?, platform),
           app_version = coalesce(?, app_version), sdk_version = coalesce(?, sdk_version),
           os_version = coalesce(?, os_version), device_model = coalesce(?, device_model),
           last_seen_at = max(last_seen_at, ?), version = version + ? WHERE id = 1`,
      input.appId,
      input.platform,
      c.app_version ?? null,
      c.sdk_version ?? null,
      c.os_version ?? null,
      c.device_model ?? null,
      input.receivedAt,
      moved ? 1 : 0,
    );
    if (moved) this.announce();
  }

  setPushToken(provider: string, token: string): void {
    this.write("UPDATE installation SET push_provider = ?, push_token = ? WHERE id = 1", provider, token);
  }

  /** The push service said the token is gone (404/410, FCM UNREGISTERED): the installation has none now. */
  clearPushToken(): void {
    this.write("UPDATE installation SET push_token = NULL WHERE id = 1");
  }

  setOptIn(optedIn: boolean): void {
    this.write("UPDATE installation SET push_opted_in = ? WHERE id = 1", optedIn ? 1 : 0);
  }

  bind(binding: Binding): void {
    this.write(
      "UPDATE installation SET profile_id = ?, custom_id = ? WHERE id = 1",
      binding.profileId,
      binding.customId,
    );
  }

  /** The installation's projected state changed: move its version on and tell the projection. */
  changed(): void {
    if (!this.row()) return;
    this.write("UPDATE installation SET version = version + 1 WHERE id = 1");
    this.announce();
  }

  /** Tells the projection to read the installation again (a new row is at version 1 already). */
  announce(): void {
    const row = this.row();
    if (!row) return;
    this.commits.changed({
      type: "installation_changed",
      project_id: row.project_id,
      installation_id: row.installation_id,
    });
  }
}

/**
 * Whether an SDK call changes the installation row: a device field it did not hold, or a
 * `last_seen_at` in a later minute. The row keeps the last visit to the minute, so the many
 * batches of one session cost no write of their own.
 */
export function refreshes(row: InstallationRow | null, input: BatchInput): boolean {
  if (!row) return true;
  const c = input.context;
  const fields: [keyof InstallationRow, string | null | undefined][] = [
    ["app_id", input.appId],
    ["platform", input.platform],
    ["app_version", c.app_version],
    ["sdk_version", c.sdk_version],
    ["os_version", c.os_version],
    ["device_model", c.device_model],
  ];
  if (fields.some(([name, value]) => value != null && row[name] !== value)) return true;
  return input.receivedAt.slice(0, 16) > row.last_seen_at.slice(0, 16);
}

/**
 * Whether the installation moved in a way the D1 projection shows. `last_seen_at` counts when
 * it enters a new hour: the projection keeps it to the hour, the object to the millisecond, so
 * a busy device does not cost a projection write per batch.
 */
export function projectedChange(before: InstallationRow | null, after: InstallationRow | null): boolean {
  if (!before || !after) return true;
  return (
    before.app_id !== after.app_id ||
    before.platform !== after.platform ||
    hourOf(before.last_seen_at) !== hourOf(after.last_seen_at)
  );
}

export function optedIn(row: InstallationRow): boolean | null {
  return row.push_opted_in === null ? null : row.push_opted_in === 1;
}

export function installationProjection(row: InstallationRow): InstallationProjection {
  return {
    installation_id: row.installation_id,
    profile_id: row.profile_id,
    custom_id: row.custom_id,
    app_id: row.app_id,
    platform: row.platform,
    push_optin: optedIn(row),
    last_seen_at: row.last_seen_at,
    push_token_key: pushTokenKey(row.push_provider, row.push_token),
    version: row.version,
  };
}

export function installationView(row: InstallationRow): InstallationView {
  return {
    installation_id: row.installation_id,
    app_id: row.app_id,
    platform: row.platform,
    app_version: row.app_version,
    sdk_version: row.sdk_version,
    os_version: row.os_version,
    device_model: row.device_model,
    push: { provider: row.push_provider, token: row.push_token, opted_in: optedIn(row) },
    first_seen_at: row.first_seen_at,
    last_seen_at: row.last_seen_at,
  };
}
