import type { SqlExecutor, SqlQueryable } from '@kordon/events';
import { PARTITION_PATTERN } from './request-log-projection.js';

/*
 * Retention of the request log: rows older than their org's `retentionDays` are deleted for
 * good. A month's partition whose rows are all expired (every org that has rows in it keeps
 * them fewer days than the partition is old) is dropped whole: no row-by-row DELETE, no
 * bloat. Otherwise each org's expired rows are deleted in small batches. Partitions for this
 * month and the next are created ahead, so the projection rarely creates one itself.
 */

/** Serialises retention runs of several processes on one database (advisory lock key). */
export const RETENTION_LOCK_KEY = 7_041_212_009;
const DAY_MS = 86_400_000;

export interface RetentionOptions {
  /** Rows deleted per statement (one short transaction each). */
  batchSize?: number;
  /** How long a run waits for the table lock a drop needs before it leaves that partition for later. */
  lockTimeoutMs?: number;
}

export interface RetentionResult {
  /** False when another process was running retention: this run did nothing. */
  ran: boolean;
  droppedPartitions: string[];
  deletedRows: number;
  /** Keys of sealed logged texts deleted (their texts in the event log can no longer be read). */
  deletedBodyKeys: number;
}

interface Partition {
  name: string;
  start: number;
  end: number;
}

function partitionOf(name: string): Partition | undefined {
  const match = PARTITION_PATTERN.exec(name);
  if (!match) return undefined;
  const year = Number(match[1]);
  const month = Number(match[2]) - 1;
  return { name, start: Date.UTC(year, month, 1), end: Date.UTC(year, month + 1, 1) };
}

/** Every org with rows in the partition: a loose index scan, a few index probes per org. */
async function orgsIn(sql: SqlQueryable, partition: string): Promise<string[]> {
  const { rows } = await sql.query<{ org_id: string }>(
    `WITH RECURSIVE orgs AS (
       (SELECT org_id FROM "${partition}" ORDER BY org_id LIMIT 1)
       UNION ALL
       SELECT (SELECT p.org_id FROM "${partition}" p WHERE p.org_id > orgs.org_id ORDER BY p.org_id LIMIT 1)
         FROM orgs WHERE orgs.org_id IS NOT NULL
     )
     SELECT org_id FROM orgs WHERE org_id IS NOT NULL`,
  );
  return rows.map((row) => row.org_id);
}

/**
 * One retention pass at `now`. Safe to run from several processes at once: a pass that finds
 * another one running returns `{ ran: false }`.
 */
