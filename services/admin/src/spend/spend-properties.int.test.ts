import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestStore, testStores } from '@kordon/events/testing';
import { SqlProjectionRunner } from '@kordon/projections';
import fc from 'fast-check';
import { decimalOf, picos } from '../testing/decimal.js';
import { type RequestEventSpec, requestEventSpec, storedAs } from '../testing/request-event-arbitraries.js';
import { decodeForSpend, spendProjection } from './spend-projection.js';
import {
  inSpendSnapshot,
  querySpend,
  SPEND_DIMENSIONS,
  type SpendDimension,
  type SpendFilter,
  spendRowsIn,
} from './spend-query.js';

/*
 * Properties of the spend projection and its report, over random request events of every
 * version: every grouping's rows and the totals are the exact sums of the events' costs per
 * currency (BigInt, never floats), each event counted once, through a restart in the middle
 * of the log, a second process building the same totals, and a rebuild from scratch; keyset
 * pages add up to the one-page report; another org's spend never shows. Fixed seeds.
 */

const DIMENSIONS = Object.keys(SPEND_DIMENSIONS) as SpendDimension[];
const RANGE = { from: '2024-01-01', to: '2024-12-31' };
const RANGE_2026 = { from: '2026-01-01', to: '2027-01-02' };

interface Sums {
  requests: number;
  completed: number;
  failed: number;
  rejected: number;
  unpriced: number;
  input: number;
  output: number;
  cached: number;
  costs: Map<string, bigint>;
}

const empty = (): Sums => ({
  requests: 0,
  completed: 0,
  failed: 0,
  rejected: 0,
  unpriced: 0,
  input: 0,
  output: 0,
  cached: 0,
  costs: new Map(),
});

/** A dimension's value of one event, as the report keys it ('' for none). */
function dimensionValue(spec: RequestEventSpec, dimension: SpendDimension): string {
  const rejected = spec.type === 'RequestRejected';
  const unknown = rejected && spec.rejectedWhoUnknown;
  const noAttempt = spec.type === 'RequestFailed' && spec.noAttempt;
  switch (dimension) {
    case 'day':
      return spec.time.toISOString().slice(0, 10);
    case 'team':
      return unknown ? '' : (spec.dims.teamId ?? '');
    case 'user':
      return unknown ? '' : spec.dims.userId;
    case 'proxyKey':
      return unknown ? '' : spec.dims.proxyKeyId;
    case 'provider':
      return rejected || noAttempt ? '' : spec.dims.provider;
    case 'providerKey':
      return rejected || noAttempt ? '' : spec.dims.providerKeyId;
    case 'model':
      return unknown ? '' : spec.dims.model;
  }
}

function add(sums: Sums, spec: RequestEventSpec): void {
  sums.requests++;
  if (spec.type === 'RequestRejected') {
    sums.rejected++;
    return;
  }
  if (spec.type === 'RequestCompleted') sums.completed++;
  else sums.failed++;
  sums.input += spec.inputTokens;
  sums.output += spec.outputTokens;
  sums.cached += spec.cachedInputTokens;
  if (spec.cost === null || spec.currency === null) {
    sums.unpriced++;
    return;
  }
  sums.costs.set(spec.currency, (sums.costs.get(spec.currency) ?? 0n) + picos(spec.cost));
}

/** What a report must say: rows by key (in the report's order) and totals. */
function expected(specs: RequestEventSpec[], filter: SpendFilter, groupBy: readonly SpendDimension[]) {
  const rows = new Map<string, { key: string[]; sums: Sums }>();
  const totals = empty();
  for (const spec of specs) {
    if (spec.dims.orgId !== filter.orgId) continue;
    const day = dimensionValue(spec, 'day');
    if (day < filter.from || day >= filter.to) continue;
    if (filter.teamId !== undefined && dimensionValue(spec, 'team') !== filter.teamId) continue;
    if (filter.userId !== undefined && dimensionValue(spec, 'user') !== filter.userId) continue;
    if (filter.proxyKeyId !== undefined && dimensionValue(spec, 'proxyKey') !== filter.proxyKeyId) continue;
    if (filter.provider !== undefined && dimensionValue(spec, 'provider') !== filter.provider) continue;
    if (filter.model !== undefined && dimensionValue(spec, 'model') !== filter.model) continue;
    const key = groupBy.map((d) => dimensionValue(spec, d));
    const id = JSON.stringify(key);
    const row = rows.get(id) ?? { key, sums: empty() };
    rows.set(id, row);
    add(row.sums, spec);
    add(totals, spec);
  }
  // The report sorts by the key's text, column by column (the database's collation is C on
  // both adapters: code point order).
  const compare = (a: string[], b: string[]) => {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
    return 0;
  };
  return { rows: [...rows.values()].sort((a, b) => compare(a.key, b.key)), totals };
}

