import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { anthropicMessagesRequest } from './anthropic-messages-types.js';
import { geminiToolCallId } from './gemini-tool-call-id.js';
import { type GeminiGenerateContentRequest, geminiGenerateContentRequest } from './gemini-types.js';
import { FOREIGN_THOUGHT_SIGNATURE, type GeminiRequestOptions } from './neutral-to-gemini-request.js';
import { openAIChatRequest } from './openai-chat-types.js';
import {
  anthropicToGeminiRequest,
  anthropicToOpenAIRequest,
  anthropicToolNamesSent,
  openAIToGeminiRequest,
} from './requests.js';
import { shortToolName } from './tool-names.js';
import { TranslationError } from './translation-error.js';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk';
const weather = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

function fromOpenAI(
  body: Record<string, unknown>,
  options?: GeminiRequestOptions,
): GeminiGenerateContentRequest {
  const translated = openAIToGeminiRequest(
    openAIChatRequest.parse({ model: 'gemini-2.5-flash', ...body }),
    options,
  );
  assert.deepEqual(
    geminiGenerateContentRequest.parse(translated),
    translated,
    'the output has the Gemini shape',
  );
  return translated;
}

function fromAnthropic(body: Record<string, unknown>): GeminiGenerateContentRequest {
  const request = anthropicMessagesRequest.parse({ model: 'gemini-2.5-flash', max_tokens: 512, ...body });
  const translated = anthropicToGeminiRequest(request);
  assert.deepEqual(
    geminiGenerateContentRequest.parse(translated),
    translated,
    'the output has the Gemini shape',
  );
  return translated;
}

