import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ANTHROPIC_TOOL_PROMPT_AUTO,
  ANTHROPIC_TOOL_PROMPT_FORCED,
  countAnthropicMessages,
  countOpenAiChat,
  countTextTokens,
  DOCUMENT_TOKENS,
  EXACT_TEXT_CHARS,
} from './count.js';
import { PDF_PAGE_TEXT_TOKENS } from './documents.js';
import { getEncoder } from './tokenizer.js';

/** OpenAI cookbook, "How to count tokens with tiktoken", section 6: the API counted 129 / 124. */
const cookbookMessages = [
  {
    role: 'system',
    content:
      'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.',
  },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  {
    role: 'system',
    name: 'example_assistant',
    content: 'Things working well together will increase revenue.',
  },
  {
    role: 'system',
    name: 'example_user',
    content:
      "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
  },
  {
    role: 'system',
    name: 'example_assistant',
    content: "Let's talk later when we're less busy about how to do better.",
  },
  {
    role: 'user',
    content: "This late pivot means we don't have time to boil the ocean for the client deliverable.",
  },
];

/** Same notebook, section 7: with this tool the API counted 105 (gpt-3.5-turbo, gpt-4) / 101 (gpt-4o, gpt-4o-mini). */
const weatherTool = {
  type: 'function',
  function: {
    name: 'get_current_weather',
    description: 'Get the current weather in a given location',
    parameters: {
      type: 'object',
      properties: {
        location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
        unit: {
          type: 'string',
          description: 'The unit of temperature to return',
          enum: ['celsius', 'fahrenheit'],
        },
      },
      required: ['location'],
    },
  },
};
const weatherMessages = [
  { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
  { role: 'user', content: "What's the weather like in San Francisco?" },
];

describe('countOpenAiChat: the cookbook examples, as counted by the OpenAI API', () => {
  for (const [model, expected] of [
    ['gpt-3.5-turbo', 129],
    ['gpt-35-turbo', 129],
    ['gpt-4-0613', 129],
    ['gpt-4', 129],
    ['gpt-4o', 124],
    ['gpt-4o-mini', 124],
  ] as const) {
    test(`${model}: ${expected} prompt tokens`, () => {
      const count = countOpenAiChat({ messages: cookbookMessages }, model);
      assert.deepEqual(count, {
        tokens: expected,
        encoding: model.startsWith('gpt-4o') ? 'o200k_base' : 'cl100k_base',
        exact: true,
        approximations: [],
      });
    });
  }

  for (const [model, expected] of [
    ['gpt-3.5-turbo', 105],
    ['gpt-4', 105],
    ['gpt-4o', 101],
    ['gpt-4o-mini', 101],
  ] as const) {
    test(`${model} with the weather tool: ${expected} prompt tokens`, () => {
      const count = countOpenAiChat({ messages: weatherMessages, tools: [weatherTool] }, model);
      assert.equal(count.tokens, expected);
      assert.equal(count.exact, true);
    });
  }
});

describe('countOpenAiChat: the formula', () => {
  const o200k = getEncoder('o200k_base');

  test('one message: 3 framing + role + content + 3 priming; a name adds its tokens + 1', () => {
    const plain = countOpenAiChat({ messages: [{ role: 'user', content: 'hello world' }] }, 'gpt-4o');
    assert.equal(plain.tokens, 3 + o200k.count('user') + 2 + 3);
    const named = countOpenAiChat(
      { messages: [{ role: 'user', name: 'ada', content: 'hello world' }] },
      'gpt-4o',
    );
    assert.equal(named.tokens, plain.tokens + o200k.count('ada') + 1);
  });

  test('models the cookbook did not verify count the same way but say so', () => {
    const count = countOpenAiChat({ messages: cookbookMessages }, 'gpt-5-mini');
    assert.equal(count.tokens, 124);
    assert.deepEqual(count.approximations, ['chat-format']);
    assert.equal(count.exact, false);
  });

  test('a Claude model behind the OpenAI dialect: o200k_base stands in for its tokenizer', () => {
    const count = countOpenAiChat({ messages: cookbookMessages }, 'claude-sonnet-4-5');
    assert.equal(count.tokens, 124);
    assert.deepEqual(count.approximations, ['tokenizer', 'chat-format']);
  });

  test('tool calls and results are counted approximately and flagged', () => {
    const count = countOpenAiChat(
      {
        messages: [
          { role: 'user', content: 'weather?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '{"temp":3}' },
        ],
      },
      'gpt-4o',
    );
    assert.deepEqual(count.approximations, ['tool-calls']);
    const expected =
      3 * 3 +
      3 +
      o200k.count('user') +
      o200k.count('weather?') +
      o200k.count('assistant') +
      o200k.count('get_weather') +
      o200k.count('{"city":"Oslo"}') +
      3 +
      o200k.count('tool') +
      o200k.count('call_1') +
      o200k.count('{"temp":3}');
    assert.equal(count.tokens, expected);
  });

  test('content parts: text counted, images by the tile rule, audio and files flagged', () => {
    const count = countOpenAiChat(
      {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'hello world' },
              { type: 'image_url', image_url: { url: 'https://example.test/cat.png', detail: 'low' } },
              { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
              { type: 'file', file: { file_id: 'file-1' } },
            ],
          },
        ],
      },
      'gpt-4o',
    );
    // low detail is 85 whatever the size; a file by id is the fallback estimate
    assert.equal(count.tokens, 3 + o200k.count('user') + 2 + 85 + DOCUMENT_TOKENS + 3);
    assert.deepEqual(count.approximations, ['chat-format', 'audio', 'documents']);
  });

  test('an image of unknown size is estimated at the rule ceiling and flagged', () => {
    const count = countOpenAiChat(
      {
        messages: [
          {
            role: 'user',
            content: [{ type: 'image_url', image_url: { url: 'https://example.test/x.jpg' } }],
          },
        ],
      },
      'gpt-4o',
    );
    assert.equal(count.tokens, 3 + o200k.count('user') + 85 + 170 * 8 + 3);
    assert.deepEqual(count.approximations, ['chat-format', 'images']);
  });

  test('nested tool parameters and json_schema response formats are flagged', () => {
    const count = countOpenAiChat(
      {
        messages: [{ role: 'user', content: 'hi' }],
        tools: [
          {
            type: 'function',
            function: {
              name: 'f',
              parameters: { properties: { o: { type: 'object', description: 'nested' } } },
            },
          },
        ],
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
      },
      'gpt-4o',
    );
    assert.deepEqual(count.approximations, ['tools', 'response-format']);
  });

  test("a nested schema's properties and definitions are counted, not dropped", () => {
    // OpenAI writes a nested object's fields into the prompt as it does the top level's: an
    // agent's tool whose one parameter holds 40 described fields is billed for all of them.
    const fields = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [
        `field_${i}`,
        { type: 'string', description: `The value of field number ${i} of the customer record.` },
      ]),
    );
    const tool = (parameters: Record<string, unknown>) =>
      countOpenAiChat(
        {
          messages: [{ role: 'user', content: 'hi' }],
          tools: [{ type: 'function', function: { name: 'update', parameters } }],
        },
        'gpt-4o',
      ).tokens;
    const bare = tool({ type: 'object', properties: { record: { type: 'object' } } });
    const fieldsText = o200k.count(JSON.stringify(fields));
    const nested = tool({ type: 'object', properties: { record: { type: 'object', properties: fields } } });
    assert.ok(
      nested - bare >= fieldsText,
      `nested fields added ${nested - bare} tokens, their text is ${fieldsText}`,
    );
    const defs = tool({
      type: 'object',
      properties: { record: { $ref: '#/$defs/record' } },
      $defs: { record: { type: 'object', properties: fields } },
    });
    assert.ok(defs - bare >= fieldsText, `$defs added ${defs - bare} tokens, their text is ${fieldsText}`);
  });
});

