import type { SqlQueryable } from '@kordon/events';
import { stringify } from 'csv-stringify/sync';
import { AdminError } from '../../errors.js';
import { countParkedEvents, REQUEST_EVENT_TYPES } from '../../parked-events.js';
import { SPEND_PROJECTION } from '../../spend/spend-projection.js';
import {
  inSpendSnapshot,
  querySpend,
  SPEND_CHANGE_SCAN_MAX,
  SPEND_DIMENSIONS,
  SPEND_FIELDS,
  type SpendDimension,
  type SpendQuery,
  type SpendRow,
  SpendSnapshotTooSlow,
  type SpendSums,
  spendCurrencies,
  spendRowsIn,
} from '../../spend/spend-query.js';
import { byteOrderMarkAsked, SPREADSHEET_SAFE_CAST } from '../csv-cells.js';
import type { AdminDeps } from '../deps.js';
import { orgOf } from '../helpers.js';
import { type Reply, route } from '../route.js';
import { orgParams, SpendReport, spendQuery } from '../schemas.js';
import { SpillFile } from '../spill-file.js';
import { UNREAD_EVENTS_HEADER, unreadEventsHeader, unreadEventsHeaderSpec } from '../unread-events.js';

const DAY_MS = 86_400_000;
/** The range a report covers when `from` is not given: the 30 UTC days up to `to`. */
export const DEFAULT_SPEND_DAYS = 30;
/** The longest range one report covers (a leap year): longer ones are several reports. */
export const MAX_SPEND_DAYS = 366;
export const DEFAULT_SPEND_ROWS = 1_000;
/** Rows an export reads and writes at a time: its memory stays that of one page. */
export const SPEND_CSV_PAGE_ROWS = 2_000;
/**
 * How long an export's snapshot may take to read (it holds a connection meanwhile: on the
 * embedded store, the only one). Past it the export is refused (503), nothing sent.
 */
export const SPEND_CSV_TIME_LIMIT_MS = 60_000;
/**
 * Exports one process reads at once by default: each holds a connection while it reads, on
 * PostgreSQL one of the pool event appends share (10 by default), so most of it stays free for
 * them; on the embedded store, its only one, so one at a time (a second would only wait for it).
 */
export const spendCsvConcurrency = (dialect: 'pglite' | 'postgres') => (dialect === 'postgres' ? 2 : 1);
/** Seconds an export refused for want of a slot is told to wait (most snapshots take less). */
export const SPEND_CSV_RETRY_AFTER_S = 5;

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

type SpendRange = { from: string; to: string };

/**
 * The cursor: base64url of the grouping, marks of the first page (the spend projection's
 * position when it was read, `p<position>`; the range it covered as resolved then,
 * `r<from>/<to>`), and the last row's key, so it fits only its report. A later page reads the
 * cursor's range, not one resolved again (the default range moves at UTC midnight). Cursors given
 * before a mark was added are taken: without the position their pages say they may have
 * changed; without the range, the range is resolved from the query as before.
 */
const encodeCursor = (
  groupBy: readonly SpendDimension[],
  position: number | undefined,
  range: SpendRange,
  key: readonly string[],
) =>
  Buffer.from(
    JSON.stringify([
      groupBy.join(','),
      ...(position === undefined ? [] : [`p${position}`]),
      `r${range.from}/${range.to}`,
      ...key,
    ]),
    'utf8',
  ).toString('base64url');

function decodeCursor(
  cursor: string,
  groupBy: readonly SpendDimension[],
): { position: number | undefined; range: SpendRange | undefined; key: string[] } {
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
    parsed.length < groupBy.length + 1 ||
    parsed.length > groupBy.length + 3 ||
    parsed[0] !== groupBy.join(',') ||
    !parsed.every((value) => typeof value === 'string' && value.length <= 300)
  )
    throw bad();
  // Between the grouping and the key (one value per dimension): the marks, each at most once,
  // the position first.
  let position: number | undefined;
  let range: SpendRange | undefined;
  for (const mark of parsed.slice(1, parsed.length - groupBy.length) as string[]) {
    const at = /^p(0|[1-9]\d{0,15})$/.exec(mark);
    const covers = /^r(\d{4}-\d{2}-\d{2})\/(\d{4}-\d{2}-\d{2})$/.exec(mark);
    if (at && position === undefined && range === undefined) position = Number(at[1]);
    else if (covers && range === undefined) range = { from: covers[1]!, to: covers[2]! };
    else throw bad();
  }
  if (range) {
    // Only a range the API could have answered: the same bounds resolve to themselves.
    let resolved: SpendRange;
    try {
      resolved = spendRange(range.from, range.to, new Date(0));
    } catch {
      throw bad();
    }
    if (resolved.from !== range.from || resolved.to !== range.to) throw bad();
  }
  const key = parsed.slice(parsed.length - groupBy.length) as string[];
  groupBy.forEach((dimension, i) => {
    if (dimension === 'day' && !/^\d{4}-\d{2}-\d{2}$/.test(key[i]!)) throw bad();
  });
  return { position, range, key };
}

