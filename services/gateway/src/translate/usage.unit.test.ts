import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  anthropicUsageOf,
  type NormalisedUsage,
  openAIUsageOf,
  usageFromAnthropic,
  usageFromGemini,
  usageFromOpenAI,
  withServiceTier,
} from './usage.js';

describe('usage extractors', () => {
  const cases: {
    name: string;
    actual: () => NormalisedUsage | undefined;
    expected: NormalisedUsage | undefined;
  }[] = [
    { name: 'OpenAI: none given', actual: () => usageFromOpenAI(undefined), expected: undefined },
    {
      name: 'OpenAI: null (a chunk before the usage chunk)',
      actual: () => usageFromOpenAI(null),
      expected: undefined,
    },
    {
      name: 'OpenAI: cached and reasoning are parts of the totals, taken as is',
      actual: () =>
        usageFromOpenAI({
          prompt_tokens: 2100,
          completion_tokens: 140,
          total_tokens: 2240,
          prompt_tokens_details: { cached_tokens: 1920 },
          completion_tokens_details: { reasoning_tokens: 64 },
        }),
      expected: { inputTokens: 2100, outputTokens: 140, cachedInputTokens: 1920, reasoningTokens: 64 },
    },
    {
      name: "OpenRouter: the answer's cost is kept beside the tokens (its provider's vendor decides whether it is believed)",
      actual: () => usageFromOpenAI({ prompt_tokens: 12, completion_tokens: 3, cost: 0.0001234 }),
      expected: { inputTokens: 12, outputTokens: 3, cachedInputTokens: 0, reportedCost: 0.0001234 },
    },
    {
      name: "OpenRouter BYOK: the model's price, charged on the org's own key, is added to the fee",
      actual: () =>
        usageFromOpenAI({
          prompt_tokens: 12,
          completion_tokens: 3,
          cost: 0.00005,
          is_byok: true,
          cost_details: { upstream_inference_cost: 0.001 },
        }),
      expected: { inputTokens: 12, outputTokens: 3, cachedInputTokens: 0, reportedCost: 0.00005 + 0.001 },
    },
    {
      name: 'OpenRouter on its credits: upstream_inference_cost is a part of the cost, not added',
      actual: () =>
        usageFromOpenAI({
          prompt_tokens: 12,
          completion_tokens: 3,
          cost: 0.001,
          is_byok: false,
          cost_details: { upstream_inference_cost: 0.001 },
        }),
      expected: { inputTokens: 12, outputTokens: 3, cachedInputTokens: 0, reportedCost: 0.001 },
    },
    {
      name: 'a cost that is not a non-negative number is no reported cost',
      actual: () => usageFromOpenAI({ prompt_tokens: 12, completion_tokens: 3, cost: '0.01' }),
      expected: { inputTokens: 12, outputTokens: 3, cachedInputTokens: 0 },
    },
    {
      name: 'OpenAI: explicit zeros stay zeros (reasoning 0 is reported, not left out)',
      actual: () =>
        usageFromOpenAI({
          prompt_tokens: 0,
          completion_tokens: 0,
          prompt_tokens_details: { cached_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0 },
        }),
      expected: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, reasoningTokens: 0 },
    },
    {
      name: 'OpenAI-compatible without details: no cache, reasoning not reported',
      actual: () => usageFromOpenAI({ prompt_tokens: 10, completion_tokens: 5 }),
      expected: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 },
    },
    {
      name: 'DeepSeek: cache hits (prompt_cache_hit_tokens, part of prompt_tokens) are cached input',
      actual: () =>
        usageFromOpenAI({
          prompt_tokens: 1000,
          completion_tokens: 100,
          prompt_cache_hit_tokens: 800,
          prompt_cache_miss_tokens: 200,
        } as Parameters<typeof usageFromOpenAI>[0]),
      expected: { inputTokens: 1000, outputTokens: 100, cachedInputTokens: 800 },
    },
    {
      name: 'DeepSeek: prompt_tokens_details.cached_tokens, when given, is taken over prompt_cache_hit_tokens',
      actual: () =>
        usageFromOpenAI({
          prompt_tokens: 1000,
          completion_tokens: 100,
          prompt_tokens_details: { cached_tokens: 700 },
          prompt_cache_hit_tokens: 800,
        }),
      expected: { inputTokens: 1000, outputTokens: 100, cachedInputTokens: 700 },
    },
    { name: 'Anthropic: none given', actual: () => usageFromAnthropic(undefined), expected: undefined },
    {
      name: 'Anthropic: web searches Claude ran are counted apart (priced apiece)',
      actual: () =>
        usageFromAnthropic({
          input_tokens: 10,
          output_tokens: 5,
          server_tool_use: { web_search_requests: 2 },
        }),
      expected: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0, webSearches: 2 },
    },
    {
      name: 'Anthropic: output_tokens_details.thinking_tokens is the reasoning, part of the output',
      actual: () =>
        usageFromAnthropic({
          input_tokens: 40,
          output_tokens: 1_200,
          output_tokens_details: { thinking_tokens: 1_000 },
        }),
      expected: { inputTokens: 40, outputTokens: 1_200, cachedInputTokens: 0, reasoningTokens: 1_000 },
    },
    {
      name: 'Anthropic: a thinking count above the output is capped at it',
      actual: () =>
        usageFromAnthropic({
          input_tokens: 40,
          output_tokens: 10,
          output_tokens_details: { thinking_tokens: 12 },
        }),
      expected: { inputTokens: 40, outputTokens: 10, cachedInputTokens: 0, reasoningTokens: 10 },
    },
    {
      name: 'Anthropic: no web search is left out',
      actual: () =>
        usageFromAnthropic({
          input_tokens: 10,
          output_tokens: 5,
          server_tool_use: { web_search_requests: 0 },
        }),
      expected: { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 },
    },
    {
      name: 'Anthropic: input_tokens excludes cache reads and writes; both are added back',
      actual: () =>
        usageFromAnthropic({
          input_tokens: 12,
          cache_creation_input_tokens: 200,
          cache_read_input_tokens: 1800,
          output_tokens: 95,
        }),
      expected: { inputTokens: 2012, outputTokens: 95, cachedInputTokens: 1800, cacheWriteTokens: 200 },
    },
    {
      name: 'Anthropic: cache writes split by lifetime when Claude gives the split',
      actual: () =>
        usageFromAnthropic({
          input_tokens: 12,
          cache_creation_input_tokens: 300,
          cache_creation: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 200 },
          cache_read_input_tokens: 1800,
          output_tokens: 95,
        }),
      expected: {
        inputTokens: 2112,
        outputTokens: 95,
        cachedInputTokens: 1800,
        cacheWriteTokens: 100,
        cacheWrite1hTokens: 200,
      },
    },
    {
      name: 'Anthropic: explicit zeros stay zeros, no reasoning field',
      actual: () =>
        usageFromAnthropic({
          input_tokens: 0,
          output_tokens: 0,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        }),
      expected: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 },
    },
    {
      name: 'Anthropic: null cache fields (older answers) count as no cache',
      actual: () =>
        usageFromAnthropic({
          input_tokens: 7,
          output_tokens: 3,
          cache_creation_input_tokens: null,
          cache_read_input_tokens: null,
        }),
      expected: { inputTokens: 7, outputTokens: 3, cachedInputTokens: 0 },
    },
    { name: 'Gemini: none given', actual: () => usageFromGemini(undefined), expected: undefined },
    { name: 'Gemini: metadata without any count', actual: () => usageFromGemini({}), expected: undefined },
    {
      name: 'Gemini: thoughts are added to output (candidates exclude them); cached is part of prompt',
      actual: () =>
        usageFromGemini({
          promptTokenCount: 1040,
          candidatesTokenCount: 7,
          cachedContentTokenCount: 1000,
          thoughtsTokenCount: 30,
        }),
      expected: { inputTokens: 1040, outputTokens: 37, cachedInputTokens: 1000, reasoningTokens: 30 },
    },
    {
      name: 'Gemini: tool-use prompt tokens are input',
      actual: () =>
        usageFromGemini({ promptTokenCount: 100, toolUsePromptTokenCount: 40, candidatesTokenCount: 9 }),
      expected: { inputTokens: 140, outputTokens: 9, cachedInputTokens: 0 },
    },
    {
      name: 'Gemini: a blocked prompt counts its prompt, and zero output',
      actual: () => usageFromGemini({ promptTokenCount: 17, totalTokenCount: 17 }),
      expected: { inputTokens: 17, outputTokens: 0, cachedInputTokens: 0 },
    },
    {
      name: 'Gemini: explicit zero thoughts are reported as zero reasoning',
      actual: () => usageFromGemini({ promptTokenCount: 3, candidatesTokenCount: 0, thoughtsTokenCount: 0 }),
      expected: { inputTokens: 3, outputTokens: 0, cachedInputTokens: 0, reasoningTokens: 0 },
    },
    {
      name: 'Gemini: the AUDIO part of the prompt and of its cached part (billed above text) are kept',
      actual: () =>
        usageFromGemini({
          promptTokenCount: 1000,
          candidatesTokenCount: 5,
          cachedContentTokenCount: 600,
          promptTokensDetails: [
            { modality: 'TEXT', tokenCount: 300 },
            { modality: 'AUDIO', tokenCount: 700 },
          ],
          cacheTokensDetails: [
            { modality: 'TEXT', tokenCount: 200 },
            { modality: 'AUDIO', tokenCount: 400 },
          ],
        }),
      expected: {
        inputTokens: 1000,
        outputTokens: 5,
        cachedInputTokens: 600,
        audioInputTokens: 700,
        cachedAudioInputTokens: 400,
      },
    },
    {
      name: 'Gemini: a prompt without audio (or a zero count left out) has no audio fields',
      actual: () =>
        usageFromGemini({
          promptTokenCount: 40,
          candidatesTokenCount: 2,
          promptTokensDetails: [
            { modality: 'TEXT', tokenCount: 40 },
            { modality: 'AUDIO' },
            { modality: 'IMAGE' },
          ],
        }),
      expected: { inputTokens: 40, outputTokens: 2, cachedInputTokens: 0 },
    },
    {
      name: 'Gemini: audio counts that do not fit the totals (a provider bug) are capped to fit them',
      actual: () =>
        usageFromGemini({
          promptTokenCount: 100,
          cachedContentTokenCount: 60,
          promptTokensDetails: [{ modality: 'AUDIO', tokenCount: 500 }],
          cacheTokensDetails: [{ modality: 'AUDIO', tokenCount: 90 }],
        }),
      // cached audio at most the cache reads; uncached audio at most the uncached prompt
      expected: {
        inputTokens: 100,
        outputTokens: 0,
        cachedInputTokens: 60,
        audioInputTokens: 100,
        cachedAudioInputTokens: 60,
      },
    },
    {
      name: 'a cached count above the whole (a provider bug) is capped, to satisfy the event schema',
      actual: () =>
        usageFromOpenAI({
          prompt_tokens: 10,
          completion_tokens: 1,
          prompt_tokens_details: { cached_tokens: 50 },
        }),
      expected: { inputTokens: 10, outputTokens: 1, cachedInputTokens: 10 },
    },
  ];
  for (const { name, actual, expected } of cases) it(name, () => assert.deepEqual(actual(), expected));
});