const user = (content: unknown) => ({ role: 'user', content });
const toolConversation = [
  user('Weather in Paris and Rome?'),
  {
    role: 'assistant',
    content: null,
    tool_calls: [
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{"city":"Rome"}' } },
    ],
  },
  { role: 'tool', tool_call_id: 'call_2', content: '10:00' },
  { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
];

describe('OpenAI chat request -> Gemini generateContent', () => {
  const cases: {
    name: string;
    body: Record<string, unknown>;
    expected: Partial<GeminiGenerateContentRequest>;
  }[] = [
    {
      name: 'system and developer messages become systemInstruction; roles become user/model',
      body: {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'developer', content: 'Answer in French.' },
          user('Hi'),
          { role: 'assistant', content: 'Bonjour' },
          user('Ça va?'),
        ],
      },
      expected: {
        systemInstruction: { parts: [{ text: 'Be brief.' }, { text: 'Answer in French.' }] },
        contents: [
          { role: 'user', parts: [{ text: 'Hi' }] },
          { role: 'model', parts: [{ text: 'Bonjour' }] },
          { role: 'user', parts: [{ text: 'Ça va?' }] },
        ],
      },
    },
    {
      name: 'data: images become inlineData; URLs become fileData with the type read from the extension',
      body: {
        messages: [
          user([
            { type: 'text', text: 'Compare' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.JPG?size=large' } },
            { type: 'image_url', image_url: { url: 'https://example.com/image' } },
            { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
          ]),
        ],
      },
      expected: {
        contents: [
          {
            role: 'user',
            parts: [
              { text: 'Compare' },
              { inlineData: { mimeType: 'image/png', data: PNG } },
              { fileData: { fileUri: 'https://example.com/cat.JPG?size=large', mimeType: 'image/jpeg' } },
              { fileData: { fileUri: 'https://example.com/image' } },
              { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
            ],
          },
        ],
      },
    },
    {
      name: 'tool calls become functionCall parts (the first signed), results functionResponse parts named by call id, in the order of the calls',
      body: { messages: toolConversation },
      expected: {
        contents: [
          { role: 'user', parts: [{ text: 'Weather in Paris and Rome?' }] },
          {
            role: 'model',
            parts: [
              {
                functionCall: { id: 'call_1', name: 'get_weather', args: { city: 'Paris' } },
                thoughtSignature: FOREIGN_THOUGHT_SIGNATURE,
              },
              { functionCall: { id: 'call_2', name: 'get_time', args: { city: 'Rome' } } },
            ],
          },
          {
            role: 'user',
            parts: [
              { functionResponse: { id: 'call_1', name: 'get_weather', response: { output: 'sunny' } } },
              { functionResponse: { id: 'call_2', name: 'get_time', response: { output: '10:00' } } },
            ],
          },
        ],
      },
    },
    {
      name: 'tools become functionDeclarations with a JSON schema; tool_choice required -> ANY',
      body: {
        messages: [user('Hi')],
        tools: [
          {
            type: 'function',
            function: { name: 'get_weather', description: 'Weather', parameters: weather },
          },
          { type: 'function', function: { name: 'now' } },
        ],
        tool_choice: 'required',
        parallel_tool_calls: false,
      },
      expected: {
        tools: [
          {
            functionDeclarations: [
              { name: 'get_weather', description: 'Weather', parametersJsonSchema: weather },
              { name: 'now' },
            ],
          },
        ],
        toolConfig: { functionCallingConfig: { mode: 'ANY' } },
      },
    },
    {
      name: 'a named tool choice -> ANY restricted to that function',
      body: {
        messages: [user('Hi')],
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: weather } }],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
      },
      expected: {
        toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } },
      },
    },
    {
      name: 'tool_choice none -> NONE',
      body: {
        messages: [user('Hi')],
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: weather } }],
        tool_choice: 'none',
      },
      expected: { toolConfig: { functionCallingConfig: { mode: 'NONE' } } },
    },
    {
      name: 'generation settings; n -> candidateCount; json_schema -> JSON mime type and schema',
      body: {
        model: 'gemini-2.0-flash',
        messages: [user('Hi')],
        max_tokens: 200,
        max_completion_tokens: 100,
        temperature: 1.5,
        top_p: 0.9,
        stop: ['END'],
        n: 2,
        seed: 7,
        presence_penalty: 0.5,
        frequency_penalty: 0.25,
        response_format: { type: 'json_schema', json_schema: { name: 'w', schema: weather } },
      },
      expected: {
        generationConfig: {
          maxOutputTokens: 100,
          temperature: 1.5,
          topP: 0.9,
          stopSequences: ['END'],
          candidateCount: 2,
          presencePenalty: 0.5,
          frequencyPenalty: 0.25,
          seed: 7,
          responseMimeType: 'application/json',
          responseJsonSchema: weather,
        },
      },
    },
    {
      name: 'json_object -> JSON mime type only; no generation settings otherwise',
      body: { messages: [user('Hi')], response_format: { type: 'json_object' } },
      expected: { generationConfig: { responseMimeType: 'application/json' } },
    },
  ];
  for (const { name, body, expected } of cases) {
    it(name, () => {
      const translated = fromOpenAI(body);
      for (const [key, value] of Object.entries(expected))
        assert.deepEqual(translated[key as keyof GeminiGenerateContentRequest], value, key);
    });
  }

  it('penalties go to the models before 2.5 only: Gemini 2.5 and 3 refuse them ("Penalty is not enabled")', () => {
    const penalties = { messages: [user('Hi')], presence_penalty: 0.5, frequency_penalty: 0.25 };
    for (const model of ['gemini-2.0-flash', 'gemini-2.0-flash-lite-001', 'models/gemini-1.5-pro'])
      assert.deepEqual(
        fromOpenAI({ ...penalties, model }).generationConfig,
        { presencePenalty: 0.5, frequencyPenalty: 0.25 },
        model,
      );
    for (const model of [
      'gemini-2.5-flash',
      'gemini-2.5-pro',
      'gemini-3-pro-preview',
      'gemini-3.1-flash-lite',
      'gemini-flash-latest',
      'gemini-exp-1206',
    ])
      assert.equal(fromOpenAI({ ...penalties, model }).generationConfig, undefined, model);
  });

  it('leaves out generationConfig, tools and systemInstruction when there are none', () => {
    assert.deepEqual(fromOpenAI({ messages: [user('Hi')] }), {
      contents: [{ role: 'user', parts: [{ text: 'Hi' }] }],
    });
  });

  it('can leave function calls unsigned', () => {
    const translated = fromOpenAI({ messages: toolConversation }, { thoughtSignature: null });
    assert.ok(
      translated.contents.every((content) =>
        content.parts.every((part) => part.thoughtSignature === undefined),
      ),
    );
  });

  it('results of parallel calls of one function, sent in another order, answer their own calls', () => {
    const translated = fromOpenAI({
      messages: [
        user('Weather in Paris and London?'),
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_paris',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            {
              id: 'call_london',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"London"}' },
            },
          ],
        },
        // London finished first; OpenAI pairs by tool_call_id, so this order is valid.
        { role: 'tool', tool_call_id: 'call_london', content: 'London: rain' },
        { role: 'tool', tool_call_id: 'call_paris', content: 'Paris: sunny' },
      ],
    });
    assert.deepEqual(translated.contents[2], {
      role: 'user',
      parts: [
        { functionResponse: { id: 'call_paris', name: 'get_weather', response: { output: 'Paris: sunny' } } },
        {
          functionResponse: { id: 'call_london', name: 'get_weather', response: { output: 'London: rain' } },
        },
      ],
    });
  });

  it('a call goes back with its id and its response names it, but not an id Kordon made up for a call Gemini sent without one', () => {
    const madeUp = geminiToolCallId('resp-1', 0);
    const translated = fromOpenAI({
      messages: [
        user('Weather in Paris and London?'),
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'fc-aaa', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
            { id: madeUp, type: 'function', function: { name: 'get_weather', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: madeUp, content: 'London: rain' },
        { role: 'tool', tool_call_id: 'fc-aaa', content: 'Paris: sunny' },
      ],
    });
    const ids = (content: GeminiGenerateContentRequest['contents'][number] | undefined) =>
      content?.parts.map((part) => (part.functionCall ?? part.functionResponse)?.id);
    assert.deepEqual(ids(translated.contents[1]), ['fc-aaa', undefined]);
    assert.deepEqual(ids(translated.contents[2]), ['fc-aaa', undefined]);
  });

  it("refuses a tool result that answers no earlier call as OpenAI does, naming OpenAI's param", () => {
    assert.throws(
      () => fromOpenAI({ messages: [user('Hi'), { role: 'tool', tool_call_id: 'call_x', content: 'x' }] }),
      (error: unknown) =>
        error instanceof TranslationError &&
        error.code === 'invalid_value' &&
        error.param === 'messages.[1].role' &&
        error.message ===
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
    );
  });

  it('refuses tool-call arguments nested thousands of levels deep, naming them', () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const call = { id: 'call_1', type: 'function', function: { name: 'f', arguments: `{"a":${deep}}` } };
    assert.throws(
      () => fromOpenAI({ messages: [user('Hi'), { role: 'assistant', content: null, tool_calls: [call] }] }),
      (error: unknown) =>
        error instanceof TranslationError &&
        error.code === 'invalid_value' &&
        error.param === 'messages[1].tool_calls[0].function.arguments' &&
        /nested deeper than 64 levels/.test(error.message),
    );
  });

  it("refuses more than 5 stop sequences (Gemini's limit), naming stop; 5 are sent", () => {
    const five = ['a', 'b', 'c', 'd', 'e'];
    assert.deepEqual(
      fromOpenAI({ messages: [user('Hi')], stop: five }).generationConfig?.stopSequences,
      five,
    );
    assert.throws(
      () => fromOpenAI({ messages: [user('Hi')], stop: [...five, 'f'] }),
      (error: unknown) =>
        error instanceof TranslationError &&
        error.code === 'unsupported_value' &&
        error.param === 'stop' &&
        /up to 5 stop sequences/.test(error.message),
    );
  });

  describe('OpenAI tool_choice allowed_tools and custom', () => {
    const three = ['get_weather', 'get_time', 'get_news'].map((name) => ({
      type: 'function',
      function: { name, parameters: weather },
    }));
    const allowed = (mode: string, names: string[]) => ({
      type: 'allowed_tools',
      allowed_tools: { mode, tools: names.map((name) => ({ type: 'function', function: { name } })) },
    });
    const sent = (tool_choice: unknown) => {
      const translated = fromOpenAI({ messages: [user('Hi')], tools: three, tool_choice });
      return {
        declared: translated.tools?.[0]?.functionDeclarations?.map((declaration) => declaration.name),
        config: translated.toolConfig?.functionCallingConfig,
      };
    };

    it('mode required: ANY with allowedFunctionNames, every function declared', () =>
      assert.deepEqual(sent(allowed('required', ['get_time', 'get_news'])), {
        declared: ['get_weather', 'get_time', 'get_news'],
        config: { mode: 'ANY', allowedFunctionNames: ['get_time', 'get_news'] },
      }));
    it('mode auto: only the allowed functions declared, AUTO (allowedFunctionNames is for ANY only)', () =>
      assert.deepEqual(sent(allowed('auto', ['get_time', 'get_news'])), {
        declared: ['get_time', 'get_news'],
        config: undefined,
      }));
    it('one tool with mode required is that function named', () =>
      assert.deepEqual(sent(allowed('required', ['get_weather'])).config, {
        mode: 'ANY',
        allowedFunctionNames: ['get_weather'],
      }));
    it('a name that matches no tool is refused naming it', () =>
      assert.throws(
        () => sent(allowed('required', ['get_weather', 'get_stock'])),
        (error: unknown) =>
          error instanceof TranslationError &&
          error.param === 'tool_choice.allowed_tools.tools[1].function.name',
      ));
    it('a custom tool_choice is refused naming tool_choice', () =>
      assert.throws(
        () => sent({ type: 'custom', custom: { name: 'get_weather' } }),
        (error: unknown) =>
          error instanceof TranslationError &&
          error.param === 'tool_choice' &&
          error.code === 'unsupported_value',
      ));
  });

  it("a tool name of OpenAI's 64 characters goes as sent, in the declarations and the history", () => {
    const name = 'x'.repeat(64);
    const translated = fromOpenAI({
      tools: [{ type: 'function', function: { name, parameters: weather } }],
      tool_choice: { type: 'function', function: { name } },
      messages: [
        user('Go'),
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name, arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'done' },
      ],
    });
    assert.equal(translated.tools?.[0]?.functionDeclarations?.[0]?.name, name);
    assert.deepEqual(translated.toolConfig?.functionCallingConfig?.allowedFunctionNames, [name]);
    assert.equal(translated.contents[1]?.parts[0]?.functionCall?.name, name);
    assert.equal(translated.contents[2]?.parts[0]?.functionResponse?.name, name);
  });

  it("refuses an OpenAI caller's function name starting with a digit or a dash, which Gemini refuses", () => {
    for (const name of ['3d_render', '-x'])
      assert.throws(
        () =>
          fromOpenAI({
            tools: [{ type: 'function', function: { name, parameters: weather } }],
            messages: [user('Go')],
          }),
        (error: unknown) =>
          error instanceof TranslationError &&
          error.param === 'tools[0].function.name' &&
          /start with a letter or an underscore/.test(error.message),
      );
  });

  it('refuses, naming the id, calls of one message that share an id: Gemini needs a response for each', () => {
    assert.throws(
      () =>
        fromOpenAI({
          messages: [
            user('Go'),
            {
              role: 'assistant',
              content: null,
              tool_calls: [
                { id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
                { id: 'call_0', type: 'function', function: { name: 'get_time', arguments: '{}' } },
              ],
            },
            { role: 'tool', tool_call_id: 'call_0', content: 'sunny' },
          ],
        }),
      (error: unknown) => error instanceof TranslationError && error.param === 'messages[1].tool_calls[1].id',
    );
  });

  it('refuses, naming messages, a request of system messages only: Gemini needs contents', () => {
    assert.throws(
      () => fromOpenAI({ messages: [{ role: 'system', content: 'Write a haiku.' }] }),
      (error: unknown) => error instanceof TranslationError && error.param === 'messages',
    );
  });

  it("refuses an OpenAI caller's function name over 64 characters as OpenAI does (its calls could not be named back)", () => {
    const name = 'x'.repeat(65);
    assert.throws(
      () =>
        fromOpenAI({
          tools: [
            { type: 'function', function: { name: 'short', parameters: weather } },
            { type: 'function', function: { name, parameters: weather } },
          ],
          messages: [user('Go')],
        }),
      (error: unknown) =>
        error instanceof TranslationError &&
        error.param === 'tools[1].function.name' &&
        /maximum length 64/.test(error.message),
    );
  });

  // ai.google.dev/api/generate-content#GenerationConfig: responseLogprobs, logprobs (top candidates).
  it('sends logprobs as responseLogprobs and top_logprobs as logprobs, not a 400', () => {
    assert.deepEqual(
      fromOpenAI({ messages: [user('Hi')], logprobs: true, top_logprobs: 3 }).generationConfig,
      {
        responseLogprobs: true,
        logprobs: 3,
      },
    );
    assert.deepEqual(fromOpenAI({ messages: [user('Hi')], logprobs: true }).generationConfig, {
      responseLogprobs: true,
    });
    assert.equal(fromOpenAI({ messages: [user('Hi')], logprobs: false }).generationConfig, undefined);
  });

  it('refuses logprobs with stream: true, naming logprobs (the chunks do not carry them yet)', () => {
    assert.throws(
      () => fromOpenAI({ messages: [user('Hi')], logprobs: true, stream: true }),
      (error: unknown) => error instanceof TranslationError && error.param === 'logprobs',
    );
  });

  // Google's own OpenAI compatibility (ai.google.dev/gemini-api/docs/openai#thinking). Gemini
  // 2.5 thinks by default and bills its thoughts as output: the caller's effort must reach it.
  const thinking = (model: string, effort: string) =>
    fromOpenAI({ model, messages: [user('What is 2 + 2?')], reasoning_effort: effort }).generationConfig
      ?.thinkingConfig;

  it('reasoning_effort sets the thinking budget of a Gemini 2.5 model, none turning thinking off', () => {
    const budgets = { none: 0, minimal: 1024, low: 1024, medium: 8192, high: 24576 };
    for (const [effort, thinkingBudget] of Object.entries(budgets)) {
      assert.deepEqual(thinking('gemini-2.5-flash', effort), { thinkingBudget }, effort);
    }
    assert.deepEqual(thinking('gemini-2.5-pro', 'low'), { thinkingBudget: 1024 });
    // An alias that names no version gets the budget, which Gemini 3 accepts too.
    assert.deepEqual(thinking('gemini-flash-latest', 'high'), { thinkingBudget: 24576 });
    assert.equal(fromOpenAI({ messages: [user('Hi')] }).generationConfig, undefined, 'none asked, none sent');
  });

  it('reasoning_effort sends no thinking config to a model before 2.5, which does not think', () => {
    for (const model of ['gemini-2.0-flash', 'gemini-2.0-flash-lite', 'gemini-1.5-pro'])
      assert.equal(thinking(model, 'high'), undefined, model);
  });

  it('reasoning_effort sets the thinking level of a Gemini 3 model (minimal is low on Pro)', () => {
    for (const effort of ['minimal', 'low', 'medium', 'high']) {
      assert.deepEqual(thinking('gemini-3-flash-preview', effort), { thinkingLevel: effort }, effort);
      assert.deepEqual(thinking('gemini-3.1-flash-lite-preview', effort), { thinkingLevel: effort }, effort);
    }
    assert.deepEqual(thinking('gemini-3.1-pro-preview', 'minimal'), { thinkingLevel: 'low' });
    assert.deepEqual(thinking('gemini-3.1-pro-preview', 'medium'), { thinkingLevel: 'medium' });
    assert.deepEqual(thinking('gemini-3.1-pro-preview', 'high'), { thinkingLevel: 'high' });
  });

  it('reasoning_effort medium on Gemini 3 Pro, which takes only low and high, is high, as Google maps it', () => {
    // gemini-3-pro-preview answers thinkingLevel medium with 400 "Thinking level MEDIUM is not
    // supported for this model."; Google's OpenAI compatibility table maps reasoning_effort
    // medium to high there (minimal to low), so a caller asking medium gets no less thinking.
    assert.deepEqual(thinking('gemini-3-pro-preview', 'medium'), { thinkingLevel: 'high' });
    assert.deepEqual(thinking('gemini-3-pro-preview', 'minimal'), { thinkingLevel: 'low' });
    assert.deepEqual(thinking('gemini-3-pro-preview', 'low'), { thinkingLevel: 'low' });
    assert.deepEqual(thinking('gemini-3-pro-preview', 'high'), { thinkingLevel: 'high' });
  });

  it('refuses, naming reasoning_effort, none where thinking cannot be turned off and efforts Google does not map', () => {
    const refused = (model: string, effort: string, message: RegExp) =>
      assert.throws(
        () => thinking(model, effort),
        (error: unknown) =>
          error instanceof TranslationError &&
          error.code === 'unsupported_value' &&
          error.param === 'reasoning_effort' &&
          message.test(error.message),
        `${model} ${effort}`,
      );
    refused('gemini-3-flash-preview', 'none', /cannot turn thinking off/);
    refused('gemini-3.1-pro-preview', 'none', /cannot turn thinking off/);
    refused('gemini-2.5-pro', 'none', /cannot turn thinking off/);
    refused('gemini-2.5-flash', 'xhigh', /`xhigh` has no counterpart/);
    refused('gemini-3-flash-preview', 'xhigh', /`xhigh` has no counterpart/);
  });
});

