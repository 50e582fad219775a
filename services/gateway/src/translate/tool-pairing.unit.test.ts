import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { anthropicMessagesRequest } from './anthropic-messages-types.js';
import { openAIChatRequest } from './openai-chat-types.js';
import {
  refuseRepeatedToolCallIds,
  refuseUnpairedAnthropicTools,
  refuseUnpairedOpenAITools,
} from './tool-pairing.js';
import { TranslationError } from './translation-error.js';

const anthropic = (messages: unknown[]) =>
  anthropicMessagesRequest.parse({ model: 'gpt-4o-mini', max_tokens: 64, messages });
const openai = (messages: unknown[]) => openAIChatRequest.parse({ model: 'claude-sonnet-4-5', messages });

const toolUse = (...ids: string[]) => ({
  role: 'assistant',
  content: ids.map((id) => ({ type: 'tool_use', id, name: 'get_weather', input: { city: 'Paris' } })),
});
const toolResults = (...ids: string[]) => ({
  role: 'user',
  content: ids.map((id) => ({ type: 'tool_result', tool_use_id: id, content: 'sunny' })),
});
const question = { role: 'user', content: 'Weather in Paris?' };

const toolCalls = (...ids: string[]) => ({
  role: 'assistant',
  content: null,
  tool_calls: ids.map((id) => ({ id, type: 'function', function: { name: 'get_weather', arguments: '{}' } })),
});
const toolMessage = (id: string) => ({ role: 'tool', tool_call_id: id, content: 'sunny' });

function refusal(run: () => void): { param: string; message: string } {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof TranslationError, String(error));
    return { param: error.param, message: error.message };
  }
  return assert.fail('not refused');
}

describe("Claude's tool pairing, for an Anthropic-SDK caller's thread", () => {
  const refused = (messages: unknown[]) => refusal(() => refuseUnpairedAnthropicTools(anthropic(messages)));

  it('takes well-formed threads: answered calls, results spread over consecutive user messages, a thread ending on calls', () => {
    for (const messages of [
      [question, toolUse('toolu_1', 'toolu_2'), toolResults('toolu_2', 'toolu_1')],
      [question, toolUse('toolu_1', 'toolu_2'), toolResults('toolu_1'), toolResults('toolu_2')],
      [question, toolUse('toolu_1'), toolUse('toolu_2'), toolResults('toolu_1', 'toolu_2')],
      [question, toolUse('toolu_1'), toolResults('toolu_1'), toolUse('toolu_2'), toolResults('toolu_2')],
      [question, toolUse('toolu_1')],
      [question, { role: 'assistant', content: 'Sunny.' }, { role: 'user', content: 'Thanks' }],
    ])
      assert.doesNotThrow(() => refuseUnpairedAnthropicTools(anthropic(messages)));
  });

  it("refuses a result for a call the turn before did not make, in Claude's words", () => {
    assert.deepEqual(refused([toolResults('toolu_x')]), {
      param: 'messages[0].content[0].tool_use_id',
      message:
        'messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_x. ' +
        'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.',
    });
    // A call of an earlier turn is not the turn before's.
    assert.equal(
      refused([
        question,
        toolUse('toolu_1'),
        toolResults('toolu_1'),
        toolUse('toolu_2'),
        toolResults('toolu_1'),
      ]).message,
      'messages.4.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_1. ' +
        'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.',
    );
  });

  it("refuses calls a user turn leaves unanswered, in Claude's words, naming the calls' turn", () => {
    assert.deepEqual(refused([question, toolUse('toolu_1', 'toolu_2', 'toolu_3'), toolResults('toolu_2')]), {
      param: 'messages[1].content',
      message:
        'messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1, toolu_3. ' +
        'Each `tool_use` block must have a corresponding `tool_result` block in the next message.',
    });
    assert.match(
      refused([question, toolUse('toolu_1'), { role: 'user', content: 'never mind' }]).message,
      /^messages\.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1\. /,
    );
  });

  it("refuses a repeated tool_use id and a second result for one call, in Claude's words", () => {
    assert.deepEqual(refused([question, toolUse('toolu_1', 'toolu_1'), toolResults('toolu_1')]), {
      param: 'messages[1].content[1].id',
      message: 'messages.1.content.1: `tool_use` ids must be unique',
    });
    assert.equal(
      refused([
        question,
        toolUse('toolu_1'),
        toolResults('toolu_1'),
        toolUse('toolu_1'),
        toolResults('toolu_1'),
      ]).message,
      'messages.3.content.0: `tool_use` ids must be unique',
    );
    assert.deepEqual(
      refused([question, toolUse('toolu_1'), toolResults('toolu_1'), toolResults('toolu_1')]),
      {
        param: 'messages[3].content[0].tool_use_id',
        message:
          'messages.3.content.0: each tool_use must have a single result. Found multiple `tool_result` blocks with id: toolu_1',
      },
    );
  });
});

describe("OpenAI's tool message order, for an OpenAI-SDK caller's thread", () => {
  const refused = (messages: unknown[]) => refusal(() => refuseUnpairedOpenAITools(openai(messages)));

  it('takes well-formed threads, a thread ending on calls, and calls that repeat an id (GPT takes them)', () => {
    for (const messages of [
      [question, toolCalls('call_1', 'call_2'), toolMessage('call_2'), toolMessage('call_1')],
      [
        question,
        toolCalls('call_1'),
        toolMessage('call_1'),
        toolCalls('call_2'),
        toolMessage('call_2'),
        question,
      ],
      [question, toolCalls('call_1')],
      [question, toolCalls('call_1', 'call_1'), toolMessage('call_1')],
    ])
      assert.doesNotThrow(() => refuseUnpairedOpenAITools(openai(messages)));
  });

  it('refuses as OpenAI does, its words and param', () => {
    assert.deepEqual(refused([question, toolMessage('call_x')]), {
      param: 'messages.[1].role',
      message:
        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
    });
    assert.deepEqual(refused([question, toolCalls('call_1'), toolMessage('call_x')]), {
      param: 'messages.[2].tool_call_id',
      message: "Invalid parameter: 'tool_call_id' of 'call_x' not found in 'tool_calls' of previous message.",
    });
    assert.deepEqual(
      refused([question, toolCalls('call_1', 'call_2', 'call_3'), toolMessage('call_2'), question]),
      {
        param: 'messages.[3].role',
        message:
          "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. " +
          'The following tool_call_ids did not have response messages: call_1, call_3',
      },
    );
    assert.deepEqual(refused([question, toolCalls('call_1'), toolMessage('call_1'), toolMessage('call_1')]), {
      param: 'messages.[3].tool_call_id',
      message:
        "Invalid parameter: Duplicate value for 'tool_call_id' of 'call_1', in messages[2] and messages[3].",
    });
  });
});

describe('tool call ids that repeat, for Claude', () => {
  it('refuses a repeated id anywhere in the thread, naming the second call; distinct ids pass', () => {
    const repeated = (messages: unknown[]) => refusal(() => refuseRepeatedToolCallIds(openai(messages)));
    assert.equal(
      repeated([question, toolCalls('call_1'), toolMessage('call_1'), toolCalls('call_2', 'call_1')]).param,
      'messages[3].tool_calls[1].id',
    );
    assert.doesNotThrow(() =>
      refuseRepeatedToolCallIds(
        openai([question, toolCalls('call_1'), toolMessage('call_1'), toolCalls('call_2')]),
      ),
    );
  });
});
