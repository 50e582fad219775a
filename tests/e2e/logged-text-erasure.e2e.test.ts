import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { streams } from '@kordon/events';
import { createTestDatabase } from '@kordon/events/testing';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const UPSTREAM_KEY = 'sk-proj-erasureAAAA1abcdefghijklmnopqrstuvwxyz01';
const PASSWORD = 'a long and Random passphrase 42';

/**
 * `POST /orgs/{org}/logging/erase` (decision 0021) over real HTTP against a Kordon on
 * PostgreSQL: the org's logged texts before it are gone from the request log and their keys
 * from the database, texts logged after it are readable, another org's are untouched.
 */
describe('erasing an org’s logged texts', {
  skip: process.env.KORDON_TEST_DATABASE_URL ? false : 'needs KORDON_TEST_DATABASE_URL (PostgreSQL)',
}, () => {
  let k: KordonUnderTest;
  let mock: MockServer;
  let drop: () => Promise<void>;
  let acmeId: string;
  let betaId: string;
  const adminToken = randomBytes(32).toString('base64url');
  const tokens = {} as Record<'admin' | 'auditor', string>;
  let adminUserId: string;

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(`${k.url}/admin/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    const json: unknown = response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : null;
    return { status: response.status, text, json: json as Record<string, unknown> };
  };
  const sql = () => k.kordon.storage.store.sql;

  /** One chat completion of the org's user; its request id once the request log has its row. */
  const ask = async (org: 'acme' | 'beta', content: string): Promise<string> => {
    const apiKey = k.proxyKeys.get(`dev@${org}.test--laptop`);
    assert.ok(apiKey);
    const openai = new OpenAI({ baseURL: `${k.url}/v1`, apiKey, maxRetries: 0 });
    const before = new Set((await k.allEvents()).map((e) => e.id));
    await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      max_tokens: 50,
      messages: [{ role: 'user', content }],
    });
    const done = (await k.allEvents()).filter((e) => e.type === 'RequestCompleted' && !before.has(e.id));
    assert.equal(done.length, 1);
    const requestId = (done[0]!.data as { requestId: string }).requestId;
    for (let i = 0; i < 200; i++) {
      const { rows } = await sql().query('SELECT 1 FROM kordon_request_log WHERE request_id = $1', [
        requestId,
      ]);
      if (rows.length === 1) return requestId;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail(`request ${requestId} never reached the request log`);
  };
  const detail = async (org: string, requestId: string) => {
    const answer = await call('GET', `/orgs/${org}/requests/${requestId}`, tokens.admin);
    assert.equal(answer.status, 200, answer.text);
    return answer.json as { prompt: string | null; response: string | null; hasText: boolean };
  };
  const keysOf = async (orgId: string) =>
    (
      await sql().query<{ key_id: string }>('SELECT key_id FROM kordon_body_keys WHERE org_id = $1', [orgId])
    ).rows.map((row) => row.key_id);
  const keyIdOf = async (requestId: string) => {
    const event = (await k.allEvents()).find(
      (e) => e.type === 'RequestCompleted' && (e.data as { requestId: string }).requestId === requestId,
    );
    assert.ok(event, `no event for ${requestId}`);
    return (event.data as { sealedBodies: { keyId: string } | null }).sealedBodies?.keyId;
  };

  before(async () => {
    const database = await createTestDatabase();
    if (!database) throw new Error('KORDON_TEST_DATABASE_URL is not set');
    drop = database.drop;
    mock = await startOpenAIMock({ keys: [UPSTREAM_KEY] });
    const org = (slug: string) => `
  - slug: ${slug}
    name: ${slug}
    logging:
      bodies: full
    providers:
      - name: openai
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${UPSTREAM_KEY}" }]
    users:
      - email: dev@${slug}.test
        proxyKeys: [{ name: laptop }]`;
    k = await startKordonUnderTest(
      `orgs:${org('acme')}${org('beta')}\n`,
      { UPSTREAM_KEY, KORDON_DATABASE_URL: database.url, KORDON_ADMIN_TOKEN: adminToken },
      { orgSlug: 'acme' },
    );
    acmeId = k.orgId;
    const beta = (await k.allEvents()).find((e) => e.type === 'OrgCreated' && e.data.slug === 'beta');
    assert.ok(beta?.orgId);
    betaId = beta.orgId;
    for (const role of ['admin', 'auditor'] as const) {
      const user = await call('POST', '/orgs/acme/users', adminToken, {
        email: `${role}@acme.test`,
        role,
        password: PASSWORD,
      });
      assert.equal(user.status, 201, user.text);
      if (role === 'admin') adminUserId = (user.json as { id: string }).id;
      const login = await fetch(`${k.url}/admin/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: `${role}@acme.test`, password: PASSWORD, org: 'acme' }),
      });
      assert.equal(login.status, 200);
      tokens[role] = ((await login.json()) as { accessToken: string }).accessToken;
    }
  });
  after(async () => {
    await k?.stop();
    await mock?.close();
    await drop?.();
  });

  it('erases the texts before it, keeps those after it and another org’s, and is audited', async () => {
    const early = await ask('acme', 'my customer number is 4711, please help');
    const other = await ask('beta', 'the beta org asks something');
    const logged = await detail('acme', early);
    assert.equal(logged.hasText, true);
    assert.match(logged.prompt ?? '', /customer number is 4711/);
    const earlyKey = await keyIdOf(early);
    assert.ok(earlyKey && (await keysOf(acmeId)).includes(earlyKey), 'the text is sealed under a stored key');
    const betaKeys = await keysOf(betaId);
    assert.equal(betaKeys.length, 1);

    // A reader without logging.manage may not erase, and nothing is recorded.
    const refused = await call('POST', '/orgs/acme/logging/erase', tokens.auditor, {});
    assert.equal(refused.status, 403, refused.text);
    const erasedEvents = async () =>
      (await k.kordon.storage.store.readStream(streams.org(acmeId))).filter(
        (e) => e.type === 'LoggedTextErased',
      );
    assert.equal((await erasedEvents()).length, 0);

    // Bad bounds: a time of day in the past (keys seal whole UTC days), a day after today.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    for (const before of ['2026-01-01T12:00:00Z', tomorrow, 'yesterday']) {
      const bad = await call('POST', '/orgs/acme/logging/erase', tokens.admin, { before });
      assert.equal(bad.status, 400, `${before}: ${bad.text}`);
    }

    // The policy says whether and up to when the org's texts were erased: never yet.
    const policyBefore = await call('GET', '/orgs/acme/logging', tokens.auditor);
    assert.equal(policyBefore.status, 200, policyBefore.text);
    assert.equal(policyBefore.json.erasedBefore, null);

    const erased = await call('POST', '/orgs/acme/logging/erase', tokens.admin, {});
    assert.equal(erased.status, 200, erased.text);
    assert.equal(erased.json.recorded, true);
    const erasedBefore = Date.parse(String(erased.json.erasedBefore));
    assert.ok(Math.abs(erasedBefore - Date.now()) < 60_000, 'up to now');

    // GET says it now, with the org stream's version as ETag; PUT's answer says it too.
    const policyAfter = await call('GET', '/orgs/acme/logging', tokens.auditor);
    assert.equal(policyAfter.status, 200, policyAfter.text);
    assert.equal(policyAfter.json.erasedBefore, erased.json.erasedBefore);
    assert.equal(policyAfter.json.bodies, 'full', 'the policy itself is unchanged');
    const orgVersion = (await k.kordon.storage.store.readStream(streams.org(acmeId))).at(-1)?.streamVersion;
    assert.equal(
      (
        await fetch(`${k.url}/admin/v1/orgs/acme/logging`, {
          headers: { authorization: `Bearer ${tokens.auditor}` },
        })
      ).headers.get('etag'),
      `"${orgVersion}"`,
    );
    const put = await call('PUT', '/orgs/acme/logging', tokens.admin, { bodies: 'full' });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.erasedBefore, erased.json.erasedBefore);
    assert.equal(put.json.bodies, 'full');

    const gone = await detail('acme', early);
    assert.deepEqual(
      { prompt: gone.prompt, response: gone.response, hasText: gone.hasText },
      {
        prompt: null,
        response: null,
        hasText: false,
      },
    );
    assert.ok(!(await keysOf(acmeId)).includes(earlyKey), "the text's key is deleted");
    const { rows: anyText } = await sql().query(
      `SELECT 1 FROM kordon_request_log WHERE org_id = $1 AND (prompt IS NOT NULL OR response IS NOT NULL)`,
      [acmeId],
    );
    assert.equal(anyText.length, 0);

    // The other org's text and key are untouched.
    const betaText = await call('GET', `/orgs/beta/requests/${other}`, adminToken);
    assert.equal(betaText.status, 200, betaText.text);
    assert.match(String(betaText.json.prompt), /the beta org asks something/);
    assert.deepEqual(await keysOf(betaId), betaKeys);

    // The event, with its actor, in the log and in the audit log.
    const [event] = await erasedEvents();
    assert.ok(event);
    assert.deepEqual(event.actor.kind, 'user');
    assert.equal(event.actor.id, adminUserId);
    assert.equal(Date.parse((event.data as { before: string }).before), erasedBefore);
    let audited: Array<{ action: string; actor: { id: string | null } }> = [];
    for (let i = 0; i < 100 && audited.length === 0; i++) {
      const audit = await call('GET', '/orgs/acme/audit?action=LoggedTextErased', tokens.admin);
      assert.equal(audit.status, 200, audit.text);
      audited = audit.json.items as typeof audited;
      if (audited.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(audited.length, 1);
    assert.equal(audited[0]!.actor.id, adminUserId);

    // A text logged after the erasure, the same UTC day, is readable: sealed under a new key.
    const late = await ask('acme', 'a question after the erasure');
    const lateText = await detail('acme', late);
    assert.equal(lateText.hasText, true);
    assert.match(lateText.prompt ?? '', /a question after the erasure/);
    const lateKey = await keyIdOf(late);
    assert.ok(lateKey && lateKey !== earlyKey);
    assert.ok((await keysOf(acmeId)).includes(lateKey));

    // Erasing a range an earlier erasure covered appends nothing.
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const again = await call('POST', '/orgs/acme/logging/erase', tokens.admin, { before: yesterday });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.recorded, false);
    assert.equal(Date.parse(String(again.json.erasedBefore)), erasedBefore);
    assert.equal((await erasedEvents()).length, 1);
    const policyAgain = await call('GET', '/orgs/acme/logging', tokens.auditor);
    assert.equal(
      Date.parse(String(policyAgain.json.erasedBefore)),
      erasedBefore,
      'an earlier day moves nothing',
    );

    // A rebuild replays the log: the erased text stays gone, the later one stays readable.
    assert.ok(k.kordon.requestLog);
    await k.kordon.requestLog.rebuild();
    await k.kordon.requestLog.waitFor(await k.kordon.storage.store.headPosition(), 30_000);
    assert.equal((await detail('acme', early)).hasText, false);
    assert.match((await detail('acme', late)).prompt ?? '', /a question after the erasure/);
    assert.match(
      String((await call('GET', `/orgs/beta/requests/${other}`, adminToken)).json.prompt),
      /beta org/,
    );
  });
});
