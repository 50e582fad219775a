import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { decimalOf, picos } from '../testing/decimal.js';
import {
  createOrgWithRoles,
  expectStatus,
  startTestAdmin,
  type TestAdmin,
  type TestOrg,
} from '../testing/harness.js';
import { type RequestEventSpec, requestEventSpec, storedAs } from '../testing/request-event-arbitraries.js';

/*
 * Properties of what finance reads over the admin API, on random data: the spend report's
 * pages (followed by `nextCursor`) and its CSV export (parsed back with a CSV library) hold the
 * same rows and the exact sums of the events; the request log's pages, in either order and
 * with any filter, hold each of the org's requests once, in (time, position) order, and no
 * other org's; the audit trail's pages and its CSV export agree entry for entry. Fixed seeds.
 */

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;
const V1 = '/admin/v1';

/** A CSV export's cells as the API wrote them, the formula guard (a leading `'`) undone. */
function csvRows(text: string): string[][] {
  const rows = parse(text, { relax_column_count: false }) as string[][];
  return rows.map((row) => row.map((cell) => (/^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell)));
}

describe('reports over the admin API, on random data', { skip }, () => {
  let admin: TestAdmin;
  let acme: TestOrg;
  let other: TestOrg;
  /** Every request event written, with its org's slug. */
  const written: Array<{ slug: string; spec: RequestEventSpec; position: number; requestId: string }> = [];

  const get = async (path: string, token = acme.users.owner.token) =>
    (await expectStatus(admin.request('GET', `${V1}${path}`, { token }), 200)).body;
  const getText = async (path: string, token = acme.users.owner.token) =>
    (await expectStatus(admin.request('GET', `${V1}${path}`, { token }), 200)).text;

  const append = async (specs: Array<{ slug: 'acme' | 'other'; spec: RequestEventSpec }>) => {
    if (specs.length === 0) return;
    const orgIds = { acme: acme.orgId, other: other.orgId };
    const events = specs.map(({ slug, spec }) =>
      storedAs({ ...spec, dims: { ...spec.dims, orgId: orgIds[slug] } }),
    );
    const { lastPosition } = await admin.store.appendMany(events);
    const first = lastPosition - events.length + 1;
    specs.forEach(({ slug, spec }, i) => {
      const data = events[i]!.data as { requestId: string };
      written.push({ slug, spec, position: first + i, requestId: data.requestId });
    });
    await admin.api.spend.waitFor(lastPosition, 20_000);
    await admin.requestLog.waitFor(lastPosition, 20_000);
  };

  before(async () => {
    const started = await startTestAdmin();
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
    other = await createOrgWithRoles(admin, 'other');
  });
  after(() => admin?.close());

  const orgOfSpec = fc.constantFrom<'acme' | 'other'>('acme', 'other');
  const batch = fc.array(fc.record({ slug: orgOfSpec, spec: requestEventSpec(['x']) }), { maxLength: 25 });

  it('spend: pages and the CSV export hold the same rows, the exact sums of the events', async () => {
    const ranges = ['from=2024-01-01&to=2024-12-31', 'from=2026-01-01&to=2027-01-02'];
    const dims = ['day', 'team', 'user', 'proxyKey', 'provider', 'providerKey', 'model'];
    const columnOf: Record<string, string> = {
      day: 'day',
      team: 'team_id',
      user: 'user_id',
      proxyKey: 'proxy_key_id',
      provider: 'provider',
      providerKey: 'provider_key_id',
      model: 'model',
    };
    const fieldOf: Record<string, string> = {
      day: 'day',
      team: 'teamId',
      user: 'userId',
      proxyKey: 'proxyKeyId',
      provider: 'provider',
      providerKey: 'providerKeyId',
      model: 'model',
    };
    await fc.assert(
      fc.asyncProperty(
        batch,
        fc.shuffledSubarray(dims, { minLength: 1 }),
        fc.constantFrom(...ranges),
        fc.integer({ min: 1, max: 5 }),
        async (specs, groupBy, range, limit) => {
          await append(specs);
          const query = `${range}&groupBy=${groupBy.join(',')}`;
          const whole = await get(`/orgs/acme/spend?${query}&limit=10000`);
          assert.equal(whole.nextCursor, null);
          // Pages followed by their cursors: the whole report's rows, once each, in order.
          const paged: unknown[] = [];
          let cursor: string | null = null;
          do {
            const page = await get(
              `/orgs/acme/spend?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
            );
            assert.equal(page.changedSinceFirstPage, false);
            paged.push(...page.rows);
            cursor = page.nextCursor;
          } while (cursor !== null);
          assert.deepEqual(paged, whole.rows);
          // The totals: the exact sum of acme's events in the range, per currency.
          const [from, to] = [range.slice(5, 15), range.slice(19, 29)];
          const want = new Map<string, bigint>();
          let requests = 0;
          for (const { slug, spec } of written) {
            const day = spec.time.toISOString().slice(0, 10);
            if (slug !== 'acme' || day < from || day >= to) continue;
            requests++;
            if (spec.type === 'RequestRejected' || spec.cost === null || spec.currency === null) continue;
            want.set(spec.currency, (want.get(spec.currency) ?? 0n) + picos(spec.cost));
          }
          assert.equal(whole.totals.requests, requests);
          const totals = new Map<string, string>(
            whole.totals.costs.map((c: { currency: string; cost: string }) => [
              c.currency,
              decimalOf(picos(c.cost)),
            ]),
          );
          assert.deepEqual(
            totals,
            new Map([...want].sort(([a], [b]) => (a < b ? -1 : 1)).map(([c, v]) => [c, decimalOf(v)])),
          );
          // The CSV export: the same rows, cell for cell, once parsed.
          const [header, ...rows] = csvRows(await getText(`/orgs/acme/spend?${query}&format=csv`));
          const currencies = [...totals.keys()];
          assert.deepEqual(header, [
            ...groupBy.map((d) => columnOf[d]),
            'requests',
            'completed',
            'failed',
            'rejected',
            'unpriced_requests',
            'input_tokens',
            'output_tokens',
            'cached_input_tokens',
            ...currencies.map((c) => `cost_${c.toLowerCase()}`),
          ]);
          type JsonRow = Record<string, unknown> & { costs: Array<{ currency: string; cost: string }> };
          assert.deepEqual(
            rows,
            (whole.rows as JsonRow[]).map((row) => [
              ...groupBy.map((d) => (row[fieldOf[d]!] as string | null) ?? ''),
              ...[
                'requests',
                'completed',
                'failed',
                'rejected',
                'unpricedRequests',
                'inputTokens',
                'outputTokens',
                'cachedInputTokens',
              ].map((field) => String(row[field])),
              ...currencies.map((c) => row.costs.find((cost) => cost.currency === c)?.cost ?? '0'),
            ]),
          );
          // Each currency's column adds up to its total.
          currencies.forEach((currency, i) => {
            const column = header!.length - currencies.length + i;
            const sum = rows.reduce((total, row) => total + picos(row[column]!), 0n);
            assert.equal(decimalOf(sum), totals.get(currency));
          });
        },
      ),
      { seed: 42, numRuns: 25 },
    );
  });

  it("request log: pages hold each of the org's requests once, in order, and no other org's", async () => {
    type Filter = Partial<Record<'user' | 'model' | 'outcome' | 'from' | 'to', string>>;
    const filterArb: fc.Arbitrary<Filter> = fc.oneof(
      { weight: 2, arbitrary: fc.constant({}) },
      fc.record({ user: fc.constantFrom('usr_ana', 'usr_bo') }),
      fc.record({ model: fc.constantFrom('a,b"c', 'gpt-4o-mini') }),
      fc.record({ outcome: fc.constantFrom('completed', 'failed', 'rejected') }),
      fc.record({ from: fc.constantFrom('2026-02-01T00:00:00.000Z', '2024-02-29T00:00:00.000Z') }),
      fc.record({ to: fc.constantFrom('2026-02-01T00:00:00.000Z', '2027-01-01T00:00:00.000Z') }),
    );
    await fc.assert(
      fc.asyncProperty(
        batch,
        fc.constantFrom('time', '-time'),
        fc.integer({ min: 1, max: 7 }),
        filterArb,
        async (specs, sort, limit, filter) => {
          await append(specs);
          const filterQuery = Object.entries(filter)
            .map(([k, v]) => `&${k}=${encodeURIComponent(v)}`)
            .join('');
          const outcomeOf = {
            RequestCompleted: 'completed',
            RequestFailed: 'failed',
            RequestRejected: 'rejected',
          };
          const want = written
            .filter(({ slug, spec }) => {
              if (slug !== 'acme') return false;
              const unknown = spec.type === 'RequestRejected' && spec.rejectedWhoUnknown;
              if (filter.user !== undefined && (unknown || spec.dims.userId !== filter.user)) return false;
              if (filter.model !== undefined && (unknown || spec.dims.model !== filter.model)) return false;
              if (filter.outcome !== undefined && outcomeOf[spec.type] !== filter.outcome) return false;
              if (filter.from !== undefined && spec.time.getTime() < Date.parse(filter.from)) return false;
              if (filter.to !== undefined && spec.time.getTime() >= Date.parse(filter.to)) return false;
              return true;
            })
            .sort((a, b) => a.spec.time.getTime() - b.spec.time.getTime() || a.position - b.position)
            .map(({ requestId }) => requestId);
          if (sort === '-time') want.reverse();
          const seen: string[] = [];
          let cursor: string | null = null;
          do {
            const page = await get(
              `/orgs/acme/requests?sort=${sort}&limit=${limit}${filterQuery}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
            );
            seen.push(...page.items.map((item: { id: string }) => item.id));
            cursor = page.nextCursor;
            assert.ok(seen.length <= want.length + limit, 'pages never end');
          } while (cursor !== null);
          assert.deepEqual(seen, want);
        },
      ),
      { seed: 7, numRuns: 30 },
    );
  });

  it('audit: pages and the CSV export hold the same entries, names with quotes, commas and formulas intact', async () => {
    const name = fc
      .tuple(
        fc.constantFrom('=SUM(A1:A9)', '+1', '-2', '@cmd', 'a,b', 'say "hi"', 'Отдел', ' lead'),
        fc.stringMatching(/^[ -~]{0,12}$/),
      )
      .map(([head, tail]) => `${head}${tail}`)
      .filter((text) => /\S/.test(text));
    let made = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ slug: orgOfSpec, name }), { maxLength: 6 }),
        fc.constantFrom('time', '-time'),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom('', '&action=TeamCreated', '&action=UserInvited'),
        async (teams, sort, limit, filter) => {
          for (const team of teams) {
            made++;
            await expectStatus(
              admin.request('POST', `${V1}/orgs/${team.slug}/teams`, {
                token: admin.adminToken,
                body: { name: `${team.name} ${made}` },
              }),
              201,
            );
          }
          const auditor = acme.users.auditor.token;
          const entries: Array<Record<string, unknown> & { id: string }> = [];
          let cursor: string | null = null;
          do {
            const page = await get(
              `/orgs/acme/audit?sort=${sort}${filter}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
              auditor,
            );
            entries.push(...page.items);
            cursor = page.nextCursor;
          } while (cursor !== null);
          const ids = entries.map((entry) => entry.id);
          assert.equal(new Set(ids).size, ids.length, 'each entry once');
          const [header, ...rows] = csvRows(
            await getText(`/orgs/acme/audit?sort=${sort}${filter}&format=csv`, auditor),
          );
          assert.deepEqual(header, [
            'time',
            'actor_kind',
            'actor_id',
            'actor_ip',
            'action',
            'subject_type',
            'subject_id',
            'before',
            'after',
            'event_id',
          ]);
          type Entry = {
            id: string;
            time: string;
            action: string;
            actor: { kind: string; id: string | null; ip: string | null };
            subject: { type: string; id: string | null };
            before: unknown;
            after: unknown;
          };
          assert.deepEqual(
            rows.map((row) => ({
              time: row[0],
              actor: { kind: row[1], id: row[2] || null, ip: row[3] || null },
              action: row[4],
              subject: { type: row[5], id: row[6] || null },
              before: row[7] === '' ? null : JSON.parse(row[7]!),
              after: row[8] === '' ? null : JSON.parse(row[8]!),
              id: row[9],
            })),
            (entries as unknown as Entry[]).map((entry) => ({
              time: entry.time,
              actor: entry.actor,
              action: entry.action,
              subject: entry.subject,
              before: entry.before,
              after: entry.after,
              id: entry.id,
            })),
          );
          if (filter !== '') {
            const action = filter.slice('&action='.length);
            assert.ok(entries.every((entry) => entry.action === action));
          }
          if (filter === '&action=UserInvited') return;
          // Every team acme made is there, once; none of the other org's.
          const names = entries
            .filter((entry) => entry.action === 'TeamCreated')
            .map((entry) => (entry.after as { name: string }).name);
          const acmeTeams = await get('/orgs/acme/teams?limit=200');
          assert.deepEqual(names.sort(), acmeTeams.items.map((team: { name: string }) => team.name).sort());
        },
      ),
      { seed: 99, numRuns: 15 },
    );
  });
});
