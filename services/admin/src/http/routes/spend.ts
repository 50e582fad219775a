import type { SqlQueryable } from '@kordon/events';
import { stringify } from 'csv-stringify/sync';
import { AdminError } from '../../errors.js';
import { countParkedEvents, REQUEST_EVENT_TYPES } from '../../parked-events.js';
import { SPEND_PROJECTION } from '../../spend/spend-projection.js';
import {
  querySpend,
  SPEND_DIMENSIONS,
  SPEND_FIELDS,
  type SpendDimension,
  type SpendQuery,
  type SpendRow,
  type SpendSums,
  spendCurrencies,
} from '../../spend/spend-query.js';
import { byteOrderMarkAsked, SPREADSHEET_SAFE_CAST } from '../csv-cells.js';
import { orgOf } from '../helpers.js';
import { type Reply, route } from '../route.js';
import { orgParams, SpendReport, spendQuery } from '../schemas.js';
import { UNREAD_EVENTS_HEADER, unreadEventsHeader, unreadEventsHeaderSpec } from '../unread-events.js';

const DAY_MS = 86_400_000;
/** The range a report covers when `from` is not given: the 30 UTC days up to `to`. */
export const DEFAULT_SPEND_DAYS = 30;
/** The longest range one report covers (a leap year): longer ones are several reports. */
export const MAX_SPEND_DAYS = 366;
export const DEFAULT_SPEND_ROWS = 1_000;
/** Rows an export reads and writes at a time: its memory stays that of one page. */
export const SPEND_CSV_PAGE_ROWS = 2_000;

const invalid = (path: string, message: string, detail = message) =>
  new AdminError('validation_failed', detail, { errors: [{ path, message }] });

/**
 * A bound of the range as a UTC day (`YYYY-MM-DD`): a date, or an instant at midnight UTC.
 * Spend is kept per UTC day, so another instant cannot be answered exactly and is refused.
 */
function dayOf(text: string, name: 'from' | 'to'): number {
  const time = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(time)) throw invalid(`query.${name}`, 'must be a date or an ISO instant');
  if (time % DAY_MS !== 0)
    throw invalid(
      `query.${name}`,
      'must be a date or midnight UTC: spend is kept per UTC day',
      `\`${name}\` must be a date (YYYY-MM-DD) or midnight UTC: spend is kept per UTC day`,
    );
  return time;
}

const isoDay = (time: number) => new Date(time).toISOString().slice(0, 10);

/** `from` inclusive, `to` exclusive, as UTC days; defaults: the 30 days up to today included. */
export function spendRange(
  from: string | undefined,
  to: string | undefined,
  now: Date,
): { from: string; to: string } {
  const end = to === undefined ? Math.floor(now.getTime() / DAY_MS) * DAY_MS + DAY_MS : dayOf(to, 'to');
  const start = from === undefined ? end - DEFAULT_SPEND_DAYS * DAY_MS : dayOf(from, 'from');
  if (start >= end) throw invalid('query.to', 'must be after from', '`from` must be before `to`');
  if (end - start > MAX_SPEND_DAYS * DAY_MS)
    throw invalid(
      'query.from',
      `the range is at most ${MAX_SPEND_DAYS} days`,
      `a report covers at most ${MAX_SPEND_DAYS} days: ask for several`,
    );
  return { from: isoDay(start), to: isoDay(end) };
}

function groupingOf(text: string | undefined): SpendDimension[] {
  const names = (text ?? 'day').split(',') as SpendDimension[];
  if (new Set(names).size !== names.length) throw invalid('query.groupBy', 'names a dimension twice');
  return names;
}

/** The cursor: base64url of the grouping and the last row's key, so it fits only its report. */
const encodeKey = (groupBy: readonly SpendDimension[], key: readonly string[]) =>
  Buffer.from(JSON.stringify([groupBy.join(','), ...key]), 'utf8').toString('base64url');

