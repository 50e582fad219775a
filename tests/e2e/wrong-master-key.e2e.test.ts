import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase } from '@kordon/events/testing';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const PROVIDER_KEY = 'sk-proj-wrongmasterkeyabcdefghijklmnopqrs01';

/** A master key's id as docs/operations.md gives it. */
const idOf = (base64Key: string) =>
  createHash('sha256')
    .update('kordon/master-key-id/v1\0')
    .update(Buffer.from(base64Key, 'base64'))
    .digest('hex')
    .slice(0, 16);

/**
 * One replica started with the wrong KORDON_MASTER_KEY (a typo, the wrong secret mounted, a
 * staging key) must not take the healthy replicas down with it. It cannot decrypt the stored
 * provider keys, so it refuses to start, naming the master key id it lacks, and writes
 * nothing: the config file's secret never replaces a stored one under the wrong key.
 */
describe('a replica started with a wrong master key', {
  skip: process.env.KORDON_TEST_DATABASE_URL ? false : 'needs KORDON_TEST_DATABASE_URL (PostgreSQL)',
}, () => {
  let mock: MockServer;
  let database: { url: string; drop: () => Promise<void> };
  const running: KordonUnderTest[] = [];
  const dataDirs: string[] = [];
  const proxySecret = randomBytes(32).toString('base64');
  const config = () => `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${OPENAI_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`;
  const start = (masterKey: string) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kordon-e2e-'));
    dataDirs.push(dataDir);
    return startKordonUnderTest(
      config(),
      {
        OPENAI_KEY: PROVIDER_KEY,
        KORDON_DEV_MODE: 'false',
        KORDON_DATABASE_URL: database.url,
        KORDON_MASTER_KEY: masterKey,
        KORDON_PROXY_KEY_SECRET: proxySecret,
      },
      { dataDir },
    );
  };
  const ask = async (gateway: KordonUnderTest, apiKey: string) => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    return { status: response.status, body: await response.text() };
  };

  before(async () => {
    mock = await startOpenAIMock({ keys: [PROVIDER_KEY] });
    database = (await createTestDatabase())!;
  });
  after(async () => {
    for (const gateway of running) await gateway.stop().catch(() => {});
    await mock?.close();
    await database?.drop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('is refused, naming the key id it lacks, and the healthy replica keeps serving', async () => {
    const right = randomBytes(32).toString('base64');
    const healthy = await start(right);
    running.push(healthy);
    const apiKey = healthy.proxyKeys.get('dev@acme.test--dev')!;
    assert.equal((await ask(healthy, apiKey)).status, 200);
    const eventsBefore = (await healthy.allEvents()).length;

    const wrongKey = randomBytes(32).toString('base64');
    const wrong = await start(wrongKey).catch((error: unknown) => error);
    if (!(wrong instanceof Error)) running.push(wrong as KordonUnderTest);
    assert.ok(wrong instanceof Error, 'the start with the wrong key is refused');
    assert.match(wrong.message, new RegExp(`master key ${idOf(right)} \\(provider key \\S+ of org`));
    assert.match(wrong.message, new RegExp(`they hold ${idOf(wrongKey)}\\)`));
    for (const key of [right, wrongKey, PROVIDER_KEY]) assert.ok(!wrong.message.includes(key));

    await new Promise((r) => setTimeout(r, 1500)); // the healthy replica follows the log
    const answer = await ask(healthy, apiKey);
    assert.equal(
      answer.status,
      200,
      `the healthy replica after the other's start: ${answer.status} ${answer.body}`,
    );
    const written = (await healthy.allEvents()).slice(eventsBefore);
    assert.deepEqual(
      written.filter((event) => !event.type.startsWith('Request')).map((event) => event.type),
      [],
      'the refused start wrote nothing',
    );
  });
});
