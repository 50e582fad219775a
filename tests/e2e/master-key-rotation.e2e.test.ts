import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const PROVIDER_KEY = 'sk-proj-masterrotationabcdefghijklmnopqr01';

/** A master key's id as docs/operations.md gives it (the secrets README's formula). */
const idOf = (base64Key: string) =>
  createHash('sha256')
    .update('kordon/master-key-id/v1\0')
    .update(Buffer.from(base64Key, 'base64'))
    .digest('hex')
    .slice(0, 16);

/**
 * Rotating the master key (docs/operations.md): one start with the new KORDON_MASTER_KEY and
 * the old one in KORDON_MASTER_KEYS_OLD re-wraps every stored secret, so the old key can go. A
 * provider key added through the admin API (not restated by the config file) must survive it,
 * and a start without the old key before that re-wrap is refused, naming the key id it lacks.
 */
describe('master key rotation and provider keys added through the admin API', () => {
  let mock: MockServer;
  let dataDir: string | undefined;
  const masterA = randomBytes(32).toString('base64');
  const masterB = randomBytes(32).toString('base64');
  const proxySecret = randomBytes(32).toString('base64');
  const adminToken = randomBytes(32).toString('base64url');
  const config = () => `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${mock.url}/v1
        models: [gpt-4o-mini]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`;
  const start = (env: Record<string, string>) =>
    startKordonUnderTest(
      config(),
      {
        KORDON_DEV_MODE: 'false',
        KORDON_PROXY_KEY_SECRET: proxySecret,
        KORDON_ADMIN_TOKEN: adminToken,
        ...env,
      },
      dataDir ? { dataDir } : {},
    );
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
  });
  after(async () => {
    await mock?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('the provider key still works after the old master key is dropped', async () => {
    // 1. Master key A; a provider key added through the admin API.
    const first = await start({ KORDON_MASTER_KEY: masterA });
    dataDir = first.dataDir;
    const apiKey = first.proxyKeys.get('dev@acme.test--dev')!;
    const added = await fetch(`${first.url}/admin/v1/orgs/acme/provider-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'openai', name: 'main', secret: PROVIDER_KEY }),
    });
    // The admin API answers once the data plane has the key (its registry caught up): no wait.
    assert.equal(added.status, 201, await added.text());
    assert.equal((await ask(first, apiKey)).status, 200);
    await first.stop({ keepData: true });

    // 2. The old key dropped before any start re-wrapped: refused, naming the id it lacks.
    const early = await start({ KORDON_MASTER_KEY: masterB }).then(
      async (gateway) => {
        await gateway.stop({ keepData: true });
        return undefined;
      },
      (error: unknown) => error as Error,
    );
    assert.ok(early instanceof Error, 'a start without the key of the stored records is refused');
    assert.match(early.message, new RegExp(`master key ${idOf(masterA)} \\(provider key \\S+ of org`));
    for (const key of [masterA, masterB]) assert.ok(!early.message.includes(key), 'never a key value');

    // 3. The rotation's start: new key B, A still listed as an old key. It re-wraps, once.
    const second = await start({ KORDON_MASTER_KEY: masterB, KORDON_MASTER_KEYS_OLD: masterA });
    assert.equal((await ask(second, apiKey)).status, 200, 'readable with the old key in the ring');
    const rewrapped = (await second.allEvents()).filter(
      (event) => event.type === 'ProviderKeyRotated' && event.data.kind === 'rewrapped',
    );
    assert.equal(rewrapped.length, 1);
    assert.equal(
      rewrapped[0]?.type === 'ProviderKeyRotated' && rewrapped[0].data.secret.keyId,
      idOf(masterB),
    );
    await second.stop({ keepData: true });

    // 4. The old key goes.
    const third = await start({ KORDON_MASTER_KEY: masterB });
    try {
      const answer = await ask(third, apiKey);
      assert.equal(answer.status, 200, `after the rotation: ${answer.status} ${answer.body}`);
      const again = (await third.allEvents()).filter(
        (event) => event.type === 'ProviderKeyRotated' && event.data.kind === 'rewrapped',
      );
      assert.equal(again.length, 1, 'nothing left to re-wrap');
    } finally {
      await third.stop({ keepData: true });
    }
  });
});
