/**
 * An answer too large for the gateway (KORDON_MAX_RESPONSE_BYTES) is a 502 that Kordon does not
 * ask of another key, because the provider made it and bills it; it also tells the SDKs not to
 * retry (`x-should-retry: false`): the official SDKs retry a 502 twice by default, and the
 * provider made, and billed, the same too-large answer three times.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

describe('a too-large provider answer is not bought again by the SDK retrying', () => {
  let big: Server;
  let gateway: KordonUnderTest;
  let calls = 0;

  before(async () => {
    big = createServer((req, res) => {
      calls++;
      req.resume();
      req.on('end', () => {
        // 1.2 MB of embeddings, past a 1 MiB KORDON_MAX_RESPONSE_BYTES.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"object":"list","data":[');
        const vector = `{"object":"embedding","index":0,"embedding":[${'0.0123456789,'.repeat(20_000)}0]}`;
        for (let i = 0; i < 6 && !res.destroyed; i++) res.write(`${i ? ',' : ''}${vector}`);
        res.end('],"usage":{"prompt_tokens":9,"total_tokens":9}}');
      });
    });
    await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(big.address() as AddressInfo).port}/v1`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: big
        type: openai-compatible
        baseUrl: ${url}
        models: [text-embedding-3-small]
        keys: [{ name: k1, secret: "sk-big-provider-key-1-0123456789" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { KORDON_MAX_RESPONSE_BYTES: String(1024 * 1024) },
    );
  });
  after(async () => {
    await gateway?.stop();
    big?.close();
  });

  it('the 502 tells the SDKs not to retry, so the provider is asked (and bills) once', async () => {
    // The SDK as developers use it: default retries.
    const openai = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
    });
    const error = await openai.embeddings
      .create({ model: 'text-embedding-3-small', input: ['one text', 'another text'] })
      .catch((e: unknown) => e);
    assert.ok(error instanceof OpenAI.APIError && error.status === 502, String(error));
    assert.equal(calls, 1, `the provider made the same too-large answer ${calls} times (SDK retries)`);
    assert.equal(
      error.headers?.get('x-should-retry'),
      'false',
      'a deterministic 502 says x-should-retry: false',
    );
    const failures = (await gateway.requestEvents()).filter((e) => e.type === 'RequestFailed');
    assert.equal(failures.length, 1, `${failures.length} RequestFailed, each charged its input`);
  });
});
