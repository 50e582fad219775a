import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { splitIntoParts, splitWords, toolArguments, truncateToTokens } from './answers.js';
import { toolPairingError } from './anthropic-tool-pairing.js';
import { geminiGenerateRefusal } from './gemini-mock.js';
import { formatOpenAIDuration } from './openai-mock.js';
import { toolOrderError } from './openai-tool-order.js';
import { QuotaBook } from './quota.js';
import { parseScenario, UnknownScenarioError } from './scenarios.js';
import { awkwardPieces } from './wire.js';

describe('parseScenario', () => {
  test('combines names and values', () => {
    assert.deepEqual(parseScenario('slow-first-byte=250, split-frames,no-usage'), {
      firstByteDelayMs: 250,
      splitFrames: true,
      omitUsage: true,
    });
    assert.deepEqual(parseScenario('rate-limit'), { error: 'rate-limit', retryAfterSeconds: 1 });
    assert.deepEqual(parseScenario('overloaded, retry-after=5'), {
      error: 'overloaded',
      retryAfterSeconds: 5,
    });
  });

  test('rejects unknown names and bad values', () => {
    assert.throws(() => parseScenario('explode'), UnknownScenarioError);
    assert.throws(() => parseScenario('reset-mid-stream=soon'), UnknownScenarioError);
    assert.throws(() => parseScenario('toString'), UnknownScenarioError);
  });
});

describe('QuotaBook', () => {
  test('counts down within a window and refills after it', () => {
    let now = 0;
    const book = new QuotaBook({ requests: 2, tokens: 100, windowSeconds: 10 }, () => now);
    book.spendRequest('k');
    book.spendTokens('k', 60);
    assert.equal(book.snapshot('k').remainingRequests, 1);
    assert.equal(book.snapshot('k').remainingTokens, 40);
    book.spendRequest('k');
    assert.equal(book.verdict('k'), 'requests-spent');
    now = 4_000;
    assert.equal(book.snapshot('k').resetMs, 6_000);
    now = 10_000;
    assert.equal(book.verdict('k'), 'ok');
    assert.equal(book.snapshot('k').remainingRequests, 2);
  });

  test('a spent token budget is its own verdict', () => {
    const book = new QuotaBook({ requests: 10, tokens: 5, windowSeconds: 60 }, () => 0);
    book.spendTokens('k', 9);
    assert.equal(book.verdict('k'), 'tokens-spent');
    assert.equal(book.snapshot('k').remainingTokens, 0);
  });
});

describe('awkwardPieces', () => {
  test('cuts inside data:, inside the first multi-byte character and before the last newline', () => {
    const frame = Buffer.from('data: {"t":"é"}\n\n', 'utf8');
    const pieces = awkwardPieces(frame);
    assert.deepEqual(Buffer.concat(pieces), frame);
    assert.equal(pieces[0]?.toString(), 'da');
    assert.equal(pieces[1]?.at(-1), 0xc3);
    assert.equal(pieces.at(-1)?.toString(), '\n');
  });
});

describe('answers', () => {
  test('splitWords and splitIntoParts give the text back', () => {
    for (const text of ['Mock reply: a  b 🌍 ', '', 'x']) assert.equal(splitWords(text).join(''), text);
    assert.equal(splitIntoParts('{"city":"Zürich"}', 4).join(''), '{"city":"Zürich"}');
  });

  test('truncateToTokens keeps whole characters', () => {
    assert.equal(truncateToTokens('abcdefgh', 1), 'abcd');
    assert.equal(truncateToTokens('ééé', 1), 'éé');
    assert.equal(truncateToTokens('short', undefined), 'short');
  });

  test('toolArguments fills the declared properties by type', () => {
    const schema = {
      type: 'object',
      properties: {
        q: { type: 'string' },
        n: { type: 'number' },
        unit: { type: 'string', enum: ['c', 'f'] },
      },
    };
    assert.deepEqual(toolArguments(schema, 'Paris'), { q: 'Paris', n: 42, unit: 'c' });
    assert.deepEqual(toolArguments(undefined, 'Paris'), {});
  });

  test('formatOpenAIDuration writes Go durations', () => {
    assert.equal(formatOpenAIDuration(20), '20ms');
    assert.equal(formatOpenAIDuration(1500), '1.5s');
    assert.equal(formatOpenAIDuration(360_000), '6m0s');
  });
});

