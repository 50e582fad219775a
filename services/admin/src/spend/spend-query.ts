import type { SqlExecutor, SqlQueryable } from '@kordon/events';

/*
 * Reads of the daily spend table. Every statement is one of a fixed set: the grouping columns
 * come from the closed list below (never from the caller's text), and every value is a bound
 * parameter. Every read is scoped to one org.
 */

/** What a report may group by, and the column each is. */
export const SPEND_DIMENSIONS = {
  day: 'day',
  team: 'team_id',
  user: 'user_id',
  proxyKey: 'proxy_key_id',
  provider: 'provider',
  providerKey: 'provider_key_id',
  model: 'model',
} as const;

export type SpendDimension = keyof typeof SPEND_DIMENSIONS;

/** The field a row names each dimension by (the request log's names). */
export const SPEND_FIELDS: Record<SpendDimension, string> = {
  day: 'day',
  team: 'teamId',
  user: 'userId',
  proxyKey: 'proxyKeyId',
  provider: 'provider',
  providerKey: 'providerKeyId',
  model: 'model',
};

export interface SpendFilter {
  orgId: string;
  /** UTC days: `from` inclusive, `to` exclusive (`YYYY-MM-DD`). */
  from: string;
  to: string;
  teamId?: string | undefined;
  userId?: string | undefined;
  proxyKeyId?: string | undefined;
  provider?: string | undefined;
  model?: string | undefined;
}

export interface SpendQuery extends SpendFilter {
  /** In the order given: the rows are sorted by them in that order. */
  groupBy: readonly SpendDimension[];
  /** The key of the last row of the previous page, one value per dimension ('' for none). */
  after?: readonly string[] | undefined;
  limit: number;
}

export interface SpendCost {
  currency: string;
  /** Exact decimal. */
  cost: string;
}

export interface SpendSums {
  requests: number;
  completed: number;
  failed: number;
  rejected: number;
  /** Requests answered or failed whose cost could not be priced (no price for the model). */
  unpricedRequests: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  /** The cost in each currency the requests were priced in (most orgs: one). */
  costs: SpendCost[];
}

export interface SpendRow extends SpendSums {
  /** The row's value of each grouping dimension, by its field name; null for none. */
  key: Partial<Record<SpendDimension, string | null>>;
  /** The row's key as a cursor takes it: one value per dimension, '' for none. */
  rawKey: string[];
}

interface SumsRow {
  requests: string;
  completed: string;
  failed: string;
  rejected: string;
  unpriced_requests: string;
  input_tokens: string;
  output_tokens: string;
  cached_input_tokens: string;
  costs: SpendCost[] | string;
}

const SUMS_BY_CURRENCY = `sum(requests) AS requests,
  sum(requests) FILTER (WHERE outcome = 'completed') AS completed,
  sum(requests) FILTER (WHERE outcome = 'failed') AS failed,
  sum(requests) FILTER (WHERE outcome = 'rejected') AS rejected,
  sum(unpriced_requests) AS unpriced_requests, sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens, sum(cached_input_tokens) AS cached_input_tokens,
  sum(cost) AS cost`;

/** The per-currency sums folded into one row, the costs as a list (numeric as text: exact). */
const SUMS = `coalesce(sum(requests), 0)::text AS requests, coalesce(sum(completed), 0)::text AS completed,
  coalesce(sum(failed), 0)::text AS failed, coalesce(sum(rejected), 0)::text AS rejected,
  coalesce(sum(unpriced_requests), 0)::text AS unpriced_requests,
  coalesce(sum(input_tokens), 0)::text AS input_tokens, coalesce(sum(output_tokens), 0)::text AS output_tokens,
  coalesce(sum(cached_input_tokens), 0)::text AS cached_input_tokens,
  coalesce(json_agg(json_build_object('currency', currency, 'cost', cost::text) ORDER BY currency)
    FILTER (WHERE currency <> ''), '[]'::json) AS costs`;