describe('inline images to Gemini', () => {
  it('an image named image/jpg (which OpenAI accepts) is sent as image/jpeg, the name Gemini documents', () => {
    const translated = fromOpenAI({
      messages: [user([{ type: 'image_url', image_url: { url: 'data:image/jpg;base64,AAAA' } }])],
    });
    assert.deepEqual(translated.contents[0]?.parts, [
      { inlineData: { mimeType: 'image/jpeg', data: 'AAAA' } },
    ]);
  });
  it('an image whose bytes are JPEG is sent as image/jpeg whatever its label', () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xdb, 0x00, 0x43]).toString('base64');
    const translated = fromOpenAI({
      messages: [user([{ type: 'image_url', image_url: { url: `data:image/png;base64,${jpeg}` } }])],
    });
    assert.deepEqual(translated.contents[0]?.parts, [{ inlineData: { mimeType: 'image/jpeg', data: jpeg } }]);
  });

  it("refuses inline data that is not base64, naming the caller's field, instead of sending it to Gemini", () => {
    const refused = (translate: () => unknown, param: string) =>
      assert.throws(
        translate,
        (error: unknown) =>
          error instanceof TranslationError && error.code === 'invalid_value' && error.param === param,
        param,
      );
    refused(
      () =>
        fromOpenAI({
          messages: [user([{ type: 'image_url', image_url: { url: 'data:image/png;base64,not base64!' } }])],
        }),
      'messages[0].content[0].image_url.url',
    );
    refused(
      () =>
        fromOpenAI({ messages: [user([{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }])] }),
      'messages[0].content[0]',
    );
    refused(
      () =>
        fromAnthropic({
          messages: [
            user([
              { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: '%PDF' } },
            ]),
          ],
        }),
      'messages[0].content[0].source',
    );
  });
});

