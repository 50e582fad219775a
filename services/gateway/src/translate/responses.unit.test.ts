import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonFixture } from './__fixtures__/sse-fixtures.js';
import { anthropicMessageResponse, FOREIGN_REASONING_SIGNATURE } from './anthropic-messages-types.js';
import { geminiGenerateContentResponse } from './gemini-types.js';
import { openAIChatCompletion } from './openai-chat-types.js';
import {
  anthropicToOpenAIResponse,
  geminiToAnthropicResponse,
  geminiToOpenAIResponse,
  openAIToAnthropicResponse,
} from './responses.js';

const created = 1_750_000_000;
const anthropic = (body: unknown) => anthropicMessageResponse.parse(body);
const openai = (body: unknown) => openAIChatCompletion.parse(body);
const gemini = (body: unknown) => geminiGenerateContentResponse.parse(body);
const geminiContext = { created, fallbackId: 'req_1', requestedModel: 'gemini-2.5-flash' };

describe('Anthropic message -> OpenAI chat.completion', () => {
  it('a text answer (recorded)', () => {
    assert.deepEqual(anthropicToOpenAIResponse(anthropic(jsonFixture('anthropic-text.json')), { created }), {
      id: 'msg_mock000002',
      object: 'chat.completion',
      created,
      model: 'claude-haiku-4-5',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Mock reply: Hello there, how are you?', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 13,
        completion_tokens: 10,
        total_tokens: 23,
        prompt_tokens_details: { cached_tokens: 0 },
      },
    });
  });

  it('a tool call (recorded): text kept, arguments as a JSON string, finish tool_calls', () => {
    const [choice] = anthropicToOpenAIResponse(anthropic(jsonFixture('anthropic-tool.json')), {
      created,
    }).choices;
    assert.deepEqual(choice?.message, {
      role: 'assistant',
      content: "I'll call get_weather.",
      refusal: null,
      tool_calls: [
        {
          id: 'toolu_mock000005',
          type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Paris","days":42}' },
        },
      ],
    });
    assert.equal(choice?.finish_reason, 'tool_calls');
  });

  it('cache reads and writes are prompt tokens; reads are reported as cached; thinking is left out', () => {
    const completion = anthropicToOpenAIResponse(
      anthropic({
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [
          { type: 'thinking', thinking: 'Let me think', signature: 'sig' },
          { type: 'text', text: 'Part one, ' },
          { type: 'text', text: 'part two.', citations: [] },
          { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} },
        ],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: {
          input_tokens: 12,
          cache_creation_input_tokens: 200,
          cache_read_input_tokens: 1800,
          output_tokens: 95,
        },
      }),
      { created, model: 'claude-sonnet' },
    );
    assert.equal(completion.model, 'claude-sonnet');
    assert.equal(completion.choices[0]?.message.content, 'Part one, part two.');
    assert.equal(completion.choices[0]?.message.tool_calls, undefined);
    assert.deepEqual(completion.usage, {
      prompt_tokens: 2012,
      completion_tokens: 95,
      total_tokens: 2107,
      prompt_tokens_details: { cached_tokens: 1800 },
    });
  });

  const stopReasons: [string | null, string][] = [
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['pause_turn', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
    ['some_future_reason', 'stop'],
    [null, 'stop'],
  ];
  for (const [stopReason, finishReason] of stopReasons) {
    it(`stop_reason ${stopReason} -> finish_reason ${finishReason}`, () => {
      const message = anthropic({ id: 'm', model: 'c', content: [], stop_reason: stopReason });
      assert.equal(anthropicToOpenAIResponse(message, { created }).choices[0]?.finish_reason, finishReason);
    });
  }

  it('without provider usage: no usage, or the gateway-counted fallback', () => {
    const message = anthropic({
      id: 'm',
      model: 'c',
      content: [{ type: 'text', text: 'hi' }],
      stop_reason: 'end_turn',
    });
    assert.equal(anthropicToOpenAIResponse(message, { created }).usage, undefined);
    const fallbackUsage = { inputTokens: 5, outputTokens: 1, cachedInputTokens: 0 };
    assert.equal(anthropicToOpenAIResponse(message, { created, fallbackUsage }).usage?.total_tokens, 6);
  });
});

