import { and, eq, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import { audienceMembers, audiences } from "../db/schema";
import { customIdProblem, normalizeCustomId, PLACEHOLDER_CUSTOM_IDS } from "../identity/identifiers";
import { ApiError } from "../lib/errors";
import { UUID_PATTERN } from "../lib/ids";

/*
 * Members are written under a generation number. `audiences.generation` names the generation
 * whose rows are the members; rows of any other generation are a replace in progress, or the
 * remains of one that failed, and never count. A replace writes a new generation beside the
 * current one and switches to it in one statement, so readers never see half of it.
 */

export type AudienceType = (typeof audiences.$inferSelect)["type"];
export type AudienceRow = typeof audiences.$inferSelect;
type Statement = BatchItem<"sqlite">;

/**
 * The member row that reserves a generation while a replace writes it. The empty string is
 * never a member: custom IDs cannot be empty and installation IDs are UUIDs.
 */
const CLAIM_MARKER = "";

// D1: at most 100 bound parameters and about 100 KB of SQL per statement, and values of at most
// 2 MB; so the IDs travel as one JSON array per statement, unpacked by json_each. A batch of
// 5 × 10,000 rows is one short D1 transaction; a million IDs take 20 round trips.
const IDS_PER_STATEMENT = 10_000;
// UTF-16 units; at most 3 bytes of UTF-8 each, so a slice stays well under 2 MB.
const CHARS_PER_STATEMENT = 300_000;
const STATEMENTS_PER_BATCH = 5;
// Deletes of whole generations go in pieces, so one statement never holds D1 for long.
const ROWS_PER_DELETE = 50_000;

/**
 * Printable ASCII without spaces, at most 512 characters: Unicode normalisation leaves it as it
 * is and it holds no control, invisible or surrounding space character, so of the custom ID
 * rules only the placeholder one can refuse it. Most IDs of a million-line CSV are such.
 */
const PLAIN_ASCII = /^[\x21-\x7e]{1,512}$/;

/** The stored form of `value` as a member of an audience of `type`, or why it cannot be one. */
export function checkMember(type: AudienceType, value: string): { member: string } | { problem: string } {
  if (type === "installation_ids") {
    return UUID_PATTERN.test(value)
      ? { member: value.toLowerCase() }
      : { problem: `"${clip(value)}" is not an installation ID (a UUID).` };
  }
  // The same answer as the full check below, without its normalisations (members.unit.test.ts).
  if (PLAIN_ASCII.test(value) && !PLACEHOLDER_CUSTOM_IDS.has(value.toLowerCase())) return { member: value };
  const problem = customIdProblem(value);
  return problem ? { problem } : { member: normalizeCustomId(value) };
}

function clip(value: string): string {
  return value.length > 60 ? `${value.slice(0, 57)}...` : value;
}

/** Slices IDs into JSON arrays that each fit one statement. */
export function sliceIds(ids: readonly string[]): string[] {
  const slices: string[] = [];
  let slice: string[] = [];
  let chars = 0;
  for (const id of ids) {
    slice.push(id);
    chars += id.length + 3;
    if (slice.length >= IDS_PER_STATEMENT || chars >= CHARS_PER_STATEMENT) {
      slices.push(JSON.stringify(slice));
      slice = [];
      chars = 0;
    }
  }
  if (slice.length) slices.push(JSON.stringify(slice));
  return slices;
}

// Query builders, not `db.run(sql)`: drizzle cannot batch raw SQL that has parameters
// (drizzle-team/drizzle-orm#2277). `WHERE true` keeps SQLite from reading ON CONFLICT as a join.
function insertSlice(db: DrizzleD1Database, projectId: string, audience: string, generation: number, json: string) {
  return db
    .insert(audienceMembers)
    .select(sql`SELECT ${projectId}, ${audience}, ${generation}, value FROM json_each(${json}) WHERE true`)
    .onConflictDoNothing();
}

/** Runs statements in batches of {@link STATEMENTS_PER_BATCH}; each batch is one D1 transaction. */
export async function runBatches(db: DrizzleD1Database, statements: Statement[]): Promise<void> {
  for (let i = 0; i < statements.length; i += STATEMENTS_PER_BATCH) {
    const [first, ...rest] = statements.slice(i, i + STATEMENTS_PER_BATCH);
    if (first) await db.batch([first, ...rest]);
  }
}

/**
 * Writes the members of one generation as they come: `add` queues an ID, `write` sends a batch
 * once enough are waiting, `flush` sends the rest. One batch is written while the next is read,
 * so D1 and the parsing overlap and at most two batches are held.
 */
export class GenerationWriter {
  private slice: string[] = [];
  private chars = 0;
  private slices: string[] = [];
  private inFlight: Promise<void> | null = null;

  constructor(
    private readonly db: DrizzleD1Database,
    private readonly projectId: string,
    private readonly audience: string,
    readonly generation: number,
  ) {}

  add(member: string): void {
    this.slice.push(member);
    this.chars += member.length + 3;
    if (this.slice.length >= IDS_PER_STATEMENT || this.chars >= CHARS_PER_STATEMENT) this.closeSlice();
  }

  /** Sends a batch once a full one is waiting; waits only for the batch sent before it. */
  async write(): Promise<void> {
    if (this.slices.length >= STATEMENTS_PER_BATCH) await this.send();
  }

  /** Sends what is left and waits until every batch is written; throws if one failed. */
  async flush(): Promise<void> {
    this.closeSlice();
    await this.send();
    const last = this.inFlight;
    this.inFlight = null;
    await last;
  }

  /** Waits for the batch under way, if any, whatever its outcome: then no write of this writer is left. */
  async settle(): Promise<void> {
    const last = this.inFlight;
    this.inFlight = null;
    await last?.catch(() => {});
  }

  private closeSlice() {
    if (this.slice.length === 0) return;
    this.slices.push(JSON.stringify(this.slice));
    this.slice = [];
    this.chars = 0;
  }

  private async send() {
    // The previous batch first: its failure stops the replace before more is sent.
    await this.inFlight;
    this.inFlight = null;
    const slices = this.slices;
    this.slices = [];
    if (slices.length === 0) return;
    const writing = runBatches(
      this.db,
      slices.map((json) => insertSlice(this.db, this.projectId, this.audience, this.generation, json)),
    );
    // Observed by the next send, flush or settle; no unhandled rejection meanwhile.
    writing.catch(() => {});
    this.inFlight = writing;
  }
}

const audienceIs = (projectId: string, name: string) =>
  and(eq(audiences.projectId, projectId), eq(audiences.name, name));
const membersOf = (projectId: string, name: string) =>
  and(eq(audienceMembers.projectId, projectId), eq(audienceMembers.audience, name));

/**
 * Reserves a new generation for a replace of the audience: one above every generation of its
 * rows and of the audience, taken in one statement so two replaces never share one.
 * Null when the audience does not exist.
 */
export async function claimGeneration(
  db: DrizzleD1Database,
  projectId: string,
  name: string,
): Promise<{ audience: AudienceRow; generation: number } | null> {
  const [claimed, found] = await db.batch([
    db
      .insert(audienceMembers)
      .select(sql`SELECT a.project_id, a.name, max(a.generation, coalesce((SELECT max(m.generation)
          FROM audience_members m WHERE m.project_id = a.project_id AND m.audience = a.name), -1)) + 1, ${CLAIM_MARKER}
        FROM audiences a WHERE a.project_id = ${projectId} AND a.name = ${name}`)
      .returning({ generation: audienceMembers.generation }),
    db.select().from(audiences).where(audienceIs(projectId, name)),
  ]);
  const generation = claimed[0]?.generation;
  const audience = found[0];
  if (generation === undefined || !audience) return null;
  return { audience, generation };
}

/**
 * Makes `generation` the audience's members, provided nothing else replaced them since the
 * claim (`audiences.generation` is still `previous`), then deletes the older generations.
 * On refusal the new generation is deleted: 409, or 404 when the audience was deleted meanwhile.
 */
export async function commitGeneration(
  db: DrizzleD1Database,
  projectId: string,
  name: string,
  previous: number,
  generation: number,
): Promise<AudienceRow> {
  const [, switched] = await db.batch([
    db
      .delete(audienceMembers)
      .where(
        and(
          membersOf(projectId, name),
          eq(audienceMembers.generation, generation),
          eq(audienceMembers.member, CLAIM_MARKER),
        ),
      ),
    db
      .update(audiences)
      .set({
        generation,
        size: sql`(SELECT count(*) FROM audience_members WHERE project_id = ${projectId} AND audience = ${name}
          AND generation = ${generation})`,
        updatedAt: new Date().toISOString(),
      })
      .where(and(audienceIs(projectId, name), eq(audiences.generation, previous)))
      .returning(),
  ]);
  const audience = switched[0];
  if (!audience) {
    await deleteGenerations(db, projectId, name, sql`generation = ${generation}`);
    const still = await db.select({ name: audiences.name }).from(audiences).where(audienceIs(projectId, name)).get();
    if (!still) throw new ApiError("NOT_FOUND", `The audience "${name}" was deleted while its members were replaced.`);
    throw new ApiError("CONFLICT", `Another request replaced the members of "${name}" at the same time; retry.`);
  }
  await deleteGenerations(db, projectId, name, sql`generation < ${generation}`);
  return audience;
}

/** Deletes the audience's member rows whose generation matches `which`, in bounded pieces. */
export async function deleteGenerations(
  db: DrizzleD1Database,
  projectId: string,
  name: string,
  which: SQL,
): Promise<void> {
  for (;;) {
    const result = await db.delete(audienceMembers).where(sql`rowid IN (SELECT rowid FROM audience_members
      WHERE project_id = ${projectId} AND audience = ${name} AND ${which} LIMIT ${ROWS_PER_DELETE})`);
    if (result.meta.changes < ROWS_PER_DELETE) return;
  }
}

/**
 * Adds and removes members of the current generation, and recomputes the size, in one D1
 * transaction. Null when the audience does not exist.
 */
export async function patchMembers(
  db: DrizzleD1Database,
  projectId: string,
  name: string,
  add: readonly string[],
  remove: readonly string[],
): Promise<AudienceRow | null> {
  const current = sql`(SELECT generation FROM audiences WHERE project_id = ${projectId} AND name = ${name})`;
  const statements: Statement[] = [
    ...sliceIds(remove).map((json) =>
      db
        .delete(audienceMembers)
        .where(
          and(
            membersOf(projectId, name),
            eq(audienceMembers.generation, current),
            sql`${audienceMembers.member} IN (SELECT value FROM json_each(${json}))`,
          ),
        ),
    ),
    ...sliceIds(add).map((json) =>
      db
        .insert(audienceMembers)
        .select(sql`SELECT a.project_id, a.name, a.generation, j.value FROM audiences a, json_each(${json}) j
          WHERE a.project_id = ${projectId} AND a.name = ${name}`)
        .onConflictDoNothing(),
    ),
  ];
  const update: Statement = db
    .update(audiences)
    .set({
      size: sql`(SELECT count(*) FROM audience_members m WHERE m.project_id = ${projectId} AND m.audience = ${name}
        AND m.generation = ${audiences.generation})`,
      updatedAt: new Date().toISOString(),
    })
    .where(audienceIs(projectId, name))
    .returning();
  // One transaction: a replace switching generations cannot fall between the writes and the size.
  const batch: [Statement, ...Statement[]] = [update];
  batch.unshift(...statements);
  const results = await db.batch(batch);
  return (results.at(-1) as AudienceRow[])[0] ?? null;
}