describe('toolOrderError (OpenAI chat)', () => {
  const user = { role: 'user', content: 'Hi' };
  const calling = (...ids: string[]) => ({
    role: 'assistant',
    content: null,
    tool_calls: ids.map((id) => ({ id, type: 'function', function: { name: 'f', arguments: '{}' } })),
  });
  const result = (id: string) => ({ role: 'tool', tool_call_id: id, content: 'ok' });
  const order = (...messages: object[]) => toolOrderError({ model: 'gpt-4o', messages });

  test('answers every call, parallel ones in any order, and a thread that ends on calls', () => {
    assert.equal(order(user, calling('a'), result('a'), user), undefined);
    assert.equal(order(user, calling('a', 'b'), result('b'), result('a')), undefined);
    assert.equal(order(user, calling('a')), undefined);
    assert.equal(order(user, { role: 'assistant', content: 'x', tool_calls: [] }, user), undefined);
  });

  test('a tool message with no tool calls before it names its role', () => {
    const orphan = {
      shape: {
        status: 400,
        message:
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
        type: 'invalid_request_error',
        code: null,
      },
      param: 'messages.[1].role',
    };
    assert.deepEqual(order(user, result('a')), orphan);
    // The calls were answered and a user turn came between: the run of tool messages is over.
    assert.deepEqual(order(user, calling('a'), result('a'), user, result('a')), {
      ...orphan,
      param: 'messages.[4].role',
    });
    assert.deepEqual(order(user, { role: 'assistant', content: 'x' }, result('a')), {
      ...orphan,
      param: 'messages.[2].role',
    });
  });

  test('a message before every call is answered names the calls left and its own index', () => {
    assert.deepEqual(order(user, calling('a', 'b', 'c'), result('b'), user), {
      shape: {
        status: 400,
        message:
          "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. " +
          'The following tool_call_ids did not have response messages: a, c',
        type: 'invalid_request_error',
        code: null,
      },
      param: 'messages.[3].role',
    });
    assert.equal(order(user, calling('a'), calling('b'), result('b'))?.param, 'messages.[2].role');
  });

  test('a tool message answering a call the assistant did not make names its tool_call_id', () => {
    assert.deepEqual(order(user, calling('a'), result('a'), result('z')), {
      shape: {
        status: 400,
        message: "Invalid parameter: 'tool_call_id' of 'z' not found in 'tool_calls' of previous message.",
        type: 'invalid_request_error',
        code: null,
      },
      param: 'messages.[3].tool_call_id',
    });
  });

  test('a second tool message for one call names both messages and its tool_call_id', () => {
    assert.deepEqual(order(user, calling('a', 'b'), result('a'), result('a'), result('b')), {
      shape: {
        status: 400,
        message:
          "Invalid parameter: Duplicate value for 'tool_call_id' of 'a', in messages[2] and messages[3].",
        type: 'invalid_request_error',
        code: null,
      },
      param: 'messages.[3].tool_call_id',
    });
  });
});

describe("Claude's tool_use / tool_result pairing (anthropic-tool-pairing.ts)", () => {
  const user = { role: 'user', content: 'Hi' };
  const uses = (...ids: string[]) => ({
    role: 'assistant',
    content: ids.map((id) => ({ type: 'tool_use', id, name: 'f', input: {} })),
  });
  const results = (...ids: string[]) => ({
    role: 'user',
    content: ids.map((id) => ({ type: 'tool_result', tool_use_id: id, content: 'ok' })),
  });
  const pairing = (...messages: object[]) => toolPairingError({ model: 'claude-sonnet-4-5', messages });

  test('answers paired calls, results over consecutive user turns, and a thread that ends on calls', () => {
    assert.equal(pairing(user, uses('a', 'b'), results('b', 'a'), user), undefined);
    assert.equal(pairing(user, uses('a', 'b'), results('a'), results('b')), undefined);
    assert.equal(pairing(user, uses('a')), undefined);
  });

  test("refuses each break in Claude's words", () => {
    assert.equal(
      pairing(results('x')),
      'messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: x. ' +
        'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.',
    );
    assert.equal(
      pairing(user, uses('a', 'b'), results('b'), user),
      'messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: a. ' +
        'Each `tool_use` block must have a corresponding `tool_result` block in the next message.',
    );
    assert.equal(
      pairing(user, uses('a', 'a'), results('a')),
      'messages.1.content.1: `tool_use` ids must be unique',
    );
    assert.equal(
      pairing(user, uses('a'), results('a', 'a')),
      'messages.2.content.1: each tool_use must have a single result. Found multiple `tool_result` blocks with id: a',
    );
  });
});

describe("Gemini's function responses, one for each call of the turn before (geminiGenerateRefusal)", () => {
  const call = (name: string) => ({ functionCall: { name, args: {} } });
  const response = (name: string) => ({ functionResponse: { name, response: { output: 'ok' } } });
  const body = (responses: object[]) => ({
    contents: [
      { role: 'user', parts: [{ text: 'Go' }] },
      { role: 'model', parts: [call('get_weather'), call('get_weather')] },
      { role: 'user', parts: responses },
    ],
  });

  test('as many responses as calls are answered', () => {
    assert.equal(
      geminiGenerateRefusal('gemini-2.5-flash', body([response('get_weather'), response('get_weather')])),
      undefined,
    );
  });

  test("fewer or more are Gemini's 400", () => {
    for (const responses of [
      [response('get_weather')],
      [response('get_weather'), response('get_weather'), response('get_weather')],
    ])
      assert.match(
        geminiGenerateRefusal('gemini-2.5-flash', body(responses)) ?? '',
        /the number of function response parts is equal to the number of function call parts/,
      );
  });
});