describe('countAnthropicMessages', () => {
  const o200k = getEncoder('o200k_base');

  test('always an estimate: Anthropic publishes neither tokenizer nor framing', () => {
    const count = countAnthropicMessages(
      { system: 'Be brief.', messages: [{ role: 'user', content: 'hello world' }] },
      'claude-haiku-4-5',
    );
    assert.equal(count.exact, false);
    assert.deepEqual(count.approximations, ['tokenizer', 'chat-format']);
    assert.equal(
      count.tokens,
      3 + o200k.count('system') + o200k.count('Be brief.') + 3 + o200k.count('user') + 2 + 3,
    );
  });

  test('tools add their JSON and Anthropic tool system prompt (346 auto, 313 forced)', () => {
    const base = { messages: [{ role: 'user', content: 'hi' }] };
    const tools = [
      { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: {} } },
    ];
    const without = countAnthropicMessages(base, 'claude-sonnet-4-5').tokens;
    const toolJson = o200k.count(
      JSON.stringify({ name: 'get_weather', description: 'Weather', input_schema: tools[0]?.input_schema }),
    );
    assert.equal(
      countAnthropicMessages({ ...base, tools }, 'claude-sonnet-4-5').tokens,
      without + ANTHROPIC_TOOL_PROMPT_AUTO + toolJson,
    );
    assert.equal(
      countAnthropicMessages({ ...base, tools, tool_choice: { type: 'any' } }, 'claude-sonnet-4-5').tokens,
      without + ANTHROPIC_TOOL_PROMPT_FORCED + toolJson,
    );
  });

  test('Claude by its Vertex, Bedrock and OpenRouter names gets the tool system prompt too', () => {
    const base = { messages: [{ role: 'user', content: 'hi' }] };
    const tools = [{ name: 'get_weather', input_schema: { type: 'object', properties: {} } }];
    const toolJson = o200k.count(
      JSON.stringify({ name: 'get_weather', input_schema: tools[0]?.input_schema }),
    );
    for (const model of [
      'claude-sonnet-4-5@20250929',
      'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      'anthropic/claude-sonnet-4.5',
    ]) {
      const without = countAnthropicMessages(base, model).tokens;
      assert.equal(
        countAnthropicMessages({ ...base, tools }, model).tokens,
        without + ANTHROPIC_TOOL_PROMPT_AUTO + toolJson,
        model,
      );
    }
  });

  // Anthropic adds its tool-use prompt itself: a GPT or Gemini model never receives it, and gets
  // the tools as functions. This count serves count_tokens, the usage of an answer without one
  // and the prompt of a call its caller left: the same prompt counts the same from either SDK.
  for (const [model, expected] of [
    ['gpt-4o', 101], // the cookbook's API count, through the Anthropic dialect
    ['gpt-4', 105],
    ['gemini-2.5-flash', undefined],
  ] as const) {
    test(`tools for ${model}: the functions it gets, without Claude's tool system prompt`, () => {
      const fn = weatherTool.function;
      const anthropic = countAnthropicMessages(
        {
          system: weatherMessages[0]?.content,
          messages: [weatherMessages[1]!],
          tools: [{ name: fn.name, description: fn.description, input_schema: fn.parameters }],
          tool_choice: { type: 'any' },
        },
        model,
      );
      const openAi = countOpenAiChat({ messages: weatherMessages, tools: [weatherTool] }, model);
      assert.equal(anthropic.tokens, openAi.tokens);
      if (expected !== undefined) assert.equal(anthropic.tokens, expected);
      assert.ok(anthropic.approximations.includes('tools'));
    });
  }

  test('a server tool offered to a GPT model counts as its JSON, without the tool system prompt', () => {
    const base = { messages: [{ role: 'user', content: 'hi' }] };
    const tool = { type: 'web_search_20250305', name: 'web_search' };
    assert.equal(
      countAnthropicMessages({ ...base, tools: [tool] }, 'gpt-4o').tokens,
      countAnthropicMessages(base, 'gpt-4o').tokens + o200k.count(JSON.stringify({ name: 'web_search' })),
    );
  });

  test('blocks: text, tool_use, tool_result, thinking, documents, images of unknown size', () => {
    const count = countAnthropicMessages(
      {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'hello world' },
              { type: 'image', source: { type: 'url', url: 'https://example.test/a.png' } },
              {
                type: 'document',
                source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
              },
            ],
          },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'let me see' },
              { type: 'tool_use', name: 'lookup', input: { q: 'x' } },
            ],
          },
          { role: 'user', content: [{ type: 'tool_result', content: [{ type: 'text', text: 'found' }] }] },
        ],
      },
      'claude-opus-4-6',
    );
    const expected =
      3 * 3 +
      3 +
      o200k.count('user') * 2 +
      o200k.count('assistant') +
      2 +
      1600 +
      // a 5-byte PDF with no page tree: one page by its size, its image (1600) and text
      1600 +
      PDF_PAGE_TEXT_TOKENS +
      o200k.count('let me see') +
      o200k.count('lookup') +
      o200k.count('{"q":"x"}') +
      3 +
      o200k.count('found') +
      3;
    assert.equal(count.tokens, expected);
    assert.deepEqual(count.approximations, ['tokenizer', 'chat-format', 'tool-calls', 'images', 'documents']);
  });
});

