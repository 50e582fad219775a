import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

/**
 * Provider failures and Kordon's own answers as the official SDKs (default settings: two
 * retries, Retry-After honoured) see them. The upstream is a plain HTTP server answering each
 * provider's real wire format; which failure is chosen by the path (one provider per case, so
 * one case's cool-downs do not leak into another).
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Call {
  path: string;
  key: string | undefined;
}

function keyOf(req: IncomingMessage): string | undefined {
  const bearer = req.headers.authorization;
  if (typeof bearer === 'string') return bearer.replace(/^Bearer /, '');
  const apiKey = req.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey : undefined;
}

const openAICompletion = (model: string) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model,
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hi there' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
});

const anthropicMessage = (model: string) => ({
  id: 'msg_1',
  type: 'message',
  role: 'assistant',
  model,
  content: [{ type: 'text', text: 'Hi there' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 5, output_tokens: 2 },
});

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const anthropicError = (res: ServerResponse, status: number, type: string, message: string) =>
  json(
    res,
    status,
    { type: 'error', error: { type, message }, request_id: 'req_011upstream' },
    { 'request-id': 'req_011upstream' },
  );

describe('SDK errors and retries through Kordon', () => {
  let upstream: Server;
  let gateway: KordonUnderTest;
  const calls: Call[] = [];

  before(async () => {
    upstream = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const body = JSON.parse(text) as { model: string };
      const path = req.url ?? '';
      const key = keyOf(req);
      calls.push({ path, key });
      const spent = key?.includes('spent') === true;
      // Claude: an account whose prepaid credit is used up. Anthropic answers it as a 400
      // invalid_request_error (what Claude Code users see: "Your credit balance is too low").
      if (path.startsWith('/claude-credit/')) {
        if (spent)
          return anthropicError(
            res,
            400,
            'invalid_request_error',
            'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
          );
        return json(res, 200, anthropicMessage(body.model));
      }
      // OpenAI: a project out of quota (no credit left): 429 insufficient_quota, no Retry-After.
      if (path.startsWith('/openai-quota/')) {
        if (spent)
          return json(res, 429, {
            error: {
              message:
                'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
              type: 'insufficient_quota',
              param: null,
              code: 'insufficient_quota',
            },
          });
        return json(res, 200, openAICompletion(body.model));
      }
      // OpenAI: a revoked key.
      if (path.startsWith('/openai-revoked/'))
        return json(res, 401, {
          error: {
            message: 'Incorrect API key provided: sk-proj-****abcd.',
            type: 'invalid_request_error',
            param: null,
            code: 'invalid_api_key',
          },
        });
      // Claude out of capacity: 529 overloaded_error, here with a Retry-After.
      if (path.startsWith('/claude-overloaded/')) {
        res.setHeader('retry-after', '7');
        return anthropicError(res, 529, 'overloaded_error', 'Overloaded');
      }
      // One key's requests land on an overloaded Claude, the other's are served.
      if (path.startsWith('/claude-busy/')) {
        if (key?.includes('busy') === true) return anthropicError(res, 529, 'overloaded_error', 'Overloaded');
        return json(res, 200, anthropicMessage(body.model));
      }
      if (path.startsWith('/claude-notfound/'))
        return anthropicError(res, 404, 'not_found_error', 'model: claude-nope');
      if (path.startsWith('/claude-toolarge/'))
        return anthropicError(
          res,
          413,
          'request_too_large',
          'Request exceeds the maximum allowed number of bytes.',
        );
      if (path.startsWith('/openai-budget/')) return json(res, 200, openAICompletion(body.model));
      if (path.startsWith('/claude-budget/')) return json(res, 200, anthropicMessage(body.model));
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    gateway = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    prices:
      claude-budget-1: { input: 1000, output: 1000, currency: USD }
    providers:
      - name: claude-credit
        type: anthropic
        baseUrl: ${url}/claude-credit
        models: [claude-credit-1]
        balancer: round-robin
        keys:
          - { name: spent, secret: "sk-ant-api03-spent-0123456789abcdef0123456789" }
          - { name: funded, secret: "sk-ant-api03-funded-0123456789abcdef012345678" }
      - name: openai-quota
        type: openai
        baseUrl: ${url}/openai-quota/v1
        models: [gpt-quota-two-keys]
        balancer: round-robin
        keys:
          - { name: spent, secret: "sk-proj-spent-0123456789abcdef0123456789" }
          - { name: funded, secret: "sk-proj-funded-0123456789abcdef012345678" }
      - name: openai-quota-only
        type: openai
        baseUrl: ${url}/openai-quota/v1
        models: [gpt-quota-one-key]
        keys:
          - { name: spent, secret: "sk-proj-spent-only-0123456789abcdef01234567" }
      - name: openai-revoked
        type: openai
        baseUrl: ${url}/openai-revoked/v1
        models: [gpt-revoked]
        keys: [{ name: k1, secret: "sk-proj-revoked-0123456789abcdef0123456789" }]
      - name: claude-overloaded
        type: anthropic
        baseUrl: ${url}/claude-overloaded
        models: [claude-overloaded-1]
        keys: [{ name: k1, secret: "sk-ant-api03-over-0123456789abcdef0123456789" }]
      - name: claude-overloaded-for-openai
        type: anthropic
        baseUrl: ${url}/claude-overloaded
        models: [claude-overloaded-2]
        keys: [{ name: k1, secret: "sk-ant-api03-over2-0123456789abcdef012345678" }]
      - name: claude-busy
        type: anthropic
        baseUrl: ${url}/claude-busy
        models: [claude-busy-1]
        balancer: round-robin
        keys:
          - { name: busy, secret: "sk-ant-api03-busy-0123456789abcdef0123456789" }
          - { name: free, secret: "sk-ant-api03-free-0123456789abcdef0123456789" }
      - name: claude-notfound
        type: anthropic
        baseUrl: ${url}/claude-notfound
        models: [claude-notfound-1]
        keys: [{ name: k1, secret: "sk-ant-api03-nf-0123456789abcdef0123456789" }]
      - name: claude-toolarge
        type: anthropic
        baseUrl: ${url}/claude-toolarge
        models: [claude-toolarge-1]
        keys: [{ name: k1, secret: "sk-ant-api03-big-0123456789abcdef0123456789" }]
      - name: claude-budget
        type: anthropic
        baseUrl: ${url}/claude-budget
        models: [claude-budget-1]
        keys:
          - { name: k1, secret: "sk-ant-api03-day-0123456789abcdef0123456789", limits: { dailyUsd: 0.000001 } }
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`);
  });
  after(async () => {
    await gateway?.stop();
    upstream?.close();
  });

  const proxyKey = () => gateway.proxyKeys.get('dev@acme.test--dev')!;
  /** A fetch that counts the SDK's attempts (each one a request to Kordon). */
  const counted = () => {
    const attempts: Array<{ status: number; headers: Headers }> = [];
    const fetcher = (async (input: string, init: RequestInit) => {
      const response = await fetch(input, init);
      attempts.push({ status: response.status, headers: response.headers });
      return response;
    }) as unknown as typeof fetch;
    return { attempts, fetcher };
  };
  const upstreamCalls = (prefix: string, keyPart?: string) =>
    calls.filter((c) => c.path.startsWith(prefix) && (keyPart === undefined || c.key?.includes(keyPart)))
      .length;

  it("Claude key out of credit (400 'credit balance is too low'): it rests and the funded key serves", async () => {
    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: proxyKey(), maxRetries: 0 });
    const failures: string[] = [];
    for (let i = 0; i < 4; i++) {
      try {
        const message = await anthropic.messages.create({
          model: 'claude-credit-1',
          max_tokens: 16,
          messages: [{ role: 'user', content: 'Hi' }],
        });
        assert.equal(message.content[0]?.type, 'text');
      } catch (error) {
        failures.push(`${(error as { status?: number }).status}: ${(error as Error).message}`);
      }
    }
    const spentAsked = upstreamCalls('/claude-credit/', 'spent');
    assert.deepEqual(failures, [], 'every request is served while a funded key is left');
    assert.ok(spentAsked <= 1, `the key without credit was asked ${spentAsked} times, not rested`);
  });

  it('OpenAI key out of quota (429 insufficient_quota): it rests longer than a second and the funded key serves', async () => {
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: proxyKey(), maxRetries: 0 });
    for (let i = 0; i < 4; i++) {
      const answer = await openai.chat.completions.create({
        model: 'gpt-quota-two-keys',
        messages: [{ role: 'user', content: 'Hi' }],
      });
      assert.equal(answer.choices[0]?.message.content, 'Hi there');
      // A user's pace: a turn every second and a bit.
      await sleep(1200);
    }
    const spentAsked = calls.filter((c) => c.key === 'sk-proj-spent-0123456789abcdef0123456789').length;
    assert.ok(spentAsked <= 1, `the key out of quota was asked ${spentAsked} times in 4 turns, not rested`);
  });

  it('OpenAI key out of quota, no other key: the SDK is told insufficient_quota and not to retry', async () => {
    const { attempts, fetcher } = counted();
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: proxyKey(), fetch: fetcher });
    const before = upstreamCalls('/openai-quota/', 'spent-only');
    const error = await openai.chat.completions
      .create({ model: 'gpt-quota-one-key', messages: [{ role: 'user', content: 'Hi' }] })
      .then(
        () => assert.fail('expected an error'),
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
    assert.ok(error instanceof OpenAI.APIError);
    const seen = `${attempts.map((a) => a.status).join(',')}; code ${error.code}; upstream asked ${upstreamCalls('/openai-quota/', 'spent-only') - before}x`;
    assert.equal(attempts.length, 1, `the SDK made ${attempts.length} attempts (${seen})`);
    assert.equal(error.code, 'insufficient_quota', seen);
  });

  it('every provider key refused by its provider (401): the SDK is not sent back for 503s that cannot succeed', async () => {
    const { attempts, fetcher } = counted();
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: proxyKey(), fetch: fetcher });
    const error = await openai.chat.completions
      .create({ model: 'gpt-revoked', messages: [{ role: 'user', content: 'Hi' }] })
      .then(
        () => assert.fail('expected an error'),
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
    assert.ok(error instanceof OpenAI.APIError);
    const seen = attempts
      .map(
        (a) =>
          `${a.status} retry-after=${a.headers.get('retry-after')} x-should-retry=${a.headers.get('x-should-retry')}`,
      )
      .join('; ');
    // The key is disabled until an admin acts: a retry a second later meets no key at all.
    assert.equal(upstreamCalls('/openai-revoked/'), 1);
    assert.equal(attempts.length, 1, `the SDK made ${attempts.length} attempts: ${seen}`);
  });

  it('a provider key resting on its daily budget: the Anthropic SDK is not told to sleep until midnight UTC', async () => {
    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: proxyKey(), maxRetries: 0 });
    await anthropic.messages.create({
      model: 'claude-budget-1',
      max_tokens: 16,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    // The key's spend is learnt from the request's event: wait until the key rests.
    let resting: InstanceType<typeof Anthropic.APIError> | undefined;
    for (let i = 0; i < 50 && !resting; i++) {
      await anthropic.messages
        .create({ model: 'claude-budget-1', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] })
        .catch((e: unknown) => {
          if (e instanceof Anthropic.APIError && e.status === 503) resting = e;
        });
      if (!resting) await sleep(100);
    }
    assert.ok(resting, 'the key rests once its daily budget is spent');
    const retryAfter = Number(resting.headers?.get('retry-after'));
    const shouldRetry = resting.headers?.get('x-should-retry');
    // The SDK with its defaults (two retries): how long until the caller hears anything?
    const controller = new AbortController();
    const patient = new Anthropic({ baseURL: gateway.url, apiKey: proxyKey() });
    const startedAt = Date.now();
    const outcome = await Promise.race([
      patient.messages
        .create(
          { model: 'claude-budget-1', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] },
          { signal: controller.signal },
        )
        .then(
          () => 'answered',
          (e: unknown) => `failed ${(e as { status?: number }).status}`,
        ),
      sleep(5000).then(() => 'still waiting'),
    ]);
    controller.abort();
    assert.notEqual(
      outcome,
      'still waiting',
      `after ${Date.now() - startedAt} ms the SDK is still sleeping: Kordon answered 503 with retry-after ${retryAfter} s (${(retryAfter / 3600).toFixed(1)} h) and x-should-retry ${shouldRetry}`,
    );
  });

  for (const [model, status, type] of [
    ['claude-overloaded-1', 529, 'overloaded_error'],
    ['claude-notfound-1', 404, 'not_found_error'],
    ['claude-toolarge-1', 413, 'request_too_large'],
  ] as const) {
    it(`Claude answers ${status} ${type}: an Anthropic caller gets that status and type`, async () => {
      const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: proxyKey(), maxRetries: 0 });
      const error = await anthropic.messages
        .create({ model, max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] })
        .then(
          () => assert.fail('expected an error'),
          (e: unknown) => e as InstanceType<typeof Anthropic.APIError>,
        );
      assert.ok(error instanceof Anthropic.APIError);
      const body = error.error as { error?: { type?: string } } | undefined;
      const seen = `status ${error.status}, type ${body?.error?.type}: ${error.message}`;
      assert.equal(body?.error?.type, type, seen);
      assert.equal(error.status, status, seen);
      // An overloaded Claude's Retry-After reaches the caller, whose SDK waits that long.
      if (status === 529) assert.equal(error.headers?.get('retry-after'), '7');
    });
  }

  it('Claude overloaded (529), an OpenAI caller: 503, retried by the SDK as a server error', async () => {
    const openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: proxyKey(), maxRetries: 0 });
    const error = await openai.chat.completions
      .create({ model: 'claude-overloaded-2', messages: [{ role: 'user', content: 'Hi' }] })
      .then(
        () => assert.fail('expected an error'),
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
    assert.ok(error instanceof OpenAI.APIError);
    assert.equal(error.status, 503, error.message);
    assert.equal(error.code, 'overloaded');
    assert.equal(error.headers?.get('retry-after'), '7');
  });

  it('Claude overloaded (529) on one key: the next key serves before the caller hears of it', async () => {
    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: proxyKey(), maxRetries: 0 });
    for (let i = 0; i < 2; i++) {
      const message = await anthropic.messages.create({
        model: 'claude-busy-1',
        max_tokens: 16,
        messages: [{ role: 'user', content: 'Hi' }],
      });
      assert.equal(message.content[0]?.type, 'text');
    }
    assert.ok(upstreamCalls('/claude-busy/', 'busy') >= 1, 'the overloaded key was tried');
  });
});