describe('Anthropic messages request -> Gemini generateContent', () => {
  it('keeps top_k, system, tool use and results (errors under `error`), and max_tokens', () => {
    const translated = fromAnthropic({
      system: [{ type: 'text', text: 'Be brief.' }],
      top_k: 40,
      temperature: 0.5,
      stop_sequences: ['END'],
      tools: [{ name: 'get_weather', input_schema: weather }],
      tool_choice: { type: 'any' },
      messages: [
        user('Weather in Paris?'),
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          ],
        },
        user([
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'no data', is_error: true },
          { type: 'text', text: 'Try again?' },
        ]),
      ],
    });
    assert.deepEqual(translated, {
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
        {
          role: 'model',
          parts: [
            { text: 'Checking.' },
            {
              functionCall: { id: 'toolu_1', name: 'get_weather', args: { city: 'Paris' } },
              thoughtSignature: FOREIGN_THOUGHT_SIGNATURE,
            },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { id: 'toolu_1', name: 'get_weather', response: { error: 'no data' } } },
            { text: 'Try again?' },
          ],
        },
      ],
      tools: [{ functionDeclarations: [{ name: 'get_weather', parametersJsonSchema: weather }] }],
      toolConfig: { functionCallingConfig: { mode: 'ANY' } },
      generationConfig: { maxOutputTokens: 512, temperature: 0.5, topK: 40, stopSequences: ['END'] },
    });
  });

  describe("tool names over Gemini's 64 characters (Anthropic takes 128)", () => {
    // MCP tools as Claude Code names them: mcp__<server>__<tool>.
    const long = 'mcp__github_enterprise_server__list_pull_request_review_comments_for_repository';
    const short = `${long.slice(0, 55)}_${createHash('sha256').update(long).digest('hex').slice(0, 8)}`;
    it('go as 55 characters, _ and 8 hex of their sha256 in the declarations, allowedFunctionNames and the history', () => {
      const translated = fromAnthropic({
        tools: [
          { name: long, input_schema: weather },
          { name: 'x'.repeat(64), input_schema: weather },
        ],
        tool_choice: { type: 'tool', name: long },
        messages: [
          user('List them'),
          { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: long, input: {} }] },
          user([{ type: 'tool_result', tool_use_id: 't1', content: 'none' }]),
        ],
      });
      assert.deepEqual(
        translated.tools?.[0]?.functionDeclarations?.map((declaration) => declaration.name),
        [short, 'x'.repeat(64)],
      );
      assert.deepEqual(translated.toolConfig?.functionCallingConfig?.allowedFunctionNames, [short]);
      assert.equal(translated.contents[1]?.parts[0]?.functionCall?.name, short);
      assert.equal(translated.contents[2]?.parts[0]?.functionResponse?.name, short);
    });
    it('the request names what it sent in place of which name (only those shortened)', () => {
      const request = anthropicMessagesRequest.parse({
        model: 'gemini-2.5-flash',
        max_tokens: 10,
        tools: [
          { name: long, input_schema: weather },
          { name: 'x'.repeat(64), input_schema: weather },
        ],
        messages: [user('Hi')],
      });
      assert.deepEqual([...anthropicToolNamesSent(request)], [[short, long]]);
    });
  });

  it("a tool name starting with a digit or a dash (Claude's pattern takes it) goes with `_` before it, and is named back", () => {
    const request = anthropicMessagesRequest.parse({
      model: 'gemini-2.5-flash',
      max_tokens: 10,
      tools: [
        { name: '3d_render', input_schema: weather },
        { name: '-x', input_schema: weather },
      ],
      tool_choice: { type: 'tool', name: '3d_render' },
      messages: [
        user('Render'),
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: '-x', input: {} }] },
        user([{ type: 'tool_result', tool_use_id: 't1', content: 'done' }]),
      ],
    });
    const translated = anthropicToGeminiRequest(request);
    assert.deepEqual(
      translated.tools?.[0]?.functionDeclarations?.map((declaration) => declaration.name),
      ['_3d_render', '_-x'],
    );
    assert.deepEqual(translated.toolConfig?.functionCallingConfig?.allowedFunctionNames, ['_3d_render']);
    assert.equal(translated.contents[1]?.parts[0]?.functionCall?.name, '_-x');
    assert.equal(translated.contents[2]?.parts[0]?.functionResponse?.name, '_-x');
    assert.deepEqual(
      [...anthropicToolNamesSent(request, 'gemini')],
      [
        ['_3d_render', '3d_render'],
        ['_-x', '-x'],
      ],
    );
    // GPT takes them as they are.
    assert.deepEqual([...anthropicToolNamesSent(request, 'openai')], []);
  });

  it('refuses two tool names that would reach the model as one (`0a` and `_0a`), naming both', () => {
    const tools = [
      { name: '0a', input_schema: weather },
      { name: '_0a', input_schema: weather },
    ];
    // Sent as they were, Gemini would see one function where the caller has two, and a call to
    // it would be named back as `0a` whichever the model meant.
    const refused = (request: unknown) =>
      assert.throws(
        () => anthropicToGeminiRequest(anthropicMessagesRequest.parse(request)),
        (error: unknown) =>
          error instanceof TranslationError &&
          error.code === 'unsupported_value' &&
          error.param === 'tools[1].name' &&
          error.message.includes("'0a'") &&
          error.message.includes("'_0a'"),
      );
    refused({ model: 'gemini-2.5-flash', max_tokens: 10, tools, messages: [user('Hi')] });
    // A name met only in the history collides as well.
    assert.throws(
      () =>
        anthropicToGeminiRequest(
          anthropicMessagesRequest.parse({
            model: 'gemini-2.5-flash',
            max_tokens: 10,
            tools: [tools[1]],
            messages: [
              user('Render'),
              { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: '0a', input: {} }] },
              user([{ type: 'tool_result', tool_use_id: 't1', content: 'done' }]),
            ],
          }),
        ),
      (error: unknown) => error instanceof TranslationError && error.param === 'messages[1].content[0].name',
    );
    // The same name in the tools and the history is one tool.
    const same = anthropicToGeminiRequest(
      anthropicMessagesRequest.parse({
        model: 'gemini-2.5-flash',
        max_tokens: 10,
        tools: [tools[0]],
        messages: [
          user('Render'),
          { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: '0a', input: {} }] },
          user([{ type: 'tool_result', tool_use_id: 't1', content: 'done' }]),
        ],
      }),
    );
    assert.equal(same.contents[1]?.parts[0]?.functionCall?.name, '_0a');
  });

  it('refuses a name that is another, long one, as shortened (both would reach GPT as one)', () => {
    const long = `mcp__server__${'a'.repeat(70)}`;
    const request = anthropicMessagesRequest.parse({
      model: 'gpt-4o-mini',
      max_tokens: 10,
      tools: [
        { name: long, input_schema: weather },
        { name: shortToolName(long), input_schema: weather },
      ],
      messages: [user('Hi')],
    });
    assert.throws(
      () => anthropicToOpenAIRequest(request),
      (error: unknown) => error instanceof TranslationError && error.param === 'tools[1].name',
    );
  });

  it('images in tool results follow the function responses; image blocks become inlineData', () => {
    const translated = fromAnthropic({
      messages: [
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'screenshot', input: {} }] },
        user([
          {
            type: 'tool_result',
            tool_use_id: 't1',
            content: [
              { type: 'text', text: 'done' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
            ],
          },
        ]),
      ],
    });
    assert.deepEqual(translated.contents[1], {
      role: 'user',
      parts: [
        { functionResponse: { id: 't1', name: 'screenshot', response: { output: 'done' } } },
        { inlineData: { mimeType: 'image/png', data: PNG } },
      ],
    });
  });

  it("a PDF's title and context (text the model reads) go as a text part before it: inlineData has no such field", () => {
    const pdf = { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' };
    const translated = fromAnthropic({
      messages: [
        user([
          { type: 'document', source: pdf, title: 'Q3 board minutes (DRAFT)' },
          { type: 'document', source: pdf, title: 'Q3 report', context: 'The unreviewed draft.' },
          { type: 'document', source: pdf, context: 'The published version.' },
          { type: 'document', source: pdf },
          { type: 'text', text: 'Which one is the draft?' },
        ]),
      ],
    });
    const inline = { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } };
    assert.deepEqual(translated.contents[0]?.parts, [
      { text: 'Q3 board minutes (DRAFT)' },
      inline,
      { text: 'Q3 report\n\nThe unreviewed draft.' },
      inline,
      { text: 'The published version.' },
      inline,
      inline,
      { text: 'Which one is the draft?' },
    ]);
  });

  it('a search_result block is text (title, source, text blocks), in a turn and in a function response', () => {
    const result = (source: string) => ({
      type: 'search_result',
      source,
      title: 'Return policy',
      content: [{ type: 'text', text: 'Within 30 days.' }],
    });
    const translated = fromAnthropic({
      messages: [
        user([result('https://docs.example.com/returns'), { type: 'text', text: 'How long?' }]),
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'search', input: {} }] },
        user([{ type: 'tool_result', tool_use_id: 't1', content: [result('kb:7')] }]),
      ],
    });
    assert.deepEqual(translated.contents[0]?.parts, [
      { text: 'Return policy\n\nhttps://docs.example.com/returns\n\nWithin 30 days.' },
      { text: 'How long?' },
    ]);
    assert.deepEqual(translated.contents[2]?.parts, [
      {
        functionResponse: {
          id: 't1',
          name: 'search',
          response: { output: 'Return policy\n\nkb:7\n\nWithin 30 days.' },
        },
      },
    ]);
  });

  it('results of parallel calls of one function follow the order of the calls; text after them', () => {
    const translated = fromAnthropic({
      messages: [
        user('Weather in Paris and London?'),
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'toolu_paris', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_london', name: 'get_weather', input: { city: 'London' } },
          ],
        },
        user([
          { type: 'tool_result', tool_use_id: 'toolu_london', content: 'London: rain' },
          { type: 'tool_result', tool_use_id: 'toolu_paris', content: 'Paris: sunny' },
          { type: 'text', text: 'Compare them.' },
        ]),
      ],
    });
    assert.deepEqual(translated.contents[2], {
      role: 'user',
      parts: [
        {
          functionResponse: { id: 'toolu_paris', name: 'get_weather', response: { output: 'Paris: sunny' } },
        },
        {
          functionResponse: { id: 'toolu_london', name: 'get_weather', response: { output: 'London: rain' } },
        },
        { text: 'Compare them.' },
      ],
    });
  });

  it('names stop_sequences when there are more than Gemini takes', () => {
    assert.throws(
      () => fromAnthropic({ messages: [user('Hi')], stop_sequences: ['1', '2', '3', '4', '5', '6'] }),
      (error: unknown) => error instanceof TranslationError && error.param === 'stop_sequences',
    );
  });

  it('names the Anthropic field when a tool result answers no call', () => {
    assert.throws(
      () => fromAnthropic({ messages: [user([{ type: 'tool_result', tool_use_id: 'nope', content: 'x' }])] }),
      (error: unknown) =>
        error instanceof TranslationError && error.param === 'messages[0].content[0].tool_use_id',
    );
  });

  // Gemini 2.5 thinks by default (a dynamic budget) and bills its thoughts as output: the
  // caller's `thinking` must reach it, with the model knowledge `reasoning_effort` uses.
  const thinkingOf = (model: string, thinking: Record<string, unknown>) =>
    fromAnthropic({ model, max_tokens: 32000, messages: [user('What is 2 + 2?')], thinking }).generationConfig
      ?.thinkingConfig;

  it('thinking disabled turns Gemini 2.5 Flash and Flash-Lite thinking off (thinkingBudget 0)', () => {
    assert.deepEqual(thinkingOf('gemini-2.5-flash', { type: 'disabled' }), { thinkingBudget: 0 });
    assert.deepEqual(thinkingOf('gemini-2.5-flash-lite', { type: 'disabled' }), { thinkingBudget: 0 });
    assert.equal(fromAnthropic({ messages: [user('Hi')] }).generationConfig?.thinkingConfig, undefined);
  });

  it('thinking enabled gives budget_tokens as the thinking budget, clamped into the model range', () => {
    const enabled = (budget_tokens: number) => ({ type: 'enabled', budget_tokens });
    assert.deepEqual(thinkingOf('gemini-2.5-flash', enabled(2048)), { thinkingBudget: 2048 });
    // Google's ranges: Flash and Flash-Lite up to 24,576, Pro up to 32,768.
    assert.deepEqual(thinkingOf('gemini-2.5-flash', enabled(30000)), { thinkingBudget: 24576 });
    assert.deepEqual(thinkingOf('gemini-2.5-flash-lite', enabled(30000)), { thinkingBudget: 24576 });
    assert.deepEqual(thinkingOf('gemini-2.5-pro', enabled(30000)), { thinkingBudget: 30000 });
    assert.deepEqual(thinkingOf('gemini-2.5-pro', enabled(31999)), { thinkingBudget: 31999 });
    assert.deepEqual(thinkingOf('gemini-flash-latest', enabled(4096)), { thinkingBudget: 4096 });
  });

  it('thinking enabled on Gemini 3 is the highest level its budget reaches', () => {
    const level = (budget_tokens: number) =>
      thinkingOf('gemini-3-flash-preview', { type: 'enabled', budget_tokens })?.thinkingLevel;
    assert.equal(level(1024), 'low');
    assert.equal(level(8191), 'low');
    assert.equal(level(8192), 'medium');
    assert.equal(level(24576), 'high');
    assert.equal(
      thinkingOf('gemini-3.1-pro-preview', { type: 'enabled', budget_tokens: 2048 })?.thinkingLevel,
      'low',
    );
    // Gemini 3 Pro has no medium: a budget that reaches medium but not high is low there.
    const pro = (budget_tokens: number) =>
      thinkingOf('gemini-3-pro-preview', { type: 'enabled', budget_tokens })?.thinkingLevel;
    assert.equal(pro(10000), 'low');
    assert.equal(pro(24576), 'high');
  });

  it('thinking adaptive is Gemini dynamic thinking (-1 on 2.5, the default on Gemini 3)', () => {
    assert.deepEqual(thinkingOf('gemini-2.5-flash-lite', { type: 'adaptive' }), { thinkingBudget: -1 });
    assert.equal(thinkingOf('gemini-3-flash-preview', { type: 'adaptive' }), undefined);
  });

  it('thinking sends no thinking config to a model before 2.5, which does not think', () => {
    for (const model of ['gemini-2.0-flash', 'gemini-1.5-pro'])
      for (const type of ['disabled', 'enabled', 'adaptive'])
        assert.equal(thinkingOf(model, { type, budget_tokens: 2048 }), undefined, `${model} ${type}`);
  });

  it('refuses, naming thinking, disabled where thinking cannot be turned off and types Gemini has not', () => {
    const refused = (model: string, thinking: Record<string, unknown>, param: string, message: RegExp) =>
      assert.throws(
        () => thinkingOf(model, thinking),
        (error: unknown) =>
          error instanceof TranslationError && error.param === param && message.test(error.message),
        `${model} ${JSON.stringify(thinking)}`,
      );
    refused('gemini-2.5-pro', { type: 'disabled' }, 'thinking', /cannot turn thinking off/);
    refused('gemini-3-flash-preview', { type: 'disabled' }, 'thinking', /cannot turn thinking off/);
    refused('gemini-3.1-pro-preview', { type: 'disabled' }, 'thinking', /cannot turn thinking off/);
    refused('gemini-2.5-flash', { type: 'enabled' }, 'thinking.budget_tokens', /needs a `budget_tokens`/);
    refused('gemini-2.5-flash', { type: 'between_tools' }, 'thinking.type', /no counterpart on Gemini/);
  });

  // Claude's effort parameter: how much the model spends, its thinking included.
  describe('output_config.effort -> the thinking config, as reasoning_effort is', () => {
    const effortOf = (model: string, effort: string, thinking?: Record<string, unknown>) =>
      fromAnthropic({
        model,
        messages: [user('What is 2 + 2?')],
        output_config: { effort },
        ...(thinking ? { thinking } : {}),
      }).generationConfig?.thinkingConfig;
    const enabled = (budget_tokens: number) => ({ type: 'enabled', budget_tokens });

    it('low, medium and high are the budgets or levels of reasoning_effort; max the most the model takes', () => {
      assert.deepEqual(effortOf('gemini-2.5-flash', 'low'), { thinkingBudget: 1024 });
      assert.deepEqual(effortOf('gemini-2.5-flash', 'medium', { type: 'adaptive' }), {
        thinkingBudget: 8192,
      });
      assert.deepEqual(effortOf('gemini-2.5-flash', 'high'), { thinkingBudget: 24576 });
      assert.deepEqual(effortOf('gemini-2.5-flash', 'max'), { thinkingBudget: 24576 });
      assert.deepEqual(effortOf('gemini-2.5-pro', 'max'), { thinkingBudget: 32768 });
      assert.deepEqual(effortOf('gemini-3-flash-preview', 'low'), { thinkingLevel: 'low' });
      assert.deepEqual(effortOf('gemini-3.1-pro-preview', 'max'), { thinkingLevel: 'high' });
      assert.deepEqual(effortOf('gemini-3-pro-preview', 'medium'), { thinkingLevel: 'high' });
    });

    it('with thinking enabled, the lesser of the two (budget_tokens stays the ceiling); disabled wins', () => {
      assert.deepEqual(effortOf('gemini-2.5-flash', 'high', enabled(2048)), { thinkingBudget: 2048 });
      assert.deepEqual(effortOf('gemini-2.5-flash', 'low', enabled(20000)), { thinkingBudget: 1024 });
      assert.deepEqual(effortOf('gemini-3-flash-preview', 'max', enabled(8192)), { thinkingLevel: 'medium' });
      // Gemini 3 Pro: medium is high, but a budget_tokens that reaches only medium is low there.
      assert.deepEqual(effortOf('gemini-3-pro-preview', 'medium', enabled(10000)), { thinkingLevel: 'low' });
      assert.deepEqual(effortOf('gemini-2.5-flash', 'high', { type: 'disabled' }), { thinkingBudget: 0 });
    });

    it('a model before 2.5, which does not think, gets no thinking config', () => {
      assert.equal(effortOf('gemini-2.0-flash', 'max'), undefined);
    });

    it('without thinking, a model that thinks only when asked (2.5 Flash-Lite) keeps its default', () => {
      // Claude thinks only when `thinking` asks it to: an effort alone turns no thinking on.
      for (const model of ['gemini-2.5-flash-lite', 'gemini-2.5-flash-lite-preview-06-17'])
        for (const effort of ['low', 'high', 'max', 'xhigh'])
          assert.equal(effortOf(model, effort), undefined, `${model} ${effort}`);
      // With thinking, the effort says how much, as on the models that think anyway.
      assert.deepEqual(effortOf('gemini-2.5-flash-lite', 'low', { type: 'adaptive' }), {
        thinkingBudget: 1024,
      });
      assert.deepEqual(effortOf('gemini-2.5-flash-lite', 'max', { type: 'adaptive' }), {
        thinkingBudget: 24576,
      });
      assert.deepEqual(effortOf('gemini-2.5-flash-lite', 'low', enabled(20000)), { thinkingBudget: 1024 });
      // Models that think anyway are told the effort (it lowers or raises their thinking).
      assert.deepEqual(effortOf('gemini-3-flash-preview', 'low'), { thinkingLevel: 'low' });
      assert.deepEqual(effortOf('gemini-2.5-flash', 'low'), { thinkingBudget: 1024 });
      assert.deepEqual(effortOf('gemini-flash-latest', 'low'), { thinkingBudget: 1024 });
    });

    it('without thinking, Gemini 3 Flash-Lite keeps its default minimal level, and so does the Flash-Lite alias', () => {
      // Gemini 3 Flash-Lite thinks at `minimal` unless told otherwise; every effort Claude takes
      // (low to max) is above it, so an effort alone would turn its thinking up.
      for (const model of [
        'gemini-3.1-flash-lite',
        'gemini-3.1-flash-lite-preview',
        'gemini-3.5-flash-lite',
        'gemini-flash-lite-latest',
        'models/gemini-flash-lite-latest',
      ])
        for (const effort of ['low', 'medium', 'high', 'max'])
          assert.equal(effortOf(model, effort), undefined, `${model} ${effort}`);
      // With thinking, the effort says how much.
      assert.deepEqual(effortOf('gemini-3.1-flash-lite', 'low', { type: 'adaptive' }), {
        thinkingLevel: 'low',
      });
      assert.deepEqual(effortOf('gemini-3.1-flash-lite', 'high', enabled(2048)), { thinkingLevel: 'low' });
      // The alias takes Flash-Lite's budget range (512 to 24,576), as a 2.5 Flash-Lite does.
      assert.deepEqual(effortOf('gemini-flash-lite-latest', 'max', { type: 'adaptive' }), {
        thinkingBudget: 24576,
      });
      assert.deepEqual(
        fromAnthropic({
          model: 'gemini-flash-lite-latest',
          messages: [user('What is 2 + 2?')],
          thinking: { type: 'enabled', budget_tokens: 100 },
        }).generationConfig?.thinkingConfig,
        { thinkingBudget: 512 },
      );
    });

    it("the Pro alias cannot turn thinking off and takes Pro's budget range, as 2.5 Pro and Gemini 3 Pro", () => {
      assert.throws(
        () => fromOpenAI({ model: 'gemini-pro-latest', messages: [user('Hi')], reasoning_effort: 'none' }),
        (error: unknown) => error instanceof TranslationError && error.param === 'reasoning_effort',
      );
      assert.deepEqual(effortOf('gemini-pro-latest', 'max'), { thinkingBudget: 32768 });
    });

    it("an OpenAI caller's reasoning_effort still turns 2.5 Flash-Lite thinking on", () => {
      const config = fromOpenAI({
        model: 'gemini-2.5-flash-lite',
        messages: [user('What is 2 + 2?')],
        reasoning_effort: 'low',
      }).generationConfig?.thinkingConfig;
      assert.deepEqual(config, { thinkingBudget: 1024 });
    });

    it('refuses, naming output_config.effort, xhigh (Google maps no such effort) and a value Claude has not', () => {
      for (const [model, effort] of [
        ['gemini-2.5-flash', 'xhigh'],
        ['gemini-3-flash-preview', 'xhigh'],
        ['gemini-2.5-flash', 'minimal'],
      ] as const)
        assert.throws(
          () => effortOf(model, effort),
          (error: unknown) => error instanceof TranslationError && error.param === 'output_config.effort',
          `${model} ${effort}`,
        );
    });
  });
});
