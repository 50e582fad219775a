import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * A provider's failures as the official `openai` SDK sees them through Kordon: what it would
 * have seen from OpenAI itself (the exact wait of a 429), and never where the provider lives
 * (an admin's base URL: an internal host, an egress gateway). The upstream is a plain HTTP
 * server answering OpenAI's wire format; the path picks the case (one provider per case).
 */

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

describe("a provider's failures as the openai SDK reads them", () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  let origin: string;

  before(async () => {
    upstream = createServer(async (req, res) => {
      for await (const _ of req) {
        // read the body
      }
      const path = req.url ?? '';
      if (path.startsWith('/e500/'))
        return json(res, 500, {
          error: {
            message: 'The server had an error while processing your request. Sorry about that!',
            type: 'server_error',
            param: null,
            code: null,
          },
        });
      if (path.startsWith('/e429/'))
        // OpenAI's 429 as its API sends it: the wait in milliseconds (the SDK reads it first).
        return json(
          res,
          429,
          {
            error: {
              message:
                'Rate limit reached for gpt-4o on requests per min (RPM): Limit 3, Used 3, Requested 1.',
              type: 'requests',
              param: null,
              code: 'rate_limit_exceeded',
            },
          },
          {
            'retry-after-ms': '120',
            'x-ratelimit-remaining-requests': '0',
            'x-ratelimit-reset-requests': '120ms',
          },
        );
      if (path.startsWith('/slow/')) return; // never answers: the first-byte timeout runs out
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: e500
        type: openai
        baseUrl: ${origin}/e500/v1
        models: [gpt-4o]
        keys: [{ name: k1, secret: "sk-proj-e500-0123456789abcdef0123456789" }]
      - name: e429
        type: openai
        baseUrl: ${origin}/e429/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "sk-proj-e429-0123456789abcdef0123456789" }]
      - name: slow
        type: openai
        baseUrl: ${origin}/slow/v1
        models: [gpt-4.1]
        timeouts: { firstByteMs: 300 }
        keys: [{ name: k1, secret: "sk-proj-slow-0123456789abcdef0123456789" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    upstream?.closeAllConnections();
    upstream?.close();
  });

  const client = (options: { fetch?: typeof fetch } = {}) =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
      ...options,
    });

  const failure = (model: string) =>
    client()
      .chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] })
      .then(
        () => assert.fail('expected an error'),
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );

  it("a provider's 500 and a timeout do not tell the proxy-key caller the provider's base URL", async () => {
    const error = await failure('gpt-4o');
    assert.ok(error instanceof OpenAI.InternalServerError, String(error));
    assert.match(error.message, /the provider answered 500/);
    const timedOut = await failure('gpt-4.1');
    assert.match(timedOut.message, /no answer from the provider within 300 ms/);
    for (const said of [error.message, timedOut.message])
      assert.ok(
        !said.includes('127.0.0.1'),
        `the caller is shown where the provider lives: ${JSON.stringify(said)}`,
      );
  });

  it("OpenAI's 429 retry-after-ms reaches the SDK (it waits 120 ms, not a whole second)", async () => {
    const error = await failure('gpt-4o-mini');
    assert.equal(error.status, 429);
    // The SDK waits retry-after-ms first, else retry-after (client.js retryRequest).
    assert.equal(error.headers?.get('retry-after-ms'), '120');
    assert.equal(error.headers?.get('retry-after'), '1');
  });
});
