import type { SqlQueryable } from '@kordon/events';

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

/**
 * One page of a report: rows grouped by `groupBy`, sorted by their key, after `after`
 * (keyset: a row that appears between two pages lands in its place, none is read twice), and
 * with `totals`, the sums of every row the filter selects, read in the same statement (one
 * snapshot: a page that holds every row adds up to its totals exactly, even while requests
 * keep coming in).
 */
export async function querySpend(
  sql: SqlQueryable,
  query: SpendQuery,
  options: { totals: boolean },
): Promise<{ rows: SpendRow[]; totals: SpendSums | undefined }> {
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
  params.push(query.limit);
  const limit = `$${params.length}`;
  const keys = query.groupBy.map((d, i) => `${keyText(d)} AS k${i}`).join(', ');
  const keyRefs = query.groupBy.map((_, i) => `k${i}`).join(', ');
  const noKeys = query.groupBy.map((_, i) => `NULL::text AS k${i}`).join(', ');
  const { rows } = await sql.query<SumsRow & Record<string, string> & { total: boolean }>(
    `WITH selected AS (
       SELECT * FROM kordon_spend_daily WHERE ${selected}
     ), by_key AS (
       SELECT ${keys}, currency, ${SUMS_BY_CURRENCY}
         FROM selected WHERE ${keyset}
        GROUP BY ${columns.join(', ')}, currency
     ), page AS (
       SELECT ${keyRefs}, ${SUMS} FROM by_key GROUP BY ${keyRefs} ORDER BY ${keyRefs} LIMIT ${limit}
     )
     SELECT false AS total, * FROM page
     ${
       options.totals
         ? `UNION ALL
     SELECT true AS total, ${noKeys}, ${SUMS}
       FROM (SELECT currency, ${SUMS_BY_CURRENCY} FROM selected GROUP BY currency) by_currency`
         : ''
     }
     ORDER BY total, ${keyRefs}`,
    params,
  );
  let totals: SpendSums | undefined;
  const found: SpendRow[] = [];
  for (const row of rows) {
    if (row.total) {
      totals = sumsOf(row);
      continue;
    }
    const rawKey = query.groupBy.map((_, i) => row[`k${i}`] ?? '');
    const key: SpendRow['key'] = {};
    query.groupBy.forEach((d, i) => {
      key[d] = rawKey[i] === '' ? null : rawKey[i];
    });
    found.push({ ...sumsOf(row), key, rawKey });
  }
  return { rows: found, totals };
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
