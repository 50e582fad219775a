import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase } from '@kordon/events/testing';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import { ConfigError, createLogger, loadConfig, type RunningKordon, startKordon } from '@kordon/server';

const OPENAI_KEY = 'sk-proj-admine2eabcdefghijklmnopqrstuvwxyz';
const PASSWORD = 'a long and Random passphrase 42';

/**
 * The admin API mounted in `kordon start` on PostgreSQL: the config file and the API are two
 * doors to the same events, and what the API creates is what the data plane serves.
 */
describe('admin API in the one process', {
  skip: process.env.KORDON_TEST_DATABASE_URL ? false : 'needs KORDON_TEST_DATABASE_URL (PostgreSQL)',
}, () => {
  let kordon: RunningKordon;
  let mock: MockServer;
  let dataDir: string;
  let drop: () => Promise<void>;
  const adminToken = randomBytes(32).toString('base64url');

  before(async () => {
    const database = await createTestDatabase();
    if (!database) throw new Error('KORDON_TEST_DATABASE_URL is not set');
    drop = database.drop;
    mock = await startOpenAIMock({ keys: [OPENAI_KEY] });
    dataDir = mkdtempSync(join(tmpdir(), 'kordon-admin-'));
    const configPath = join(dataDir, 'kordon.yaml');
    writeFileSync(
      configPath,
      `orgs:
  - slug: acme
    name: Acme
    providers: []
    users:
      - email: alice@acme.test
        role: developer
`,
    );
    const env = {
      KORDON_PORT: '0',
      KORDON_DATA_DIR: dataDir,
      KORDON_LOG_LEVEL: 'silent',
      KORDON_DEV_MODE: 'true',
      KORDON_DATABASE_URL: database.url,
      KORDON_CONFIG: configPath,
      KORDON_ADMIN_TOKEN: adminToken,
    };
    const config = loadConfig(env);
    kordon = await startKordon(config, createLogger(config), env);
  });
  after(async () => {
    await kordon?.stop();
    await mock?.close();
    await drop?.();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, token: string | undefined, body?: unknown) => {
    const response = await fetch(`${kordon.url}/admin/v1${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      body: text ? JSON.parse(text) : null,
    };
  };

  it('serves /admin/ through express and leaves the data plane alone', async () => {
    assert.equal((await call('GET', '/openapi.json', undefined)).status, 200);
    const missing = await call('GET', '/nope', undefined);
    assert.equal(missing.status, 404);
    assert.match(missing.type ?? '', /application\/problem\+json/);
    const health = await fetch(`${kordon.url}/healthz`);
    assert.equal(health.status, 200);
  });

  it('the config file and the API name the same org and users', async () => {
    const org = await call('GET', '/orgs/acme', adminToken);
    assert.equal(org.status, 200);
    const users = await call('GET', '/orgs/acme/users', adminToken);
    assert.deepEqual(
      users.body.items.map((u: { email: string }) => u.email),
      ['alice@acme.test'],
    );
    // Adding the file's user over the API is the same user: it exists already.
    assert.equal(
      (await call('POST', '/orgs/acme/users', adminToken, { email: 'alice@acme.test', role: 'developer' }))
        .status,
      409,
    );
    assert.equal((await call('POST', '/orgs', adminToken, { slug: 'acme', name: 'Again' })).status, 409);
  });

  it('what the API creates, the data plane serves', async () => {
    assert.equal((await call('POST', '/orgs', adminToken, { slug: 'globex', name: 'Globex' })).status, 201);
    assert.equal(
      (
        await call('POST', '/orgs/globex/users', adminToken, {
          email: 'owner@globex.test',
          role: 'owner',
          password: PASSWORD,
        })
      ).status,
      201,
    );
    const login = await call('POST', '/auth/login', undefined, {
      email: 'owner@globex.test',
      password: PASSWORD,
    });
    assert.equal(login.status, 200);
    const owner = login.body.accessToken as string;
    assert.equal(
      (
        await call('PUT', '/orgs/globex/providers/openai', owner, {
          type: 'openai',
          baseUrl: `${mock.url}/v1`,
          models: ['gpt-4o-mini'],
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await call('POST', '/orgs/globex/provider-keys', owner, {
          provider: 'openai',
          name: 'k1',
          secret: OPENAI_KEY,
        })
      ).status,
      201,
    );
    const issued = await call('POST', '/orgs/globex/proxy-keys', owner, {
      userEmail: 'owner@globex.test',
      name: 'laptop',
    });
    assert.equal(issued.status, 201);

    const models = await fetch(`${kordon.url}/v1/models`, {
      headers: { authorization: `Bearer ${issued.body.secret}` },
    });
    assert.equal(models.status, 200);
    const ids = ((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id);
    assert.deepEqual(ids, ['gpt-4o-mini']);

    // Revoked over the API: the data plane refuses the key.
    assert.equal(
      (await call('POST', `/orgs/globex/proxy-keys/${issued.body.id}/revoke`, owner, {})).status,
      200,
    );
    let status = 0;
    for (let i = 0; i < 50 && status !== 401; i++) {
      status = (
        await fetch(`${kordon.url}/v1/models`, { headers: { authorization: `Bearer ${issued.body.secret}` } })
      ).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(status, 401);
  });
});

it('refuses weak KORDON_ADMIN_TOKEN values at start, without echoing them', () => {
  for (const token of ['changeme', 'changeme-changeme-changeme-changeme-changeme', 'a'.repeat(64)]) {
    assert.throws(
      () => loadConfig({ KORDON_ADMIN_TOKEN: token }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /KORDON_ADMIN_TOKEN/.test(error.message) &&
        !error.message.includes(token),
    );
  }
  assert.equal(loadConfig({ KORDON_ADMIN_TOKEN: randomBytes(32).toString('base64') }).adminToken?.length, 44);
});
