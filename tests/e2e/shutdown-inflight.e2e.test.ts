import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OPENAI_KEY = 'sk-proj-shutdownhangabcdefghijklmnopqrstuv01';
const ANTHROPIC_KEY = 'sk-ant-api03-shutdownhangabcdefghijklmnopqrs';

/** A provider that takes every request and never answers (a long generation, a stuck upstream). */
async function startHangingProvider(): Promise<{ url: string; seen: () => number; close(): Promise<void> }> {
  let seen = 0;
  const server: Server = createServer((req) => {
    seen++;
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen: () => seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function config(url: string): string {
  return `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${OPENAI_KEY}" }]
      - name: claude
        type: anthropic
        baseUrl: ${url}
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`;
}

function post(url: string, path: string, apiKey: string, body: unknown): Promise<unknown> {
  return new Promise((resolve) => {
    const req = request(`${url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${apiKey}`,
        'anthropic-version': '2023-06-01',
      },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', resolve);
    });
    req.on('error', resolve);
    req.end(JSON.stringify(body));
  });
}

async function waitFor(condition: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!condition() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

/**
 * A stop (SIGTERM) ends within its drain deadline plus a moment, whatever the provider does: a
 * process manager kills a replica that does not (Kubernetes after 30 s by default), and then
 * the appender's buffer and the embedded store are lost mid-write. `count_tokens` is tied to
 * its caller's connection, which the drain cuts at the deadline, and the gateway's stop ends
 * the upstream calls left; before, the stop waited for the provider's first-byte timeout
 * (600 s by default).
 */
describe('shutdown with a token count the provider never answers', () => {
  let provider: Awaited<ReturnType<typeof startHangingProvider>>;
  let gateway: KordonUnderTest;

  before(async () => {
    provider = await startHangingProvider();
    gateway = await startKordonUnderTest(config(provider.url), {
      OPENAI_KEY,
      ANTHROPIC_KEY,
      KORDON_SHUTDOWN_TIMEOUT_MS: '300',
    });
  });
  after(async () => {
    await provider?.close();
  });

  it('the stop ends within the drain deadline plus a moment ', async () => {
    const apiKey = gateway.proxyKeys.get('dev@acme.test--dev')!;
    const answered = post(gateway.url, '/v1/messages/count_tokens', apiKey, {
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'hello' }],
    });
    await waitFor(() => provider.seen() >= 1, 10_000);
    assert.equal(provider.seen(), 1, 'the count reached the provider');

    const startedAt = Date.now();
    const stopped = gateway.stop().then(() => 'stopped' as const);
    const outcome = await Promise.race([
      stopped,
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 8000).unref()),
    ]);
    await answered;
    assert.equal(outcome, 'stopped', `the stop had not ended ${Date.now() - startedAt} ms after SIGTERM`);
  });
});
