import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const UPSTREAM_KEY = 'sk-proj-bodybudgetabcdefghijklmnopqrstuvwxyz01';
const BUDGET = 1_000_000;
const BIG = 'x'.repeat(450_000);

/**
 * The process-wide budget of request bodies in memory (KORDON_MAX_BODY_BYTES_IN_FLIGHT): past
 * it a request is refused unread with a 503 each SDK reads as overloaded, recorded as
 * RequestRejected `overloaded`; the bytes come back when the requests holding them end.
 */
describe('request bodies in memory are bounded', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  /** Big requests the upstream holds until the test lets them go. */
  const held: Array<() => void> = [];
  let heldArrived: () => void = () => {};

  before(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const size = Buffer.concat(chunks).length;
        const answer = () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              id: 'chatcmpl-1',
              object: 'chat.completion',
              created: 1,
              model: 'gpt-4o-mini',
              choices: [
                { index: 0, message: { role: 'assistant', content: `${size}` }, finish_reason: 'stop' },
              ],
              usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
            }),
          );
        };
        if (size < 100_000) return answer();
        held.push(answer);
        heldArrived();
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - { name: openai, type: openai, baseUrl: ${url}, models: [gpt-4o-mini], keys: [{ name: k1, secret: "\${UPSTREAM_KEY}" }] }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { UPSTREAM_KEY, KORDON_MAX_BODY_BYTES: '800000', KORDON_MAX_BODY_BYTES_IN_FLIGHT: String(BUDGET) },
    );
  });
  after(async () => {
    for (const release of held.splice(0)) release();
    await gateway?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  const key = () => gateway.proxyKeys.get('dev@acme.test--dev')!;
  const openai = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key(), maxRetries: 0 });
  const ask = (content: string) =>
    openai().chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
  const metric = async (name: string) => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1]);
  };

  it('refuses a body past the budget with 503 in each dialect, and serves it once bytes come back', async () => {
    const arrived = new Promise<void>((resolve) => {
      heldArrived = () => {
        if (held.length === 2) resolve();
      };
    });
    const first = ask(BIG);
    const second = ask(BIG);
    await arrived;
    assert.ok((await metric('kordon_request_body_bytes_in_flight')) > 900_000);
    assert.equal(await metric('kordon_request_body_bytes_in_flight_max'), BUDGET);

    const refused = await ask(BIG).catch((error: unknown) => error);
    assert.ok(refused instanceof OpenAI.APIError && refused.status === 503, String(refused));
    assert.equal(refused.code, 'overloaded');
    assert.equal(refused.headers?.get('retry-after'), '1');
    const viaAnthropic = await new Anthropic({ baseURL: gateway.url, apiKey: key(), maxRetries: 0 }).messages
      .create({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: BIG }] })
      .catch((error: unknown) => error);
    assert.ok(
      viaAnthropic instanceof Anthropic.APIError && viaAnthropic.status === 503,
      String(viaAnthropic),
    );
    assert.equal((viaAnthropic.error as { error: { type: string } }).error.type, 'overloaded_error');
    // A small body still fits beside the two held ones.
    assert.ok(Number((await ask('small')).choices[0]?.message.content) < 100_000);

    for (const release of held.splice(0)) release();
    await Promise.all([first, second]);
    assert.equal(await metric('kordon_request_body_bytes_in_flight'), 0);
    const served = ask(BIG);
    await new Promise<void>((resolve) => {
      heldArrived = resolve;
    });
    for (const release of held.splice(0)) release();
    assert.ok((await served).choices[0]?.message.content);

    const rejected = (await gateway.requestEvents()).filter((e) => e.type === 'RequestRejected');
    assert.equal(rejected.length, 2);
    for (const event of rejected) {
      assert.equal(event.data.reason, 'overloaded');
      assert.equal(event.data.status, 503);
      // `overloaded` came with v2; v4 (the endpoint `responses.compact`) is the current version.
      assert.equal(event.schemaVersion, 4);
    }
    assert.deepEqual(
      rejected.map((e) => e.data.endpoint),
      ['chat.completions', 'messages'],
    );
  });
});