describe('one count reads at most EXACT_TEXT_CHARS through the tokenizer', () => {
  const o200k = getEncoder('o200k_base');
  // Prose whose rate of tokens a character is even throughout, and code-like text whose rate differs.
  const prose = (length: number) => {
    let text = '';
    for (let i = 0; text.length < length; i++)
      text += `The ledger of request ${i} was settled in full, twice checked. `;
    return text.slice(0, length);
  };

  test('text within the budget is exact; past it, estimated from samples and flagged', () => {
    const small = countTextTokens(prose(EXACT_TEXT_CHARS), 'gpt-4o');
    assert.deepEqual([small.tokens, small.exact], [o200k.count(prose(EXACT_TEXT_CHARS)), true]);

    const text = prose(EXACT_TEXT_CHARS * 4);
    const large = countTextTokens(text, 'gpt-4o');
    const exact = o200k.count(text);
    assert.equal(large.exact, false);
    assert.deepEqual(large.approximations, ['long-text']);
    assert.ok(Math.abs(large.tokens - exact) / exact < 0.02, `${large.tokens} vs ${exact}`);
  });

  test('samples are spread over the text, not its start', () => {
    // Dense base64-like text first, then prose: a prefix would take the dense rate for all of it.
    const dense = Buffer.from(Array.from({ length: EXACT_TEXT_CHARS }, (_, i) => (i * 7919) % 251)).toString(
      'base64',
    );
    const text = dense + prose(dense.length * 3);
    const exact = o200k.count(text);
    const counted = countTextTokens(text, 'gpt-4o');
    assert.ok(Math.abs(counted.tokens - exact) / exact < 0.1, `${counted.tokens} vs ${exact}`);
  });

  test('once the budget is spent, the texts after it are taken at the rate counted so far', () => {
    const messages = Array.from({ length: 40 }, (_, i) => ({ role: 'user', content: prose(8_000 + i) }));
    const counted = countOpenAiChat({ messages }, 'gpt-4o');
    const exact = countOpenAiChat({ messages: messages.slice(0, 1) }, 'gpt-4o');
    assert.ok(counted.approximations.includes('long-text'));
    // Every message is the same prose: 40 of them cost ~40 times one.
    const ratio = counted.tokens / exact.tokens;
    assert.ok(ratio > 39 && ratio < 41.5, `ratio ${ratio}`);
  });

  test('a body of megabytes of dense text is counted without reading it all', { timeout: 30_000 }, () => {
    const dense = Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i * 7919) % 251)).toString(
      'base64',
    );
    const counted = countTextTokens(dense, 'gpt-4o');
    const sample = o200k.count(dense.slice(0, 100_000));
    const expected = (sample / 100_000) * dense.length;
    assert.ok(Math.abs(counted.tokens - expected) / expected < 0.05, `${counted.tokens} vs ~${expected}`);
  });
});
