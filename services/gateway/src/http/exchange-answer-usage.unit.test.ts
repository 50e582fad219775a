/**
 * A finished answer from a provider that reported no usage: Kordon counts it with its
 * tokenizer and charges the count, and the translated answer the caller gets says the same
 * counts (as a streamed answer's final usage does), not zeros or nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { geminiProvider } from '../providers/gemini/gemini-provider.js';
import { openAICompatibleProvider } from '../providers/openai-compatible/openai-compatible-provider.js';
import type { ProviderAnswer } from '../providers/provider-call.js';
import type { ProviderAdapter } from '../providers/provider-types.js';
import { planChatExchange } from './exchange.js';
import type { Route } from './route-model.js';

const route = (model: string) => ({ provider: { options: {} }, model }) as unknown as Route;

const reply = (json: unknown): ProviderAnswer => ({
  status: 200,
  headers: {},
  rateLimits: undefined,
  rawText: JSON.stringify(json),
  json: () => json,
  redact: (text) => text,
});

function answer(
  caller: 'openai' | 'anthropic',
  adapter: ProviderAdapter,
  body: Record<string, unknown>,
  model: string,
  upstream: unknown,
) {
  const exchange = planChatExchange(caller, adapter, {}, body, route(model), 'req_1', false);
  assert.ok(exchange);
  const out = exchange.answer(reply(upstream));
  return { charged: out.usage, shown: JSON.parse(out.text) as Record<string, unknown> };
}

describe('counted usage of a finished answer reaches the caller', () => {
  it('Anthropic SDK -> OpenAI-compatible server without usage: the message usage is the charged one, not zeros', () => {
    const { charged, shown } = answer(
      'anthropic',
      openAICompatibleProvider,
      { model: 'llama-3', max_tokens: 50, messages: [{ role: 'user', content: 'Tell me about the sea.' }] },
      'llama-3',
      {
        id: 'cmpl-1',
        object: 'chat.completion',
        created: 1,
        model: 'llama-3',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: 'The sea is large and blue.' },
            finish_reason: 'stop',
          },
        ],
      },
    );
    assert.ok(charged && charged.outputTokens > 0, 'Kordon counted the answer');
    const usage = shown.usage as { input_tokens: number; output_tokens: number };
    assert.equal(usage.output_tokens, charged.outputTokens);
    assert.equal(usage.input_tokens, charged.inputTokens - charged.cachedInputTokens);
  });

  it('Anthropic SDK -> Gemini answer without usageMetadata: the message usage is the charged one, not zeros', () => {
    const { charged, shown } = answer(
      'anthropic',
      geminiProvider,
      {
        model: 'gemini-2.5-flash',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'Tell me about the sea.' }],
      },
      'gemini-2.5-flash',
      {
        candidates: [
          {
            content: { role: 'model', parts: [{ text: 'The sea is large and blue.' }] },
            finishReason: 'STOP',
            index: 0,
          },
        ],
      },
    );
    assert.ok(charged && charged.outputTokens > 0, 'Kordon counted the answer');
    assert.equal((shown.usage as { output_tokens: number }).output_tokens, charged.outputTokens);
  });
});