/** A report's sums in the expected shape: costs as exact amounts, one entry per currency. */
function sumsOf(page: {
  requests: number;
  completed: number;
  failed: number;
  rejected: number;
  unpricedRequests: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  costs: Array<{ currency: string; cost: string }>;
}) {
  return {
    requests: page.requests,
    completed: page.completed,
    failed: page.failed,
    rejected: page.rejected,
    unpriced: page.unpricedRequests,
    input: page.inputTokens,
    output: page.outputTokens,
    cached: page.cachedInputTokens,
    costs: Object.fromEntries(page.costs.map((c) => [c.currency, decimalOf(picos(c.cost))])),
  };
}

const shown = (sums: Sums) => ({
  requests: sums.requests,
  completed: sums.completed,
  failed: sums.failed,
  rejected: sums.rejected,
  unpriced: sums.unpriced,
  input: sums.input,
  output: sums.output,
  cached: sums.cached,
  costs: Object.fromEntries(
    [...sums.costs]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([currency, cost]) => [currency, decimalOf(cost)]),
  ),
});

const grouping = fc
  .shuffledSubarray(DIMENSIONS, { minLength: 1, maxLength: DIMENSIONS.length })
  .chain((dims) => fc.shuffledSubarray(dims, { minLength: dims.length, maxLength: dims.length }));

/** Mostly no filter (every row), else one or two of them. */
const filterArb: fc.Arbitrary<Partial<SpendFilter>> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  fc
    .record(
      {
        teamId: fc.constantFrom('tm_core', 'tm-9'),
        userId: fc.constantFrom('usr_ana', 'usr_bo'),
        proxyKeyId: fc.constantFrom('pxk_1', 'pxk.3'),
        provider: fc.constantFrom('openai', 'yandex'),
        model: fc.constantFrom('a,b"c', 'x=1+2', 'gpt-4o-mini'),
      },
      { requiredKeys: [] },
    )
    .filter((filter) => Object.keys(filter).length <= 2),
);

/** Checks every report asked of the org against the events, paging as asked. */
async function checkReports(
  sql: TestStore['sql'],
  specs: RequestEventSpec[],
  orgs: readonly string[],
  asks: Array<{ groupBy: SpendDimension[]; filter: Partial<SpendFilter>; pageRows: number }>,
) {
  for (const orgId of orgs) {
    for (const range of [RANGE, RANGE_2026]) {
      for (const ask of asks) {
        const filter: SpendFilter = { orgId, ...range, ...ask.filter };
        const want = expected(specs, filter, ask.groupBy);
        const whole = await querySpend(
          sql,
          { ...filter, groupBy: ask.groupBy, limit: 10_000 },
          { totals: true },
        );
        assert.deepEqual(
          sumsOf(whole.totals!),
          shown(want.totals),
          `totals of ${orgId} ${JSON.stringify(ask)}`,
        );
        assert.deepEqual(
          whole.rows.map((row) => ({ key: row.rawKey, ...sumsOf(row) })),
          want.rows.map((row) => ({ key: row.key, ...shown(row.sums) })),
          `rows of ${orgId} ${JSON.stringify(ask)}`,
        );
        // Keyset pages: the same rows, each once, in order.
        const paged: string[][] = [];
        let afterKey: string[] | undefined;
        for (let guard = 0; guard < 1000; guard++) {
          const page = await querySpend(
            sql,
            { ...filter, groupBy: ask.groupBy, after: afterKey, limit: ask.pageRows },
            { totals: false },
          );
          paged.push(...page.rows.map((row) => row.rawKey));
          if (page.rows.length < ask.pageRows) break;
          afterKey = page.rows[page.rows.length - 1]!.rawKey;
        }
        assert.deepEqual(
          paged,
          whole.rows.map((row) => row.rawKey),
          `pages of ${orgId} ${JSON.stringify(ask)}`,
        );
      }
    }
  }
}

const scenario = fc.record({
  specs: fc.array(requestEventSpec(['org_a', 'org_b']), { minLength: 1, maxLength: 40 }),
  /** Where the first process stops and another starts from the checkpoint. */
  cut: fc.nat(),
  /** Where the rest is appended while a rebuild replays the log. */
  rebuildCut: fc.nat(),
  batchSize: fc.integer({ min: 1, max: 9 }),
  asks: fc.array(
    fc.record({ groupBy: grouping, filter: filterArb, pageRows: fc.integer({ min: 1, max: 4 }) }),
    { minLength: 1, maxLength: 3 },
  ),
});

