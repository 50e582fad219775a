import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * A provider key's own `limits.tpm` ("rpm and tpm keep the balancer under them",
 * docs/balancer.md) counts the tokens of every request the key served: a finished answer's
 * when it comes, a stream's when it ends (its usage comes with its last chunk).
 */
describe('a provider key tpm limit and streamed chat completions', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const keysUsed: string[] = [];

  before(async () => {
    upstream = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string; stream?: boolean };
      keysUsed.push(String(req.headers.authorization).replace(/^Bearer /, ''));
      // Every answer costs 5,000 tokens: past the small key's 1,000 tpm at once.
      const usage = { prompt_tokens: 4000, completion_tokens: 1000, total_tokens: 5000 };
      if (body.stream) {
        const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: body.model };
        const frames = [
          {
            ...base,
            choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }],
          },
          { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
          { ...base, choices: [], usage },
        ];
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`${frames.map((f) => `data: ${JSON.stringify(f)}\n\n`).join('')}data: [DONE]\n\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1,
          model: body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
          usage,
        }),
      );
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    // Two providers of the same upstream, each with a small key (tier 0, tpm 1,000) and a
    // backup key (tier 1) that serves only while the small key is unusable.
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: plain
        type: openai
        baseUrl: ${url}/v1
        models: [gpt-4o]
        keys:
          - { name: small, secret: "sk-proj-plain-small-0123456789abcdef0123", limits: { tpm: 1000 } }
          - { name: backup, secret: "sk-proj-plain-backup-0123456789abcdef012", tier: 1 }
      - name: streamed
        type: openai
        baseUrl: ${url}/v1
        models: [gpt-4o-mini]
        keys:
          - { name: small, secret: "sk-proj-strm-small-0123456789abcdef01234", limits: { tpm: 1000 } }
          - { name: backup, secret: "sk-proj-strm-backup-0123456789abcdef0123", tier: 1 }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  const client = () =>
    new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--dev')!,
      maxRetries: 0,
    });

  it('finished answers: the 5,000 tokens fill the small key, the next request goes to the backup', async () => {
    keysUsed.length = 0;
    for (let i = 0; i < 2; i++) {
      await client().chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'Hi' }],
      });
    }
    assert.deepEqual(
      keysUsed.map((k) => (k.includes('small') ? 'small' : 'backup')),
      ['small', 'backup'],
    );
  });

  it('streamed answers: the tokens of a finished stream fill the small key, the next streams go to the backup', async () => {
    keysUsed.length = 0;
    for (let i = 0; i < 3; i++) {
      const stream = await client().chat.completions.create({
        model: 'gpt-4o-mini',
        stream: true,
        messages: [{ role: 'user', content: 'Hi' }],
      });
      for await (const _chunk of stream) {
        // drain
      }
    }
    const used = keysUsed.map((k) => (k.includes('small') ? 'small' : 'backup'));
    assert.deepEqual(
      used,
      ['small', 'backup', 'backup'],
      `the key with tpm 1,000 served ${used.filter((k) => k === 'small').length} streamed requests of 5,000 tokens each within a minute: ${used.join(', ')}`,
    );
  });
});