function filterSql(filter: SpendFilter, params: unknown[]): string {
  params.push(filter.orgId, filter.from, filter.to);
  const where = ['org_id = $1', 'day >= $2::date', 'day < $3::date'];
  const optional: Array<[string, string | undefined]> = [
    ['team_id', filter.teamId],
    ['user_id', filter.userId],
    ['proxy_key_id', filter.proxyKeyId],
    ['provider', filter.provider],
    ['model', filter.model],
  ];
  for (const [column, value] of optional) {
    if (value === undefined) continue;
    params.push(value);
    where.push(`${column} = $${params.length}`);
  }
  return where.join(' AND ');
}

const keyText = (dimension: SpendDimension) =>
  dimension === 'day' ? "to_char(day, 'YYYY-MM-DD')" : SPEND_DIMENSIONS[dimension];

const count = (text: string) => Number(text);

function sumsOf(row: SumsRow): SpendSums {
  const costs = typeof row.costs === 'string' ? (JSON.parse(row.costs) as SpendCost[]) : row.costs;
  return {
    requests: count(row.requests),
    completed: count(row.completed),
    failed: count(row.failed),
    rejected: count(row.rejected),
    unpricedRequests: count(row.unpriced_requests),
    inputTokens: count(row.input_tokens),
    outputTokens: count(row.output_tokens),
    cachedInputTokens: count(row.cached_input_tokens),
    costs: costs.map((c) => ({ currency: c.currency, cost: c.cost })),
  };
}

/** Request events written since a first page beyond which a later page does not look. */
export const SPEND_CHANGE_SCAN_MAX = 10_000;

/** The statement of a report: its rows sorted by key and, when asked, its totals. */
function spendStatement(
  query: Omit<SpendQuery, 'limit'>,
  options: { totals: boolean; limit: number | null; since?: number | null | undefined },
): { text: string; params: unknown[] } {
  const params: unknown[] = [];
  const selected = filterSql(query, params);
  const columns = query.groupBy.map((d) => SPEND_DIMENSIONS[d]);
  let keyset = 'true';
  if (query.after) {
    const after = query.after;
    const placeholders = query.groupBy.map((d, i) => {
      params.push(after[i]);
      return d === 'day' ? `$${params.length}::date` : `$${params.length}::text`;
    });
    keyset = `(${columns.join(', ')}) > (${placeholders.join(', ')})`;
  }
  // LIMIT NULL is no limit: an export's cursor reads every row.
  params.push(options.limit);
  const limit = `$${params.length}::bigint`;
  const keys = query.groupBy.map((d, i) => `${keyText(d)} AS k${i}`).join(', ');
  const keyRefs = query.groupBy.map((_, i) => `k${i}`).join(', ');
  const noKeys = query.groupBy.map((_, i) => `NULL::text AS k${i}`).join(', ');
  let totals = '';
  let pageExtra = '';
  if (options.totals) {
    params.push(options.since ?? null);
    const since = `$${params.length}::bigint`;
    // The projection's progress (the last request event it added, shared by every process,
    // moved in the transaction that adds) as of this statement's snapshot, and whether a
    // request event of the org in the range was added between `since` and it: the rows and
    // totals are then of a later moment than `since`'s. Parked events and the filters are not
    // told apart (too many, never too few); past SPEND_CHANGE_SCAN_MAX events, not looked at.
    const changed = `CASE WHEN ${since} IS NULL THEN NULL
         WHEN p.position = ${since} THEN false
         WHEN p.position < ${since} OR p.position - ${since} > ${SPEND_CHANGE_SCAN_MAX} THEN true
         ELSE EXISTS (SELECT 1 FROM kordon_events e
                       WHERE e.position > ${since} AND e.position <= p.position AND e.org_id = $1
                         AND e.type IN ('RequestCompleted', 'RequestFailed', 'RequestRejected')
                         AND (e.occurred_at AT TIME ZONE 'UTC')::date >= $2::date
                         AND (e.occurred_at AT TIME ZONE 'UTC')::date < $3::date) END`;
    pageExtra = ', NULL::text AS progress, NULL::boolean AS changed';
    totals = `UNION ALL
     SELECT true AS total, ${noKeys}, ${SUMS},
            (SELECT p.position::text FROM progress p) AS progress,
            (SELECT ${changed} FROM progress p) AS changed
       FROM (SELECT currency, ${SUMS_BY_CURRENCY} FROM selected GROUP BY currency) by_currency`;
  }
  const text = `WITH selected AS (
       SELECT * FROM kordon_spend_daily WHERE ${selected}
     ), by_key AS (
       SELECT ${keys}, currency, ${SUMS_BY_CURRENCY}
         FROM selected WHERE ${keyset}
        GROUP BY ${columns.join(', ')}, currency
     ), page AS (
       SELECT ${keyRefs}, ${SUMS} FROM by_key GROUP BY ${keyRefs} ORDER BY ${keyRefs} LIMIT ${limit}
     )${
       options.totals
         ? `, progress AS (
       SELECT coalesce((SELECT position FROM kordon_spend_progress WHERE id), 0) AS position
     )`
         : ''
     }
     SELECT false AS total, *${pageExtra} FROM page
     ${totals}
     ORDER BY total, ${keyRefs}`;
  return { text, params };
}

