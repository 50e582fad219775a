/**
 * The contract for Azure OpenAI, against Azure's URLs and headers in front of the OpenAI mock
 * (azure-openai-mock.ts): deployment paths with api-version, the v1 API (OpenAI's paths under
 * `/openai/v1`, the deployment in the body), the api-key header, Azure's rate-limit headers
 * and error wording.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type MockServer, startOpenAIMock } from '@kordon/mock-providers';
import { UpstreamClient } from '../../upstream/upstream-client.js';
import { isUpstreamError } from '../../upstream/upstream-error.js';
import { callProvider, streamProvider } from '../provider-call.js';
import { answerOf, chatRequest, providerContract, REPLY_PREFIX } from '../provider-contract.js';
import type { MockHttpServer } from '../provider-mock-server.js';
import { type ProviderConfig, providerKey } from '../provider-types.js';
import { startAzureOpenAIMock } from './azure-openai-mock.js';
import { azureOpenAIProvider } from './azure-openai-provider.js';

const KEY = 'azure-contract-key-0123456789abcdef';
const API_VERSION = '2024-10-21';

async function startMocks(): Promise<{ openai: MockServer; azure: MockHttpServer }> {
  const openai = await startOpenAIMock({ keys: [KEY], frameDelayMs: 3 });
  const azure = await startAzureOpenAIMock({
    openAIUrl: openai.url,
    deployments: {
      'chat-prod': 'gpt-4o-mini',
      'gpt-4o': 'gpt-4o',
      'embed-prod': 'text-embedding-3-small',
    },
  });
  return { openai, azure };
}

const configFor = (origin: string): ProviderConfig => ({
  baseUrl: origin,
  apiVersion: API_VERSION,
  deployments: { 'gpt-4o-mini': 'chat-prod' },
});

/** The v1 API: no api-version, the base URL as Azure gives it (with its trailing slash). */
const v1ConfigFor = (origin: string): ProviderConfig => ({
  baseUrl: `${origin}/openai/v1/`,
  deployments: { 'gpt-4o-mini': 'chat-prod', 'text-embedding-3-small': 'embed-prod' },
});

