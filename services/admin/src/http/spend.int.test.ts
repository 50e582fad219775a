import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { NewEvent, SqlExecutor } from '@kordon/events';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { SqlProjectionRunner } from '@kordon/projections';
import { decodeForSpend, spendProjection } from '../spend/spend-projection.js';
import {
  createOrgWithRoles,
  expectStatus,
  startTestAdmin,
  type TestAdmin,
  type TestOrg,
} from '../testing/harness.js';
import { completedEvent, failedEvent, rejectedEvent } from '../testing/request-events.js';

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;
const V1 = '/admin/v1';

/** Exact decimal addition of non-negative decimal strings (what the report must equal). */
function addDecimals(values: string[]): string {
  const scale = Math.max(0, ...values.map((v) => v.split('.')[1]?.length ?? 0));
  let sum = 0n;
  for (const value of values) {
    const [whole, fraction = ''] = value.split('.');
    sum += BigInt(`${whole}${fraction.padEnd(scale, '0')}`);
  }
  const digits = sum.toString().padStart(scale + 1, '0');
  return scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/** The same value written with the fewest digits ("30.0" and "30" are one amount). */
const normal = (decimal: string) => (decimal.includes('.') ? decimal.replace(/\.?0+$/, '') : decimal);

const at = (iso: string) => new Date(iso);
/** The export's cells are ids, names, days and numbers: no quoting to undo. */
const parse = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((line) => line.split(','));

describe('spend reports over the admin API', { skip }, () => {
  let admin: TestAdmin;
  let acme: TestOrg;
  let other: TestOrg;
  let owner: string;
  let lastPosition = 0;
  /** Every cost acme's requests were priced at (USD), for the expected exact total. */
  const acmeUsd: string[] = [];

  const append = async (events: NewEvent[]) => {
    const appended = await admin.store.appendMany(events);
    lastPosition = appended.lastPosition;
    await admin.api.spend.waitFor(lastPosition, 20_000);
  };
  const get = (path: string, token = owner) => admin.request('GET', `${V1}${path}`, { token });
  const report = async (query: string, token = owner) =>
    (await expectStatus(get(`/orgs/acme/spend?${query}`, token), 200)).body;

  before(async () => {
    const started = await startTestAdmin();
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
    other = await createOrgWithRoles(admin, 'other');
    owner = acme.users.owner.token;
    const org = acme.orgId;
    const events: NewEvent[] = [];
    // 300 requests of 0.1 and 0.2 USD on one day: a float sum would not be 45 exactly.
    for (let i = 0; i < 300; i++) {
      const cost = i % 2 === 0 ? '0.1' : '0.2';
      acmeUsd.push(cost);
      events.push(
        completedEvent(org, at(`2026-03-01T${String(i % 24).padStart(2, '0')}:00:00Z`), {
          userId: 'usr_ana',
          teamId: 'tm_core',
          proxyKeyId: 'pxk_ana',
          model: 'gpt-4o-mini',
          usage: { inputTokens: 100, outputTokens: 10, cachedInputTokens: 40 },
          cost,
        }),
      );
    }
    // The last and first milliseconds of two UTC days.
    acmeUsd.push('0.000036', '1.23456789');
    events.push(
      completedEvent(org, at('2026-03-01T23:59:59.999Z'), {
        userId: 'usr_bo',
        proxyKeyId: 'pxk_bo',
        provider: 'anthropic',
        providerKeyId: 'prk_claude',
        model: 'claude-sonnet-4-5',
        cost: '0.000036',
      }),
      completedEvent(org, at('2026-03-02T00:00:00.000Z'), {
        userId: 'usr_bo',
        proxyKeyId: 'pxk_bo',
        provider: 'anthropic',
        providerKeyId: 'prk_claude',
        model: 'claude-sonnet-4-5',
        usage: { inputTokens: 5000, outputTokens: 700, cachedInputTokens: 0 },
        cost: '1.23456789',
      }),
    );
    // A failure that was charged for what it streamed, one with nothing, a rejection, and an
    // unpriced model; a request priced in roubles.
    acmeUsd.push('0.0042', '0');
    events.push(
      failedEvent(org, at('2026-03-02T10:00:00Z'), {
        userId: 'usr_bo',
        proxyKeyId: 'pxk_bo',
        usage: { inputTokens: 80, outputTokens: 20, cachedInputTokens: 0 },
        cost: '0.0042',
      }),
      failedEvent(org, at('2026-03-02T10:01:00Z'), {
        userId: 'usr_bo',
        proxyKeyId: 'pxk_bo',
        usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 },
        cost: '0',
      }),
      rejectedEvent(org, at('2026-03-02T11:00:00Z'), { userId: 'usr_ana', proxyKeyId: 'pxk_ana' }),
      completedEvent(org, at('2026-03-02T12:00:00Z'), {
        userId: 'usr_ana',
        teamId: 'tm_core',
        proxyKeyId: 'pxk_ana',
        provider: 'local',
        providerKeyId: 'prk_local',
        model: 'llama-3-8b',
        cost: null,
        currency: null,
      }),
      completedEvent(org, at('2026-03-02T13:00:00Z'), {
        userId: 'usr_ana',
        teamId: 'tm_core',
        proxyKeyId: 'pxk_ana',
        provider: 'yandex',
        providerKeyId: 'prk_yandex',
        model: 'yandexgpt-lite',
        cost: '12.5',
        currency: 'RUB',
      }),
    );
    // Another org's request on the same day, by a user id that also appears in acme's filters.
    events.push(
      completedEvent(other.orgId, at('2026-03-01T12:00:00Z'), {
        userId: 'usr_ana',
        teamId: 'tm_core',
        proxyKeyId: 'pxk_ana',
        cost: '1000',
      }),
    );
    await append(events);
  });
  after(() => admin?.close());

  const MARCH = 'from=2026-03-01&to=2026-03-08';
  const usd = (sums: { costs: Array<{ currency: string; cost: string }> }) =>
    sums.costs.find((c) => c.currency === 'USD')?.cost;

  it('sums costs exactly over many requests, per currency, with tokens and outcomes', async () => {
    const body = await report(`${MARCH}&groupBy=day`);
    assert.equal(body.from, '2026-03-01');
    assert.equal(body.to, '2026-03-08');
    assert.deepEqual(body.groupBy, ['day']);
    assert.equal(normal(usd(body.totals)!), normal(addDecimals(acmeUsd)));
    assert.equal(normal(usd(body.totals)!), '46.23880389');
    assert.deepEqual(
      body.totals.costs.map((c: { currency: string; cost: string }) => [c.currency, normal(c.cost)]),
      [
        ['RUB', '12.5'],
        ['USD', '46.23880389'],
      ],
    );
    assert.equal(body.totals.requests, 307);
    assert.equal(body.totals.completed, 304);
    assert.equal(body.totals.failed, 2);
    assert.equal(body.totals.rejected, 1);
    assert.equal(body.totals.unpricedRequests, 1);
    assert.equal(body.totals.inputTokens, 300 * 100 + 120 + 5000 + 80 + 0 + 120 + 120);
    assert.equal(body.totals.outputTokens, 300 * 10 + 30 + 700 + 20 + 0 + 30 + 30);
    assert.equal(body.totals.cachedInputTokens, 300 * 40);
    assert.equal(body.nextCursor, null);
  });

  it('puts each request on its UTC day, and a range takes whole days', async () => {
    const body = await report(`${MARCH}&groupBy=day`);
    assert.deepEqual(
      body.rows.map((r: { day: string; requests: number; costs: unknown[] }) => [r.day, r.requests]),
      [
        ['2026-03-01', 301],
        ['2026-03-02', 6],
      ],
    );
    const first = body.rows[0];
    assert.equal(normal(usd(first)!), normal(addDecimals([...acmeUsd.slice(0, 300), '0.000036'])));
    // `to` is exclusive; a midnight instant is the same day as its date.
    const one = await report('from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00.000Z&groupBy=day');
    assert.deepEqual(
      one.rows.map((r: { day: string }) => r.day),
      ['2026-03-01'],
    );
    assert.equal(one.totals.requests, 301);
    const second = await report('from=2026-03-02&to=2026-03-03');
    assert.equal(second.totals.requests, 6);
    // Spend is kept per day: an instant inside a day cannot be answered exactly.
    const refused = await expectStatus(get('/orgs/acme/spend?from=2026-03-01T12:00:00Z&to=2026-03-03'), 400);
    assert.equal(refused.body.code, 'validation_failed');
    assert.match(refused.body.detail, /UTC day/);
  });

  it('groups by any dimensions, in the order given', async () => {
    const byModel = await report(`${MARCH}&groupBy=model`);
    assert.deepEqual(
      byModel.rows.map((r: { model: string; requests: number }) => [r.model, r.requests]),
      [
        ['claude-sonnet-4-5', 4],
        // With the rejection, under the model it named.
        ['gpt-4o-mini', 301],
        ['llama-3-8b', 1],
        ['yandexgpt-lite', 1],
      ],
    );
    const byUserDay = await report(`${MARCH}&groupBy=user,day`);
    assert.deepEqual(
      byUserDay.rows.map((r: { userId: string; day: string; requests: number }) => [
        r.userId,
        r.day,
        r.requests,
      ]),
      [
        ['usr_ana', '2026-03-01', 300],
        ['usr_ana', '2026-03-02', 3],
        ['usr_bo', '2026-03-01', 1],
        ['usr_bo', '2026-03-02', 3],
      ],
    );
    const byKeyProvider = await report(`${MARCH}&groupBy=providerKey,provider,team,proxyKey`);
    const claude = byKeyProvider.rows.find(
      (r: { providerKeyId: string }) => r.providerKeyId === 'prk_claude',
    );
    assert.deepEqual(
      { provider: claude.provider, teamId: claude.teamId, proxyKeyId: claude.proxyKeyId },
      { provider: 'anthropic', teamId: null, proxyKeyId: 'pxk_bo' },
    );
    assert.equal(normal(usd(claude)!), '1.23460389');
    // The rejection was refused before any provider: no provider, no key, no spend.
    const refused = byKeyProvider.rows.find(
      (r: { providerKeyId: string | null }) => r.providerKeyId === null,
    );
    assert.deepEqual([refused.provider, refused.requests, refused.rejected, refused.costs], [null, 1, 1, []]);
    // Only the grouped fields are in a row.
    assert.deepEqual(
      Object.keys(byModel.rows[0]).filter(
        (k) =>
          !/^(requests|completed|failed|rejected|unpricedRequests|inputTokens|outputTokens|cachedInputTokens|costs)$/.test(
            k,
          ),
      ),
      ['model'],
    );
  });

  it('filters by team, user, proxy key, provider and model', async () => {
    const cases: Array<[string, number]> = [
      ['team=tm_core', 302],
      ['user=usr_bo', 4],
      ['proxyKey=pxk_ana', 303],
      ['provider=anthropic', 4],
      ['model=gpt-4o-mini', 301],
      ['user=usr_ana&model=gpt-4o-mini', 301],
      ['user=usr_nobody', 0],
    ];
    for (const [filter, requests] of cases) {
      const body = await report(`${MARCH}&${filter}`);
      assert.equal(body.totals.requests, requests, filter);
    }
    const empty = await report(`${MARCH}&user=usr_nobody`);
    assert.deepEqual(empty.rows, []);
    assert.deepEqual(empty.totals.costs, []);
  });

  it("never shows another org's spend, whatever the filters name", async () => {
    const body = await report(`${MARCH}&user=usr_ana&groupBy=day,model`);
    assert.ok(
      body.rows.every((r: { costs: Array<{ cost: string }> }) => r.costs.every((c) => c.cost !== '1000')),
    );
    assert.equal(body.totals.requests, 303);
    const theirs = (await expectStatus(get(`/orgs/other/spend?${MARCH}`, other.users.finance.token), 200))
      .body;
    assert.equal(theirs.totals.requests, 1);
    assert.equal(normal(usd(theirs.totals)!), '1000');
    // Acme's finance naming the other org (slug or id) gets 404, as for every route.
    for (const ref of ['other', other.orgId]) {
      await expectStatus(get(`/orgs/${ref}/spend?${MARCH}`, acme.users.finance.token), 404);
    }
  });

  it('pages with a cursor that fits only its report', async () => {
    const all = await report(`${MARCH}&groupBy=user,day`);
    const seen: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page: { rows: unknown[]; nextCursor: string | null; totals: { requests: number } } = await report(
        `${MARCH}&groupBy=user,day&limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      assert.equal(page.totals.requests, 307, 'every page carries the totals of the whole report');
      seen.push(...page.rows);
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, all.rows);
    const firstPage = await report(`${MARCH}&groupBy=user,day&limit=1`);
    const wrong = await expectStatus(
      get(`/orgs/acme/spend?${MARCH}&groupBy=day,user&cursor=${firstPage.nextCursor}`),
      400,
    );
    assert.equal(wrong.body.errors[0].path, 'query.cursor');
    await expectStatus(get(`/orgs/acme/spend?${MARCH}&cursor=bm90LWpzb24`), 400);
  });

  it('refuses ranges that are empty, too long or malformed, and unknown dimensions', async () => {
    for (const query of [
      'from=2026-03-02&to=2026-03-01',
      'from=2026-03-01&to=2026-03-01',
      'from=2025-01-01&to=2026-03-01',
      'from=2026-13-01',
      'from=0000-01-01',
      'groupBy=day,org',
      'groupBy=day,day',
      'groupBy=',
      'limit=0',
    ]) {
      const answer = await expectStatus(get(`/orgs/acme/spend?${query}`), 400);
      assert.equal(answer.body.code, 'validation_failed', query);
    }
    // 366 days is the most one report covers.
    await expectStatus(get('/orgs/acme/spend?from=2025-03-01&to=2026-03-02'), 200);
  });

  it('covers the 30 days up to today by default', async () => {
    const now = new Date();
    await append([completedEvent(acme.orgId, now, { userId: 'usr_today', cost: '0.5' })]);
    const body = await report('user=usr_today');
    const today = now.toISOString().slice(0, 10);
    const tomorrow = new Date(Date.parse(`${today}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    assert.equal(body.to, tomorrow);
    assert.equal(Date.parse(body.to) - Date.parse(body.from), 30 * 86_400_000);
    assert.deepEqual(
      body.rows.map((r: { day: string; requests: number }) => [r.day, r.requests]),
      [[today, 1]],
    );
  });

  it('exports the same report as CSV', async () => {
    const answer = await expectStatus(get(`/orgs/acme/spend?${MARCH}&groupBy=day,model&format=csv`), 200);
    assert.match(answer.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(
      answer.headers.get('content-disposition') ?? '',
      /attachment; filename="spend-acme-2026-03-01-2026-03-08.csv"/,
    );
    const records: string[][] = parse(answer.text);
    assert.deepEqual(records[0], [
      'day',
      'model',
      'requests',
      'completed',
      'failed',
      'rejected',
      'unpriced_requests',
      'input_tokens',
      'output_tokens',
      'cached_input_tokens',
      'cost_rub',
      'cost_usd',
    ]);
    const json = await report(`${MARCH}&groupBy=day,model`);
    assert.equal(records.length - 1, json.rows.length);
    for (const [i, row] of json.rows.entries()) {
      const line = records[i + 1]!;
      assert.deepEqual(line.slice(0, 10), [
        row.day,
        row.model,
        ...[
          row.requests,
          row.completed,
          row.failed,
          row.rejected,
          row.unpricedRequests,
          row.inputTokens,
          row.outputTokens,
          row.cachedInputTokens,
        ].map(String),
      ]);
      const cost = (currency: string) =>
        row.costs.find((c: { currency: string }) => c.currency === currency)?.cost ?? '0';
      assert.deepEqual(line.slice(10), [cost('RUB'), cost('USD')]);
    }
    const gpt = records.find((line) => line[0] === '2026-03-01' && line[1] === 'gpt-4o-mini')!;
    assert.equal(normal(gpt[11]!), normal(addDecimals(acmeUsd.slice(0, 300))));
  });

  it('starts the CSV with a UTF-8 byte order mark when asked (bom=true), refused without CSV', async () => {
    const bytesOf = async (query: string) => {
      const response = await fetch(`${admin.url}${V1}/orgs/acme/spend?${MARCH}&${query}`, {
        headers: { authorization: `Bearer ${owner}` },
      });
      assert.equal(response.status, 200, query);
      return Buffer.from(await response.arrayBuffer());
    };
    const plain = await bytesOf('format=csv');
    const marked = await bytesOf('format=csv&bom=true');
    assert.equal(plain.subarray(0, 4).toString('utf8'), 'day,');
    assert.deepEqual([...marked.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    assert.ok(marked.subarray(3).equals(plain), 'the mark, then the same file');

    const refused = await get(`/orgs/acme/spend?${MARCH}&format=json&bom=true`);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'validation_failed');
    assert.deepEqual(refused.body.errors, [{ path: 'query.bom', message: 'only with format=csv' }]);
    assert.equal((await get(`/orgs/acme/spend?${MARCH}&format=csv&bom=yes`)).status, 400);
  });

  it('exports more rows than one page, each once', async () => {
    const events: NewEvent[] = [];
    for (let i = 0; i < 2_100; i++)
      events.push(
        completedEvent(acme.orgId, at('2026-04-10T08:00:00Z'), {
          userId: `usr_many_${String(i).padStart(4, '0')}`,
          cost: '0.01',
        }),
      );
    await append(events);
    const answer = await expectStatus(
      get('/orgs/acme/spend?from=2026-04-10&to=2026-04-11&groupBy=user&format=csv'),
      200,
    );
    const records: string[][] = parse(answer.text);
    const users = records.slice(1).map((line) => line[0]);
    assert.equal(users.length, 2_100);
    assert.equal(new Set(users).size, 2_100);
    assert.deepEqual(users, [...users].sort());
    const json = await report('from=2026-04-10&to=2026-04-11');
    assert.equal(normal(usd(json.totals)!), '21');
  });

  /**
   * A statement that reads a page of the export's rows: a keyset page (its `by_key` statement,
   * with a LIMIT) or a FETCH from a cursor (whose DECLARE reads nothing yet).
   */
  const isExportPageRead = (text: string) =>
    /^\s*FETCH\b/i.test(text) || (/\bby_key\b/.test(text) && !/^\s*DECLARE\b/i.test(text));

  /** The admin API's executor, with `hook` run before its `nth` page read while armed. */
  function pageReadHook(nth: number, hook: () => Promise<void>) {
    const state = { armed: false, reads: 0, ran: false };
    const before = async (text: string) => {
      if (!state.armed || !isExportPageRead(text)) return;
      state.reads += 1;
      if (state.reads === nth) {
        state.ran = true;
        await hook();
      }
    };
    return { state, wrap: readsAfter(before) };
  }

  /**
   * The admin API's executor with every export's page reads held (in its snapshot, holding its
   * connection) until `open()`; `paused` counts the exports held.
   */
  function exportGate() {
    let open = () => {};
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    const state = { paused: 0, open };
    const wrap = readsAfter(async (text) => {
      // An export's cursor (a JSON page's statement is not held).
      if (!/^\s*FETCH\b/i.test(text)) return;
      state.paused += 1;
      await opened;
    });
    /** Until `count` exports are held. */
    const held = async (count: number) => {
      for (let waited = 0; state.paused < count; waited += 10) {
        if (waited > 10_000) throw new Error(`${state.paused} exports held, not ${count}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    return { state, wrap, held };
  }

  /** An executor that runs `before` ahead of each statement, in a transaction too. */
  function readsAfter(before: (text: string) => Promise<void>) {
    return (sql: SqlExecutor): SqlExecutor => ({
      ...sql,
      dialect: sql.dialect,
      exec: (text) => sql.exec(text),
      listen: (channel, onNotify) => sql.listen(channel, onNotify),
      close: () => sql.close(),
      query: async (text, params, options) => {
        await before(text);
        return sql.query(text, params, options);
      },
      transaction: (fn) =>
        sql.transaction((tx) =>
          fn({
            query: async (text, params, options) => {
              await before(text);
              return tx.query(text, params, options);
            },
          }),
        ),
    });
  }

  /** The answer, or 'held' when none came within `ms` (an export waiting at a gate). */
  const within = <T>(answer: Promise<T>, ms = 3_000) =>
    Promise.race([answer, new Promise<'held'>((resolve) => setTimeout(() => resolve('held'), ms))]);

  it('reads at most maxConcurrent exports at once: the next is refused at once, 503 with Retry-After', async () => {
    const gate = exportGate();
    const replica = await admin.replica({
      wrapSql: gate.wrap,
      spendExport: { maxConcurrent: 2, maxConcurrentPerOrg: 2 },
    });
    const exportOf = (day: string) =>
      replica.request('GET', `${V1}/orgs/acme/spend?from=${day}&to=2026-03-08&groupBy=user&format=csv`, {
        token: owner,
      });
    const reading = [exportOf('2026-03-01'), exportOf('2026-03-02')];
    try {
      await gate.held(2);
      // Both hold their snapshot (and a connection): a third is not queued behind them.
      const third = await within(exportOf('2026-03-03'));
      assert.ok(third !== 'held', 'the third export was refused without waiting');
      assert.equal(third.status, 503, third.text);
      assert.equal(third.body.code, 'unavailable');
      assert.equal(third.body.title, 'Temporarily unavailable: retry later');
      assert.match(third.body.detail, /every export slot of this server is being read/);
      assert.equal(third.headers.get('retry-after'), '5');
      assert.equal(gate.state.paused, 2, 'the refused export read nothing');
      // JSON pages take no slot.
      await expectStatus(replica.request('GET', `${V1}/orgs/acme/spend?${MARCH}`, { token: owner }), 200);
      gate.state.open();
      for (const answer of await Promise.all(reading)) assert.equal(answer.status, 200, answer.text);
      // Their snapshots read, their slots are free again.
      const again = await expectStatus(exportOf('2026-03-03'), 200);
      assert.match(again.text, /^user_id,/);
    } finally {
      gate.state.open();
      await Promise.allSettled(reading);
      await replica.close();
    }
  });

  it("keeps a share of the export slots for other orgs: one org's exports hold at most half", async () => {
    const gate = exportGate();
    // The defaults on PostgreSQL: 2 exports at once, 1 of them for one org.
    const replica = await admin.replica({ wrapSql: gate.wrap });
    const exportOf = (slug: string, token: string) =>
      replica.request('GET', `${V1}/orgs/${slug}/spend?${MARCH}&format=csv`, { token });
    const acmeFirst = exportOf('acme', owner);
    let otherFirst: ReturnType<typeof exportOf> | undefined;
    try {
      await gate.held(1);
      const second = await within(exportOf('acme', acme.users.finance.token));
      assert.ok(second !== 'held', "the org's second export was refused without waiting");
      assert.equal(second.status, 503, second.text);
      assert.match(second.body.detail, /your org already has 1 export\(s\) being read/);
      assert.equal(second.headers.get('retry-after'), '5');
      // Another org still gets the other slot.
      otherFirst = exportOf('other', other.users.finance.token);
      await gate.held(2);
      gate.state.open();
      assert.equal((await acmeFirst).status, 200);
      assert.equal((await otherFirst).status, 200);
      await expectStatus(exportOf('acme', acme.users.finance.token), 200);
    } finally {
      gate.state.open();
      await Promise.allSettled([acmeFirst, otherFirst]);
      await replica.close();
    }
  });

  it('exports every row as of one moment, while the projection moves between its pages', async () => {
    const DAY = 'from=2026-06-15&to=2026-06-16&groupBy=user';
    // More rows than one page of the export (2,000 by default; 500 here where it can be set).
    const events: NewEvent[] = [];
    for (let i = 0; i < 2_050; i++)
      events.push(
        completedEvent(acme.orgId, at('2026-06-15T08:00:00Z'), {
          userId: `usr_snap_${String(i).padStart(4, '0')}`,
          cost: '0.01',
        }),
      );
    await append(events);
    // Between the export's first and second page: one more request for the first row (already
    // exported) and a request by a user whose row sorts last (not exported yet).
    const hook = pageReadHook(2, async () => {
      await append([
        completedEvent(acme.orgId, at('2026-06-15T09:00:00Z'), { userId: 'usr_snap_0000', cost: '0.01' }),
        completedEvent(acme.orgId, at('2026-06-15T09:00:00Z'), { userId: 'usr_snap_9999', cost: '0.01' }),
      ]);
    });
    const replica = await admin.replica({ wrapSql: hook.wrap, spendExport: { pageRows: 500 } });
    try {
      const before = await report(`${DAY}&limit=10000`);
      assert.equal(before.rows.length, 2_050);
      hook.state.armed = true;
      const answer = await expectStatus(
        replica.request('GET', `${V1}/orgs/acme/spend?${DAY}&format=csv`, { token: owner }),
        200,
      );
      hook.state.armed = false;
      assert.ok(hook.state.ran, 'the projection moved between two pages of the export');
      const after = await report(`${DAY}&limit=10000`);
      assert.equal(after.rows.length, 2_051);
      assert.equal(after.rows[0].requests, 2);
      // The export is the report as it was when the export began: the first row without the
      // request added after it was read, and no row of the user who came after.
      const exported = parse(answer.text)
        .slice(1)
        .map((line) => [line[0], Number(line[1])]);
      assert.deepEqual(
        exported,
        before.rows.map((r: { userId: string; requests: number }) => [r.userId, r.requests]),
      );
    } finally {
      hook.state.armed = false;
      await replica.close();
    }
  });

  it('refuses an export whose snapshot takes longer than its limit, before sending any of it', async () => {
    const hook = pageReadHook(2, () => new Promise((resolve) => setTimeout(resolve, 1_500)));
    const replica = await admin.replica({
      wrapSql: hook.wrap,
      spendExport: { pageRows: 500, timeLimitMs: 1_000 },
    });
    try {
      hook.state.armed = true;
      const refused = await expectStatus(
        replica.request(
          'GET',
          `${V1}/orgs/acme/spend?from=2026-06-15&to=2026-06-16&groupBy=user&format=csv`,
          {
            token: owner,
          },
        ),
        503,
      );
      hook.state.armed = false;
      assert.ok(hook.state.ran);
      assert.equal(refused.body.code, 'unavailable');
      assert.match(refused.body.detail, /could not be read within 1 s/);
      // The snapshot's connection is back: the same replica answers the next report.
      const again = await expectStatus(
        replica.request('GET', `${V1}/orgs/acme/spend?from=2026-06-15&to=2026-06-16&format=csv`, {
          token: owner,
        }),
        200,
      );
      assert.match(again.text, /^day,/);
    } finally {
      hook.state.armed = false;
      await replica.close();
    }
  });

  it("says when a later JSON page may be of a later moment than the first page's totals", async () => {
    const RANGE = 'from=2026-07-01&to=2026-07-03&groupBy=user';
    await append([
      completedEvent(acme.orgId, at('2026-07-01T08:00:00Z'), { userId: 'usr_page_a', cost: '1' }),
      completedEvent(acme.orgId, at('2026-07-01T08:00:00Z'), { userId: 'usr_page_b', cost: '1' }),
      completedEvent(acme.orgId, at('2026-07-01T08:00:00Z'), { userId: 'usr_page_c', cost: '1' }),
    ]);
    const first = await report(`${RANGE}&limit=1`);
    assert.equal(first.changedSinceFirstPage, false);
    assert.equal(first.totals.requests, 3);
    const next = (cursor: string) => report(`${RANGE}&limit=1&cursor=${cursor}`);
    // Nothing of the org in the range since: the later pages are as of the first page.
    const second = await next(first.nextCursor);
    assert.equal(second.changedSinceFirstPage, false);
    assert.equal(second.totals.requests, 3);
    // Requests outside the report (another org; another day) move the projection, not the report.
    await append([
      completedEvent(other.orgId, at('2026-07-01T09:00:00Z'), { userId: 'usr_page_b', cost: '5' }),
      completedEvent(acme.orgId, at('2026-07-05T09:00:00Z'), { userId: 'usr_page_b', cost: '5' }),
    ]);
    const third = await next(second.nextCursor);
    assert.equal(third.changedSinceFirstPage, false);
    assert.equal(third.totals.requests, 3);
    // A request of the org in the range, after the first page: a later page says so (its cursor
    // carries the first page's moment, whichever page it came from).
    await append([
      completedEvent(acme.orgId, at('2026-07-02T09:00:00Z'), { userId: 'usr_page_a', cost: '1' }),
    ]);
    const again = await next(second.nextCursor);
    assert.equal(again.changedSinceFirstPage, true);
    assert.equal(again.totals.requests, 4);
    assert.equal((await next(first.nextCursor)).changedSinceFirstPage, true);
    // A cursor given before pages carried their moment (and range) still pages; it cannot tell,
    // so it says so. Its parts: the grouping, the marks, the last row's key (grouped by user).
    const key = JSON.parse(Buffer.from(first.nextCursor, 'base64url').toString('utf8')) as string[];
    assert.match(key[1]!, /^p\d+$/);
    assert.equal(key[2], 'r2026-07-01/2026-07-03');
    const old = Buffer.from(JSON.stringify([key[0], ...key.slice(3)]), 'utf8').toString('base64url');
    const fromOld = await next(old);
    assert.deepEqual(
      fromOld.rows.map((r: { userId: string }) => r.userId),
      ['usr_page_b'],
    );
    assert.equal(fromOld.changedSinceFirstPage, true);
    // A moment that is not a position is no cursor of ours.
    const forged = Buffer.from(JSON.stringify([key[0], 'p-1', ...key.slice(3)]), 'utf8').toString(
      'base64url',
    );
    await expectStatus(get(`/orgs/acme/spend?${RANGE}&cursor=${forged}`), 400);
  });

  it('pages the range of the first page, also when the default range has moved past UTC midnight', async () => {
    let clock = at('2026-08-20T23:59:00Z');
    const replica = await admin.replica({ now: () => clock });
    const MODEL = 'model=midnight-model&groupBy=user&limit=1';
    const page = (query: string) =>
      expectStatus(replica.request('GET', `${V1}/orgs/acme/spend?${query}`, { token: owner }), 200);
    try {
      // One request on the day only yesterday's default range covers, one in both, one on the
      // day only today's covers.
      await append(
        (
          [
            ['usr_mid_a', '2026-07-22T12:00:00Z'],
            ['usr_mid_b', '2026-08-01T12:00:00Z'],
            ['usr_mid_c', '2026-08-21T00:00:30Z'],
          ] as const
        ).map(([userId, time]) =>
          completedEvent(acme.orgId, at(time), { userId, model: 'midnight-model', cost: '1' }),
        ),
      );
      const first = (await page(MODEL)).body;
      assert.deepEqual([first.from, first.to], ['2026-07-22', '2026-08-21']);
      assert.deepEqual(
        first.rows.map((r: { userId: string }) => r.userId),
        ['usr_mid_a'],
      );
      assert.equal(first.totals.requests, 2);
      // Midnight UTC passes between the pages: the next page is still yesterday's report.
      clock = at('2026-08-21T00:01:00Z');
      const second = (await page(`${MODEL}&cursor=${first.nextCursor}`)).body;
      assert.deepEqual([second.from, second.to], ['2026-07-22', '2026-08-21']);
      assert.deepEqual(
        second.rows.map((r: { userId: string }) => r.userId),
        ['usr_mid_b'],
      );
      assert.equal(second.totals.requests, 2);
      assert.equal(second.nextCursor, null, "today's request is in no page of yesterday's report");
      // Naming the cursor's range (as a date or midnight instant) is the same report; another is not.
      await page(`${MODEL}&from=2026-07-22T00:00:00Z&to=2026-08-21&cursor=${first.nextCursor}`);
      const moved = await expectStatus(
        replica.request('GET', `${V1}/orgs/acme/spend?${MODEL}&to=2026-08-22&cursor=${first.nextCursor}`, {
          token: owner,
        }),
        400,
      );
      assert.equal(moved.body.code, 'validation_failed');
      assert.equal(moved.body.errors[0].path, 'query.cursor');
      assert.match(moved.body.detail, /continues the report from 2026-07-22 to 2026-08-21/);
      // A fresh first page is today's report.
      const today = (await page(MODEL)).body;
      assert.deepEqual([today.from, today.to], ['2026-07-23', '2026-08-22']);
      assert.equal(today.totals.requests, 2);
      // A range no report can have is no cursor of ours.
      const parts = JSON.parse(Buffer.from(first.nextCursor, 'base64url').toString('utf8')) as string[];
      for (const mark of ['r2026-08-21/2026-07-22', 'r2025-01-01/2026-08-21', 'r2026-02-30/2026-03-01']) {
        const forged = Buffer.from(JSON.stringify([parts[0], parts[1], mark, ...parts.slice(3)]), 'utf8');
        await expectStatus(
          replica.request('GET', `${V1}/orgs/acme/spend?${MODEL}&cursor=${forged.toString('base64url')}`, {
            token: owner,
          }),
          400,
        );
      }
    } finally {
      await replica.close();
    }
  });

  it('counts each event once: a batch applied again, a process behind, a rebuild', async () => {
    const before = await report(`${MARCH}&groupBy=day,user,model`);
    // The same batch offered again (as after a crash between commit and acknowledgement).
    const { rows } = await admin.sql.query<{ position: string }>(
      "SELECT position FROM kordon_events WHERE type IN ('RequestCompleted', 'RequestFailed', 'RequestRejected') ORDER BY position",
    );
    const positions = rows.map((row) => Number(row.position));
    await admin.sql.query('SELECT kordon_spend_add_events($1::bigint[])', [positions]);
    assert.deepEqual(await report(`${MARCH}&groupBy=day,user,model`), before);

    // Another admin process on the same database that is behind this one (every one follows the
    // log and builds this model): it reads the whole log again and must add nothing.
    const behind = new SqlProjectionRunner(
      { ...spendProjection, name: 'spend-behind' },
      decodeForSpend,
      admin.store,
      admin.sql,
      { batchSize: 50 },
    );
    await behind.start();
    await behind.waitFor(lastPosition, 20_000);
    await behind.stop();
    assert.deepEqual(await report(`${MARCH}&groupBy=day,user,model`), before);

    // A rebuild empties the tables and counts the log again: the same report.
    await admin.api.spend.rebuild();
    await admin.api.spend.waitFor(lastPosition, 20_000);
    assert.deepEqual(await report(`${MARCH}&groupBy=day,user,model`), before);
    assert.deepEqual(await admin.api.spend.parked(), []);
  });

  it('outlives the request log: deleting requests does not delete spend', async () => {
    const before = await report(`${MARCH}`);
    await admin.sql.query('DELETE FROM kordon_request_log WHERE org_id = $1', [acme.orgId]);
    assert.deepEqual(await report(`${MARCH}`), before);
  });

  it('is for owners, admins, finance and auditors; not developers', async () => {
    for (const role of ['owner', 'admin', 'finance', 'auditor'] as const)
      await expectStatus(get(`/orgs/acme/spend?${MARCH}`, acme.users[role].token), 200);
    const refused = await expectStatus(get(`/orgs/acme/spend?${MARCH}`, acme.users.developer.token), 403);
    assert.equal(refused.body.code, 'forbidden');
  });

  it('says how many request events of the org and range could not be added', async () => {
    // The function adds any event the catalogue lets in, so a fault is made: a trigger refuses
    // one event's row, the batch fails, and the runner adds the others one by one and parks it.
    await admin.sql.query(`CREATE FUNCTION kordon_test_refuse_spend() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.user_id = 'usr_unreadable' THEN RAISE EXCEPTION 'refused by the test'; END IF;
        RETURN NEW;
      END $$`);
    await admin.sql.query(`CREATE TRIGGER kordon_test_refuse_spend BEFORE INSERT ON kordon_spend_daily
      FOR EACH ROW EXECUTE FUNCTION kordon_test_refuse_spend()`);
    try {
      await append([
        completedEvent(acme.orgId, at('2026-05-03T09:00:00Z'), { userId: 'usr_ana', cost: '0.5' }),
        completedEvent(acme.orgId, at('2026-05-03T10:00:00Z'), { userId: 'usr_unreadable', cost: '7' }),
        completedEvent(other.orgId, at('2026-05-03T11:00:00Z'), { userId: 'usr_ana', cost: '2' }),
      ]);
    } finally {
      await admin.sql.query('DROP TRIGGER kordon_test_refuse_spend ON kordon_spend_daily');
      await admin.sql.query('DROP FUNCTION kordon_test_refuse_spend()');
    }
    const parked = await admin.api.spend.parked();
    assert.deepEqual(
      parked.map((p) => [p.projection, p.eventType, p.position]),
      [['spend', 'RequestCompleted', lastPosition - 1]],
    );
    const MAY = 'from=2026-05-01&to=2026-05-08';
    const body = await report(MAY);
    assert.equal(body.totals.requests, 1, 'the parked request is in no total');
    assert.equal(body.unreadEvents, 1);
    // Whatever the filters: the count is the org's and the range's (documented).
    assert.equal((await report(`${MAY}&user=usr_ana`)).unreadEvents, 1);
    // Another org's report of the same range, and ranges without that day, say none.
    const theirs = await expectStatus(get(`/orgs/other/spend?${MAY}`, other.users.finance.token), 200);
    assert.equal(theirs.body.totals.requests, 1);
    assert.equal(theirs.body.unreadEvents, 0);
    assert.equal((await report('from=2026-05-04&to=2026-05-08')).unreadEvents, 0);
    assert.equal((await report('from=2026-05-01&to=2026-05-03')).unreadEvents, 0);
    assert.equal((await report(MARCH)).unreadEvents, 0);
    // The CSV body is rows only: the export says it in a header (so does the JSON answer).
    const header = 'x-kordon-unread-events';
    const csv = await expectStatus(get(`/orgs/acme/spend?${MAY}&format=csv`), 200);
    assert.equal(csv.headers.get(header), '1');
    const none = await expectStatus(get('/orgs/acme/spend?from=2026-05-04&to=2026-05-08&format=csv'), 200);
    assert.equal(none.headers.get(header), '0');
    assert.equal((await expectStatus(get(`/orgs/acme/spend?${MAY}`), 200)).headers.get(header), '1');
  });
});
