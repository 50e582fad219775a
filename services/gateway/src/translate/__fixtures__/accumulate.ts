/**
 * Rebuilds a whole answer from translated stream events the way the official SDKs do
 * (openai's ChatCompletionStream, @anthropic-ai/sdk's MessageStream), and checks the event
 * order those SDKs rely on, so stream tests can compare a stream with a finished answer.
 */
import assert from 'node:assert/strict';
import type { AnthropicStreamEventOut } from '../anthropic-messages-types.js';
import type { OpenAIChatChunkOut } from '../openai-chat-types.js';

export interface AccumulatedChoice {
  content: string | null;
  toolCalls: { id: string; name: string; arguments: string }[];
  finishReason: string | null;
}

export interface AccumulatedCompletion {
  id: string;
  model: string;
  choices: AccumulatedChoice[];
  usage: unknown;
}

export function accumulateOpenAI(chunks: readonly OpenAIChatChunkOut[]): AccumulatedCompletion {
  const choices: AccumulatedChoice[] = [];
  let usage: unknown;
  for (const chunk of chunks) {
    if (chunk.usage) usage = chunk.usage;
    for (const { index, delta, finish_reason } of chunk.choices) {
      let choice = choices[index];
      if (!choice) {
        assert.equal(delta.role, 'assistant', 'the first chunk of a choice carries its role');
        choice = { content: null, toolCalls: [], finishReason: null };
        choices[index] = choice;
      }
      assert.equal(choice.finishReason, null, 'no delta after the finish reason');
      // As openai 7's ChatCompletionStream: any string, the empty one too, makes the content a
      // string (a role chunk's `content: ''` is kept: `null` only while no chunk said otherwise).
      if (delta.content != null) choice.content = (choice.content ?? '') + delta.content;
      for (const call of delta.tool_calls ?? []) {
        const existing = choice.toolCalls[call.index];
        if (existing) existing.arguments += call.function.arguments;
        else {
          assert.ok(call.id && call.function.name !== undefined, 'a new tool call carries its id and name');
          choice.toolCalls[call.index] = {
            id: call.id,
            name: call.function.name,
            arguments: call.function.arguments,
          };
        }
      }
      if (finish_reason) choice.finishReason = finish_reason;
    }
  }
  const first = chunks[0];
  return { id: first?.id ?? '', model: first?.model ?? '', choices, usage };
}

export interface AccumulatedMessage {
  id: string;
  model: string;
  content: (
    | { type: 'thinking'; thinking: string; signature: string }
    | { type: 'text'; text: string }
    | { type: 'tool_use'; id: string; name: string; input: unknown }
  )[];
  stopReason: string | null;
  usage: Record<string, number>;
  complete: boolean;
}

export function accumulateAnthropic(events: readonly AnthropicStreamEventOut[]): AccumulatedMessage {
  const [start] = events;
  assert.equal(start?.type, 'message_start', 'message_start comes first');
  const message: AccumulatedMessage = {
    id: start.message.id,
    model: start.message.model,
    content: [],
    stopReason: null,
    usage: { ...start.message.usage },
    complete: false,
  };
  const json: string[] = [];
  const open = new Set<number>();
  for (const event of events.slice(1)) {
    assert.equal(message.complete, false, 'nothing after message_stop');
    switch (event.type) {
      case 'message_start':
        assert.fail('a second message_start');
        break;
      case 'content_block_start':
        assert.equal(event.index, message.content.length, 'blocks are numbered in order');
        assert.equal(open.size, 0, 'one block open at a time');
        open.add(event.index);
        message.content.push(
          event.content_block.type === 'text'
            ? { type: 'text', text: '' }
            : event.content_block.type === 'thinking'
              ? { type: 'thinking', thinking: '', signature: '' }
              : { type: 'tool_use', id: event.content_block.id, name: event.content_block.name, input: {} },
        );
        json[event.index] = '';
        break;
      case 'content_block_delta': {
        const block = message.content[event.index];
        assert.ok(block, 'a delta names an existing block');
        assert.ok(open.has(event.index), 'a delta names the open block');
        if (event.delta.type === 'text_delta') {
          assert.equal(block.type, 'text');
          if (block.type === 'text') block.text += event.delta.text;
        } else if (event.delta.type === 'thinking_delta') {
          assert.equal(block.type, 'thinking');
          if (block.type === 'thinking') block.thinking += event.delta.thinking;
        } else if (event.delta.type === 'signature_delta') {
          assert.equal(block.type, 'thinking');
          if (block.type === 'thinking') block.signature += event.delta.signature;
        } else {
          assert.equal(block.type, 'tool_use');
          json[event.index] = (json[event.index] ?? '') + event.delta.partial_json;
        }
        break;
      }
      case 'content_block_stop':
        assert.ok(open.delete(event.index), 'a stop closes the open block');
        break;
      case 'message_delta':
        assert.equal(open.size, 0, 'blocks are closed before message_delta');
        message.stopReason = event.delta.stop_reason;
        // The SDK takes every non-null count of message_delta over message_start's.
        Object.assign(message.usage, event.usage);
        break;
      case 'message_stop':
        message.complete = true;
        break;
      default: {
        const unknown: never = event;
        assert.fail(`unknown event ${JSON.stringify(unknown)}`);
      }
    }
  }
  message.content.forEach((block, index) => {
    if (block.type === 'tool_use') block.input = JSON.parse(json[index] || '{}');
  });
  return message;
}