describe("Claude's inference geography", () => {
  it('keeps `us` (billed at 1.1x) and nothing for anywhere else', () => {
    const base = { input_tokens: 10, output_tokens: 5 };
    assert.equal(usageFromAnthropic({ ...base, inference_geo: 'us' })?.inferenceGeo, 'us');
    assert.equal(usageFromAnthropic({ ...base, inference_geo: 'global' })?.inferenceGeo, undefined);
    assert.equal(usageFromAnthropic(base)?.inferenceGeo, undefined);
  });
  it('keeps fast mode (billed at a multiple) and nothing for the standard speed', () => {
    const base = { input_tokens: 10, output_tokens: 5 };
    assert.equal(usageFromAnthropic({ ...base, speed: 'fast' })?.speed, 'fast');
    assert.equal(usageFromAnthropic({ ...base, speed: 'standard' })?.speed, undefined);
  });
});

describe('withServiceTier', () => {
  const usage: NormalisedUsage = { inputTokens: 10, outputTokens: 5, cachedInputTokens: 0 };
  it('keeps the tiers that bill at other rates, and nothing for the standard one', () => {
    assert.deepEqual(withServiceTier(usage, 'priority'), { ...usage, serviceTier: 'priority' });
    assert.deepEqual(withServiceTier(usage, 'flex'), { ...usage, serviceTier: 'flex' });
    // `fast` is priority renamed (2026-07-30): the same tier, the same rates.
    assert.deepEqual(withServiceTier(usage, 'fast'), { ...usage, serviceTier: 'priority' });
    for (const standard of ['default', 'auto', 'scale', undefined, null, 7])
      assert.equal(withServiceTier(usage, standard), usage);
    assert.equal(withServiceTier(undefined, 'priority'), undefined);
  });
});