for (const adapter of ['pglite', 'postgres'] as const) {
  describe(`spend properties on ${adapter}`, () => {
    let fixture: TestStore | string;
    before(async () => {
      fixture = await testStores[adapter]();
    });
    after(async () => {
      if (typeof fixture !== 'string') await fixture.close();
    });

    it('every report is the exact sum of the events, each counted once, across a restart, a second process and a rebuild', async (t) => {
      if (typeof fixture === 'string') return t.skip(fixture);
      const { store, sql } = fixture;
      let run = 0;
      await fc.assert(
        fc.asyncProperty(scenario, async ({ specs, cut, rebuildCut, batchSize, asks }) => {
          run++;
          // Each run its own orgs: the log keeps the earlier runs' events.
          const orgs = ['org_a', 'org_b'].map((org) => `${org}_${run}`);
          const mine = specs.map((spec) => ({
            ...spec,
            dims: { ...spec.dims, orgId: `${spec.dims.orgId}_${run}` },
          }));
          const events = mine.map(storedAs);
          const at = cut % (events.length + 1);
          const late = at + (rebuildCut % (events.length - at + 1));
          const runner = (size: number) =>
            new SqlProjectionRunner(spendProjection, decodeForSpend, store, sql, { batchSize: size });
          // A first process adds part of the log, stops; a second starts from the checkpoint.
          const first = runner(batchSize);
          await first.start();
          if (at > 0) {
            const { lastPosition } = await store.appendMany(events.slice(0, at));
            await first.waitFor(lastPosition, 20_000);
          }
          await first.stop();
          const second = runner(batchSize);
          const third = runner(1 + ((batchSize * 7) % 9));
          await second.start();
          await third.start();
          try {
            let head = await store.headPosition();
            if (at < late) head = (await store.appendMany(events.slice(at, late))).lastPosition;
            await second.waitFor(head, 20_000);
            await third.waitFor(head, 20_000);
            const before = mine.slice(0, late);
            await checkReports(sql, before, orgs, asks);
            // Rebuilt from scratch while the other process follows the log, and requests come in;
            // the rebuilding process stops part-way and starts again from the shared checkpoint.
            await second.rebuild();
            if (late < events.length) head = (await store.appendMany(events.slice(late))).lastPosition;
            await third.waitFor(head, 20_000);
            await second.stop();
            const fourth = runner(batchSize);
            await fourth.start();
            try {
              await fourth.waitFor(head, 60_000);
              // A request after the restart: whatever the replay left, it is added by now.
              const tail = storedAs({ ...mine[0]!, type: 'RequestRejected', version: 4 });
              head = (await store.appendMany([tail])).lastPosition;
              await fourth.waitFor(head, 20_000);
              await third.waitFor(head, 20_000);
              await checkReports(
                sql,
                [...mine, { ...mine[0]!, type: 'RequestRejected', version: 4 }],
                orgs,
                asks,
              );
            } finally {
              await fourth.stop();
            }
          } finally {
            await second.stop();
            await third.stop();
          }
        }),
        { seed: 20261206, numRuns: adapter === 'pglite' ? 12 : 25 },
      );
    });

    it("an export's cursor reads every row once, whatever page size it is given", async (t) => {
      if (typeof fixture === 'string') return t.skip(fixture);
      const { store, sql } = fixture;
      const runner = new SqlProjectionRunner(spendProjection, decodeForSpend, store, sql);
      await runner.start();
      try {
        const orgId = 'org_export_pages';
        const specs = fc.sample(requestEventSpec([orgId]), { seed: 5, numRuns: 40 });
        const { lastPosition } = await store.appendMany(specs.map(storedAs));
        await runner.waitFor(lastPosition, 20_000);
        const query = { orgId, ...RANGE_2026, groupBy: ['user', 'model', 'day'] as SpendDimension[] };
        const whole = await querySpend(sql, { ...query, limit: 10_000 }, { totals: false });
        assert.ok(whole.rows.length > 3, 'several pages');
        await fc.assert(
          fc.asyncProperty(fc.constantFrom(0, 0.5, 1, 1.5, 2, 3.7, 1000), async (pageRows) => {
            const keys = await inSpendSnapshot(sql, 20_000, async (tx) => {
              const read: string[][] = [];
              let pages = 0;
              for await (const rows of spendRowsIn(tx, query, pageRows)) {
                read.push(...rows.map((row) => row.rawKey));
                // A cursor that never ends would hold the snapshot until its time limit.
                if (++pages > whole.rows.length + 1) break;
              }
              return read;
            });
            assert.deepEqual(
              keys,
              whole.rows.map((row) => row.rawKey),
              `pageRows ${pageRows}`,
            );
          }),
          { seed: 11, numRuns: 7 },
        );
      } finally {
        await runner.stop();
      }
    });
  });
}