function decodeKey(cursor: string, groupBy: readonly SpendDimension[]): string[] {
  const bad = () => invalid('query.cursor', 'invalid cursor', 'the cursor is not one this API gave');
  if (!/^[A-Za-z0-9_-]{1,4000}$/.test(cursor)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== groupBy.length + 1 ||
    parsed[0] !== groupBy.join(',') ||
    !parsed.every((value) => typeof value === 'string' && value.length <= 300)
  )
    throw bad();
  const key = parsed.slice(1) as string[];
  groupBy.forEach((dimension, i) => {
    if (dimension === 'day' && !/^\d{4}-\d{2}-\d{2}$/.test(key[i]!)) throw bad();
  });
  return key;
}

const sumsBody = (sums: SpendSums) => ({
  requests: sums.requests,
  completed: sums.completed,
  failed: sums.failed,
  rejected: sums.rejected,
  unpricedRequests: sums.unpricedRequests,
  inputTokens: sums.inputTokens,
  outputTokens: sums.outputTokens,
  cachedInputTokens: sums.cachedInputTokens,
  costs: sums.costs,
});

const rowBody = (row: SpendRow) => {
  const key: Record<string, string | null> = {};
  for (const [dimension, value] of Object.entries(row.key))
    key[SPEND_FIELDS[dimension as SpendDimension]] = value;
  return { ...key, ...sumsBody(row) };
};

const CSV_SUMS = [
  'requests',
  'completed',
  'failed',
  'rejected',
  'unpriced_requests',
  'input_tokens',
  'output_tokens',
  'cached_input_tokens',
];

function csvText(
  rows: SpendRow[],
  groupBy: readonly SpendDimension[],
  currencies: readonly string[],
  header: boolean,
  bom = false,
): string {
  return stringify(
    rows.map((row) => {
      const costs = new Map(row.costs.map((c) => [c.currency, c.cost]));
      // A currency the header has no column for (first priced while the export ran) would be
      // lost: the export fails (a cut connection) rather than look complete.
      for (const currency of costs.keys())
        if (!currencies.includes(currency))
          throw new Error(`spend in ${currency} appeared during the export`);
      return [
        ...groupBy.map((d) => row.key[d] ?? ''),
        row.requests,
        row.completed,
        row.failed,
        row.rejected,
        row.unpricedRequests,
        row.inputTokens,
        row.outputTokens,
        row.cachedInputTokens,
        ...currencies.map((currency) => costs.get(currency) ?? '0'),
      ];
    }),
    {
      header,
      bom,
      columns: [
        // The dimensions' column names, as in the table.
        ...groupBy.map((d) => SPEND_DIMENSIONS[d]),
        ...CSV_SUMS,
        ...currencies.map((currency) => `cost_${currency.toLowerCase()}`),
      ],
      cast: SPREADSHEET_SAFE_CAST,
    },
  );
}

/**
 * Every row of the report as CSV, a page at a time (keyset pages: each row once). The first
 * page is read before anything is sent, so a failing query is still a clean error answer.
 */
async function csvExport(
  sql: SqlQueryable,
  query: Omit<SpendQuery, 'limit'>,
  bom: boolean,
): Promise<AsyncIterable<string>> {
  const currencies = await spendCurrencies(sql, query);
  const pageAfter = async (after: readonly string[] | undefined) =>
    (await querySpend(sql, { ...query, after, limit: SPEND_CSV_PAGE_ROWS }, { totals: false })).rows;
  const first = await pageAfter(query.after);
  return (async function* () {
    let found = first;
    yield csvText(found, query.groupBy, currencies, true, bom);
    while (found.length === SPEND_CSV_PAGE_ROWS) {
      found = await pageAfter(found[found.length - 1]!.rawKey);
      if (found.length > 0) yield csvText(found, query.groupBy, currencies, false);
    }
  })();
}