describe('OpenAI chat.completion -> Anthropic message', () => {
  it('a text answer (recorded)', () => {
    assert.deepEqual(openAIToAnthropicResponse(openai(jsonFixture('openai-text.json'))), {
      id: 'chatcmpl-mock000002',
      type: 'message',
      role: 'assistant',
      model: 'gpt-4o-mini',
      content: [{ type: 'text', text: 'Mock reply: Hello there, how are you?' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 13,
        output_tokens: 10,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
  });

  it('a tool call (recorded): tool_use with parsed input, stop_reason tool_use', () => {
    const message = openAIToAnthropicResponse(openai(jsonFixture('openai-tool.json')));
    assert.deepEqual(message.content, [
      { type: 'tool_use', id: 'call_mock000005', name: 'get_weather', input: { city: 'Paris', days: 42 } },
    ]);
    assert.equal(message.stop_reason, 'tool_use');
  });

  it("a tool name shortened for OpenAI's limit is answered under the caller's name", () => {
    const toolNames = new Map([['get_weather', 'get_weather_for_a_city_named_at_length']]);
    const message = openAIToAnthropicResponse(openai(jsonFixture('openai-tool.json')), { toolNames });
    assert.equal(
      message.content[0]?.type === 'tool_use' ? message.content[0].name : undefined,
      toolNames.get('get_weather'),
    );
  });

  for (const field of ['reasoning_content', 'reasoning'] as const)
    it(`an OpenAI-dialect answer's ${field} (DeepSeek, vLLM; OpenRouter) comes first as a thinking block, signed as Kordon's`, () => {
      const message = openAIToAnthropicResponse(
        openai({
          id: 'c',
          model: 'deepseek-reasoner',
          choices: [
            { index: 0, message: { content: 'Paris.', [field]: 'The capital...' }, finish_reason: 'stop' },
          ],
        }),
      );
      assert.deepEqual(message.content, [
        { type: 'thinking', thinking: 'The capital...', signature: FOREIGN_REASONING_SIGNATURE },
        { type: 'text', text: 'Paris.' },
      ]);
    });

  it("a Mistral reasoning model's content chunks: thinking chunks come first as a thinking block, text chunks are the text", () => {
    const message = openAIToAnthropicResponse(
      openai({
        id: 'c',
        model: 'magistral-medium-2509',
        choices: [
          {
            index: 0,
            message: {
              content: [
                {
                  type: 'thinking',
                  thinking: [
                    { type: 'text', text: 'The user ' },
                    { type: 'text', text: 'greets me.' },
                  ],
                },
                { type: 'reference', reference_ids: [1] },
                { type: 'text', text: 'Hello' },
                { type: 'text', text: '!' },
              ],
            },
            finish_reason: 'stop',
          },
        ],
      }),
    );
    assert.deepEqual(message.content, [
      { type: 'thinking', thinking: 'The user greets me.', signature: FOREIGN_REASONING_SIGNATURE },
      { type: 'text', text: 'Hello!' },
    ]);
  });

  it('cached prompt tokens move out of input_tokens into cache_read_input_tokens', () => {
    const message = openAIToAnthropicResponse(
      openai({
        id: 'c',
        model: 'gpt-4.1',
        choices: [{ index: 0, message: { content: 'ok' }, finish_reason: 'stop' }],
        usage: {
          prompt_tokens: 2100,
          completion_tokens: 140,
          prompt_tokens_details: { cached_tokens: 1920 },
          completion_tokens_details: { reasoning_tokens: 64 },
        },
      }),
    );
    assert.deepEqual(message.usage, {
      input_tokens: 180,
      output_tokens: 140,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 1920,
    });
  });

  it('a refusal becomes the text with stop_reason refusal', () => {
    const message = openAIToAnthropicResponse(
      openai({
        id: 'c',
        model: 'gpt-4.1',
        choices: [
          { index: 0, message: { content: null, refusal: "I can't help with that." }, finish_reason: 'stop' },
        ],
      }),
    );
    assert.deepEqual(message.content, [{ type: 'text', text: "I can't help with that." }]);
    assert.equal(message.stop_reason, 'refusal');
  });

  it('tool arguments that are not a JSON object become an empty input (Anthropic needs an object)', () => {
    const message = openAIToAnthropicResponse(
      openai({
        id: 'c',
        model: 'gpt-4.1',
        choices: [
          {
            index: 0,
            message: {
              tool_calls: [{ id: 'k', type: 'function', function: { name: 'f', arguments: '{"broken' } }],
            },
            finish_reason: 'tool_calls',
          },
        ],
      }),
    );
    assert.deepEqual(message.content, [{ type: 'tool_use', id: 'k', name: 'f', input: {} }]);
  });

  it('a forced call (named tool_choice) that OpenAI ends with stop is stop_reason tool_use', () => {
    const message = openAIToAnthropicResponse(
      openai({
        id: 'c',
        model: 'gpt-4o-mini',
        choices: [
          {
            index: 0,
            message: {
              content: null,
              tool_calls: [{ id: 'k', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
            },
            finish_reason: 'stop',
          },
        ],
      }),
    );
    assert.deepEqual(message.content, [{ type: 'tool_use', id: 'k', name: 'f', input: { a: 1 } }]);
    assert.equal(message.stop_reason, 'tool_use');
  });

  const finishReasons: [string | null, string][] = [
    ['stop', 'end_turn'],
    ['length', 'max_tokens'],
    ['tool_calls', 'tool_use'],
    ['function_call', 'tool_use'],
    ['content_filter', 'refusal'],
    [null, 'end_turn'],
  ];
  for (const [finishReason, stopReason] of finishReasons) {
    it(`finish_reason ${finishReason} -> stop_reason ${stopReason}`, () => {
      const completion = openai({
        id: 'c',
        model: 'm',
        choices: [{ index: 0, message: { content: 'x' }, finish_reason: finishReason }],
      });
      assert.equal(openAIToAnthropicResponse(completion).stop_reason, stopReason);
    });
  }

  it('no usage from the provider gives zeros (the field is required), or the fallback', () => {
    const completion = openai({
      id: 'c',
      model: 'm',
      choices: [{ index: 0, message: { content: 'x' }, finish_reason: 'stop' }],
    });
    assert.equal(openAIToAnthropicResponse(completion).usage.output_tokens, 0);
    const fallbackUsage = { inputTokens: 9, outputTokens: 2, cachedInputTokens: 0 };
    assert.equal(openAIToAnthropicResponse(completion, { fallbackUsage }).usage.input_tokens, 9);
  });
});

describe('Gemini response -> OpenAI chat.completion and Anthropic message', () => {
  it('a text answer (recorded)', () => {
    const response = gemini(jsonFixture('gemini-text.json'));
    assert.deepEqual(geminiToOpenAIResponse(response, geminiContext), {
      id: 'mock-response-000001',
      object: 'chat.completion',
      created,
      model: 'gemini-2.5-flash',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Mock reply: Hello there, how are you today my friend?',
            refusal: null,
          },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 17,
        completion_tokens: 14,
        total_tokens: 31,
        prompt_tokens_details: { cached_tokens: 0 },
      },
    });
    assert.deepEqual(geminiToAnthropicResponse(response, geminiContext), {
      id: 'mock-response-000001',
      type: 'message',
      role: 'assistant',
      model: 'gemini-2.5-flash',
      content: [{ type: 'text', text: 'Mock reply: Hello there, how are you today my friend?' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 17,
        output_tokens: 14,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
  });

  it('a function call (recorded): STOP with a call is tool_calls / tool_use, with a generated id', () => {
    const response = gemini(jsonFixture('gemini-tool.json'));
    const completion = geminiToOpenAIResponse(response, geminiContext);
    assert.equal(completion.choices[0]?.finish_reason, 'tool_calls');
    assert.deepEqual(completion.choices[0]?.message.tool_calls, [
      {
        id: 'call_mock-response-000002_0',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris","days":42}' },
      },
    ]);
    assert.equal(completion.choices[0]?.message.content, null);
    const message = geminiToAnthropicResponse(response, geminiContext);
    assert.equal(message.stop_reason, 'tool_use');
    assert.deepEqual(message.content, [
      {
        type: 'tool_use',
        id: 'call_mock-response-000002_0',
        name: 'get_weather',
        input: { city: 'Paris', days: 42 },
      },
    ]);
  });

  it('empty text parts are no text: content null beside a call, no empty text block', () => {
    const response = gemini({
      candidates: [
        {
          content: {
            parts: [
              { text: '' },
              { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
              { text: '' },
            ],
          },
          finishReason: 'STOP',
          index: 0,
        },
      ],
      responseId: 'resp_empty_text',
    });
    const completion = geminiToOpenAIResponse(response, geminiContext);
    assert.equal(completion.choices[0]?.message.content, null);
    assert.equal(completion.choices[0]?.message.tool_calls?.length, 1);
    const message = geminiToAnthropicResponse(response, geminiContext);
    assert.deepEqual(
      message.content.map((block) => block.type),
      ['tool_use'],
    );
    const onlyEmpty = gemini({
      candidates: [{ content: { parts: [{ text: '' }] }, finishReason: 'STOP', index: 0 }],
    });
    assert.equal(geminiToOpenAIResponse(onlyEmpty, geminiContext).choices[0]?.message.content, null);
  });

  it('without a responseId, call ids are made from the fallback (request) id: they differ between answers', () => {
    const response = gemini({
      candidates: [
        {
          content: { parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
          finishReason: 'STOP',
        },
      ],
    });
    const openAIIds = ['req_first', 'req_second'].map(
      (fallbackId) =>
        geminiToOpenAIResponse(response, { ...geminiContext, fallbackId }).choices[0]?.message.tool_calls?.[0]
          ?.id,
    );
    assert.deepEqual(openAIIds, ['call_req_first_0', 'call_req_second_0']);
    const anthropicIds = ['req_first', 'req_second'].map((fallbackId) => {
      const block = geminiToAnthropicResponse(response, { ...geminiContext, fallbackId }).content[0];
      return block?.type === 'tool_use' ? block.id : undefined;
    });
    assert.deepEqual(anthropicIds, ['call_req_first_0', 'call_req_second_0']);
  });

  it('thoughts are left out of the text and counted as output and reasoning; cached tokens reported', () => {
    const response = gemini({
      candidates: [
        {
          content: { parts: [{ text: 'Considering...', thought: true }, { text: 'Sunny.' }], role: 'model' },
          finishReason: 'STOP',
        },
      ],
      usageMetadata: {
        promptTokenCount: 1040,
        candidatesTokenCount: 2,
        cachedContentTokenCount: 1000,
        thoughtsTokenCount: 30,
      },
    });
    const completion = geminiToOpenAIResponse(response, geminiContext);
    assert.equal(completion.choices[0]?.message.content, 'Sunny.');
    assert.equal(completion.id, 'req_1', 'the fallback id when Gemini gives no responseId');
    assert.deepEqual(completion.usage, {
      prompt_tokens: 1040,
      completion_tokens: 32,
      total_tokens: 1072,
      prompt_tokens_details: { cached_tokens: 1000 },
      completion_tokens_details: { reasoning_tokens: 30 },
    });
    assert.deepEqual(geminiToAnthropicResponse(response, geminiContext).usage, {
      input_tokens: 40,
      output_tokens: 32,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 1000,
    });
  });

  it('several candidates become several choices', () => {
    const response = gemini({
      candidates: [
        { content: { parts: [{ text: 'A' }] }, finishReason: 'STOP', index: 0 },
        { content: { parts: [{ text: 'B' }] }, finishReason: 'MAX_TOKENS', index: 1 },
      ],
    });
    const choices = geminiToOpenAIResponse(response, geminiContext).choices;
    assert.deepEqual(
      choices.map((choice) => [choice.index, choice.message.content, choice.finish_reason]),
      [
        [0, 'A', 'stop'],
        [1, 'B', 'length'],
      ],
    );
  });

  it("a candidate's logprobsResult is the choice's logprobs.content, each token with its top candidates", () => {
    const response = gemini({
      candidates: [
        {
          content: { parts: [{ text: 'Hi!' }] },
          finishReason: 'STOP',
          logprobsResult: {
            chosenCandidates: [
              { token: 'Hi', logProbability: -0.1 },
              { token: '!', logProbability: -0.5 },
            ],
            topCandidates: [
              {
                candidates: [
                  { token: 'Hi', logProbability: -0.1 },
                  { token: 'Hello', logProbability: -2.4 },
                ],
              },
              { candidates: [{ token: '!', logProbability: -0.5 }] },
            ],
          },
        },
      ],
    });
    const [choice] = geminiToOpenAIResponse(response, geminiContext).choices;
    assert.deepEqual(choice?.logprobs, {
      content: [
        {
          token: 'Hi',
          logprob: -0.1,
          bytes: null,
          top_logprobs: [
            { token: 'Hi', logprob: -0.1, bytes: null },
            { token: 'Hello', logprob: -2.4, bytes: null },
          ],
        },
        {
          token: '!',
          logprob: -0.5,
          bytes: null,
          top_logprobs: [{ token: '!', logprob: -0.5, bytes: null }],
        },
      ],
      refusal: null,
    });
  });

  it('a blocked prompt has no candidates: one empty choice, content_filter / refusal', () => {
    const response = gemini({
      promptFeedback: { blockReason: 'SAFETY' },
      usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 },
    });
    const completion = geminiToOpenAIResponse(response, geminiContext);
    assert.deepEqual(completion.choices[0]?.message.content, null);
    assert.equal(completion.choices[0]?.finish_reason, 'content_filter');
    assert.deepEqual(completion.usage?.completion_tokens, 0);
    const message = geminiToAnthropicResponse(response, geminiContext);
    assert.deepEqual(message.content, []);
    assert.equal(message.stop_reason, 'refusal');
  });

  for (const reason of ['MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL', 'TOO_MANY_TOOL_CALLS']) {
    it(`${reason} with no content: Gemini's message as the text, finish length / max_tokens, usage kept`, () => {
      const response = gemini({
        candidates: [
          {
            content: { role: 'model' },
            finishReason: reason,
            finishMessage: 'Malformed function call: print(default_api.get_weather(city="Paris"',
          },
        ],
        usageMetadata: { promptTokenCount: 40, totalTokenCount: 40 },
        responseId: 'resp_failed',
      });
      const said = `Gemini ended the answer with ${reason}: Malformed function call: print(default_api.get_weather(city="Paris"`;
      const completion = geminiToOpenAIResponse(response, geminiContext);
      assert.deepEqual(completion.choices[0], {
        index: 0,
        message: { role: 'assistant', content: said, refusal: null },
        finish_reason: 'length',
        logprobs: null,
      });
      assert.equal(completion.usage?.prompt_tokens, 40);
      const message = geminiToAnthropicResponse(response, geminiContext);
      assert.deepEqual(message.content, [{ type: 'text', text: said }]);
      assert.equal(message.stop_reason, 'max_tokens');
      assert.equal(message.usage.input_tokens, 40);
    });
  }

  it('a failed call without finishMessage names the reason; after some content it is a normal end', () => {
    const bare = gemini({ candidates: [{ finishReason: 'UNEXPECTED_TOOL_CALL' }] });
    assert.equal(
      geminiToOpenAIResponse(bare, geminiContext).choices[0]?.message.content,
      'Gemini ended the answer with UNEXPECTED_TOOL_CALL.',
    );
    const afterText = gemini({
      candidates: [
        { content: { parts: [{ text: 'Let me check.' }] }, finishReason: 'MALFORMED_FUNCTION_CALL' },
      ],
    });
    const choice = geminiToOpenAIResponse(afterText, geminiContext).choices[0];
    assert.deepEqual([choice?.message.content, choice?.finish_reason], ['Let me check.', 'stop']);
  });

  const finishReasons: [string, string, string][] = [
    ['STOP', 'stop', 'end_turn'],
    ['MAX_TOKENS', 'length', 'max_tokens'],
    ['SAFETY', 'content_filter', 'refusal'],
    ['RECITATION', 'content_filter', 'refusal'],
    ['BLOCKLIST', 'content_filter', 'refusal'],
    ['PROHIBITED_CONTENT', 'content_filter', 'refusal'],
    ['SPII', 'content_filter', 'refusal'],
    ['LANGUAGE', 'content_filter', 'refusal'],
    ['MALFORMED_FUNCTION_CALL', 'stop', 'end_turn'],
    ['OTHER', 'stop', 'end_turn'],
    ['FINISH_REASON_UNSPECIFIED', 'stop', 'end_turn'],
  ];
  for (const [finishReason, openAIReason, anthropicReason] of finishReasons) {
    it(`finishReason ${finishReason} -> ${openAIReason} / ${anthropicReason}`, () => {
      const response = gemini({ candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason }] });
      assert.equal(geminiToOpenAIResponse(response, geminiContext).choices[0]?.finish_reason, openAIReason);
      assert.equal(geminiToAnthropicResponse(response, geminiContext).stop_reason, anthropicReason);
    });
  }
});