export async function enforceRequestLogRetention(
  sql: SqlExecutor,
  now: Date,
  options: RetentionOptions = {},
): Promise<RetentionResult> {
  const batchSize = options.batchSize ?? 5000;
  const lockTimeoutMs = options.lockTimeoutMs ?? 5000;
  const result: RetentionResult = { ran: true, droppedPartitions: [], deletedRows: 0, deletedBodyKeys: 0 };

  /** A step in its own transaction, under the retention lock; false when another process holds it. */
  const step = <T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> =>
    sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [
        RETENTION_LOCK_KEY,
      ]);
      if (!rows[0]?.locked) return { ok: false as const };
      return { ok: true as const, value: await fn(tx) };
    });

  const ahead = await step(async (tx) => {
    const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    await tx.query('SELECT kordon_request_log_partition($1), kordon_request_log_partition($2)', [
      now.toISOString(),
      nextMonth.toISOString(),
    ]);
    const policies = await tx.query<{ org_id: string; retention_days: number }>(
      'SELECT org_id, retention_days FROM kordon_request_log_policies WHERE retention_days IS NOT NULL',
    );
    const partitions = await tx.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'kordon_request_log'::regclass`,
    );
    return { policies: policies.rows, partitions: partitions.rows };
  });
  if (!ahead.ok) return { ...result, ran: false };

  /** Rows of `org` before this instant are expired; orgs without retention keep everything. */
  const cutoff = new Map(
    ahead.value.policies.map((p) => [p.org_id, now.getTime() - Number(p.retention_days) * DAY_MS]),
  );
  const partitions = ahead.value.partitions
    .map((p) => partitionOf(p.name))
    .filter((p): p is Partition => p !== undefined && p.start < now.getTime())
    .sort((a, b) => a.start - b.start);

  for (const partition of partitions) {
    const orgs = await orgsIn(sql, partition.name);
    const expiredWhole = orgs.every((org) => (cutoff.get(org) ?? Number.NEGATIVE_INFINITY) >= partition.end);
    if (expiredWhole && partition.end <= now.getTime()) {
      const dropped = await step(async (tx) => {
        // Parent first, in the order inserts take their locks: no deadlock with the projection.
        await tx.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
        await tx.query('LOCK TABLE kordon_request_log IN ACCESS EXCLUSIVE MODE');
        // Checked again under the lock: rows may have come in since the scan above.
        const current = await orgsIn(tx, partition.name);
        if (!current.every((org) => (cutoff.get(org) ?? Number.NEGATIVE_INFINITY) >= partition.end))
          return false;
        await tx.query(`DROP TABLE IF EXISTS "${partition.name}"`);
        return true;
      }).catch((error: unknown) => {
        if ((error as { code?: unknown }).code === '55P03') return { ok: true as const, value: false }; // lock timeout
        throw error;
      });
      if (!dropped.ok) return result; // another process took over
      if (dropped.value) {
        result.droppedPartitions.push(partition.name);
        continue;
      }
    }
    for (const org of orgs) {
      const before = cutoff.get(org);
      if (before === undefined || before <= partition.start) continue;
      for (;;) {
        const deleted = await step(async (tx) => {
          const { rows } = await tx.query<{ n: string | number }>(
            `WITH gone AS (
               DELETE FROM "${partition.name}" WHERE ctid = ANY (ARRAY(
                 SELECT ctid FROM "${partition.name}"
                  WHERE org_id = $1 AND occurred_at < $2::timestamptz LIMIT $3))
               RETURNING 1)
             SELECT count(*) AS n FROM gone`,
            [org, new Date(before).toISOString(), batchSize],
          );
          return Number(rows[0]?.n ?? 0);
        });
        if (!deleted.ok) return result;
        result.deletedRows += deleted.value;
        if (deleted.value < batchSize) break;
      }
    }
  }
  // What this pass deleted stays deleted: a rebuild replays the log under today's policy, and
  // a longer retention set since would otherwise bring those requests back.
  const marked = await step(async (tx) => {
    for (const [org, before] of cutoff)
      await tx.query(
        `UPDATE kordon_request_log_policies SET purged_before = $2::timestamptz
          WHERE org_id = $1 AND (purged_before IS NULL OR purged_before < $2::timestamptz)`,
        [org, new Date(before).toISOString()],
      );
  });
  if (!marked.ok) return result;
  // The keys of the sealed texts in the event log (crypto-shredding, decision 0011): a day's
  // key goes once the whole day is past the org's retention, and with it every copy of its
  // texts, in the log, its backups and the spool.
  const keys = await step(async (tx) => {
    const { rows } = await tx.query<{ present: boolean }>(
      "SELECT to_regclass('kordon_body_keys') IS NOT NULL AS present",
    );
    if (!rows[0]?.present) return 0;
    let deleted = 0;
    for (const [org, before] of cutoff) {
      const { rows: gone } = await tx.query<{ n: string | number }>(
        `WITH gone AS (DELETE FROM kordon_body_keys WHERE org_id = $1 AND day < $2::date RETURNING 1)
         SELECT count(*) AS n FROM gone`,
        [org, new Date(before).toISOString().slice(0, 10)],
      );
      deleted += Number(gone[0]?.n ?? 0);
    }
    return deleted;
  });
  if (keys.ok) result.deletedBodyKeys = keys.value;
  return result;
}
