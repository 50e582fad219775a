/**
 * Azure OpenAI streams begin with a chunk that carries only the prompt's content-filter
 * verdict: `{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[...]}`
 * (Azure "Content filtering" docs, streaming); the completion's id comes in the next chunks. An
 * Anthropic-SDK caller served by Azure gets `message_start` from the first chunk that names the
 * answer, not an empty message id.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OPENAI_DONE, openAIToAnthropicStream } from '../../translate/index.js';

const AZURE_STREAM: unknown[] = [
  {
    choices: [],
    created: 0,
    id: '',
    model: '',
    object: '',
    prompt_filter_results: [
      {
        prompt_index: 0,
        content_filter_results: {
          hate: { filtered: false, severity: 'safe' },
          self_harm: { filtered: false, severity: 'safe' },
          sexual: { filtered: false, severity: 'safe' },
          violence: { filtered: false, severity: 'safe' },
        },
      },
    ],
  },
  {
    choices: [
      {
        content_filter_results: {},
        delta: { content: '', role: 'assistant' },
        finish_reason: null,
        index: 0,
        logprobs: null,
      },
    ],
    created: 1727000000,
    id: 'chatcmpl-AzureRealId123',
    model: 'gpt-4o-2024-08-06',
    object: 'chat.completion.chunk',
    system_fingerprint: 'fp_1',
  },
  {
    choices: [
      {
        content_filter_results: { hate: { filtered: false, severity: 'safe' } },
        delta: { content: 'Hello' },
        finish_reason: null,
        index: 0,
        logprobs: null,
      },
    ],
    created: 1727000000,
    id: 'chatcmpl-AzureRealId123',
    model: 'gpt-4o-2024-08-06',
    object: 'chat.completion.chunk',
  },
  {
    choices: [{ content_filter_results: {}, delta: {}, finish_reason: 'stop', index: 0, logprobs: null }],
    created: 1727000000,
    id: 'chatcmpl-AzureRealId123',
    model: 'gpt-4o-2024-08-06',
    object: 'chat.completion.chunk',
  },
  {
    choices: [],
    created: 1727000000,
    id: 'chatcmpl-AzureRealId123',
    model: 'gpt-4o-2024-08-06',
    object: 'chat.completion.chunk',
    usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
  },
  OPENAI_DONE,
];

describe('Azure OpenAI stream to an Anthropic-SDK caller', () => {
  it('gives message_start the completion id, not the empty id of the prompt-filter chunk', () => {
    const translator = openAIToAnthropicStream({ model: 'gpt-4o' });
    const events = AZURE_STREAM.flatMap((event) => translator.push(event)) as {
      type: string;
      message?: { id: string };
    }[];
    const start = events.find((event) => event.type === 'message_start');
    assert.ok(start?.message, 'a message_start is emitted');
    assert.notEqual(start.message.id, '', 'message_start.message.id is empty');
    assert.equal(start.message.id.includes('AzureRealId123'), true);
  });
});
