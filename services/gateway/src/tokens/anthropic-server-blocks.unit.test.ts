/**
 * Valid Claude Messages bodies with blocks the estimator once could not read (a `search_result`
 * block, whose `source` is a URL string; server-tool results whose `content` is an object) are
 * counted whole, system prompt and tools included: before, the estimate failed and the fallback
 * counted the messages only, so a 100 KB system prompt was admitted against a budget as a few
 * dozen tokens.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countTextTokens } from './count.js';
import { estimateRequestTokens } from './estimate.js';

const MODEL = 'claude-sonnet-4-5';
const SYSTEM = 'You are a careful assistant who cites the sources given. '.repeat(400);

function body(block: Record<string, unknown>) {
  return {
    model: MODEL,
    max_tokens: 16,
    system: [{ type: 'text', text: SYSTEM }],
    messages: [{ role: 'user', content: [{ type: 'text', text: 'What does the source say?' }, block] }],
  };
}

const cases: Array<[string, Record<string, unknown>]> = [
  [
    'search_result block (source is a URL string)',
    {
      type: 'search_result',
      source: 'https://example.com/a',
      title: 'A',
      content: [{ type: 'text', text: 'The sky is blue.' }],
      citations: { enabled: true },
    },
  ],
  [
    'tool_result holding a search_result',
    {
      type: 'tool_result',
      tool_use_id: 'toolu_1',
      content: [
        {
          type: 'search_result',
          source: 'https://example.com/b',
          title: 'B',
          content: [{ type: 'text', text: 'Grass is green.' }],
        },
      ],
    },
  ],
  [
    'web_fetch_tool_result (content is an object)',
    {
      type: 'web_fetch_tool_result',
      tool_use_id: 'srvtoolu_1',
      content: {
        type: 'web_fetch_result',
        url: 'https://example.com/c',
        content: { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Hello' } },
        retrieved_at: '2025-08-25T10:30:00Z',
      },
    },
  ],
];

describe('Anthropic bodies the estimate schema cannot read', () => {
  const systemTokens = countTextTokens(SYSTEM, MODEL).tokens;
  for (const [name, block] of cases) {
    it(`${name}: estimated, with its system prompt counted`, () => {
      const result = estimateRequestTokens({ dialect: 'anthropic-messages', body: body(block) });
      assert.ok(result.ok, `not estimated: ${result.ok ? '' : result.error}`);
      assert.ok(result.estimate.inputTokens >= systemTokens);
    });
  }
});
