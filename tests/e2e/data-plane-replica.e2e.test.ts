import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTestDatabase } from '@kordon/events/testing';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonProcess, startKordonProcess } from './support/kordon-process.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlp-receiver.js';

const UPSTREAM_KEY = 'sk-proj-data-plane-abcdefghijklmnopqrstuvwxyz0123';
const recordLoadedModules = join(
  dirname(fileURLToPath(import.meta.url)),
  'support',
  'record-loaded-modules.cjs',
);

const config = (mockUrl: string) => `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${mockUrl}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${UPSTREAM_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`;

/**
 * What a data-plane replica with tracing off must not load: the control plane's code (but the
 * admin token's check, which the configuration runs) and the tracing SDK.
 */
const CONTROL_PLANE =
  /\/node_modules\/(?:express|passport|openid-client)\/|\/services\/admin\/src\/(?!auth\/admin-token\.ts$)/;
const TRACING_SDK =
  /\/node_modules\/@opentelemetry\/(?:sdk-trace-base|otlp-transformer|otlp-exporter-base)\//;

describe('a data-plane replica (KORDON_ADMIN_API=off, KORDON_REQUEST_LOG=off) beside a control plane', {
  skip: process.env.KORDON_TEST_DATABASE_URL ? false : 'needs KORDON_TEST_DATABASE_URL (PostgreSQL)',
}, () => {
  let mock: MockServer;
  let receiver: OtlpReceiver;
  let database: { url: string; drop: () => Promise<void> };
  const dir = mkdtempSync(join(tmpdir(), 'kordon-data-plane-'));
  const started: KordonProcess[] = [];

  before(async () => {
    mock = await startOpenAIMock({ keys: [UPSTREAM_KEY] });
    receiver = await startOtlpReceiver({ keep: false });
    database = (await createTestDatabase())!;
  });
  after(async () => {
    await Promise.all(started.map((kordon) => kordon.stop()));
    await mock?.close();
    await receiver?.close();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the SDK, leaves the admin API and the request log to the control plane, and loads neither nor the tracing SDK', async () => {
    const adminToken = randomBytes(32).toString('base64url');
    const shared = {
      UPSTREAM_KEY,
      KORDON_DATABASE_URL: database.url,
      KORDON_MASTER_KEY: randomBytes(32).toString('base64'),
      KORDON_PROXY_KEY_SECRET: randomBytes(32).toString('base64'),
      KORDON_ADMIN_TOKEN: adminToken,
    };
    const start = async (name: string, env: Record<string, string>) => {
      const kordon = await startKordonProcess({
        config: config(mock.url),
        env: { ...shared, ...env, KORDON_TEST_LOADED_MODULES: join(dir, `${name}.txt`) },
        nodeArgs: ['--require', recordLoadedModules],
      });
      started.push(kordon);
      return kordon;
    };
    // The control plane traces (so the check below can see the SDK where it is loaded); the replica does not.
    const control = await start('control', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url });
    const replica = await start('replica', { KORDON_ADMIN_API: 'off', KORDON_REQUEST_LOG: 'off' });

    // The developer's SDK through the replica: plain and streamed.
    const apiKey = control.proxyKeys().get('dev@acme.test--laptop')!;
    const client = new OpenAI({ baseURL: `${replica.url}/v1`, apiKey, maxRetries: 0 });
    const plain = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.ok(plain.data.choices[0]?.message.content);
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
    assert.ok(streamed.length > 0);

    // The replica's requests reach the request log the control plane builds.
    const requestId = plain.response.headers.get('x-request-id');
    assert.ok(requestId);
    const deadline = Date.now() + 10_000;
    let listed: Array<{ id: string }> = [];
    while (listed.length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      const page = await fetch(`${control.url}/admin/v1/orgs/acme/requests`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      assert.equal(page.status, 200, await page.clone().text());
      listed = ((await page.json()) as { items: Array<{ id: string }> }).items;
    }
    assert.ok(
      listed.some((item) => item.id === requestId),
      `request ${requestId} in the control plane's log`,
    );
    assert.equal(listed.length, 2, 'both requests logged, once each');

    // The replica answers the admin API's paths with a 404 problem that names the setting.
    const refused = await fetch(`${replica.url}/admin/v1/orgs/acme/requests`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    assert.equal(refused.status, 404);
    assert.match(refused.headers.get('content-type') ?? '', /^application\/problem\+json/);
    const problem = (await refused.json()) as {
      code: string;
      status: number;
      detail: string;
      instance: string;
    };
    assert.equal(problem.code, 'not_found');
    assert.equal(problem.status, 404);
    assert.equal(problem.instance, '/admin/v1/orgs/acme/requests');
    assert.match(problem.detail, /KORDON_ADMIN_API=off/);

    // Neither process loses anything on the way out, and only the control plane held its code.
    assert.equal(await replica.stop(), 0);
    assert.equal(await control.stop(), 0);
    const loaded = (name: string) => readFileSync(join(dir, `${name}.txt`), 'utf8').split('\n');
    const controlModules = loaded('control');
    const replicaModules = loaded('replica');
    assert.ok(
      controlModules.some((m) => CONTROL_PLANE.test(m)),
      'the control plane loads the admin API (the check sees it)',
    );
    assert.ok(
      controlModules.some((m) => TRACING_SDK.test(m)),
      'a process that traces loads the SDK (the check sees it)',
    );
    assert.deepEqual(
      replicaModules.filter((m) => CONTROL_PLANE.test(m) || TRACING_SDK.test(m)),
      [],
    );
    assert.ok(
      replicaModules.some((m) => m.includes('/services/gateway/src/')),
      'the replica loaded the gateway',
    );
  });
});
