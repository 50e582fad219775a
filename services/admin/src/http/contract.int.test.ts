import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { kordonCatalogue, newEventId, streams } from '@kordon/events';
import { POSTGRES_SKIP_REASON } from '@kordon/events/testing';
import { Validator } from '@seriousme/openapi-schema-validator';
import {
  createOrgWithRoles,
  expectStatus,
  PASSWORD,
  startTestAdmin,
  type TestAdmin,
  type TestOrg,
} from '../testing/harness.js';

const skip = process.env.KORDON_TEST_DATABASE_URL ? false : POSTGRES_SKIP_REASON;

describe('admin API contract', { skip }, () => {
  /** The admin API's contract through HTTP against a real PostgreSQL. */

  let admin: TestAdmin;
  let acme: TestOrg;
  const V1 = '/admin/v1';
  const PROVIDER_SECRET = 'sk-proj-REALLYSECRETabcdefghijklmnop1234';

  before(async () => {
    const started = await startTestAdmin({ maxBodyBytes: 16 * 1024 });
    if (typeof started === 'string') throw new Error(started);
    admin = started;
    acme = await createOrgWithRoles(admin, 'acme');
  });
  after(() => admin?.close());

  const as = (token: string | undefined) => ({
    get: (path: string, headers?: Record<string, string>) =>
      admin.request('GET', `${V1}${path}`, { token, ...(headers ? { headers } : {}) }),
    post: (path: string, body?: unknown, headers?: Record<string, string>) =>
      admin.request('POST', `${V1}${path}`, { token, body: body ?? {}, ...(headers ? { headers } : {}) }),
    put: (path: string, body: unknown, headers?: Record<string, string>) =>
      admin.request('PUT', `${V1}${path}`, { token, body, ...(headers ? { headers } : {}) }),
    patch: (path: string, body: unknown, headers?: Record<string, string>) =>
      admin.request('PATCH', `${V1}${path}`, { token, body, ...(headers ? { headers } : {}) }),
    delete: (path: string) => admin.request('DELETE', `${V1}${path}`, { token }),
  });

  function assertProblem(
    answer: { status: number; headers: Headers; body: Record<string, unknown> },
    status: number,
    code: string,
  ) {
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json/);
    assert.equal(answer.body.status, status);
    assert.equal(answer.body.code, code);
    assert.equal(answer.body.type, `/admin/v1/docs#problem-${code}`);
    assert.equal(typeof answer.body.title, 'string');
  }

  describe('reference', () => {
    it('serves an OpenAPI 3.1 document that validates and names every route', async () => {
      const answer = await expectStatus(admin.request('GET', `${V1}/openapi.json`), 200);
      const result = await new Validator().validate(answer.body);
      assert.equal(result.valid, true, JSON.stringify(result.errors, null, 1)?.slice(0, 2000));
      assert.equal(answer.body.openapi, '3.1.0');
      for (const route of admin.api.routes) {
        const operation = answer.body.paths[route.path]?.[route.method];
        assert.ok(operation, `${route.method} ${route.path} is documented`);
        assert.equal(operation.operationId, route.operationId);
      }
      for (const name of [
        'Org',
        'User',
        'ProxyKey',
        'IssuedProxyKey',
        'ProviderKey',
        'Problem',
        'Limits',
        'AuditEntry',
        'SpendReport',
        'SpendRow',
      ])
        assert.ok(answer.body.components.schemas[name], name);
      const spend = answer.body.paths['/orgs/{org}/spend'].get;
      assert.deepEqual(spend.parameters.map((p: { name: string }) => p.name).sort(), [
        'bom',
        'cursor',
        'format',
        'from',
        'groupBy',
        'limit',
        'model',
        'org',
        'provider',
        'proxyKey',
        'team',
        'to',
        'user',
      ]);
      assert.ok(spend.responses['200'].content['text/csv'], 'the CSV export is documented');
      // A report says how many request events could not be added; a CSV export, in a header.
      const report = answer.body.components.schemas.SpendReport;
      assert.ok(report.required.includes('unreadEvents'), 'unreadEvents is in every report');
      assert.equal(report.properties.unreadEvents.type, 'integer');
      assert.deepEqual(spend.responses['200'].headers['X-Kordon-Unread-Events'].schema, { type: 'integer' });
      // So does a page of the audit log, and its export.
      const auditPage = answer.body.components.schemas.AuditEntryPage;
      assert.ok(auditPage.required.includes('unreadEvents'));
      const audit = answer.body.paths['/orgs/{org}/audit'].get;
      assert.deepEqual(audit.responses['200'].headers['X-Kordon-Unread-Events'].schema, { type: 'integer' });
      const createUser =
        answer.body.paths['/orgs/{org}/users'].post.requestBody.content['application/json'].schema;
      assert.equal(createUser.additionalProperties, false, 'unknown fields are refused in the contract too');
    });

    it('serves a self-contained reference page under a strict CSP', async () => {
      const answer = await expectStatus(admin.request('GET', `${V1}/docs`), 200);
      assert.match(answer.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(answer.text, /Kordon admin API/);
      assert.match(answer.text, /id="problem-not_found"/);
      assert.doesNotMatch(answer.text, /<script[^>]+src=|https?:\/\//, 'no external script or CDN');
      const csp = answer.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'sha256-/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    });
  });

  describe('problems', () => {
    it('answers unknown paths 404 and wrong methods 405 with Allow, as problem+json', async () => {
      assertProblem(await admin.request('GET', `${V1}/nothing-here`), 404, 'not_found');
      assertProblem(await admin.request('GET', '/admin/v2/orgs'), 404, 'not_found');
      const answer = await admin.request('DELETE', `${V1}/orgs`, { token: admin.adminToken });
      assertProblem(answer, 405, 'method_not_allowed');
      assert.equal(answer.headers.get('allow'), 'GET, POST, HEAD');
    });
    it('refuses malformed JSON, other media types and oversized bodies', async () => {
      const token = admin.adminToken;
      assertProblem(
        await admin.request('POST', `${V1}/orgs`, {
          token,
          rawBody: '{"slug": "x",',
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'malformed_json',
      );
      assertProblem(
        await admin.request('POST', `${V1}/orgs`, {
          token,
          rawBody: 'slug=x',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
        415,
        'unsupported_media_type',
      );
      assertProblem(
        await admin.request('POST', `${V1}/orgs`, { token, body: { slug: 'big', name: 'x'.repeat(20_000) } }),
        413,
        'payload_too_large',
      );
    });
    it('asks for credentials with 401 and WWW-Authenticate', async () => {
      const answer = await admin.request('GET', `${V1}/orgs`);
      assertProblem(answer, 401, 'unauthenticated');
      assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer/);
      assertProblem(
        await admin.request('GET', `${V1}/orgs`, { token: 'not-a-token' }),
        401,
        'unauthenticated',
      );
    });
    it('refuses unknown fields and names the bad ones', async () => {
      const answer = await as(admin.adminToken).post('/orgs', {
        slug: 'Not A Slug',
        name: 'x',
        orgId: 'mine',
      });
      assertProblem(answer, 400, 'validation_failed');
      const paths = (answer.body.errors as { path: string }[]).map((e) => e.path);
      assert.ok(paths.includes('body.slug'), paths.join());
      assert.ok(paths.includes('body'), 'the unknown key is reported at the body');
      assertProblem(await as(admin.adminToken).get('/orgs?limit=5&sneaky=1'), 400, 'validation_failed');
    });
  });

  describe('orgs', () => {
    it('the bootstrap owner creates orgs; a taken slug is 409; {org} is slug or id', async () => {
      const created = await expectStatus(
        as(admin.adminToken).post('/orgs', { slug: 'globex', name: 'Globex' }),
        201,
      );
      assert.match(created.body.id, /^org_[0-9a-f]{32}$/);
      assertProblem(
        await as(admin.adminToken).post('/orgs', { slug: 'globex', name: 'Again' }),
        409,
        'conflict',
      );
      const bySlug = await expectStatus(as(admin.adminToken).get('/orgs/globex'), 200);
      const byId = await expectStatus(as(admin.adminToken).get(`/orgs/${created.body.id}`), 200);
      assert.deepEqual(bySlug.body, byId.body);
    });
    it('nobody but the bootstrap owner creates orgs; members see only their own org', async () => {
      assertProblem(
        await as(acme.users.owner.token).post('/orgs', { slug: 'mine', name: 'Mine' }),
        403,
        'forbidden',
      );
      const listed = await expectStatus(as(acme.users.developer.token).get('/orgs'), 200);
      assert.deepEqual(
        listed.body.items.map((o: { slug: string }) => o.slug),
        ['acme'],
      );
    });
    it('pages with an opaque cursor', async () => {
      for (const slug of ['p1', 'p2', 'p3'])
        await expectStatus(as(admin.adminToken).post('/orgs', { slug, name: slug }), 201);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const answer: { body: { items: { id: string }[]; nextCursor: string | null } } = await expectStatus(
          as(admin.adminToken).get(`/orgs?limit=2${cursor ? `&cursor=${cursor}` : ''}`),
          200,
        );
        assert.ok(answer.body.items.length <= 2);
        seen.push(...answer.body.items.map((o) => o.id));
        cursor = answer.body.nextCursor;
      } while (cursor);
      assert.equal(new Set(seen).size, seen.length);
      assert.ok(seen.length >= 5);
      assertProblem(await as(admin.adminToken).get('/orgs?cursor=bm90LWFuLWlk!'), 400, 'validation_failed');
      assertProblem(await as(admin.adminToken).get('/orgs?limit=0'), 400, 'validation_failed');
    });
  });

  describe('sign-in', () => {
    it('signs in with e-mail and password; a wrong password is 401', async () => {
      const answer = await expectStatus(
        admin.request('POST', `${V1}/auth/login`, {
          body: { email: acme.users.finance.email, password: PASSWORD },
        }),
        200,
      );
      assert.equal(answer.body.tokenType, 'Bearer');
      assert.equal(answer.body.expiresIn, 900);
      assert.equal(answer.body.accessToken.split('.').length, 3);
      assert.equal(answer.body.user.role, 'finance');
      const me = await expectStatus(as(answer.body.accessToken).get('/me'), 200);
      assert.equal(me.body.id, acme.users.finance.userId);
      assertProblem(
        await admin.request('POST', `${V1}/auth/login`, {
          body: { email: acme.users.finance.email, password: 'wrong password!!' },
        }),
        401,
        'unauthenticated',
      );
      assertProblem(
        await admin.request('POST', `${V1}/auth/login`, {
          body: { email: 'nobody@acme.test', password: 'wrong password!!' },
        }),
        401,
        'unauthenticated',
      );
    });

    it('rotates refresh tokens, and a reused one ends the session', async () => {
      const login = await expectStatus(
        admin.request('POST', `${V1}/auth/login`, {
          body: { email: acme.users.auditor.email, password: PASSWORD },
        }),
        200,
      );
      const first = login.body.refreshToken;
      const refreshed = await expectStatus(
        admin.request('POST', `${V1}/auth/refresh`, { body: { refreshToken: first } }),
        200,
      );
      assert.notEqual(refreshed.body.refreshToken, first);
      await expectStatus(as(refreshed.body.accessToken).get('/me'), 200);
      // The first token again: stolen. The session ends; its newest tokens stop working too.
      assertProblem(
        await admin.request('POST', `${V1}/auth/refresh`, { body: { refreshToken: first } }),
        401,
        'unauthenticated',
      );
      assertProblem(await as(refreshed.body.accessToken).get('/me'), 401, 'unauthenticated');
      assertProblem(
        await admin.request('POST', `${V1}/auth/refresh`, {
          body: { refreshToken: refreshed.body.refreshToken },
        }),
        401,
        'unauthenticated',
      );
    });

    it('logout ends the session', async () => {
      const login = await expectStatus(
        admin.request('POST', `${V1}/auth/login`, {
          body: { email: acme.users.auditor.email, password: PASSWORD },
        }),
        200,
      );
      await expectStatus(as(login.body.accessToken).post('/auth/logout'), 204);
      assertProblem(await as(login.body.accessToken).get('/me'), 401, 'unauthenticated');
      assertProblem(
        await admin.request('POST', `${V1}/auth/refresh`, {
          body: { refreshToken: login.body.refreshToken },
        }),
        401,
        'unauthenticated',
      );
    });

    it('throttles failed attempts per account and per IP: 429 with Retry-After', async () => {
      const throttled = await startTestAdmin({ loginThrottle: { maxFailures: 5, windowMs: 15 * 60_000 } });
      if (typeof throttled === 'string') throw new Error(throttled);
      try {
        const org = await createOrgWithRoles(throttled, 'throttle');
        const attempt = (password: string) =>
          throttled.request('POST', `${V1}/auth/login`, {
            body: { email: org.users.developer.email, password },
          });
        for (let i = 0; i < 5; i++) assert.equal((await attempt('not the password')).status, 401);
        const refused = await attempt(PASSWORD);
        assertProblem(refused, 429, 'too_many_attempts');
        const wait = Number(refused.headers.get('retry-after'));
        assert.ok(wait > 800 && wait <= 900, String(wait));
        // Per IP too: another account from the same address is refused as well.
        assert.equal(
          (
            await throttled.request('POST', `${V1}/auth/login`, {
              body: { email: org.users.owner.email, password: PASSWORD },
            })
          ).status,
          429,
        );
      } finally {
        await throttled.close();
      }
    });
  });

  describe('users', () => {
    it('adds users, changes roles, disables; the disabled cannot sign in and their tokens stop', async () => {
      const owner = as(acme.users.owner.token);
      const created = await expectStatus(
        owner.post('/orgs/acme/users', { email: 'Carol@Acme.test', role: 'developer', password: PASSWORD }),
        201,
      );
      assert.equal(created.body.email, 'carol@acme.test');
      assert.equal(created.body.role, 'developer');
      assert.equal(created.body.hasPassword, true);
      assert.equal(created.headers.get('etag'), '"3"');
      assertProblem(
        await owner.post('/orgs/acme/users', { email: 'carol@acme.test', role: 'developer' }),
        409,
        'conflict',
      );
      const carolId = created.body.id;
      const login = await expectStatus(
        admin.request('POST', `${V1}/auth/login`, { body: { email: 'carol@acme.test', password: PASSWORD } }),
        200,
      );

      const changed = await expectStatus(
        owner.put(`/orgs/acme/users/${carolId}/role`, { role: 'auditor' }),
        200,
      );
      assert.deepEqual(changed.body.roles, ['auditor']);
      // The new role holds at once, with the same access token.
      await expectStatus(as(login.body.accessToken).get('/orgs/acme/audit'), 200);

      await expectStatus(owner.post(`/orgs/acme/users/${carolId}/disable`, { note: 'left' }), 200);
      assertProblem(await as(login.body.accessToken).get('/me'), 401, 'unauthenticated');
      assertProblem(
        await admin.request('POST', `${V1}/auth/login`, {
          body: { email: 'carol@acme.test', password: PASSWORD },
        }),
        401,
        'unauthenticated',
      );
    });

    it('refuses weak passwords before hashing them', async () => {
      const answer = await as(acme.users.owner.token).post('/orgs/acme/users', {
        email: 'weak@acme.test',
        role: 'developer',
        password: 'short',
      });
      assertProblem(answer, 400, 'validation_failed');
      assert.doesNotMatch(answer.text, /short/, 'the password is not echoed');
    });

    it('nobody changes their own role; an admin cannot touch owners or make them', async () => {
      const a = acme.users;
      assertProblem(
        await as(a.owner.token).put(`/orgs/acme/users/${a.owner.userId}/role`, { role: 'developer' }),
        403,
        'not_allowed_for_you',
      );
      assertProblem(
        await as(a.admin.token).put(`/orgs/acme/users/${a.admin.userId}/role`, { role: 'owner' }),
        403,
        'not_allowed_for_you',
      );
      assertProblem(
        await as(a.admin.token).put(`/orgs/acme/users/${a.owner.userId}/role`, { role: 'developer' }),
        403,
        'not_allowed_for_you',
      );
      assertProblem(
        await as(a.admin.token).post(`/orgs/acme/users/${a.owner.userId}/disable`),
        403,
        'not_allowed_for_you',
      );
      assertProblem(
        await as(a.admin.token).post('/orgs/acme/users', { email: 'boss@acme.test', role: 'owner' }),
        403,
        'not_allowed_for_you',
      );
    });

    it('If-Match: a stale ETag is 412; concurrent changes are 409, never lost', async () => {
      const owner = as(acme.users.owner.token);
      const user = await expectStatus(
        owner.post('/orgs/acme/users', { email: 'dave@acme.test', role: 'developer' }),
        201,
      );
      const read = await expectStatus(owner.get(`/orgs/acme/users/${user.body.id}`), 200);
      const tag = read.headers.get('etag')!;
      await expectStatus(
        owner.put(`/orgs/acme/users/${user.body.id}/role`, { role: 'auditor' }, { 'if-match': tag }),
        200,
      );
      assertProblem(
        await owner.put(`/orgs/acme/users/${user.body.id}/role`, { role: 'finance' }, { 'if-match': tag }),
        412,
        'precondition_failed',
      );

      await expectStatus(
        owner.put('/orgs/acme/providers/openai', {
          type: 'openai',
          baseUrl: 'https://api.openai.com/v1',
          models: ['gpt-4o*'],
        }),
        200,
      );
      const key = await expectStatus(
        owner.post('/orgs/acme/provider-keys', { provider: 'openai', name: 'race', secret: PROVIDER_SECRET }),
        201,
      );
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          owner.patch(`/orgs/acme/provider-keys/${key.body.id}`, { weight: 10 + i }),
        ),
      );
      const statuses = answers.map((a) => a.status);
      assert.ok(
        statuses.every((s) => s === 200 || s === 409),
        statuses.join(),
      );
      assert.ok(statuses.includes(200));
      for (const answer of answers.filter((a) => a.status === 409))
        assertProblem(answer, 409, 'concurrent_change');
      // Every accepted change is an event: nothing acknowledged was lost.
      const events = await admin.store.readStream(streams.providerKey(acme.orgId, key.body.id));
      assert.equal(
        events.filter((e) => e.type === 'ProviderKeyWeightChanged').length,
        statuses.filter((s) => s === 200).length,
      );
    });
  });

  describe('proxy keys', () => {
    it('issues a key whose secret is shown once, then lists, suspends, reinstates and revokes it', async () => {
      const dev = as(acme.users.developer.token);
      const issued = await expectStatus(
        dev.post('/orgs/acme/proxy-keys', { userEmail: acme.users.developer.email, name: 'laptop' }),
        201,
      );
      assert.match(issued.body.secret, /^kdn_[A-Za-z0-9]{38}$/);
      const listed = await expectStatus(dev.get('/orgs/acme/proxy-keys'), 200);
      assert.ok(listed.body.items.some((k: { id: string }) => k.id === issued.body.id));
      assert.ok(!listed.text.includes(issued.body.secret), 'never shown again');
      const stored = await admin.store.readStream(streams.proxyKey(acme.orgId, issued.body.id));
      assert.ok(!JSON.stringify(stored).includes(issued.body.secret), 'never stored');

      const path = `/orgs/acme/proxy-keys/${issued.body.id}`;
      assert.equal(
        (await expectStatus(dev.post(`${path}/suspend`, { note: 'lost it' }), 200)).body.status,
        'suspended',
      );
      assert.equal((await expectStatus(dev.post(`${path}/reinstate`), 200)).body.status, 'active');
      assert.equal(
        (await expectStatus(dev.post(`${path}/revoke`, { reason: 'compromised' }), 200)).body.status,
        'revoked',
      );
      assertProblem(await dev.post(`${path}/reinstate`), 409, 'invalid_state');
    });

    it('a key an admin suspended is reinstated by an admin, not by its owner', async () => {
      const dev = as(acme.users.developer.token);
      const admin = as(acme.users.admin.token);
      const issued = await expectStatus(
        dev.post('/orgs/acme/proxy-keys', { userEmail: acme.users.developer.email, name: 'suspect' }),
        201,
      );
      const path = `/orgs/acme/proxy-keys/${issued.body.id}`;
      await expectStatus(admin.post(`${path}/suspend`, { note: 'seen in a public repo' }), 200);
      // Its owner may not undo it: suspending would otherwise stop nobody.
      assertProblem(await dev.post(`${path}/reinstate`), 403, 'forbidden');
      assert.equal((await expectStatus(dev.get(path), 200)).body.status, 'suspended');
      assert.equal((await expectStatus(admin.post(`${path}/reinstate`), 200)).body.status, 'active');
      // Its owner's own suspension is the owner's to undo.
      await expectStatus(dev.post(`${path}/suspend`), 200);
      assert.equal((await expectStatus(dev.post(`${path}/reinstate`), 200)).body.status, 'active');
    });

    it("developers manage only their own keys; others' keys do not exist for them", async () => {
      const a = acme.users;
      const adminKey = await expectStatus(
        as(a.admin.token).post('/orgs/acme/proxy-keys', { userEmail: a.admin.email, name: 'admin-key' }),
        201,
      );
      assertProblem(
        await as(a.developer.token).get(`/orgs/acme/proxy-keys/${adminKey.body.id}`),
        404,
        'not_found',
      );
      assertProblem(
        await as(a.developer.token).post(`/orgs/acme/proxy-keys/${adminKey.body.id}/revoke`),
        404,
        'not_found',
      );
      assertProblem(
        await as(a.developer.token).post('/orgs/acme/proxy-keys', { userEmail: a.admin.email, name: 'x' }),
        403,
        'forbidden',
      );
      assertProblem(
        await as(a.developer.token).post('/orgs/acme/proxy-keys', {
          userEmail: 'ghost@acme.test',
          name: 'x',
        }),
        403,
        'forbidden',
      );
      const list = await expectStatus(as(a.developer.token).get('/orgs/acme/proxy-keys'), 200);
      assert.ok(list.body.items.every((k: { userId: string }) => k.userId === a.developer.userId));
      // An admin may issue for others.
      await expectStatus(
        as(a.admin.token).post('/orgs/acme/proxy-keys', { userEmail: a.developer.email, name: 'from-admin' }),
        201,
      );
    });

    it("a key's limits are never looser than its issuer's own policy; omitted ones are copied", async () => {
      const dev = acme.users.developer;
      const policy = kordonCatalogue.create(
        'PolicySet',
        streams.user(acme.orgId, dev.userId),
        {
          scope: 'user',
          scopeId: dev.userId,
          limits: { rpm: 60, budget: { usd: '50', period: '1mo' }, models: ['gpt-4o*'] },
        },
        { orgId: acme.orgId, actor: { kind: 'config', id: 'config-file' } },
      );
      const appended = await admin.store.append(
        streams.user(acme.orgId, dev.userId),
        [policy],
        'stream-exists',
      );
      await new Promise((r) => setTimeout(r, 0));
      for (let i = 0; i < 100 && admin.api.view().policies.size === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      assert.ok(appended.lastPosition > 0);

      const client = as(dev.token);
      for (const limits of [
        { rpm: 61 },
        { budget: { usd: '50.01', period: '1mo' } },
        { budget: { usd: '1', period: '1d' } },
        { models: ['claude-3'] },
      ]) {
        assertProblem(
          await client.post('/orgs/acme/proxy-keys', { userEmail: dev.email, name: 'greedy', limits }),
          403,
          'not_allowed_for_you',
        );
      }
      const ok = await expectStatus(
        client.post('/orgs/acme/proxy-keys', {
          userEmail: dev.email,
          name: 'frugal',
          limits: { rpm: 10, models: ['gpt-4o-mini'] },
        }),
        201,
      );
      assert.deepEqual(ok.body.limits, {
        rpm: 10,
        models: ['gpt-4o-mini'],
        budget: { usd: '50', period: '1mo' },
      });
    });
  });

  describe('prices', () => {
    it('refuses a price that could not price its model, naming the entry; a usable list is set', async () => {
      const owner = as(acme.users.owner.token);
      const from = '2026-01-01T00:00:00Z';
      const refused = await owner.put('/orgs/acme/prices', {
        prices: [
          { model: 'gpt-4o-mini', effectiveFrom: from, input: '0.1' },
          { model: 'llama-3.3-70b', effectiveFrom: from, input: '0.5', output: '1' },
        ],
      });
      assertProblem(refused, 400, 'validation_failed');
      const errors = refused.body.errors as { path: string; message: string }[];
      assert.deepEqual(
        errors.map((e) => e.path),
        ['body.prices.1'],
      );
      assert.match(errors[0]!.message, /no llama-3\.3-70b .*give currency/);
      assert.deepEqual((await expectStatus(owner.get('/orgs/acme/prices'), 200)).body.items, []);
      const prices = [
        { model: 'gpt-4o-mini', effectiveFrom: from, input: '0.1' },
        { model: 'llama-3.3-70b', effectiveFrom: from, input: '0.5', output: '1', currency: 'USD' },
      ];
      await expectStatus(owner.put('/orgs/acme/prices', { prices }), 200);
      assert.deepEqual((await expectStatus(owner.get('/orgs/acme/prices'), 200)).body.items, prices);
    });

    it('takes long-context tiers and peak hours, answers them as set, and refuses ones that cannot apply', async () => {
      const owner = as(acme.users.owner.token);
      const from = '2026-01-01T00:00:00Z';
      const deepseek = {
        model: 'deepseek-chat',
        effectiveFrom: from,
        input: '0.1',
        output: '0.4',
        peakHours: {
          utcWindows: [
            { from: '01:00', to: '04:00' },
            { from: '06:00', to: '10:00' },
          ],
          utcWeekdays: [1, 2, 3, 4, 5],
          multiplier: '1.5',
        },
      };
      const tiered = {
        model: 'gpt-4o',
        effectiveFrom: from,
        tiers: [{ aboveInputTokens: 100_000, input: '5', cachedInput: '2.5', output: '20' }],
      };
      // A negotiated Claude rate with its own cache-write rates (else its writes bill at input).
      const claude = {
        model: 'claude-sonnet-4-5',
        effectiveFrom: from,
        input: '2.4',
        cacheWrite: '3',
        cacheWrite1h: '4.8',
        output: '12',
      };
      const set = await expectStatus(
        owner.put('/orgs/acme/prices', { prices: [deepseek, tiered, claude] }),
        200,
      );
      assert.deepEqual(set.body.items, [deepseek, tiered, claude]);
      const read = await expectStatus(owner.get('/orgs/acme/prices'), 200);
      assert.deepEqual(read.body.items, [deepseek, tiered, claude]);
      assert.equal(read.headers.get('etag'), set.headers.get('etag'));
      // What was read, written back unchanged under its ETag, is no change.
      const again = await expectStatus(
        owner.put(
          '/orgs/acme/prices',
          { prices: read.body.items },
          { 'if-match': read.headers.get('etag')! },
        ),
        200,
      );
      assert.equal(again.headers.get('etag'), set.headers.get('etag'));

      const refused = async (price: object, path: string, message: RegExp) => {
        const answer = await owner.put('/orgs/acme/prices', { prices: [tiered, { ...deepseek, ...price }] });
        assertProblem(answer, 400, 'validation_failed');
        const errors = answer.body.errors as { path: string; message: string }[];
        assert.ok(
          errors.some((e) => e.path === path && message.test(e.message)),
          `${path} ${message}: ${JSON.stringify(errors)}`,
        );
      };
      const peak = deepseek.peakHours;
      await refused(
        { peakHours: { ...peak, utcWindows: [{ from: '10:00', to: '06:00' }] } },
        'body.prices.1.peakHours.utcWindows.0',
        /from must be before to/,
      );
      await refused(
        { peakHours: { ...peak, utcWindows: [{ from: '25:00', to: '26:00' }] } },
        'body.prices.1.peakHours.utcWindows.0.from',
        /UTC time/,
      );
      await refused(
        { peakHours: { ...peak, utcWeekdays: [8] } },
        'body.prices.1.peakHours.utcWeekdays.0',
        /./,
      );
      await refused(
        { peakHours: { ...peak, multiplier: '-2' } },
        'body.prices.1.peakHours.multiplier',
        /decimal/,
      );
      await refused(
        { peakHours: { utcWindows: [], multiplier: '2' } },
        'body.prices.1.peakHours.utcWindows',
        /./,
      );
      await refused(
        {
          tiers: [
            { aboveInputTokens: 200_000, input: '1', output: '2' },
            { aboveInputTokens: 100_000, input: '1', output: '2' },
          ],
        },
        'body.prices.1.tiers',
        /ascending order of aboveInputTokens/,
      );
      await refused(
        { tiers: [{ aboveInputTokens: 100_000, input: '1' }] },
        'body.prices.1.tiers.0.output',
        /./,
      );
      // The event takes 12 decimals; the price book 10: refused by the book, naming the entry.
      await refused({ peakHours: { ...peak, multiplier: '1.00000000001' } }, 'body.prices.1', /multiplier/);
      assert.deepEqual((await expectStatus(owner.get('/orgs/acme/prices'), 200)).body.items, [
        deepseek,
        tiered,
        claude,
      ]);
    });
  });

  describe('providers', () => {
    it('takes options, shows them, keeps them when a change leaves them out, and refuses bad ones', async () => {
      const owner = as(acme.users.owner.token);
      const path = '/orgs/acme/providers/azure';
      const options = {
        deployments: { 'gpt-4o': 'prod-gpt4o', 'gpt-4o-mini': 'prod-gpt4o-mini' },
        apiVersion: '2024-10-21',
        balancer: 'round-robin',
        timeouts: { firstByteMs: 20_000, idleMs: 5_000 },
      };
      const made = await expectStatus(
        owner.put(path, {
          type: 'azure-openai',
          baseUrl: 'https://acme.openai.azure.com',
          models: ['gpt-4o'],
          options,
        }),
        200,
      );
      assert.deepEqual(made.body.options, options);
      // A change of models alone keeps the deployment map and the rest.
      const changed = await expectStatus(
        owner.put(path, {
          type: 'azure-openai',
          baseUrl: 'https://acme.openai.azure.com',
          models: ['gpt-4o', 'gpt-4o-mini'],
        }),
        200,
      );
      assert.deepEqual(changed.body.options, options);
      const listed = await expectStatus(owner.get('/orgs/acme/providers?limit=100'), 200);
      const azure = listed.body.items.find((p: { name: string }) => p.name === 'azure');
      assert.deepEqual(azure.models, ['gpt-4o', 'gpt-4o-mini']);
      assert.deepEqual(azure.options, options);
      const stream = streams.provider(acme.orgId, 'azure');
      const events = await admin.store.readStream(stream);
      assert.deepEqual((events.at(-1)?.data as { options?: unknown } | undefined)?.options, options);
      // The same again decides nothing; new options replace them.
      await expectStatus(
        owner.put(path, {
          type: 'azure-openai',
          baseUrl: 'https://acme.openai.azure.com',
          models: ['gpt-4o', 'gpt-4o-mini'],
          options,
        }),
        200,
      );
      assert.equal((await admin.store.readStream(stream)).length, events.length);
      await expectStatus(
        owner.put(path, {
          type: 'azure-openai',
          baseUrl: 'https://acme.openai.azure.com',
          models: ['gpt-4o', 'gpt-4o-mini'],
          options: {
            ...options,
            deployments: Object.fromEntries(Object.entries(options.deployments).reverse()),
          },
        }),
        200,
      );
      assert.equal((await admin.store.readStream(stream)).length, events.length, 'nor in another key order');
      const cleared = await expectStatus(
        owner.put(path, {
          type: 'azure-openai',
          baseUrl: 'https://acme.openai.azure.com',
          models: ['gpt-4o'],
          // Given options replace the old ones (Azure keeps only the apiVersion it cannot go without).
          options: { apiVersion: '2024-10-21' },
        }),
        200,
      );
      assert.deepEqual(cleared.body.options, { apiVersion: '2024-10-21' });
      for (const bad of [{ timeouts: { idleMs: 0 } }, { balancer: 'random' }, { apiBase: 'http://evil' }]) {
        const answer = await owner.put(path, {
          type: 'azure-openai',
          baseUrl: 'https://acme.openai.azure.com',
          models: ['gpt-4o'],
          options: bad,
        });
        assertProblem(answer, 400, 'validation_failed');
        assert.match(answer.text, /options/);
      }
    });
  });

  describe('provider options of one type', () => {
    const CA = '-----BEGIN CERTIFICATE-----\nMIIBnucroot\n-----END CERTIFICATE-----\n';

    it('takes vendor, authScheme, organization, project and a CA; the CA is left out of lists', async () => {
      const owner = as(acme.users.owner.token);
      const path = '/orgs/acme/providers/mistral';
      const options = { vendor: 'mistral', caCertificate: CA };
      const body = { type: 'openai-compatible', baseUrl: 'https://api.mistral.ai/v1', models: ['mistral-*'] };
      const made = await expectStatus(owner.put(path, { ...body, options }), 200);
      assert.deepEqual(made.body.options, options);
      assert.equal(made.body.hasCaCertificate, true);
      const events = await admin.store.readStream(streams.provider(acme.orgId, 'mistral'));
      assert.deepEqual(events.at(-1)?.data, { provider: 'mistral', ...body, options });
      assert.equal(events.at(-1)?.schemaVersion, 3);

      const one = await expectStatus(owner.get(path), 200);
      assert.deepEqual(one.body, { name: 'mistral', ...body, options, hasCaCertificate: true });
      assert.equal(one.headers.get('etag'), made.headers.get('etag'));
      const listed = (await expectStatus(owner.get('/orgs/acme/providers?limit=200'), 200)).body.items.find(
        (p: { name: string }) => p.name === 'mistral',
      );
      assert.deepEqual(listed.options, { vendor: 'mistral' });
      assert.equal(listed.hasCaCertificate, true);
      assertProblem(await owner.get('/orgs/acme/providers/nope'), 404, 'not_found');

      for (const [name, type, extra] of [
        ['azure-entra', 'azure-openai', { apiVersion: '2024-10-21', authScheme: 'bearer' }],
        ['yandex-iam', 'yandexgpt', { folderId: 'b1gfolder', authScheme: 'bearer' }],
        ['openai-org', 'openai', { organization: 'org-acme', project: 'proj_1' }],
      ] as const) {
        const answer = await expectStatus(
          owner.put(`/orgs/acme/providers/${name}`, {
            type,
            baseUrl: 'https://provider.example.test/v1',
            models: ['m'],
            options: extra,
          }),
          200,
        );
        assert.deepEqual(answer.body.options, extra);
        assert.equal(answer.body.hasCaCertificate, false);
      }
      // Azure's v1 API (a base URL ending in /openai/v1) takes no monthly apiVersion.
      const v1 = await expectStatus(
        owner.put('/orgs/acme/providers/azure-v1', {
          type: 'azure-openai',
          baseUrl: 'https://acme.openai.azure.com/openai/v1/',
          models: ['m'],
          options: { deployments: { m: 'm-prod' } },
        }),
        200,
      );
      assert.deepEqual(v1.body.options, { deployments: { m: 'm-prod' } });
    });

    it('refuses an option the type does not read, or one its adapter refuses, and writes nothing', async () => {
      const owner = as(acme.users.owner.token);
      const path = '/orgs/acme/providers/strict';
      await expectStatus(
        owner.put(path, {
          type: 'openai-compatible',
          baseUrl: 'https://api.mistral.ai/v1',
          models: ['m'],
          options: { vendor: 'mistral' },
        }),
        200,
      );
      const stream = streams.provider(acme.orgId, 'strict');
      const before = (await admin.store.readStream(stream)).length;
      for (const [type, options, message] of [
        ['anthropic', { vendor: 'mistral' }, /vendor does not apply to Anthropic providers/],
        // Options left out are kept: the kept vendor does not fit a Claude provider either.
        ['anthropic', undefined, /vendor does not apply to Anthropic providers/],
        ['openai', { authScheme: 'bearer' }, /authScheme does not apply to OpenAI providers/],
        ['azure-openai', { authScheme: 'bearer' }, /Azure OpenAI needs an apiVersion/],
        ['gigachat', { scope: 'GIGACHAT_API_ANY' }, /scope/],
        ['openai-compatible', { vendor: 'mistralai' }, /vendor/],
        ['gigachat', { caCertificate: 'not a certificate' }, /caCertificate/],
        // providerConfigSchema's rules, stricter than the log's.
        ['azure-openai', { apiVersion: '2024 10 21' }, /apiVersion: must be a version/],
      ] as const) {
        const answer = await owner.put(path, {
          type,
          baseUrl: 'https://provider.example.test/v1',
          models: ['m'],
          ...(options ? { options } : {}),
        });
        assertProblem(answer, 400, 'validation_failed');
        assert.match(answer.text, message, `${type} ${JSON.stringify(options)}`);
      }
      // A base URL that is neither an Azure resource nor its v1 API: every call would 404.
      const neither = await owner.put(path, {
        type: 'azure-openai',
        baseUrl: 'https://acme.openai.azure.com/openai/v2',
        models: ['m'],
        options: { apiVersion: '2024-10-21' },
      });
      assertProblem(neither, 400, 'validation_failed');
      assert.match(neither.text, /baseUrl path \/openai\/v2 is neither/);
      assert.equal((await admin.store.readStream(stream)).length, before, 'nothing was written');
    });
  });

  describe('provider keys', () => {
    it("sets a key's tier and limits when added, and changes them in place", async () => {
      const owner = as(acme.users.owner.token);
      await expectStatus(
        owner.put('/orgs/acme/providers/tiered', {
          type: 'openai',
          baseUrl: 'https://api.openai.com/v1',
          models: ['gpt-4o-mini'],
        }),
        200,
      );
      const added = await expectStatus(
        owner.post('/orgs/acme/provider-keys', {
          provider: 'tiered',
          name: 'backup',
          secret: PROVIDER_SECRET,
          tier: 1,
          limits: { rpm: 60, dailyUsd: '10' },
        }),
        201,
      );
      assert.equal(added.body.tier, 1);
      assert.deepEqual(added.body.limits, { rpm: 60, dailyUsd: '10' });
      const path = `/orgs/acme/provider-keys/${added.body.id}`;
      const stream = streams.providerKey(acme.orgId, added.body.id);

      // The tier alone: the limits stay.
      const retiered = await expectStatus(owner.patch(path, { tier: 0 }), 200);
      assert.equal(retiered.body.tier, 0);
      assert.deepEqual(retiered.body.limits, { rpm: 60, dailyUsd: '10' });
      let events = await admin.store.readStream(stream);
      assert.deepEqual(events.at(-1)?.type, 'ProviderKeyLimitsChanged');
      assert.deepEqual(events.at(-1)?.data, {
        providerKeyId: added.body.id,
        tier: 0,
        limits: { rpm: 60, dailyUsd: '10' },
      });
      // The same again changes nothing; limits null removes them.
      await expectStatus(owner.patch(path, { tier: 0, limits: { dailyUsd: '10', rpm: 60 } }), 200);
      assert.equal((await admin.store.readStream(stream)).length, events.length);
      const unlimited = await expectStatus(owner.patch(path, { limits: null }), 200);
      assert.equal(unlimited.body.limits, null);
      events = await admin.store.readStream(stream);
      assert.deepEqual(events.at(-1)?.data, { providerKeyId: added.body.id, tier: 0, limits: null });
      const shown = await expectStatus(owner.get(path), 200);
      assert.equal(shown.body.tier, 0);
      assert.equal(shown.body.limits, null);

      // Models: replaced, then every model again with null.
      const narrowed = await expectStatus(owner.patch(path, { models: ['gpt-4o-mini'] }), 200);
      assert.deepEqual(narrowed.body.models, ['gpt-4o-mini']);
      events = await admin.store.readStream(stream);
      assert.deepEqual(events.at(-1)?.data, { providerKeyId: added.body.id, models: ['gpt-4o-mini'] });
      await expectStatus(owner.patch(path, { models: ['gpt-4o-mini'] }), 200);
      assert.equal((await admin.store.readStream(stream)).length, events.length, 'the same models: no event');
      const widened = await expectStatus(owner.patch(path, { models: null }), 200);
      assert.equal(widened.body.models, null);
      assertProblem(await owner.patch(path, { models: [] }), 400, 'validation_failed');

      for (const bad of [
        { tier: 10 },
        { limits: { rpm: 0 } },
        { limits: { dailyUsd: 'ten' } },
        { limits: { rps: 5 } },
      ])
        assertProblem(await owner.patch(path, bad), 400, 'validation_failed');
    });

    it('stores the secret encrypted and shows only its last 4; rotates, reweights, disables, removes', async () => {
      const owner = as(acme.users.owner.token);
      await expectStatus(
        owner.put('/orgs/acme/providers/anthropic', {
          type: 'anthropic',
          baseUrl: 'https://api.anthropic.com',
          models: ['claude*'],
        }),
        200,
      );
      const added = await expectStatus(
        owner.post('/orgs/acme/provider-keys', {
          provider: 'anthropic',
          name: 'main',
          secret: PROVIDER_SECRET,
          weight: 3,
        }),
        201,
      );
      assert.equal(added.body.last4, '1234');
      assert.ok(!added.text.includes(PROVIDER_SECRET));
      assertProblem(
        await owner.post('/orgs/acme/provider-keys', {
          provider: 'nope',
          name: 'x',
          secret: PROVIDER_SECRET,
        }),
        400,
        'validation_failed',
      );
      const stream = streams.providerKey(acme.orgId, added.body.id);
      const stored = await admin.store.readStream(stream);
      assert.ok(!JSON.stringify(stored).includes(PROVIDER_SECRET), 'only ciphertext is stored');
      assert.equal((stored[0]!.data as { secret: { algorithm: string } }).secret.algorithm, 'aes-256-gcm');

      const path = `/orgs/acme/provider-keys/${added.body.id}`;
      const rotated = await expectStatus(
        owner.post(`${path}/rotate`, { secret: 'sk-ant-api03-NEWSECRETvalue9876' }),
        200,
      );
      assert.equal(rotated.body.last4, '9876');
      const patched = await expectStatus(
        owner.patch(path, { weight: 7, disabled: true, note: 'quota' }),
        200,
      );
      assert.equal(patched.body.weight, 7);
      assert.equal(patched.body.disabled, true);
      const list = await expectStatus(as(acme.users.auditor.token).get('/orgs/acme/provider-keys'), 200);
      assert.ok(!list.text.includes('NEWSECRET') && !list.text.includes('ciphertext'));
      assertProblem(await as(acme.users.auditor.token).patch(path, { weight: 1 }), 403, 'forbidden');
      await expectStatus(owner.delete(path), 204);
      assertProblem(await owner.get(path), 404, 'not_found');
    });
  });

  describe('API tokens', () => {
    it('issues a machine token with a role no stronger than the issuer, usable until revoked', async () => {
      const adminUser = as(acme.users.admin.token);
      assertProblem(
        await adminUser.post('/orgs/acme/api-tokens', { name: 'root', role: 'owner' }),
        403,
        'not_allowed_for_you',
      );
      const issued = await expectStatus(
        adminUser.post('/orgs/acme/api-tokens', { name: 'ci', role: 'auditor' }),
        201,
      );
      assert.match(issued.body.token, /^kat_[A-Za-z0-9]{40}$/);
      const machine = as(issued.body.token);
      const me = await expectStatus(machine.get('/me'), 200);
      assert.deepEqual([me.body.kind, me.body.roles], ['api-token', ['auditor']]);
      await expectStatus(machine.get('/orgs/acme/users'), 200);
      assertProblem(
        await machine.post('/orgs/acme/users', { email: 'bot@acme.test', role: 'developer' }),
        403,
        'forbidden',
      );
      const list = await expectStatus(adminUser.get('/orgs/acme/api-tokens'), 200);
      assert.ok(!list.text.includes(issued.body.token));
      // Traded for a short-lived JWT with the same role.
      const traded = await expectStatus(
        as(undefined).post('/auth/token', { apiToken: issued.body.token }),
        200,
      );
      assert.equal(traded.body.expiresIn, 900);
      assert.equal(traded.body.accessToken.split('.').length, 3, 'a JWT');
      const jwt = as(traded.body.accessToken);
      const jwtMe = await expectStatus(jwt.get('/me'), 200);
      assert.deepEqual([jwtMe.body.kind, jwtMe.body.roles], ['api-token', ['auditor']]);
      assertProblem(
        await as(undefined).post('/auth/token', { apiToken: `kat_${'B'.repeat(40)}` }),
        401,
        'unauthenticated',
      );
      // An access token is not a credential to trade: only the machine token is.
      assertProblem(
        await as(undefined).post('/auth/token', { apiToken: traded.body.accessToken }),
        400,
        'validation_failed',
      );
      await expectStatus(adminUser.post(`/orgs/acme/api-tokens/${issued.body.id}/revoke`), 200);
      assertProblem(await machine.get('/me'), 401, 'unauthenticated');
      // Revoking the machine token ends its access tokens at once.
      assertProblem(await jwt.get('/me'), 401, 'unauthenticated');
      assertProblem(
        await as(undefined).post('/auth/token', { apiToken: issued.body.token }),
        401,
        'unauthenticated',
      );
    });

    it('a token made by a token never outlives it', async () => {
      const soon = new Date(Date.now() + 3_600_000).toISOString();
      const parent = await expectStatus(
        as(acme.users.owner.token).post('/orgs/acme/api-tokens', {
          name: 'parent',
          role: 'admin',
          expiresAt: soon,
        }),
        201,
      );
      const later = new Date(Date.now() + 7_200_000).toISOString();
      assertProblem(
        await as(parent.body.token).post('/orgs/acme/api-tokens', {
          name: 'child',
          role: 'developer',
          expiresAt: later,
        }),
        403,
        'not_allowed_for_you',
      );
      const child = await expectStatus(
        as(parent.body.token).post('/orgs/acme/api-tokens', { name: 'child', role: 'developer' }),
        201,
      );
      assert.equal(child.body.expiresAt, parent.body.expiresAt);
    });
  });

  describe('audit log', () => {
    it('shows who did what from which IP, filters, sorts, pages and exports CSV, without secrets', async () => {
      const auditor = as(acme.users.auditor.token);
      const all = await expectStatus(auditor.get('/orgs/acme/audit?limit=200'), 200);
      assert.ok(all.body.items.length > 10);
      const actions = new Set(all.body.items.map((e: { action: string }) => e.action));
      for (const action of [
        'OrgCreated',
        'UserJoined',
        'RoleGranted',
        'ProxyKeyIssued',
        'ProviderKeyAdded',
        'SessionStarted',
      ])
        assert.ok(actions.has(action), action);
      for (const forbidden of [
        PROVIDER_SECRET,
        'ciphertext',
        'wrappedDataKey',
        '$argon2id',
        PASSWORD,
        'refreshTokenHash',
      ])
        assert.ok(!all.text.includes(forbidden), forbidden);

      const roleChanges = await expectStatus(
        auditor.get(`/orgs/acme/audit?action=RoleGranted&actor=${acme.users.owner.userId}`),
        200,
      );
      assert.ok(roleChanges.body.items.length > 0);
      for (const entry of roleChanges.body.items) {
        assert.equal(entry.action, 'RoleGranted');
        assert.deepEqual(entry.actor, { kind: 'user', id: acme.users.owner.userId, ip: '127.0.0.1' });
      }
      const change = roleChanges.body.items.find(
        (e: { after: { role: string } }) => e.after.role === 'auditor',
      );
      assert.ok(change?.before, 'before is kept');

      const newestFirst = await expectStatus(auditor.get('/orgs/acme/audit?sort=-time&limit=5'), 200);
      const times = newestFirst.body.items.map((e: { time: string }) => Date.parse(e.time));
      assert.deepEqual(
        times,
        [...times].sort((x, y) => y - x),
      );
      const next = await expectStatus(
        auditor.get(`/orgs/acme/audit?sort=-time&limit=5&cursor=${newestFirst.body.nextCursor}`),
        200,
      );
      assert.ok(
        !next.body.items.some((e: { id: string }) =>
          newestFirst.body.items.some((f: { id: string }) => f.id === e.id),
        ),
      );

      const future = await expectStatus(
        auditor.get(`/orgs/acme/audit?from=${new Date(Date.now() + 86_400_000).toISOString()}`),
        200,
      );
      assert.equal(future.body.items.length, 0);

      const csv = await expectStatus(auditor.get('/orgs/acme/audit?format=csv&action=OrgCreated'), 200);
      assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
      const lines = csv.text.trim().split('\n');
      assert.equal(
        lines[0],
        'time,actor_kind,actor_id,actor_ip,action,subject_type,subject_id,before,after,event_id',
      );
      assert.equal(lines.length, 2);
      assert.match(lines[1]!, /,system,admin-token,127\.0\.0\.1,OrgCreated,org,/);

      assertProblem(await as(acme.users.developer.token).get('/orgs/acme/audit'), 403, 'forbidden');
    });

    it("does not confirm a machine token's id through the actor filter to a reader without apiToken.read", async () => {
      const issued = await expectStatus(
        as(acme.users.owner.token).post('/orgs/acme/api-tokens', { name: 'actor-probe', role: 'admin' }),
        201,
      );
      const tokenId: string = issued.body.id;
      await expectStatus(as(issued.body.token).post('/orgs/acme/teams', { name: 'made-by-a-token' }), 201);
      const auditor = as(acme.users.auditor.token);
      const finance = as(acme.users.finance.token);

      // With apiToken.read the filter finds what the token did.
      const seen = await expectStatus(auditor.get(`/orgs/acme/audit?actor=${tokenId}`), 200);
      assert.ok(seen.body.items.length > 0, "the auditor finds the token's entries");
      for (const entry of seen.body.items) assert.equal(entry.actor.id, tokenId);

      // Without it (finance), the token's id answers as a made-up id of the same shape does.
      const madeUp = newEventId();
      for (const extra of ['', '&sort=-time', '&action=TeamCreated']) {
        const [real, fake] = await Promise.all(
          [tokenId, madeUp].map((id) =>
            expectStatus(finance.get(`/orgs/acme/audit?actor=${id}${extra}`), 200),
          ),
        );
        assert.deepEqual(
          real!.body,
          fake!.body,
          `actor=<token id>${extra} tells the token from a made-up id`,
        );
        assert.deepEqual(real!.body.items, [], `actor=<token id>${extra}`);
        assert.ok(!real!.text.includes(tokenId));
        const [realCsv, fakeCsv] = await Promise.all(
          [tokenId, madeUp].map((id) =>
            expectStatus(finance.get(`/orgs/acme/audit?format=csv&actor=${id}${extra}`), 200),
          ),
        );
        assert.equal(realCsv!.text, fakeCsv!.text, `CSV: actor=<token id>${extra}`);
        assert.equal(realCsv!.text.trim().split('\n').length, 1, 'the CSV holds its header only');
        assert.equal(
          realCsv!.headers.get('x-kordon-unread-events'),
          fakeCsv!.headers.get('x-kordon-unread-events'),
        );
      }
      // The count of parked events does not follow the actor filter.
      const unfiltered = await expectStatus(finance.get('/orgs/acme/audit?limit=1'), 200);
      const filtered = await expectStatus(finance.get(`/orgs/acme/audit?limit=1&actor=${tokenId}`), 200);
      assert.equal(filtered.body.unreadEvents, unfiltered.body.unreadEvents);

      // The entries themselves stay (without the token's id), and a person's id still filters.
      const teams = await expectStatus(finance.get('/orgs/acme/audit?action=TeamCreated&limit=200'), 200);
      assert.ok(
        teams.body.items.some(
          (e: { actor: { kind: string; id: string | null } }) =>
            e.actor.kind === 'api-token' && e.actor.id === null,
        ),
        "the token's change is listed, its actor id null",
      );
      const byOwner = await expectStatus(
        finance.get(`/orgs/acme/audit?actor=${acme.users.owner.userId}`),
        200,
      );
      assert.ok(byOwner.body.items.length > 0, "finance filters by a person's id");
    });
  });
});