type StatementRow = SumsRow & Record<string, string> & { total: boolean };

function spendRowOf(groupBy: readonly SpendDimension[], row: StatementRow): SpendRow {
  const rawKey = groupBy.map((_, i) => row[`k${i}`] ?? '');
  const key: SpendRow['key'] = {};
  groupBy.forEach((d, i) => {
    key[d] = rawKey[i] === '' ? null : rawKey[i];
  });
  return { ...sumsOf(row), key, rawKey };
}

export interface SpendPage {
  rows: SpendRow[];
  /** With `totals` only. */
  totals: SpendSums | undefined;
  /**
   * With `totals` only: the spend projection's progress (a log position) in the page's
   * snapshot. A cursor carries the first page's, so a later page can tell whether it moved.
   */
  position: number | undefined;
  /**
   * With `totals` and `since`: whether a request event of the org in the range may have been
   * added since `since` (true when it cannot tell).
   */
  changedSince: boolean | undefined;
}

/**
 * One page of a report: rows grouped by `groupBy`, sorted by their key, after `after`
 * (keyset: a row that appears between two pages lands in its place, none is read twice), and
 * with `totals`, the sums of every row the filter selects, read in the same statement (one
 * snapshot: a page that holds every row adds up to its totals exactly, even while requests
 * keep coming in). Pages are separate statements, so separate moments: `since` (the first
 * page's `position`) makes a later page say whether the org's spend in the range moved since.
 */
export async function querySpend(
  sql: SqlQueryable,
  query: SpendQuery,
  options: { totals: boolean; since?: number | null | undefined },
): Promise<SpendPage> {
  const statement = spendStatement(query, { ...options, limit: query.limit });
  const { rows } = await sql.query<StatementRow & { progress: string | null; changed: boolean | null }>(
    statement.text,
    statement.params,
  );
  const page: SpendPage = { rows: [], totals: undefined, position: undefined, changedSince: undefined };
  for (const row of rows) {
    if (row.total) {
      page.totals = sumsOf(row);
      page.position = row.progress === null ? undefined : Number(row.progress);
      page.changedSince = row.changed ?? undefined;
      continue;
    }
    page.rows.push(spendRowOf(query.groupBy, row));
  }
  return page;
}

/** What a snapshot's reads run on: the store's statements, and transactions on one connection. */
export type SqlSnapshots = Pick<SqlExecutor, 'query' | 'dialect' | 'transaction'>;

