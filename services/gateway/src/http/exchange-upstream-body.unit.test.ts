/**
 * The upstream bodies planChatExchange writes for translated requests, as the adapter
 * serialises them, checked against what each provider accepts: Gemini refuses a field its
 * request message lacks, Mistral one its API does not know, old Azure api-versions
 * `stream_options` and `max_completion_tokens`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { azureOpenAIProvider } from '../providers/azure-openai/azure-openai-provider.js';
import { geminiProvider } from '../providers/gemini/gemini-provider.js';
import { openAIProvider } from '../providers/openai/openai-provider.js';
import { openAICompatibleProvider } from '../providers/openai-compatible/openai-compatible-provider.js';
import type { ProviderAdapter, ProviderConfig } from '../providers/provider-types.js';
import { planChatExchange } from './exchange.js';
import type { Route } from './route-model.js';

const route = (model: string) => ({ provider: { options: {} }, model }) as unknown as Route;

function upstreamBody(
  caller: 'openai' | 'anthropic',
  adapter: ProviderAdapter,
  config: ProviderConfig,
  body: Record<string, unknown>,
  model: string,
  stream: boolean,
): Record<string, unknown> {
  const exchange = planChatExchange(caller, adapter, config, body, route(model), 'req_1', stream);
  assert.ok(exchange);
  const prepared = adapter.prepare(exchange.operation, config);
  return JSON.parse(prepared.body ?? '{}') as Record<string, unknown>;
}

describe('translated upstream bodies', () => {
  // Gemini (protobuf JSON) refuses unknown fields with 400 INVALID_ARGUMENT:
  // `Invalid JSON payload received. Unknown name "stream": Cannot find field.`
  // The stream flag belongs in the URL (:streamGenerateContent), never in the body.
  for (const stream of [false, true]) {
    it(`OpenAI SDK -> Gemini (${stream ? 'streamed' : 'plain'}): the generateContent body has no \`stream\` field`, () => {
      const body = upstreamBody(
        'openai',
        geminiProvider,
        {},
        { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }], stream },
        'gemini-2.5-flash',
        stream,
      );
      assert.ok(Array.isArray(body.contents));
      assert.equal('stream' in body, false, `Gemini body carries stream: ${JSON.stringify(body)}`);
    });

    it(`Anthropic SDK -> Gemini (${stream ? 'streamed' : 'plain'}): the generateContent body has no \`stream\` field`, () => {
      const body = upstreamBody(
        'anthropic',
        geminiProvider,
        {},
        {
          model: 'gemini-2.5-flash',
          max_tokens: 100,
          messages: [{ role: 'user', content: 'hi' }],
          stream,
        },
        'gemini-2.5-flash',
        stream,
      );
      assert.equal('stream' in body, false, `Gemini body carries stream: ${JSON.stringify(body)}`);
    });
  }

  // Mistral refuses unknown fields (422 extra_forbidden); the adapter's own preset says so and
  // does not ask for stream_options. Yet the Anthropic -> OpenAI request writer always adds
  // `stream_options.include_usage` and writes the limit as `max_completion_tokens`, which
  // Mistral's chat API does not know (it takes `max_tokens`).
  it('Anthropic SDK -> Mistral (streamed): no stream_options (Mistral sends usage anyway and refuses the field)', () => {
    const body = upstreamBody(
      'anthropic',
      openAICompatibleProvider,
      { vendor: 'mistral' },
      {
        model: 'mistral-large-latest',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      },
      'mistral-large-latest',
      true,
    );
    assert.equal(body.stream, true);
    assert.equal('stream_options' in body, false, `Mistral body: ${JSON.stringify(body)}`);
  });

  it('Anthropic SDK -> OpenAI (streamed): usage asked for, the limit as max_completion_tokens', () => {
    const body = upstreamBody(
      'anthropic',
      openAIProvider,
      {},
      { model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], stream: true },
      'gpt-4o',
      true,
    );
    assert.deepEqual(body.stream_options, { include_usage: true });
    assert.equal(body.max_completion_tokens, 100);
    assert.equal('max_tokens' in body, false);
  });

  it('Anthropic SDK -> a generic OpenAI-compatible server: the limit as max_tokens, which they all know', () => {
    const body = upstreamBody(
      'anthropic',
      openAICompatibleProvider,
      { baseUrl: 'http://127.0.0.1:8000/v1' },
      { model: 'llama-3', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], stream: true },
      'llama-3',
      true,
    );
    assert.equal(body.max_tokens, 100);
    assert.equal('max_completion_tokens' in body, false);
    assert.deepEqual(body.stream_options, { include_usage: true });
  });

  it('Anthropic SDK -> Mistral: the output limit goes as max_tokens, not max_completion_tokens', () => {
    const body = upstreamBody(
      'anthropic',
      openAICompatibleProvider,
      { vendor: 'mistral' },
      { model: 'mistral-large-latest', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] },
      'mistral-large-latest',
      false,
    );
    assert.equal('max_completion_tokens' in body, false, `Mistral body: ${JSON.stringify(body)}`);
    assert.equal(body.max_tokens, 100);
  });

  // The Azure adapter itself does not ask api-versions before 2024-09-01 for stream usage,
  // because they refuse `stream_options` with a 400 (azure-openai-provider.ts). A translated
  // Anthropic-SDK stream still carries it.
  it('Anthropic SDK -> Azure OpenAI api-version 2024-06-01 (streamed): no stream_options', () => {
    const config = { baseUrl: 'https://example.openai.azure.com', apiVersion: '2024-06-01' };
    const body = upstreamBody(
      'anthropic',
      azureOpenAIProvider,
      config,
      { model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], stream: true },
      'gpt-4o',
      true,
    );
    assert.equal(body.stream, true);
    assert.equal('stream_options' in body, false, `Azure body: ${JSON.stringify(body)}`);
    assert.equal(body.max_tokens, 100);
    assert.equal('max_completion_tokens' in body, false);
  });
});