/**
 * The range of a later page: its cursor's (as resolved on the first page), which a bound the
 * query gives must name; a cursor without one (given before cursors carried it) takes the
 * query's, resolved now.
 */
function rangeOfPage(
  q: { from?: string | undefined; to?: string | undefined },
  cursor: SpendRange | undefined,
  now: Date,
): SpendRange {
  if (!cursor) return spendRange(q.from, q.to, now);
  for (const name of ['from', 'to'] as const) {
    const given = q[name];
    if (given !== undefined && isoDay(dayOf(given, name)) !== cursor[name])
      throw invalid(
        'query.cursor',
        `made for another range (${cursor.from} to ${cursor.to})`,
        `the cursor continues the report from ${cursor.from} to ${cursor.to}, not the \`${name}\` asked: ask for its range (or no range), or start again without a cursor`,
      );
  }
  return cursor;
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
      // The currencies and the rows are read in one snapshot, so every cost has its column; a
      // cost without one would be lost, so the export fails rather than look complete.
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
 * Every row of the report as CSV, as of one moment. One snapshot (`inSpendSnapshot`: one
 * REPEATABLE READ READ ONLY transaction) reads the currencies, the parked events and every row
 * (a cursor, a page at a time) into a spill file at the database's pace; the file then goes
 * to the client at its pace. So a slow client holds no connection (on the embedded store, the
 * only one) and memory stays one page; the snapshot is bounded by the export's time limit,
 * past which the answer is a 503 before any byte of CSV is sent. The report's row count is not
 * bounded by its days alone (a day has a row per team, user, key, model... of the org), so
 * the rows are not held in memory.
 */
async function csvExport(
  deps: AdminDeps,
  query: Omit<SpendQuery, 'limit'>,
  parked: (sql: SqlQueryable) => Promise<number>,
  bom: boolean,
): Promise<{ pieces: AsyncIterable<Uint8Array>; unread: number }> {
  // A slot before a connection is asked for; freed when the snapshot is read (or fails), not
  // when the client has the file.
  const slot = deps.exportSlots.take(query.orgId);
  if ('refused' in slot)
    throw new AdminError(
      'unavailable',
      slot.refused === 'org'
        ? `your org already has ${deps.exportSlots.perOrgLimit} export(s) being read: retry when it is done`
        : 'every export slot of this server is being read: retry shortly',
      { headers: { 'Retry-After': String(SPEND_CSV_RETRY_AFTER_S) } },
    );
  try {
    return await readToSpill(deps, query, parked, bom);
  } finally {
    slot.release();
  }
}

async function readToSpill(
  deps: AdminDeps,
  query: Omit<SpendQuery, 'limit'>,
  parked: (sql: SqlQueryable) => Promise<number>,
  bom: boolean,
): Promise<{ pieces: AsyncIterable<Uint8Array>; unread: number }> {
  const { pageRows, timeLimitMs, tempDir } = deps.spendExport;
  const file = await SpillFile.create(tempDir);
  try {
    const unread = await inSpendSnapshot(deps.sql, timeLimitMs, async (tx, check) => {
      const currencies = await spendCurrencies(tx, query);
      const unread = await parked(tx);
      let header = true;
      for await (const rows of spendRowsIn(tx, query, pageRows)) {
        await file.write(csvText(rows, query.groupBy, currencies, header, header && bom));
        header = false;
        check();
      }
      if (header) await file.write(csvText([], query.groupBy, currencies, true, bom));
      return unread;
    });
    return { pieces: file.pieces(), unread };
  } catch (error) {
    await file.close();
    if (error instanceof SpendSnapshotTooSlow)
      throw new AdminError(
        'unavailable',
        `the report could not be read within ${Math.round(timeLimitMs / 1000)} s: export a shorter range or fewer groupings, or page through the JSON report`,
        { cause: error },
      );
    throw error;
  }
}

export const spendRoutes = [
  route({
    operationId: 'getSpend',
    method: 'get',
    path: '/orgs/{org}/spend',
    tag: 'spend',
    summary: 'Spend report: requests, tokens and cost per UTC day, team, user, key, provider or model',
    description: `From the spend projection: daily totals of every request event, kept for good (not subject to the request log's retention). \`from\` (inclusive) and \`to\` (exclusive) are UTC days, as dates (\`2026-01-01\`) or midnight UTC instants; by default the ${DEFAULT_SPEND_DAYS} days up to today included; at most ${MAX_SPEND_DAYS} days. \`groupBy\` is a comma-separated list of \`day\`, \`team\`, \`user\`, \`proxyKey\`, \`provider\`, \`providerKey\`, \`model\` (default \`day\`); rows are sorted by it. Filters: \`team\`, \`user\`, \`proxyKey\`, \`provider\`, \`model\`. Costs are exact decimal strings, one per currency the requests were priced in; \`unpricedRequests\` counts requests of a model without a price, whose cost is in no total. \`totals\` covers every row of the report, read in the same snapshot as the page. \`unreadEvents\` (and the \`${UNREAD_EVENTS_HEADER}\` header, on the CSV export too) counts the org's request events in the range that the projection could not add (parked): their spend is in no row and no total. It counts them whatever the filters, so a filtered report may name some that are outside it. Pages follow \`nextCursor\`, which keeps the range the first page resolved (a default range read across UTC midnight does not shift; a \`from\` or \`to\` a later page names must be its cursor's, else 400); each page is read at its own moment, so a later page may hold spend added after the first page's \`totals\` were read (today's rows grow as requests come in): \`changedSinceFirstPage\` says when that may be so (false: no request event of the org in the range was added since the first page, so the pages add up to its totals; true: one may have been; it ignores the filters, and says true without looking when more than ${SPEND_CHANGE_SCAN_MAX} events were written since). \`format=csv\` exports every row as CSV instead (one \`cost_<currency>\` column per currency), read in one snapshot of the projection (every row, and \`${UNREAD_EVENTS_HEADER}\`, as of one moment), then sent at the client's pace; an export whose snapshot cannot be read within ${SPEND_CSV_TIME_LIMIT_MS / 1000} s is refused (503) before any byte is sent. Each export holds a database connection while its snapshot is read, so a server reads only a few at once, and one org at most half of them: past that an export is refused at once with 503 and \`Retry-After\` (JSON pages are not limited). \`bom=true\` starts it with a UTF-8 byte order mark for Excel.`,
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
      const groupBy = groupingOf(q.groupBy);
      const cursor = q.cursor === undefined ? undefined : decodeCursor(q.cursor, groupBy);
      const range = rangeOfPage(q, cursor?.range, ctx.deps.now());
      const query = {
        orgId: org.orgId,
        ...range,
        teamId: q.team,
        userId: q.user,
        proxyKeyId: q.proxyKey,
        provider: q.provider,
        model: q.model,
        groupBy,
        after: cursor?.key,
      };
      // The spend projection's days are UTC days: its range as instants.
      const parkedOfRange = (sql: SqlQueryable) =>
        countParkedEvents(sql, {
          projection: SPEND_PROJECTION,
          orgId: org.orgId,
          types: REQUEST_EVENT_TYPES,
          from: `${range.from}T00:00:00Z`,
          to: `${range.to}T00:00:00Z`,
        });
      if (q.format === 'csv') {
        // The parked events are counted in the rows' snapshot: the same moment.
        const { pieces, unread } = await csvExport(ctx.deps, query, parkedOfRange, bom);
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
      // A later page is a later moment: it says whether the org's spend in the range may have
      // moved since the first page (whose position its cursor carries).
      const { rows, totals, position, changedSince } = await querySpend(
        ctx.deps.sql,
        { ...query, limit: limit + 1 },
        { totals: true, since: cursor?.position ?? null },
      );
      // Read after the totals: an event parked since is counted, never one too few.
      const unread = await parkedOfRange(ctx.deps.sql);
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
          changedSinceFirstPage: cursor !== undefined && changedSince !== false,
          nextCursor:
            rows.length > limit && last
              ? // The first page's position travels on: every page compares with the first.
                encodeCursor(groupBy, cursor === undefined ? position : cursor.position, range, last.rawKey)
              : null,
        },
      };
    },
  }),
];
