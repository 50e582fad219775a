/**
 * The contract for GigaChat, against a mock of its API in its wire format (gigachat-mock.ts),
 * OAuth token exchange included; then the token's life: cached, refreshed before expiry,
 * exchanged again after a 401, shared by concurrent calls.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { UpstreamClient } from '../../upstream/upstream-client.js';
import { isUpstreamError } from '../../upstream/upstream-error.js';
import { callProvider, streamProvider } from '../provider-call.js';
import {
  answerOf,
  chatRequest,
  providerContract,
  REPLY_PREFIX,
  streamObserver,
} from '../provider-contract.js';
import { type ProviderConfig, providerKey } from '../provider-types.js';
import { type GigaChatMock, startGigaChatMock } from './gigachat-mock.js';
import { createGigaChatProvider } from './gigachat-provider.js';

const AUTH_KEY = Buffer.from('client-id-0001:client-secret-0001').toString('base64');

const configFor = (mock: GigaChatMock, origin = mock.url): ProviderConfig => ({
  baseUrl: `${origin}/api/v1`,
  oauthUrl: `${mock.url}/api/v2/oauth`,
  scope: 'GIGACHAT_API_PERS',
});

providerContract('gigachat (GigaChat mock with OAuth)', async () => {
  const mock = await startGigaChatMock({ authKeys: [AUTH_KEY], frameDelayMs: 3 });
  return {
    adapter: createGigaChatProvider(),
    model: 'GigaChat',
    key: providerKey('pk-gigachat-1', AUTH_KEY),
    origin: mock.url,
    config: (origin) => configFor(mock, origin),
    setScenario: (scenario) => mock.setScenario(scenario),
    expectedText: (prompt) => `${REPLY_PREFIX}${prompt}`,
    rateLimitHeaders: { skip: 'GigaChat sends no rate-limit headers' },
    keepAliveComments: true,
    close: () => mock.close(),
  };
});

describe('gigachat token exchange', () => {
  let mock: GigaChatMock;
  let client: UpstreamClient;
  let clock = Date.now();
  const now = () => clock;
  const key = providerKey('pk-gigachat-2', AUTH_KEY);

  before(async () => {
    mock = await startGigaChatMock({ authKeys: [AUTH_KEY], now, tokenTtlMs: 30 * 60_000 });
    client = new UpstreamClient();
  });
  afterEach(() => {
    mock.setScenario(undefined);
  });
  after(async () => {
    await client.destroy();
    await mock.close();
  });

  const chat = (adapter: ReturnType<typeof createGigaChatProvider>, text = 'hi') =>
    callProvider(
      { client, adapter, config: configFor(mock), key },
      chatRequest(adapter, 'GigaChat', text, false),
    );

  it('exchanges the authorization key with Basic auth, an RqUID and the scope', async () => {
    const adapter = createGigaChatProvider({ now });
    const answer = await chat(adapter);
    assert.equal(answerOf('openai', answer.json()).text, `${REPLY_PREFIX}hi`);
    const exchange = mock.requests.find((request) => request.path === '/api/v2/oauth');
    assert.equal(exchange?.headers.authorization, `Basic ${AUTH_KEY}`);
    assert.match(String(exchange?.headers.rquid), /^[0-9a-f-]{36}$/);
    assert.equal(exchange?.rawBody, 'scope=GIGACHAT_API_PERS');
    const chatCall = mock.requests.at(-1);
    assert.match(String(chatCall?.headers.authorization), /^Bearer gc-access-/);
  });

  it('reuses the token until shortly before it expires, then exchanges again', async () => {
    const adapter = createGigaChatProvider({ now, refreshMarginMs: 60_000 });
    await chat(adapter);
    await chat(adapter);
    assert.equal(adapter.tokens.exchanges, 1);
    clock += 29 * 60_000 + 1;
    await chat(adapter);
    assert.equal(adapter.tokens.exchanges, 2, 'refreshed within the last minute of the token');
  });

  it('exchanges again once after a 401, and gives up after the second', async () => {
    const adapter = createGigaChatProvider({ now });
    await chat(adapter);
    mock.revokeTokens();
    const answer = await chat(adapter, 'after revoke');
    assert.equal(answerOf('openai', answer.json()).text, `${REPLY_PREFIX}after revoke`);
    assert.equal(adapter.tokens.exchanges, 2);
    mock.setScenario('unauthorized');
    const before = mock.requests.filter((request) => request.path === '/api/v1/chat/completions').length;
    await assert.rejects(chat(adapter), (error: unknown) => isUpstreamError(error) && error.status === 401);
    const after = mock.requests.filter((request) => request.path === '/api/v1/chat/completions').length;
    assert.equal(after - before, 2, 'one retry, not a loop');
  });

  it('retries every call in flight refused with a lapsed token, after one exchange', async () => {
    const adapter = createGigaChatProvider({ now });
    await chat(adapter, 'warm up');
    // The token lapses server-side (revoked, clock skew): every call in flight gets a 401.
    mock.revokeTokens();
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => chat(adapter, `q${i}`)));
    const failed = results.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
    assert.deepEqual(failed, [], 'no call fails with the 401 of the token that lapsed');
    assert.equal(adapter.tokens.exchanges, 2, 'one exchange for the token, one for its replacement');
  });

  it('shares one exchange between concurrent calls', async () => {
    const adapter = createGigaChatProvider({ now });
    await Promise.all([chat(adapter), chat(adapter), chat(adapter)]);
    assert.equal(adapter.tokens.exchanges, 1);
  });

  it('reports a wrong authorization key as a non-retryable 401 without the key', async () => {
    const adapter = createGigaChatProvider({ now });
    const wrong = providerKey('pk-wrong', Buffer.from('nobody:nothing-at-all').toString('base64'));
    try {
      await callProvider(
        { client, adapter, config: configFor(mock), key: wrong },
        chatRequest(adapter, 'GigaChat', 'hi', false),
      );
      assert.fail('expected a 401');
    } catch (error) {
      assert.ok(isUpstreamError(error, 'upstream_http_error'));
      assert.equal(error.status, 401);
      assert.equal(error.isRetryable, false);
      assert.ok(
        !error.message.includes(wrong.reveal()) && !(error.bodyExcerpt ?? '').includes(wrong.reveal()),
      );
    }
  });

  it('maps a function call to a tool call and back, keeping functions_state_id', async () => {
    const adapter = createGigaChatProvider({ now });
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ];
    const call = { client, adapter, config: configFor(mock), key };
    const first = await callProvider(call, {
      operation: 'chat',
      model: 'GigaChat',
      stream: false,
      body: { model: 'GigaChat', messages: [{ role: 'user', content: 'call get_weather Kazan' }], tools },
    });
    const completion = first.json() as {
      choices: {
        finish_reason: string;
        message: { tool_calls: { id: string; function: { arguments: string } }[] };
      }[];
    };
    const toolCall = completion.choices[0]?.message.tool_calls[0];
    assert.equal(completion.choices[0]?.finish_reason, 'tool_calls');
    assert.equal(toolCall?.function.arguments, '{"city":"Kazan"}');
    assert.match(toolCall?.id ?? '', /^call_gc_[0-9a-f-]{36}$/);
    await callProvider(call, {
      operation: 'chat',
      model: 'GigaChat',
      stream: false,
      body: {
        model: 'GigaChat',
        tools,
        messages: [
          { role: 'user', content: 'call get_weather Kazan' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                ...toolCall,
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Kazan"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: toolCall?.id, content: 'sunny' },
        ],
      },
    });
    const sent = mock.requests.at(-1)?.body as { messages: Record<string, unknown>[] };
    assert.deepEqual(sent.messages[1], {
      role: 'assistant',
      content: '',
      function_call: { name: 'get_weather', arguments: { city: 'Kazan' } },
      functions_state_id: toolCall?.id.slice('call_gc_'.length),
    });
    assert.deepEqual(sent.messages[2], {
      role: 'function',
      name: 'get_weather',
      content: '{"result":"sunny"}',
    });
  });

  it('streams a function call as one tool-call delta', async () => {
    const adapter = createGigaChatProvider({ now });
    const stream = await streamProvider(
      { client, adapter, config: configFor(mock), key },
      {
        operation: 'chat',
        model: 'GigaChat',
        stream: true,
        body: {
          model: 'GigaChat',
          messages: [{ role: 'user', content: 'call lookup tea' }],
          tools: [
            {
              type: 'function',
              function: {
                name: 'lookup',
                parameters: { type: 'object', properties: { q: { type: 'string' } } },
              },
            },
          ],
        },
      },
    );
    const translator = streamObserver('openai', 'GigaChat');
    for await (const event of stream) translator.push(event);
    assert.equal(translator.finished, true);
    assert.equal(translator.outputText(), '{"q":"tea"}');
    assert.ok(translator.usage);
  });

  // GigaChat refuses a temperature of 0: 422 "Invalid params: temperature must be in range
  // (0, +inf)" (ai-forever/gigachain#237; the REST reference's temperature has exclusiveMinimum).
  it('a caller asking for temperature 0 gets an answer, not a 422', async () => {
    const adapter = createGigaChatProvider({ now });
    const answer = await callProvider(
      { client, adapter, config: configFor(mock), key },
      {
        operation: 'chat',
        model: 'GigaChat',
        stream: false,
        body: { model: 'GigaChat', temperature: 0, messages: [{ role: 'user', content: 'hi' }] },
      },
    );
    assert.equal(answerOf('openai', answer.json()).text, `${REPLY_PREFIX}hi`);
    const sent = (mock.requests.at(-1)?.body as { temperature?: number } | undefined)?.temperature ?? 0;
    assert.ok(sent > 0 && sent <= 0.001, `sent ${sent}: GigaChat's deterministic range, above 0`);
  });

  it('a stream GigaChat ends with finish_reason error fails: an error event, not a clean end', async () => {
    const adapter = createGigaChatProvider({ now });
    mock.finishWith('error');
    try {
      const stream = await streamProvider(
        { client, adapter, config: configFor(mock), key },
        chatRequest(adapter, 'GigaChat', 'tell me more', true),
      );
      const translator = streamObserver('openai', 'GigaChat');
      for await (const event of stream) translator.push(event);
      assert.equal(translator.finished, false, 'a failed generation is not a complete answer');
      assert.equal(translator.failure?.kind, 'upstream_error');
      assert.equal(translator.outputText(), `${REPLY_PREFIX}tell me more`, 'the text streamed stands');
      assert.ok(translator.usageSoFar(), 'GigaChat’s usage is kept for the charge');
      // A whole answer keeps its text and usage (billed) and says it was cut short.
      const whole = await chat(adapter, 'tell me more');
      const completion = whole.json() as { choices: { finish_reason: string }[] };
      assert.equal(completion.choices[0]?.finish_reason, 'length');
    } finally {
      mock.finishWith(undefined);
    }
  });

  it('an answer GigaChat stopped with finish_reason blacklist is content_filter, streamed or whole', async () => {
    const adapter = createGigaChatProvider({ now });
    mock.finishWith('blacklist');
    try {
      const stream = await streamProvider(
        { client, adapter, config: configFor(mock), key },
        chatRequest(adapter, 'GigaChat', 'hi', true),
      );
      const finishes: unknown[] = [];
      for await (const event of stream)
        for (const choice of (event as { choices?: { finish_reason?: unknown }[] }).choices ?? [])
          if (choice.finish_reason) finishes.push(choice.finish_reason);
      assert.deepEqual(finishes, ['content_filter']);
      const whole = (await chat(adapter)).json() as { choices: { finish_reason: string }[] };
      assert.equal(whole.choices[0]?.finish_reason, 'content_filter');
    } finally {
      mock.finishWith(undefined);
    }
  });

  it('lists models with the token', async () => {
    const adapter = createGigaChatProvider({ now });
    const answer = await callProvider(
      { client, adapter, config: configFor(mock), key },
      { operation: 'models', model: '', stream: false },
    );
    assert.deepEqual(
      (answer.json() as { data: { id: string }[] }).data.map((model) => model.id),
      ['GigaChat', 'GigaChat-Pro', 'GigaChat-Max'],
    );
  });
});