async function drain(stream: AsyncIterable<unknown>): Promise<unknown[]> {
  const events: unknown[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

for (const [name, config] of [
  ['azure-openai (Azure front on the OpenAI mock)', configFor],
  ['azure-openai v1 API (Azure front on the OpenAI mock)', v1ConfigFor],
] as const) {
  providerContract(name, async () => {
    const { openai, azure } = await startMocks();
    return {
      adapter: azureOpenAIProvider,
      model: 'gpt-4o-mini',
      key: providerKey('pk-azure-1', KEY),
      origin: azure.url,
      config,
      setScenario: (scenario) => azure.setScenario(scenario),
      expectedText: (prompt) => `${REPLY_PREFIX}${prompt}`,
      rateLimitHeaders: true,
      keepAliveComments: true,
      close: async () => {
        await azure.close();
        await openai.close();
      },
    };
  });
}

describe('azure-openai specifics', () => {
  let mocks: { openai: MockServer; azure: MockHttpServer };
  let client: UpstreamClient;
  const key = providerKey('pk-azure-1', KEY);

  before(async () => {
    mocks = await startMocks();
    client = new UpstreamClient();
  });
  after(async () => {
    await client.destroy();
    await mocks.azure.close();
    await mocks.openai.close();
  });

  it('calls the mapped deployment with api-version and the api-key header', async () => {
    const config = configFor(mocks.azure.url);
    const answer = await callProvider(
      { client, adapter: azureOpenAIProvider, config, key },
      chatRequest(azureOpenAIProvider, 'gpt-4o-mini', 'hi azure', false),
    );
    const seen = mocks.azure.requests.at(-1);
    assert.equal(seen?.path, '/openai/deployments/chat-prod/chat/completions');
    assert.equal(seen?.query.get('api-version'), API_VERSION);
    assert.equal(seen?.headers['api-key'], KEY);
    assert.equal(seen?.headers.authorization, undefined);
    assert.equal(answerOf('openai', answer.json()).text, `${REPLY_PREFIX}hi azure`);
    assert.deepEqual(Object.keys(answer.rateLimits ?? {}).sort(), ['remainingRequests', 'remainingTokens']);
  });

  it('uses the model name as the deployment when none is mapped, and asks for stream usage', async () => {
    const config = configFor(mocks.azure.url);
    const stream = await streamProvider(
      { client, adapter: azureOpenAIProvider, config, key },
      chatRequest(azureOpenAIProvider, 'gpt-4o', 'hi', true),
    );
    for await (const _event of stream) {
      // drain
    }
    const seen = mocks.azure.requests.at(-1);
    assert.equal(seen?.path, '/openai/deployments/gpt-4o/chat/completions');
    const body = seen?.body as { stream_options?: unknown } | undefined;
    assert.deepEqual(body?.stream_options, { include_usage: true });
  });

  it('calls the Responses API at /openai/responses with api-version, the deployment in the body', async () => {
    const answer = await callProvider(
      { client, adapter: azureOpenAIProvider, config: configFor(mocks.azure.url), key },
      {
        operation: 'responses',
        model: 'gpt-4o-mini',
        stream: false,
        body: { model: 'gpt-4o-mini', input: 'hi' },
      },
    );
    const seen = mocks.azure.requests.at(-1);
    assert.equal(seen?.path, '/openai/responses');
    assert.equal(seen?.query.get('api-version'), API_VERSION);
    assert.equal((seen?.body as { model?: unknown } | undefined)?.model, 'chat-prod');
    assert.equal((answer.json() as { object?: unknown }).object, 'response');
  });

  it('does not ask an api-version older than 2024-09-01 for stream usage (it refuses the field)', async () => {
    for (const [apiVersion, asked] of [
      ['2024-06-01', false],
      ['2024-08-01-preview', false],
      ['2024-09-01-preview', true],
      ['2024-10-21', true],
      ['2025-04-01-preview', true],
    ] as const) {
      const stream = await streamProvider(
        { client, adapter: azureOpenAIProvider, config: { ...configFor(mocks.azure.url), apiVersion }, key },
        chatRequest(azureOpenAIProvider, 'gpt-4o', 'hi', true),
      );
      for await (const _event of stream) {
        // drain
      }
      const body = mocks.azure.requests.at(-1)?.body as { stream_options?: unknown } | undefined;
      assert.equal(body?.stream_options !== undefined, asked, apiVersion);
    }
  });

  it("does not pass a caller's own stream_options to an api-version that refuses the field", async () => {
    // The openai SDK sends it as its caller gives it (LangChain, the Vercel AI SDK by default);
    // the gateway writes the counted usage chunk itself.
    const request = chatRequest(azureOpenAIProvider, 'gpt-4o', 'hi', true);
    const body = { ...request.body, stream_options: { include_usage: true } };
    const stream = await streamProvider(
      {
        client,
        adapter: azureOpenAIProvider,
        config: { ...configFor(mocks.azure.url), apiVersion: '2024-06-01' },
        key,
      },
      { ...request, body },
    );
    await drain(stream);
    const sent = mocks.azure.requests.at(-1)?.body as Record<string, unknown> | undefined;
    assert.equal(sent?.stream_options, undefined);
    assert.equal(sent?.stream, true);
  });

  it("sends a caller's max_completion_tokens as max_tokens to an api-version without it", async () => {
    for (const [apiVersion, expected] of [
      ['2024-06-01', { max_tokens: 77, max_completion_tokens: undefined }],
      ['2024-10-21', { max_tokens: undefined, max_completion_tokens: 77 }],
    ] as const) {
      const request = chatRequest(azureOpenAIProvider, 'gpt-4o', 'hi', false);
      await callProvider(
        { client, adapter: azureOpenAIProvider, config: { ...configFor(mocks.azure.url), apiVersion }, key },
        { ...request, body: { ...request.body, max_completion_tokens: 77 } },
      );
      const sent = mocks.azure.requests.at(-1)?.body as Record<string, unknown> | undefined;
      assert.equal(sent?.max_tokens, expected.max_tokens, apiVersion);
      assert.equal(sent?.max_completion_tokens, expected.max_completion_tokens, apiVersion);
    }
  });

  it('reads Azure 429s: retry-after-ms and the Azure wording', async () => {
    mocks.azure.setScenario('rate-limit=4');
    try {
      await callProvider(
        { client, adapter: azureOpenAIProvider, config: configFor(mocks.azure.url), key },
        chatRequest(azureOpenAIProvider, 'gpt-4o-mini', 'hi', false),
      );
      assert.fail('expected a 429');
    } catch (error) {
      assert.ok(isUpstreamError(error, 'upstream_http_error'));
      assert.equal(error.retryAfterMs, 4000);
      assert.match(error.provider?.message ?? '', /Please retry after 4 seconds/);
      assert.equal(error.provider?.type, 'rate_limit');
    } finally {
      mocks.azure.setScenario(undefined);
    }
  });

  it('reports an unknown deployment as not found, not retryable', async () => {
    try {
      await callProvider(
        { client, adapter: azureOpenAIProvider, config: configFor(mocks.azure.url), key },
        chatRequest(azureOpenAIProvider, 'no-such-deployment', 'hi', false),
      );
      assert.fail('expected a 404');
    } catch (error) {
      assert.ok(isUpstreamError(error, 'upstream_http_error'));
      assert.equal(error.status, 404);
      assert.equal(error.provider?.type, 'not_found');
      assert.equal(error.isRetryable, false);
    }
  });

  it('refuses to build a call without an api-version', () => {
    assert.deepEqual(azureOpenAIProvider.configProblems({ baseUrl: 'https://x.openai.azure.com' }), [
      'Azure OpenAI needs an apiVersion (e.g. 2024-10-21), or a baseUrl ending in /openai/v1 (its v1 API)',
    ]);
    assert.throws(() =>
      azureOpenAIProvider.prepare(chatRequest(azureOpenAIProvider, 'gpt-4o', 'hi', false), {
        baseUrl: 'https://x.openai.azure.com',
      }),
    );
  });

  it('sends an Entra ID token as a bearer when configured', async () => {
    const auth = await azureOpenAIProvider.authHeaders({
      client,
      key,
      config: { ...configFor(mocks.azure.url), authScheme: 'bearer' },
    });
    assert.deepEqual(auth.headers, { authorization: `Bearer ${KEY}` });
  });
});

describe('azure-openai v1 API (a base URL ending in /openai/v1)', () => {
  let mocks: { openai: MockServer; azure: MockHttpServer };
  let client: UpstreamClient;
  const key = providerKey('pk-azure-1', KEY);
  const call = (config: ProviderConfig = v1ConfigFor(mocks.azure.url)) => ({
    client,
    adapter: azureOpenAIProvider,
    config,
    key,
  });
  const lastSeen = () => {
    const seen = mocks.azure.requests.at(-1);
    assert.ok(seen, 'the mock saw the call');
    return { ...seen, body: seen.body as Record<string, unknown> };
  };

  before(async () => {
    mocks = await startMocks();
    client = new UpstreamClient();
  });
  after(async () => {
    await client.destroy();
    await mocks.azure.close();
    await mocks.openai.close();
  });

  it('calls /openai/v1/chat/completions, the deployment in the body, no api-version', async () => {
    const answer = await callProvider(
      call(),
      chatRequest(azureOpenAIProvider, 'gpt-4o-mini', 'hi v1', false),
    );
    const seen = lastSeen();
    assert.equal(seen.path, '/openai/v1/chat/completions');
    assert.equal(seen.query.get('api-version'), null);
    assert.equal(seen.body.model, 'chat-prod');
    assert.equal(seen.headers['api-key'], KEY);
    const json = answer.json() as { model?: unknown };
    assert.equal(answerOf('openai', json).text, `${REPLY_PREFIX}hi v1`);
    // The answer is Azure's as sent: its model names what the deployment runs, not the deployment.
    assert.equal(json.model, 'gpt-4o-mini');
  });

  it('uses the model name as the deployment when none is mapped, and sends a configured api-version', async () => {
    await callProvider(
      call({ ...v1ConfigFor(mocks.azure.url), apiVersion: 'preview' }),
      chatRequest(azureOpenAIProvider, 'gpt-4o', 'hi', false),
    );
    const seen = lastSeen();
    assert.equal(seen.path, '/openai/v1/chat/completions');
    assert.equal(seen.query.get('api-version'), 'preview');
    assert.equal(seen.body.model, 'gpt-4o');
  });

  it('streams a chat answer with its usage asked as on OpenAI', async () => {
    const events = await drain(
      await streamProvider(call(), chatRequest(azureOpenAIProvider, 'gpt-4o-mini', 'hi', true)),
    );
    const seen = lastSeen();
    assert.equal(seen.path, '/openai/v1/chat/completions');
    assert.equal(seen.body.model, 'chat-prod');
    assert.deepEqual(seen.body.stream_options, { include_usage: true });
    assert.ok(events.some((event) => (event as { usage?: unknown }).usage));
    assert.equal(azureOpenAIProvider.streamUsage(v1ConfigFor(mocks.azure.url)), 'stream_options');
    assert.equal(azureOpenAIProvider.outputLimitField(v1ConfigFor(mocks.azure.url)), 'max_completion_tokens');
  });

  it('calls /openai/v1/embeddings with the deployment in the body', async () => {
    const answer = await callProvider(call(), {
      operation: 'embeddings',
      model: 'text-embedding-3-small',
      stream: false,
      body: { model: 'text-embedding-3-small', input: ['one', 'two'] },
    });
    const seen = lastSeen();
    assert.equal(seen.path, '/openai/v1/embeddings');
    assert.equal(seen.body.model, 'embed-prod');
    const json = answer.json() as { data: unknown[]; usage: { prompt_tokens: number } };
    assert.equal(json.data.length, 2);
    assert.ok(json.usage.prompt_tokens > 0);
  });

  it('calls /openai/v1/responses with the deployment in the body, plain and streamed', async () => {
    const request = (stream: boolean) => ({
      operation: 'responses' as const,
      model: 'gpt-4o-mini',
      stream,
      body: { model: 'gpt-4o-mini', input: 'hi responses' },
    });
    const answer = await callProvider(call(), request(false));
    let seen = lastSeen();
    assert.equal(seen.path, '/openai/v1/responses');
    assert.equal(seen.query.get('api-version'), null);
    assert.equal(seen.body.model, 'chat-prod');
    assert.equal((answer.json() as { object?: unknown }).object, 'response');
    const events = await drain(await streamProvider(call(), request(true)));
    seen = lastSeen();
    assert.equal(seen.path, '/openai/v1/responses');
    assert.equal(seen.body.model, 'chat-prod');
    assert.equal(seen.body.stream, true);
    assert.equal((events.at(-1) as { type?: unknown }).type, 'response.completed');
  });

  it('compacts at /openai/v1/responses/compact with the deployment in the body', async () => {
    const answer = await callProvider(call(), {
      operation: 'responses_compact',
      model: 'gpt-4o-mini',
      stream: false,
      body: { model: 'gpt-4o-mini', input: 'compact this' },
    });
    const seen = lastSeen();
    assert.equal(seen.path, '/openai/v1/responses/compact');
    assert.equal(seen.body.model, 'chat-prod');
    assert.equal(seen.body.stream, undefined, 'a compaction has no stream');
    assert.equal((answer.json() as { object?: unknown }).object, 'response.compaction');
  });

  it('takes a v1 base URL without apiVersion, and refuses one that is neither API', () => {
    const problems = (baseUrl: string, apiVersion?: string) =>
      azureOpenAIProvider.configProblems({ baseUrl, ...(apiVersion && { apiVersion }) });
    assert.deepEqual(problems('https://x.openai.azure.com/openai/v1'), []);
    assert.deepEqual(problems('https://x.openai.azure.com/openai/v1/'), []);
    assert.deepEqual(problems('https://x.openai.azure.com/openai/v1/', 'preview'), []);
    assert.deepEqual(problems('https://proxy.example.test/azure/openai/v1'), []);
    assert.deepEqual(problems('https://x.openai.azure.com/openai/v1', '2024-10-21'), [
      "Azure OpenAI's v1 API takes apiVersion v1 or preview (or none), not 2024-10-21",
    ]);
    for (const path of ['/openai/v2', '/openai/v1/chat/completions', '/openai/deployments/gpt4o']) {
      assert.deepEqual(
        problems(`https://x.openai.azure.com${path}/`, '2024-10-21'),
        [
          `Azure OpenAI's baseUrl path ${path} is neither the resource (https://{resource}.openai.azure.com) ` +
            'nor its v1 API (https://{resource}.openai.azure.com/openai/v1)',
        ],
        path,
      );
    }
    assert.throws(
      () =>
        azureOpenAIProvider.prepare(chatRequest(azureOpenAIProvider, 'gpt-4o', 'hi', false), {
          baseUrl: 'https://x.openai.azure.com/openai/v2',
          apiVersion: '2024-10-21',
        }),
      (error: unknown) => isUpstreamError(error, 'upstream_target_refused'),
    );
  });
});