/** A snapshot read that ran past its time limit: nothing of it was sent. */
export class SpendSnapshotTooSlow extends Error {
  constructor(
    readonly timeLimitMs: number,
    options?: { cause?: unknown },
  ) {
    super(`the spend snapshot was not read within ${timeLimitMs} ms`, options);
    this.name = 'SpendSnapshotTooSlow';
  }
}

/** PostgreSQL's statement timeout and idle-in-transaction timeout (SQLSTATE). */
const TIMED_OUT = new Set(['57014', '25P03']);

/**
 * Runs `fn` in one REPEATABLE READ READ ONLY transaction: every statement in it reads the same
 * snapshot (taken by its first statement), so whatever it reads is as of one moment of the
 * log, however many statements it takes. The transaction holds a connection (the embedded
 * store's only one: every other statement of the process waits for it), so it is bounded:
 * `fn` must read at the database's pace (never wait on a client), gets `check()` to call
 * between reads, and past `timeLimitMs` fails with `SpendSnapshotTooSlow`; on PostgreSQL the
 * server also cuts a statement (or an idle transaction) at the limit.
 */
export async function inSpendSnapshot<T>(
  db: SqlSnapshots,
  timeLimitMs: number,
  fn: (tx: SqlQueryable, check: () => void) => Promise<T>,
  now: () => number = Date.now,
): Promise<T> {
  const deadline = now() + timeLimitMs;
  const check = () => {
    if (now() > deadline) throw new SpendSnapshotTooSlow(timeLimitMs);
  };
  try {
    return await db.transaction(async (tx) => {
      // First in the transaction: no snapshot is taken before the isolation is set.
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      if (db.dialect === 'postgres') {
        const ms = String(Math.max(1, Math.ceil(timeLimitMs)));
        await tx.query(
          "SELECT set_config('statement_timeout', $1, true), set_config('idle_in_transaction_session_timeout', $1, true)",
          [ms],
        );
      }
      return await fn(tx, check);
    });
  } catch (error) {
    if (error instanceof SpendSnapshotTooSlow) throw error;
    // The server's timeouts, or anything past the limit (a session the server ended for idling
    // in its transaction answers the next statement as a broken connection, without a code).
    const code = (error as { code?: unknown } | null)?.code;
    if ((typeof code === 'string' && TIMED_OUT.has(code)) || now() > deadline)
      throw new SpendSnapshotTooSlow(timeLimitMs, { cause: error });
    throw error;
  }
}

/**
 * Every row of a report, `pageRows` at a time, through a cursor of `tx` (one statement: one
 * sort, however many pages). Call it inside `inSpendSnapshot`, and consume it there.
 */
export async function* spendRowsIn(
  tx: SqlQueryable,
  query: Omit<SpendQuery, 'limit'>,
  pageRows: number,
): AsyncGenerator<SpendRow[]> {
  const statement = spendStatement(query, { totals: false, limit: null });
  await tx.query(`DECLARE kordon_spend_export NO SCROLL CURSOR FOR ${statement.text}`, statement.params);
  // The end is a page shorter than the one fetched, not than the one asked: with 1.5 asked,
  // the first page of 1 ended the export; with 0, the empty page at the end never did.
  const size = Math.max(1, Math.floor(pageRows));
  const fetch = `FETCH FORWARD ${size} FROM kordon_spend_export`;
  for (;;) {
    const { rows } = await tx.query<StatementRow>(fetch);
    if (rows.length > 0) yield rows.map((row) => spendRowOf(query.groupBy, row));
    if (rows.length < size) break;
  }
  await tx.query('CLOSE kordon_spend_export');
}

/** The currencies the filter's rows were priced in, sorted. */
export async function spendCurrencies(sql: SqlQueryable, filter: SpendFilter): Promise<string[]> {
  const params: unknown[] = [];
  const where = filterSql(filter, params);
  const { rows } = await sql.query<{ currency: string }>(
    `SELECT DISTINCT currency FROM kordon_spend_daily WHERE ${where} AND currency <> '' ORDER BY currency`,
    params,
  );
  return rows.map((row) => row.currency);
}