export const spendRoutes = [
  route({
    operationId: 'getSpend',
    method: 'get',
    path: '/orgs/{org}/spend',
    tag: 'spend',
    summary: 'Spend report: requests, tokens and cost per UTC day, team, user, key, provider or model',
    description: `From the spend projection: daily totals of every request event, kept for good (not subject to the request log's retention). \`from\` (inclusive) and \`to\` (exclusive) are UTC days, as dates (\`2026-01-01\`) or midnight UTC instants; by default the ${DEFAULT_SPEND_DAYS} days up to today included; at most ${MAX_SPEND_DAYS} days. \`groupBy\` is a comma-separated list of \`day\`, \`team\`, \`user\`, \`proxyKey\`, \`provider\`, \`providerKey\`, \`model\` (default \`day\`); rows are sorted by it. Filters: \`team\`, \`user\`, \`proxyKey\`, \`provider\`, \`model\`. Costs are exact decimal strings, one per currency the requests were priced in; \`unpricedRequests\` counts requests of a model without a price, whose cost is in no total. \`totals\` covers every row of the report, read in the same snapshot as the page. \`unreadEvents\` (and the \`${UNREAD_EVENTS_HEADER}\` header, on the CSV export too) counts the org's request events in the range that the projection could not add (parked): their spend is in no row and no total. It counts them whatever the filters, so a filtered report may name some that are outside it. Pages follow \`nextCursor\`. \`format=csv\` exports every row as CSV instead (one \`cost_<currency>\` column per currency), streamed a page at a time; \`bom=true\` starts it with a UTF-8 byte order mark for Excel.`,
    access: 'spend.read',
    params: orgParams,
    query: spendQuery,
    responses: {
      200: {
        description: 'A spend report, or CSV',
        schema: SpendReport,
        alsoAs: ['text/csv'],
        headers: unreadEventsHeaderSpec(
          "`unreadEvents`: the org's request events in the range the projection could not add.",
        ),
      },
    },
    handler: async (ctx): Promise<Reply> => {
      const org = orgOf(ctx);
      const q = ctx.query;
      const bom = byteOrderMarkAsked(q);
      const range = spendRange(q.from, q.to, ctx.deps.now());
      const groupBy = groupingOf(q.groupBy);
      const query = {
        orgId: org.orgId,
        ...range,
        teamId: q.team,
        userId: q.user,
        proxyKeyId: q.proxyKey,
        provider: q.provider,
        model: q.model,
        groupBy,
        after: q.cursor === undefined ? undefined : decodeKey(q.cursor, groupBy),
      };
      // The spend projection's days are UTC days: its range as instants.
      const parkedOfRange = () =>
        countParkedEvents(ctx.deps.sql, {
          projection: SPEND_PROJECTION,
          orgId: org.orgId,
          types: REQUEST_EVENT_TYPES,
          from: `${range.from}T00:00:00Z`,
          to: `${range.to}T00:00:00Z`,
        });
      if (q.format === 'csv') {
        const pieces = await csvExport(ctx.deps.sql, query, bom);
        // Read after the first page: an event parked since is counted, never one too few.
        const unread = await parkedOfRange();
        return {
          status: 200,
          stream: {
            contentType: 'text/csv; charset=utf-8',
            pieces,
          },
          headers: {
            'Content-Disposition': `attachment; filename="spend-${org.slug}-${range.from}-${range.to}.csv"`,
            ...unreadEventsHeader(unread),
          },
        };
      }
      const limit = q.limit ?? DEFAULT_SPEND_ROWS;
      const { rows, totals } = await querySpend(
        ctx.deps.sql,
        { ...query, limit: limit + 1 },
        { totals: true },
      );
      // Read after the totals: an event parked since is counted, never one too few.
      const unread = await parkedOfRange();
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return {
        status: 200,
        headers: unreadEventsHeader(unread),
        body: {
          from: range.from,
          to: range.to,
          groupBy,
          rows: items.map(rowBody),
          totals: sumsBody(totals!),
          unreadEvents: unread,
          nextCursor: rows.length > limit && last ? encodeKey(groupBy, last.rawKey) : null,
        },
      };
    },
  }),
];
