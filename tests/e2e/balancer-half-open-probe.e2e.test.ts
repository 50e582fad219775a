import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
// The module Kordon itself runs here (tests run its sources), to make it fail on its own.
import { DataPlaneMetrics } from '../../services/gateway/src/telemetry/data-plane-metrics.js';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const KEY = 'sk-proj-half-open-probe-abcdefghijklmnopqrstuvw';
/** The circuit's first open period (DEFAULT_CIRCUIT.openMs), and a little more. */
const HALF_OPEN_AFTER_MS = 5_200;

/**
 * A key's half-open probe through the real path: the gateway hands the probe's ticket back
 * with its report, so the probe's own answer closes the circuit, and a probe the caller
 * abandons frees the slot at once (not after the slot's hour-long bound).
 */
describe('half-open probe through HTTP', () => {
  let server: Server;
  let gateway: KordonUnderTest;
  let client: OpenAI;
  let mode: 'fail' | 'ok' | 'hang' = 'fail';
  let calls = 0;

  before(async () => {
    server = createServer(async (req, res) => {
      for await (const _ of req);
      calls++;
      if (mode === 'hang') return; // answers nothing: the caller gives up first
      res.writeHead(mode === 'fail' ? 500 : 200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          mode === 'fail'
            ? { error: { message: 'boom', type: 'server_error', code: null } }
            : {
                id: 'chatcmpl-1',
                object: 'chat.completion',
                created: 1,
                model: 'gpt-4o-mini',
                choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
                usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
              },
        ),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: http://127.0.0.1:${port}/v1
        models: [gpt-4o-mini]
        keys:
          - { name: one, secret: "\${KEY_1}" }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`,
      { KEY_1: KEY },
    );
    client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.proxyKeys.get('dev@acme.test--laptop')!,
      maxRetries: 0,
    });
  });
  after(async () => {
    await gateway?.stop();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  const ask = (signal?: AbortSignal) =>
    client.chat.completions.create(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] },
      { signal },
    );

  /** Polls `check` (10 s at most): what the gateway does on its own time, not at a set one. */
  const until = async (what: string, check: () => boolean | Promise<boolean>) => {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
      await sleep(20);
    }
  };

  /** Five 500s open the key's circuit; the sixth request finds no key. */
  const openCircuit = async () => {
    mode = 'fail';
    for (let i = 0; i < 5; i++) await assert.rejects(ask());
    const before = calls;
    await assert.rejects(ask(), 'the circuit is open');
    assert.equal(calls, before, 'no call while the circuit is open');
  };

  it("the probe's own success closes the circuit", async () => {
    await openCircuit();
    await sleep(HALF_OPEN_AFTER_MS);
    mode = 'ok';
    await ask(); // the probe
    const reply = await ask();
    assert.equal(reply.choices[0]?.message.content, 'hi', "the probe's success did not close the circuit");
  });

  it('a probe its caller abandons frees the slot for the next request', async () => {
    await openCircuit();
    await sleep(HALF_OPEN_AFTER_MS * 2); // a failed probe of the first test may have doubled it
    mode = 'hang';
    const gaveUp = new AbortController();
    const callsBefore = calls;
    const eventsBefore = (await gateway.requestEvents()).length;
    const probe = ask(gaveUp.signal);
    await until('the probe reaches the provider', () => calls > callsBefore);
    gaveUp.abort();
    await assert.rejects(probe);
    // The gateway sees the disconnect, frees the probe, then records the request left.
    await until('the probe is recorded as left', async () => {
      const left = (await gateway.requestEvents()).slice(eventsBefore);
      return left.some((e) => e.type === 'RequestFailed' && e.data.errorCode === 'client_disconnected');
    });
    mode = 'ok';
    const reply = await ask();
    assert.equal(reply.choices[0]?.message.content, 'hi', 'the abandoned probe still holds the slot');
  });

  it("a probe that fails on the gateway's own fault frees the slot for the next request", async () => {
    await openCircuit();
    await sleep(HALF_OPEN_AFTER_MS * 2);
    // Kordon runs in this process: counting the probe's answer throws an error of its own (not
    // the provider's, not the key's), as a bug would, before the attempt reports its success.
    const count = DataPlaneMetrics.prototype.attempt;
    DataPlaneMetrics.prototype.attempt = function (this: DataPlaneMetrics, ...args) {
      if (args[0].result === 'ok') throw new TypeError('a fault of its own');
      return count.apply(this, args);
    };
    mode = 'ok';
    try {
      await assert.rejects(ask(), (error: { status?: number }) => error.status === 500);
    } finally {
      DataPlaneMetrics.prototype.attempt = count;
    }
    const reply = await ask();
    assert.equal(reply.choices[0]?.message.content, 'hi', 'the failed probe still holds the slot');
  });
});
