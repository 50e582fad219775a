/**
 * The contract for Azure OpenAI, against Azure's URLs and headers in front of the OpenAI mock
 * (azure-openai-mock.ts): deployment paths with api-version, the api-key header, Azure's
 * rate-limit headers and error wording.
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
    deployments: { 'chat-prod': 'gpt-4o-mini', 'gpt-4o': 'gpt-4o' },
  });
  return { openai, azure };
}

const configFor = (origin: string): ProviderConfig => ({
  baseUrl: origin,
  apiVersion: API_VERSION,
  deployments: { 'gpt-4o-mini': 'chat-prod' },
});

providerContract('azure-openai (Azure front on the OpenAI mock)', async () => {
  const { openai, azure } = await startMocks();
  return {
    adapter: azureOpenAIProvider,
    model: 'gpt-4o-mini',
    key: providerKey('pk-azure-1', KEY),
    origin: azure.url,
    config: configFor,
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
      'Azure OpenAI needs an apiVersion (e.g. 2024-10-21)',
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
