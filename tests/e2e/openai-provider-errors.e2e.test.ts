/**
 * The official `openai` SDK against Kordon with OpenAI providers in the same dialect
 * (pass-through): how OpenAI's error answers reach the SDK and what they do to the provider key.
 * The upstream is a scripted server answering OpenAI's wire format; each test sets what it
 * answers, and each test has a provider (and key) of its own, so that one test's key state does
 * not reach another.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const KEY = 'sk-proj-providererrorsabcdefghijklmnopqrstuvwxyz0123';

interface Seen {
  path: string;
  query: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

type Handler = (seen: Seen, res: ServerResponse) => void;

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

describe('OpenAI provider errors through Kordon, as the openai SDK sees them', () => {
  let upstream: Server;
  let k: KordonUnderTest;
  let openai: OpenAI;
  const seen: Seen[] = [];
  let handler: Handler = (_s, res) => json(res, 500, { error: { message: 'no handler' } });

  before(async () => {
    upstream = createServer(async (req, res) => {
      let text = '';
      for await (const part of req) text += part;
      const url = new URL(req.url ?? '/', 'http://x');
      const s: Seen = {
        path: url.pathname,
        query: url.search,
        headers: req.headers,
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      };
      seen.push(s);
      handler(s, res);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    k = await startKordonUnderTest(`
orgs:
  - slug: acme
    name: Acme
    prices:
      gpt-4o-mini: { input: 1, output: 2 }
    providers:
      - name: openai
        type: openai
        baseUrl: ${base}/oa/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "${KEY}" }]
      - name: openai-b
        type: openai
        baseUrl: ${base}/oa/v1
        models: [gpt-4.1]
        keys: [{ name: k1, secret: "${KEY}" }]
      - name: openai-c
        type: openai
        baseUrl: ${base}/oa/v1
        models: [gpt-4o]
        keys: [{ name: k1, secret: "${KEY}" }]
      - name: openai-d
        type: openai
        baseUrl: ${base}/oa/v1
        models: [gpt-4.1-mini]
        keys: [{ name: k1, secret: "${KEY}" }]
      - name: openai-e
        type: openai
        baseUrl: ${base}/oa/v1
        models: [gpt-4.1-nano]
        keys: [{ name: k1, secret: "${KEY}" }]
      - name: openai-f
        type: openai
        baseUrl: ${base}/oa/v1
        models: [o3, gpt-4o-2024-08-06]
        keys: [{ name: k1, secret: "${KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: laptop }]
`);
    const key = k.proxyKeys.get('dev@acme.test--laptop');
    assert.ok(key);
    openai = new OpenAI({ baseURL: `${k.url}/v1`, apiKey: key, maxRetries: 0 });
  });
  after(async () => {
    await k?.stop();
    upstream?.closeAllConnections();
    await new Promise((r) => upstream?.close(r));
  });

  const completion = {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'ok', refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
  };

  /**
   * OpenAI's errors carry `code: null` when there is no code (API reference, "Error codes";
   * e.g. 404 "This is not a chat model and thus not supported in the v1/chat/completions
   * endpoint", type invalid_request_error, param model, code null). The SDK exposes it as
   * `error.code`; Kordon passes the provider's code on, so it must pass its absence too, not
   * put the error's `type` in its place.
   */
  it("a provider 4xx whose code is null reaches the SDK with code null, not the error's type", async () => {
    handler = (_s, res) =>
      json(res, 404, {
        error: {
          message:
            'This is not a chat model and thus not supported in the v1/chat/completions endpoint. Did you mean to use v1/completions?',
          type: 'invalid_request_error',
          param: 'model',
          code: null,
        },
      });
    await assert.rejects(
      openai.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.NotFoundError);
        assert.equal(error.param, 'model');
        assert.equal(error.type, 'invalid_request_error');
        assert.equal(error.code, null);
        return true;
      },
    );
  });

  /**
   * A 429 passed on keeps OpenAI's `type`: `tokens` for a tokens-per-minute limit, `requests` for
   * a requests-per-minute one (what the SDK exposes as `error.type`, and what tells a caller
   * which budget to spread).
   */
  it("a provider 429 on tokens per minute keeps OpenAI's type `tokens`", async () => {
    handler = (_s, res) =>
      json(
        res,
        429,
        {
          error: {
            message:
              'Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29500, Requested 1500. Please try again in 2s.',
            type: 'tokens',
            param: null,
            code: 'rate_limit_exceeded',
          },
        },
        { 'retry-after': '2' },
      );
    await assert.rejects(
      openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.RateLimitError);
        assert.equal(error.code, 'rate_limit_exceeded');
        assert.equal(error.type, 'tokens');
        return true;
      },
    );
  });

  /**
   * OpenAI's help center ("Troubleshooting API rate limits and 429 errors"): a 429 may be a
   * billing stop, told by `error.code` (`credit_balance_exhausted`,
   * `organization_usage_limit_exceeded`, `organization_spend_limit_exceeded`,
   * `project_spend_limit_exceeded`), "Billing-related errors can still use the broader error.type
   * value insufficient_quota"; "Retrying a billing, spending, or quota error does not restore
   * access". Kordon handles `code: insufficient_quota` so (503, `code: insufficient_quota`,
   * `x-should-retry: false`, the key resting minutes: sdk-errors-retries.e2e.test.ts); a spend
   * limit named by its own code must be the same, not a rate limit the SDK retries.
   */
  it("a project's spend limit (429, type insufficient_quota, code project_spend_limit_exceeded) is out of quota: the SDK is told not to retry", async () => {
    handler = (_s, res) =>
      json(res, 429, {
        error: {
          message:
            'You have exceeded the spend limit set for this project. Increase or remove the limit to continue.',
          type: 'insufficient_quota',
          param: null,
          code: 'project_spend_limit_exceeded',
        },
      });
    const attempts: number[] = [];
    const client = new OpenAI({
      baseURL: `${k.url}/v1`,
      apiKey: k.proxyKeys.get('dev@acme.test--laptop')!,
      maxRetries: 2,
      fetch: async (input, init) => {
        const answer = await fetch(input, init);
        attempts.push(answer.status);
        return answer;
      },
    });
    await assert.rejects(
      client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'hi' }] }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.APIError);
        assert.equal(error.headers?.get('x-should-retry'), 'false', `attempts: ${attempts.join(',')}`);
        assert.equal(attempts.length, 1, `the SDK asked ${attempts.length} times: ${attempts.join(',')}`);
        return true;
      },
    );
  });

  /**
   * OpenAI refuses a request larger than the key's whole tokens-per-minute limit with a 429
   * (type `tokens`, code `rate_limit_exceeded`): "Request too large for gpt-4o ... on tokens per
   * min (TPM): Limit 30000, Requested 36278. The input or output tokens must be reduced in order
   * to run successfully." It is a hard error about the request: the key's budget is untouched
   * (its x-ratelimit-remaining-tokens is full) and the same request fails however long one waits.
   * The key must stay in service for everyone else's requests.
   */
  it('a request too large for the key TPM (429 "Request too large") does not take the key out: the next request is served', async () => {
    handler = (s, res) => {
      if (JSON.stringify(s.body.messages).includes('HUGE'))
        return json(
          res,
          429,
          {
            error: {
              message:
                'Request too large for gpt-4o-mini in organization org-abc on tokens per min (TPM): Limit 200000, Requested 342389. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.',
              type: 'tokens',
              param: null,
              code: 'rate_limit_exceeded',
            },
          },
          {
            'x-ratelimit-limit-requests': '5000',
            'x-ratelimit-remaining-requests': '4999',
            'x-ratelimit-reset-requests': '12ms',
            'x-ratelimit-limit-tokens': '200000',
            'x-ratelimit-remaining-tokens': '200000',
            'x-ratelimit-reset-tokens': '0s',
          },
        );
      return json(res, 200, completion);
    };
    await assert.rejects(
      openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'HUGE' }] }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.RateLimitError);
        assert.equal(error.type, 'tokens');
        assert.match(error.message, /Request too large/);
        // Asking again is refused the same way: the SDK is told not to.
        assert.equal(error.headers?.get('x-should-retry'), 'false');
        return true;
      },
    );
    // Another caller's ordinary request, right after: the provider key has room and must be asked.
    const before = seen.length;
    const answer = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'small' }],
    });
    assert.equal(seen.length - before, 1, 'the provider was asked');
    assert.equal(answer.choices[0]?.message.content, 'ok');
  });

  /**
   * OpenAI's rate limits are per model ("Rate limits vary by the model being used"; a project's
   * limits are listed model by model, `GET /organization/projects/{id}/rate_limits`), and so are
   * the 429 ("Rate limit reached for o3 ... on requests per min") and its x-ratelimit-* headers.
   * A key whose o3 budget is spent still serves gpt-4o at once, as OpenAI would.
   */
  it("a 429 for one model's per-model limit does not stop the key serving another model", async () => {
    handler = (s, res) => {
      if (s.body.model === 'o3')
        return json(
          res,
          429,
          {
            error: {
              message:
                'Rate limit reached for o3 in organization org-abc on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 5s. Visit https://platform.openai.com/account/rate-limits to learn more.',
              type: 'requests',
              param: null,
              code: 'rate_limit_exceeded',
            },
          },
          {
            'x-ratelimit-limit-requests': '500',
            'x-ratelimit-remaining-requests': '0',
            'x-ratelimit-reset-requests': '5s',
          },
        );
      return json(res, 200, completion);
    };
    await assert.rejects(
      openai.chat.completions.create({ model: 'o3', messages: [{ role: 'user', content: 'hi' }] }),
      (error: unknown) => error instanceof OpenAI.RateLimitError,
    );
    const before = seen.length;
    const answer = await openai.chat.completions.create({
      model: 'gpt-4o-2024-08-06',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(seen.length - before, 1, 'the key was asked for the other model');
    assert.equal(answer.choices[0]?.message.content, 'ok');
  });

  /**
   * OpenAI's restricted keys (and project roles) grant endpoints one by one: a key made for Chat
   * Completions answers a Responses call with 401 "You have insufficient permissions for this
   * operation. Missing scopes: api.responses.write" (the SDK's AuthenticationError), and keeps
   * serving chat. That 401 is about the endpoint, not a key that stopped working: taking the key
   * out of service for every model and endpoint lets any caller of /v1/responses cut the org's
   * chat traffic off.
   */
  it('a 401 "Missing scopes: api.responses.write" on a Responses call does not take the key out of chat', async () => {
    handler = (s, res) => {
      if (s.path.endsWith('/responses'))
        return json(res, 401, {
          error: {
            message:
              "You have insufficient permissions for this operation. Missing scopes: api.responses.write. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.",
            type: 'invalid_request_error',
            param: null,
            code: null,
          },
        });
      return json(res, 200, completion);
    };
    const refusedForTheGatewaysKey = (error: unknown) => {
      // The gateway's key, not the caller's: a 502 said so, not to be retried (the keys stay the same).
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, 502);
      assert.match(error.message, /may not use this endpoint/);
      assert.equal(error.headers?.get('x-should-retry'), 'false');
      return true;
    };
    const first = seen.length;
    await assert.rejects(
      openai.responses.create({ model: 'gpt-4.1-mini', input: 'hi' }),
      refusedForTheGatewaysKey,
    );
    assert.equal(seen.length - first, 1);
    // Known for a minute: the next Responses call hears the same without a refused call upstream.
    await assert.rejects(
      openai.responses.create({ model: 'gpt-4.1-mini', input: 'hi' }),
      refusedForTheGatewaysKey,
    );
    assert.equal(seen.length - first, 1, 'the key was not asked again for Responses');
    const before = seen.length;
    const answer = await openai.chat.completions.create({
      model: 'gpt-4.1-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(seen.length - before, 1, 'the key was asked for the chat');
    assert.equal(answer.choices[0]?.message.content, 'ok');
  });
});