describe('usage writers', () => {
  it('OpenAI usage includes cached input in prompt_tokens and reasoning only when known', () => {
    assert.deepEqual(openAIUsageOf({ inputTokens: 2012, outputTokens: 95, cachedInputTokens: 1800 }), {
      prompt_tokens: 2012,
      completion_tokens: 95,
      total_tokens: 2107,
      prompt_tokens_details: { cached_tokens: 1800 },
    });
    assert.deepEqual(
      openAIUsageOf({ inputTokens: 5, outputTokens: 40, cachedInputTokens: 0, reasoningTokens: 30 })
        .completion_tokens_details,
      { reasoning_tokens: 30 },
    );
  });

  it('Anthropic usage moves cached input out of input_tokens', () => {
    assert.deepEqual(
      anthropicUsageOf({
        inputTokens: 2100,
        outputTokens: 140,
        cachedInputTokens: 1920,
        reasoningTokens: 64,
      }),
      {
        input_tokens: 180,
        output_tokens: 140,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 1920,
      },
    );
  });

  it('normalised -> Anthropic -> normalised keeps input, output and cached counts', () => {
    const usage = { inputTokens: 2100, outputTokens: 140, cachedInputTokens: 1920 };
    assert.deepEqual(usageFromAnthropic(anthropicUsageOf(usage)), usage);
  });
});
