import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { NewEvent } from '@kordon/events';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
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
const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms);

describe('request log and logging policy over the admin API', { skip }, () => {
  let admin: TestAdmin;
  let acme: TestOrg;
  let dev: string;
  let fin: string;

  const append = async (events: NewEvent[]) => {
    const { lastPosition } = await admin.store.appendMany(events);
    await admin.requestLog.waitFor(lastPosition, 10_000);
  };
  const get = (path: string, token: string) => admin.request('GET', `${V1}${path}`, { token });
  const ids = (answer: { body: { items: Array<{ id: string }> } }) => answer.body.items.map((i) => i.id);

  before(async () => {
    const started = await startTestAdmin();
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
    dev = acme.users.developer.userId;
    fin = acme.users.finance.userId;
    const org = acme.orgId;
    await append([
      completedEvent(org, ago(60_000), {
        requestId: 'req-1',
        userId: dev,
        teamId: 'tm_core',
        proxyKeyId: 'pxk_dev',
        model: 'gpt-4o-mini',
      }),
      failedEvent(org, ago(2 * 60_000), { requestId: 'req-2', userId: dev, proxyKeyId: 'pxk_dev' }),
      rejectedEvent(org, ago(3 * 60_000), { requestId: 'req-3', userId: fin, proxyKeyId: 'pxk_fin' }),
      completedEvent(org, ago(4 * 60_000), {
        requestId: 'req-4',
        userId: fin,
        proxyKeyId: 'pxk_fin',
        provider: 'openai-eu',
        providerKeyId: 'prk_eu',
        model: 'gpt-4o',
        status: 201,
      }),
      completedEvent(org, ago(40 * DAY), { requestId: 'req-5', userId: fin, proxyKeyId: 'pxk_fin' }),
    ]);
  });
  after(() => admin?.close());

  it('lists newest first; every filter narrows by its column', async () => {
    const owner = acme.users.owner.token;
    const all = await expectStatus(get('/orgs/acme/requests', owner), 200);
    assert.deepEqual(ids(all), ['req-1', 'req-2', 'req-3', 'req-4', 'req-5']);
    assert.equal(all.body.nextCursor, null);
    const cases: Array<[string, string[]]> = [
      [`user=${fin}`, ['req-3', 'req-4', 'req-5']],
      ['team=tm_core', ['req-1']],
      ['proxyKey=pxk_dev', ['req-1', 'req-2']],
      ['provider=openai-eu', ['req-4']],
      ['providerKey=prk_eu', ['req-4']],
      ['model=gpt-4o', ['req-4']],
      ['model=claude-sonnet-4-5', ['req-2']],
      ['status=4xx', ['req-3']],
      ['status=2xx', ['req-1', 'req-4', 'req-5']],
      ['status=429', ['req-3']],
      ['status=201', ['req-4']],
      ['outcome=failed', ['req-2']],
      ['outcome=rejected', ['req-3']],
      [`from=${ago(DAY).toISOString()}&to=${ago(150_000).toISOString()}`, ['req-3', 'req-4']],
      ['sort=time', ['req-5', 'req-4', 'req-3', 'req-2', 'req-1']],
    ];
    for (const [query, expected] of cases) {
      const answer = await expectStatus(get(`/orgs/acme/requests?${query}`, owner), 200);
      assert.deepEqual(ids(answer), expected, query);
    }
    const rejected = (await get('/orgs/acme/requests?outcome=rejected', owner)).body.items[0];
    assert.equal(rejected.rejectionReason, 'rate_limit_rpm');
    assert.equal(rejected.usage, null);
    assert.equal(rejected.position, undefined, 'internal fields do not leave');
  });

  it('pages with an opaque cursor; a forged cursor is a 400', async () => {
    const owner = acme.users.owner.token;
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const answer = await expectStatus(get(`/orgs/acme/requests${query}`, owner), 200);
      seen.push(...ids(answer));
      cursor = answer.body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, ['req-1', 'req-2', 'req-3', 'req-4', 'req-5']);
    for (const bad of ['nope', Buffer.from("t1p1' OR 1=1").toString('base64url'), 'dDFwMA']) {
      const answer = await get(`/orgs/acme/requests?cursor=${bad}`, owner);
      assert.equal(answer.status, 400, bad);
    }
    for (const bad of ['status=4XX', 'status=600', 'outcome=ok', 'user=a:b', 'limit=0', 'color=red']) {
      assert.equal((await get(`/orgs/acme/requests?${bad}`, owner)).status, 400, bad);
    }
  });

  it('a time PostgreSQL cannot hold is a 400, not a 500 (requests and audit)', async () => {
    const owner = acme.users.owner.token;
    // Year 0 passes the ISO check but not PostgreSQL's timestamptz; nor does a cursor's time
    // far past year 9999, which toISOString writes with an extended (+yyyyyy) year.
    for (const bad of ['from=0000-01-01T00:00:00Z', 'to=0000-06-01T00:00:00Z']) {
      assert.equal((await get(`/orgs/acme/requests?${bad}`, owner)).status, 400, bad);
      assert.equal((await get(`/orgs/acme/audit?${bad}`, owner)).status, 400, bad);
    }
    const farCursor = Buffer.from('t999999999999999p1').toString('base64url');
    assert.equal((await get(`/orgs/acme/requests?cursor=${farCursor}`, owner)).status, 400, 'far cursor');
  });

  it('developers read only their own requests; the other roles read all', async () => {
    const devToken = acme.users.developer.token;
    const own = await expectStatus(get('/orgs/acme/requests', devToken), 200);
    assert.deepEqual(ids(own), ['req-1', 'req-2']);
    assert.deepEqual(ids(await expectStatus(get(`/orgs/acme/requests?user=${dev}`, devToken), 200)), [
      'req-1',
      'req-2',
    ]);
    assert.equal((await get(`/orgs/acme/requests?user=${fin}`, devToken)).status, 403);
    await expectStatus(get('/orgs/acme/requests/req-1', devToken), 200);
    const other = await get('/orgs/acme/requests/req-3', devToken);
    assert.equal(other.status, 404, "another person's request is as absent as a missing one");
    assert.equal(other.body.detail, 'request not found');
    for (const role of ['owner', 'admin', 'finance', 'auditor'] as const) {
      const answer = await expectStatus(get('/orgs/acme/requests', acme.users[role].token), 200);
      assert.equal(answer.body.items.length, 5, role);
      await expectStatus(get('/orgs/acme/requests/req-3', acme.users[role].token), 200);
    }
    assert.equal((await get('/orgs/acme/requests/req-missing', acme.users.owner.token)).status, 404);
  });

  it("a developer's entries withhold provider key and team ids, and filters by them match nothing", async () => {
    const org = acme.orgId;
    const refused = (
      requestId: string,
      limitScope: { scope: 'org' | 'team' | 'user' | 'proxy-key'; scopeId: string },
    ) =>
      rejectedEvent(org, ago(5 * DAY), {
        requestId,
        reason: 'budget_usd',
        limitScope,
        userId: dev,
        teamId: 'tm_core',
        proxyKeyId: 'pxk_dev',
      });
    await append([
      refused('req-dev-team', { scope: 'team', scopeId: 'tm_core' }),
      refused('req-dev-user', { scope: 'user', scopeId: dev }),
      refused('req-dev-key', { scope: 'proxy-key', scopeId: 'pxk_dev' }),
      refused('req-dev-org', { scope: 'org', scopeId: org }),
    ]);
    const devToken = acme.users.developer.token;
    type Scope = { scope: string; scopeId: string | null };
    const scopes = (items: Array<{ id: string; limitScope: Scope }>): Record<string, Scope | undefined> =>
      Object.fromEntries(items.filter((i) => i.id.startsWith('req-dev-')).map((i) => [i.id, i.limitScope]));

    const mine = await expectStatus(get('/orgs/acme/requests', devToken), 200);
    // The four share a time: the last appended comes first.
    const refusals = ['req-dev-org', 'req-dev-key', 'req-dev-user', 'req-dev-team'];
    assert.deepEqual(ids(mine), ['req-1', 'req-2', ...refusals]);
    for (const item of mine.body.items) {
      assert.equal(item.providerKeyId, null, `${item.id}: no providerKey.read`);
      assert.equal(item.teamId, null, `${item.id}: no team.read`);
      assert.equal(item.userId, dev, item.id);
    }
    assert.equal(mine.body.items[0].proxyKeyId, 'pxk_dev', 'their own proxy key stays');
    assert.equal(mine.body.items[0].provider, 'openai', 'the provider stays (provider.read)');
    assert.deepEqual(scopes(mine.body.items), {
      'req-dev-team': { scope: 'team', scopeId: null },
      'req-dev-user': { scope: 'user', scopeId: dev },
      'req-dev-key': { scope: 'proxy-key', scopeId: 'pxk_dev' },
      'req-dev-org': { scope: 'org', scopeId: org },
    });
    const one = await expectStatus(get('/orgs/acme/requests/req-1', devToken), 200);
    assert.equal(one.body.providerKeyId, null);
    assert.equal(one.body.teamId, null);
    const teamRefusal = await expectStatus(get('/orgs/acme/requests/req-dev-team', devToken), 200);
    assert.deepEqual(teamRefusal.body.limitScope, { scope: 'team', scopeId: null });
    assert.equal(teamRefusal.body.teamId, null);

    // A filter by the org's real ids answers as one by made-up ids: nothing to confirm a guess.
    const madeUp = await expectStatus(get('/orgs/acme/requests?providerKey=prk_made_up', devToken), 200);
    assert.deepEqual(madeUp.body, { items: [], nextCursor: null, unreadEvents: null });
    for (const query of [
      'providerKey=prk_test',
      'providerKey=prk_anthropic',
      'team=tm_core',
      'team=tm_made_up',
      `team=tm_core&user=${dev}`,
      'providerKey=prk_test&limit=1&sort=time',
    ]) {
      const answer = await expectStatus(get(`/orgs/acme/requests?${query}`, devToken), 200);
      assert.deepEqual(answer.body, madeUp.body, query);
    }
    // A forged cursor is still refused with such a filter, as with any other.
    assert.equal((await get('/orgs/acme/requests?team=tm_core&cursor=nope', devToken)).status, 400);

    // The roles that may read provider keys and teams see them, and filter by them.
    for (const role of ['owner', 'admin', 'finance', 'auditor'] as const) {
      const token = acme.users[role].token;
      const theirs = await expectStatus(get(`/orgs/acme/requests?user=${dev}`, token), 200);
      assert.equal(theirs.body.items[0].id, 'req-1', role);
      assert.equal(theirs.body.items[0].providerKeyId, 'prk_test', role);
      assert.equal(theirs.body.items[0].teamId, 'tm_core', role);
      assert.equal(scopes(theirs.body.items)['req-dev-team']?.scopeId, 'tm_core', role);
      const detail = await expectStatus(get('/orgs/acme/requests/req-dev-team', token), 200);
      assert.deepEqual(detail.body.limitScope, { scope: 'team', scopeId: 'tm_core' }, role);
      assert.deepEqual(
        ids(await expectStatus(get('/orgs/acme/requests?team=tm_core', token), 200)),
        ['req-1', ...refusals],
        role,
      );
      assert.deepEqual(
        ids(await expectStatus(get('/orgs/acme/requests?providerKey=prk_test', token), 200)),
        ['req-1', 'req-5'],
        role,
      );
    }
  });

  it('a developer machine token has no requests of its own: 403', async () => {
    const token = (
      await expectStatus(
        admin.request('POST', `${V1}/orgs/acme/api-tokens`, {
          token: acme.users.owner.token,
          body: { name: 'dev-bot', role: 'developer' },
        }),
        201,
      )
    ).body.token as string;
    assert.equal((await get('/orgs/acme/requests', token)).status, 403);
  });

  it('the logging policy: default, set (idempotent, ETag), refused rules, then text is logged', async () => {
    const owner = acme.users.owner.token;
    const initial = await expectStatus(get('/orgs/acme/logging', acme.users.auditor.token), 200);
    assert.deepEqual(initial.body, { bodies: 'none', retentionDays: null, redact: [], erasedBefore: null });

    const body = {
      bodies: 'redacted',
      retentionDays: 90,
      redact: [{ name: 'employee_id', pattern: String.raw`\bEMP-\d{6}\b`, action: 'hash' }],
    };
    const put = () => admin.request('PUT', `${V1}/orgs/acme/logging`, { token: owner, body });
    const set = await expectStatus(put(), 200);
    assert.deepEqual(set.body, {
      bodies: 'redacted',
      retentionDays: 90,
      redact: [{ ...body.redact[0], caseInsensitive: false, group: 0, keepLast: 0 }],
      erasedBefore: null,
    });
    const head = await admin.store.headPosition();
    const again = await expectStatus(put(), 200);
    assert.equal(await admin.store.headPosition(), head, 'the same policy again appends nothing');
    assert.equal(again.headers.get('etag'), set.headers.get('etag'));
    const stale = await admin.request('PUT', `${V1}/orgs/acme/logging`, {
      token: owner,
      body: { bodies: 'none' },
      headers: { 'if-match': '"1"' },
    });
    assert.equal(stale.status, 412);

    const refused: Array<[object, RegExp]> = [
      [{ bodies: 'all' }, /body\.bodies/],
      [{ bodies: 'none', retentionDays: 0 }, /body\.retentionDays/],
      [
        { bodies: 'none', redact: [{ name: 'x', pattern: String.raw`(a)\1`, action: 'mask' }] },
        /body\.redact\.0\.pattern/,
      ],
      [{ bodies: 'none', redact: [{ name: 'email', pattern: 'x', action: 'mask' }] }, /built-in/],
      [
        { bodies: 'none', redact: [{ name: 'k', pattern: `sk-proj-${'a'.repeat(40)}`, action: 'mask' }] },
        /secret/,
      ],
      [{ bodies: 'none', orgId: 'other' }, /orgId/],
    ];
    for (const [bad, pattern] of refused) {
      const answer = await admin.request('PUT', `${V1}/orgs/acme/logging`, { token: owner, body: bad });
      assert.equal(answer.status, 400, JSON.stringify(bad));
      assert.match(answer.text, pattern, JSON.stringify(bad));
    }
    assert.equal(
      (await admin.request('PUT', `${V1}/orgs/acme/logging`, { token: acme.users.finance.token, body }))
        .status,
      403,
    );

    // The policy is in the audit log, and the request log now keeps text.
    const audit = await expectStatus(get('/orgs/acme/audit?action=LoggingPolicySet', owner), 200);
    assert.equal(audit.body.items.length, 1);
    assert.equal(audit.body.items[0].after.logging.bodies, 'redacted');
    await append([
      completedEvent(acme.orgId, new Date(), {
        requestId: 'req-text',
        userId: dev,
        redactedPrompt: 'call me at [REDACTED:phone]',
        redactedResponse: 'ok',
      }),
    ]);
    const detail = await expectStatus(get('/orgs/acme/requests/req-text', acme.users.developer.token), 200);
    assert.equal(detail.body.prompt, 'call me at [REDACTED:phone]');
    assert.equal(detail.body.response, 'ok');
    const listed = await expectStatus(get('/orgs/acme/requests?limit=1', owner), 200);
    assert.equal(listed.body.items[0].hasText, true);
    assert.equal(listed.body.items[0].prompt, undefined, 'text is on the single request only');
  });

  it('says how many of the org’s request events it could not add, to readers of every request', async () => {
    // The log adds any event the catalogue lets in, so a fault is made: a trigger refuses two
    // requests' rows, the batch fails, and the runner adds the rest one by one and parks those.
    await admin.sql.query(`CREATE FUNCTION kordon_test_refuse_log() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.request_id LIKE 'req-unreadable%' THEN RAISE EXCEPTION 'refused by the test'; END IF;
        RETURN NEW;
      END $$`);
    await admin.sql.query(`CREATE TRIGGER kordon_test_refuse_log BEFORE INSERT ON kordon_request_log
      FOR EACH ROW EXECUTE FUNCTION kordon_test_refuse_log()`);
    const at = ago(20 * DAY);
    try {
      await append([
        completedEvent(acme.orgId, at, { requestId: 'req-readable', userId: dev }),
        completedEvent(acme.orgId, at, { requestId: 'req-unreadable', userId: fin }),
      ]);
    } finally {
      await admin.sql.query('DROP TRIGGER kordon_test_refuse_log ON kordon_request_log');
      await admin.sql.query('DROP FUNCTION kordon_test_refuse_log()');
    }
    assert.deepEqual(
      (await admin.requestLog.parked()).map((p) => [p.projection, p.eventType]),
      [['request-log', 'RequestCompleted']],
    );
    const owner = acme.users.owner.token;
    const range = (from: Date, to: Date) =>
      `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
    const all = await expectStatus(get('/orgs/acme/requests', owner), 200);
    assert.ok(!ids(all).includes('req-unreadable'), 'the parked request has no entry');
    assert.equal(all.body.unreadEvents, 1);
    assert.equal(all.headers.get('x-kordon-unread-events'), '1');
    const around = range(new Date(at.getTime() - 1000), new Date(at.getTime() + 1000));
    const narrowed = await expectStatus(get(`/orgs/acme/requests?${around}`, owner), 200);
    assert.deepEqual(ids(narrowed), ['req-readable']);
    assert.equal(narrowed.body.unreadEvents, 1);
    // Whatever the other filters (the event's own user may be what could not be read).
    assert.equal(
      (await expectStatus(get(`/orgs/acme/requests?user=${dev}`, owner), 200)).body.unreadEvents,
      1,
    );
    // Ranges without it say none.
    const after = range(new Date(at.getTime() + 1000), new Date());
    assert.equal((await expectStatus(get(`/orgs/acme/requests?${after}`, owner), 200)).body.unreadEvents, 0);
    // A developer reads only their own requests: no count of others' (null, no header).
    const mine = await expectStatus(get('/orgs/acme/requests', acme.users.developer.token), 200);
    assert.equal(mine.body.unreadEvents, null);
    assert.equal(mine.headers.get('x-kordon-unread-events'), null);
    // Another org's log says none.
    const globex = await createOrgWithRoles(admin, 'globex-requests');
    const theirs = await expectStatus(get('/orgs/globex-requests/requests', globex.users.owner.token), 200);
    assert.equal(theirs.body.unreadEvents, 0);
    // Once past the org's retention it is gone by the policy, as its entry would be: not counted.
    await expectStatus(
      admin.request('PUT', `${V1}/orgs/acme/logging`, {
        token: owner,
        body: { bodies: 'none', retentionDays: 10 },
      }),
      200,
    );
    await admin.requestLog.waitFor(await admin.store.headPosition(), 10_000);
    assert.equal((await expectStatus(get('/orgs/acme/requests', owner), 200)).body.unreadEvents, 0);
  });
});
