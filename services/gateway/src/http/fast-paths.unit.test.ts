import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { anthropicStreamEvents } from '../translate/anthropic-messages-types.js';
import { plainContentBlockDelta } from '../translate/anthropic-stream-parser.js';
import { openAIChatChunk, openAIUsage } from '../translate/openai-chat-types.js';
import { plainChunk } from '../translate/openai-stream-parser.js';
import { usageFromOpenAI } from '../translate/usage.js';
import { plainOpenAIUsage } from './exchange.js';

/** Values of every JSON type and some near misses, to mix into shapes. */
const ODD = [undefined, null, 0, -1, 1.5, 2 ** 60, '7', true, [], {}, [1], { a: 1 }];

function* variants(base: Record<string, unknown>, depth = 0): Generator<unknown> {
  yield base;
  for (const key of Object.keys(base)) {
    for (const odd of ODD) yield { ...base, [key]: odd };
    const value = base[key];
    if (depth < 2 && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const inner of variants(value as Record<string, unknown>, depth + 1))
        yield { ...base, [key]: inner };
    }
    if (depth < 2 && Array.isArray(value) && typeof value[0] === 'object') {
      for (const inner of variants(value[0] as Record<string, unknown>, depth + 1))
        yield { ...base, [key]: [inner] };
    }
  }
}

/** A full OpenAI usage object, the base of the usage variants below. */
const USAGE = {
  prompt_tokens: 16,
  completion_tokens: 13,
  total_tokens: 29,
  prompt_tokens_details: { cached_tokens: 4 },
  completion_tokens_details: { reasoning_tokens: 2 },
};

/** DeepSeek's usage: its cache hits in a field of their own, not in prompt_tokens_details. */
const DEEPSEEK_USAGE = {
  prompt_tokens: 16,
  completion_tokens: 13,
  total_tokens: 29,
  prompt_cache_hit_tokens: 4,
  prompt_cache_miss_tokens: 12,
};

describe('hand-checked fast paths accept only what the schema accepts', () => {
  for (const [what, usage] of Object.entries({ OpenAI: USAGE, DeepSeek: DEEPSEEK_USAGE })) {
    it(`plain answers: the ${what} usage read by hand is the one the schema reads`, () => {
      const answerUsage = z.object({ choices: z.array(z.unknown()), usage: openAIUsage.nullish() });
      const base = {
        choices: [{ index: 0 }],
        usage,
      };
      let fast = 0;
      let checked = 0;
      for (const answer of variants(base)) {
        checked++;
        const quick = plainOpenAIUsage(answer);
        if (quick === undefined) continue;
        fast++;
        const parsed = answerUsage.safeParse(answer);
        assert.ok(parsed.success, `schema refuses what the fast path took: ${JSON.stringify(answer)}`);
        // What Kordon takes from it (the schema also drops unknown keys: compare what is read).
        assert.deepEqual(usageFromOpenAI(parsed.data.usage), usageFromOpenAI(quick));
      }
      assert.ok(fast > 10 && checked > 90, `${fast} of ${checked} took the fast path`);
    });
  }

  const streamChunks = {
    'a text delta': {
      id: 'chatcmpl-1',
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }],
    },
    'a finish reason': {
      id: 'chatcmpl-1',
      model: 'gpt-4o-mini',
      choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
    },
    'the usage chunk': {
      id: 'chatcmpl-1',
      model: 'gpt-4o-mini',
      choices: [],
      usage: USAGE,
    },
    "DeepSeek's usage chunk": {
      id: 'chatcmpl-1',
      model: 'deepseek-chat',
      choices: [],
      usage: DEEPSEEK_USAGE,
    },
    'a reasoning delta (DeepSeek, vLLM)': {
      id: 'chatcmpl-1',
      model: 'deepseek-reasoner',
      choices: [{ index: 0, delta: { content: null, reasoning_content: 'Hmm' }, finish_reason: null }],
    },
    'a reasoning delta (OpenRouter)': {
      id: 'gen-1',
      model: 'deepseek/deepseek-r1',
      choices: [{ index: 0, delta: { content: '', reasoning: 'Hmm' }, finish_reason: null }],
    },
  };
  for (const [what, base] of Object.entries(streamChunks)) {
    it(`stream chunks: ${what} read by hand is one the schema accepts, read alike`, () => {
      let fast = 0;
      for (const chunk of variants(base)) {
        const quick = plainChunk(chunk);
        if (quick === undefined) continue;
        fast++;
        const parsed = openAIChatChunk.safeParse(chunk);
        assert.ok(parsed.success, `schema refuses what the fast path took: ${JSON.stringify(chunk)}`);
        const read = (c: typeof quick) => ({
          id: c.id,
          model: c.model,
          choices: c.choices.map((choice) => [
            choice.index,
            choice.delta?.content ?? null,
            choice.delta?.reasoning_content ?? null,
            choice.delta?.reasoning ?? null,
            choice.finish_reason ?? null,
          ]),
          usage: usageFromOpenAI(c.usage),
        });
        assert.deepEqual(read(parsed.data), read(quick));
      }
      assert.ok(fast > 10, `${fast} took the fast path`);
    });
  }

  for (const [what, base] of Object.entries({
    'an Anthropic text delta': {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'text_delta', text: 'Hi' },
    },
    'an Anthropic tool-input delta': {
      type: 'content_block_delta',
      index: 1,
      delta: { type: 'input_json_delta', partial_json: '{"a":' },
    },
    'an Anthropic thinking delta': {
      type: 'content_block_delta',
      index: 0,
      delta: { type: 'thinking_delta', thinking: 'Hmm' },
    },
  })) {
    it(`stream events: ${what} read by hand is one the schema accepts, read alike`, () => {
      let fast = 0;
      for (const event of variants(base)) {
        const quick = plainContentBlockDelta(event);
        if (quick === undefined) continue;
        fast++;
        const parsed = anthropicStreamEvents.content_block_delta.safeParse(event);
        assert.ok(parsed.success, `schema refuses what the fast path took: ${JSON.stringify(event)}`);
        const read = (e: typeof quick) => [
          e.index,
          e.delta.type,
          e.delta.text,
          e.delta.partial_json,
          e.delta.thinking,
        ];
        assert.deepEqual(read(parsed.data), read(quick));
      }
      assert.ok(fast > 5, `${fast} took the fast path`);
    });
  }
});
