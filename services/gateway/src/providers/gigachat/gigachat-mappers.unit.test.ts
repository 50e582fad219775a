import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OPENAI_DONE, TranslationError } from '../../translate/index.js';
import { streamObserver } from '../provider-contract.js';
import {
  GigaChatStreamMapper,
  gigaChatRequestFromOpenAI,
  gigaChatResponseToOpenAI,
} from './gigachat-mappers.js';

const refusedAt = (param: string) => (error: unknown) =>
  error instanceof TranslationError && error.param === param;

describe('OpenAI request -> GigaChat', () => {
  it('maps messages, tools, choice and options', () => {
    const request = gigaChatRequestFromOpenAI(
      {
        model: 'GigaChat-Pro',
        temperature: 0,
        max_tokens: 100,
        top_p: 0.5,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Weather?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'weather', arguments: '{"city":"Kazan"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '{"t":5}' },
        ],
        tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }],
        tool_choice: 'auto',
      },
      { model: 'GigaChat-Pro', stream: false },
    );
    assert.deepEqual(request, {
      model: 'GigaChat-Pro',
      stream: false,
      temperature: 0.0001,
      top_p: 0.5,
      max_tokens: 100,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: '', function_call: { name: 'weather', arguments: { city: 'Kazan' } } },
        { role: 'function', name: 'weather', content: '{"t":5}' },
      ],
      functions: [{ name: 'weather', parameters: { type: 'object' } }],
      function_call: 'auto',
    });
  });

  it('a tool result goes as a JSON object: an object as sent, anything else wrapped as {"result": ...}', () => {
    const sentResult = (content: string) => {
      const request = gigaChatRequestFromOpenAI(
        {
          model: 'GigaChat-Pro',
          messages: [
            { role: 'user', content: 'Weather?' },
            {
              role: 'assistant',
              content: null,
              tool_calls: [
                { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{}' } },
              ],
            },
            { role: 'tool', tool_call_id: 'call_1', content },
          ],
          tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }],
        },
        { model: 'GigaChat-Pro', stream: false },
      ) as { messages: { content: string }[] };
      return request.messages.at(-1)?.content;
    };
    assert.equal(sentResult('{"t": 5}'), '{"t": 5}');
    assert.equal(sentResult('sunny, 5 °C'), '{"result":"sunny, 5 °C"}');
    assert.equal(sentResult('42'), '{"result":42}');
    assert.equal(sentResult('[1, 2]'), '{"result":[1,2]}');
    assert.equal(sentResult('"done"'), '{"result":"done"}');
    assert.equal(sentResult('null'), '{"result":null}');
    assert.equal(sentResult('true'), '{"result":true}');
  });

  it('tools without tool_choice get function_call auto (GigaChat defaults to none); none and a name are kept', () => {
    const tools = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }];
    const sent = (extra: Record<string, unknown>) =>
      gigaChatRequestFromOpenAI(
        { model: 'GigaChat', messages: [{ role: 'user', content: 'Weather?' }], tools, ...extra },
        { model: 'GigaChat', stream: false },
      ).function_call;
    assert.equal(sent({}), 'auto');
    assert.equal(sent({ tool_choice: null }), 'auto');
    assert.equal(sent({ tool_choice: 'none' }), 'none');
    assert.deepEqual(sent({ tool_choice: { type: 'function', function: { name: 'weather' } } }), {
      name: 'weather',
    });
    const withoutTools = gigaChatRequestFromOpenAI(
      { model: 'GigaChat', messages: [{ role: 'user', content: 'hi' }] },
      { model: 'GigaChat', stream: false },
    );
    assert.equal(withoutTools.function_call, undefined);
  });

  it('tool_choice naming a function not in tools (or with no tools) is refused as OpenAI refuses it', () => {
    const tools = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }];
    const sent = (extra: Record<string, unknown>) =>
      gigaChatRequestFromOpenAI(
        { model: 'GigaChat', messages: [{ role: 'user', content: 'Weather?' }], ...extra },
        { model: 'GigaChat', stream: false },
      ).function_call;
    const named = (name: string) => ({ type: 'function', function: { name } });
    const saying = (message: string) => (error: unknown) =>
      refusedAt('tool_choice')(error) && (error as Error).message === message;
    assert.throws(
      () => sent({ tools, tool_choice: named('stock') }),
      saying(
        "Invalid value for 'tool_choice': no function named 'stock' was specified in the 'tools' parameter.",
      ),
    );
    // Without tools the choice was dropped before: the answer came without the tool asked for.
    for (const without of [{}, { tools: [] }])
      assert.throws(
        () => sent({ ...without, tool_choice: named('stock') }),
        saying(
          "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified " +
            "(it names the function 'stock').",
        ),
      );
    assert.deepEqual(sent({ tools, tool_choice: named('weather') }), { name: 'weather' });
  });

  it('tool_choice allowed_tools: only the allowed functions offered with auto; required refused as required is, but for one tool', () => {
    const tools = ['weather', 'time', 'news'].map((name) => ({
      type: 'function',
      function: { name, parameters: { type: 'object' } },
    }));
    const allowed = (mode: string, names: string[]) => ({
      type: 'allowed_tools',
      allowed_tools: { mode, tools: names.map((name) => ({ type: 'function', function: { name } })) },
    });
    const sent = (tool_choice: unknown) => {
      const request = gigaChatRequestFromOpenAI(
        { model: 'GigaChat', messages: [{ role: 'user', content: 'Weather?' }], tools, tool_choice },
        { model: 'GigaChat', stream: false },
      );
      return { functions: request.functions?.map((fn) => fn.name), call: request.function_call };
    };
    const refusedAt = (param: string) => (error: unknown) =>
      error instanceof TranslationError && error.param === param;
    assert.deepEqual(sent(allowed('auto', ['time', 'news'])), { functions: ['time', 'news'], call: 'auto' });
    assert.deepEqual(sent(allowed('required', ['news'])), {
      functions: ['weather', 'time', 'news'],
      call: { name: 'news' },
    });
    assert.deepEqual(sent(allowed('auto', [])), { functions: ['weather', 'time', 'news'], call: 'none' });
    assert.throws(() => sent(allowed('required', ['time', 'news'])), refusedAt('tool_choice'));
    assert.throws(
      () => sent(allowed('auto', ['stock'])),
      refusedAt('tool_choice.allowed_tools.tools[0].function.name'),
    );
    assert.throws(() => sent({ type: 'custom', custom: { name: 'weather' } }), refusedAt('tool_choice'));
  });

  // GigaChat refuses 0 ("Invalid params: temperature must be in range (0, +inf)",
  // ai-forever/gigachain#237) and answers 0 to 0.001 most deterministically (REST reference).
  it('temperature 0 goes as 0.0001 (above 0, in the deterministic range), above 2 as 2', () => {
    const sent = (temperature: number) =>
      gigaChatRequestFromOpenAI(
        { model: 'GigaChat', messages: [{ role: 'user', content: 'hi' }], temperature },
        { model: 'GigaChat', stream: false },
      ).temperature;
    assert.equal(sent(0), 0.0001);
    assert.equal(sent(0.00001), 0.00001);
    assert.equal(sent(0.7), 0.7);
    assert.equal(sent(2.5), 2);
  });

  it("response_format json_schema goes as GigaChat's { type, schema, strict }; text sends none", () => {
    const schema = { type: 'object', properties: { t: { type: 'number' } }, required: ['t'] };
    const sent = (response_format: unknown) =>
      gigaChatRequestFromOpenAI(
        { model: 'GigaChat', messages: [{ role: 'user', content: 'hi' }], response_format },
        { model: 'GigaChat', stream: false },
      ).response_format;
    assert.deepEqual(sent({ type: 'json_schema', json_schema: { name: 'w', schema, strict: true } }), {
      type: 'json_schema',
      schema,
      strict: true,
    });
    assert.deepEqual(sent({ type: 'json_schema', json_schema: { name: 'w', schema } }), {
      type: 'json_schema',
      schema,
    });
    assert.equal(sent({ type: 'text' }), undefined);
  });

  it('refuses what GigaChat cannot do, naming the field', () => {
    const tool = { type: 'function', function: { name: 'f', parameters: { type: 'object' } } };
    const call = (id: string) => ({ id, type: 'function', function: { name: 'f', arguments: '{}' } });
    const cases: [unknown, string][] = [
      [
        { model: 'm', messages: [{ role: 'assistant', content: null, tool_calls: [call('a'), call('b')] }] },
        'messages[0].tool_calls',
      ],
      [
        {
          model: 'm',
          tools: [tool, { ...tool, function: { ...tool.function, name: 'g' } }],
          tool_choice: 'required',
          messages: [{ role: 'user', content: 'x' }],
        },
        'tool_choice',
      ],
      [
        {
          model: 'm',
          messages: [
            { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AA', format: 'wav' } }] },
          ],
        },
        'messages[0].content[0]',
      ],
      [
        { model: 'm', response_format: { type: 'json_object' }, messages: [{ role: 'user', content: 'x' }] },
        'response_format',
      ],
      [
        {
          model: 'm',
          response_format: { type: 'json_schema', json_schema: { name: 'w' } },
          messages: [{ role: 'user', content: 'x' }],
        },
        'response_format.json_schema.schema',
      ],
    ];
    for (const [body, param] of cases) {
      assert.throws(
        () => gigaChatRequestFromOpenAI(body, { model: 'm', stream: false }),
        refusedAt(param),
        param,
      );
    }
  });
});

describe('tool_choice forcing some call -> GigaChat', () => {
  const tools = ['weather', 'time'].map((name) => ({
    type: 'function',
    function: { name, parameters: { type: 'object' } },
  }));
  const sent = (extra: Record<string, unknown>, callerDialect?: 'openai' | 'anthropic') =>
    gigaChatRequestFromOpenAI(
      { model: 'GigaChat', messages: [{ role: 'user', content: 'Weather?' }], ...extra },
      { model: 'GigaChat', stream: false, callerDialect },
    );
  const refusal = (extra: Record<string, unknown>, callerDialect?: 'openai' | 'anthropic') => {
    try {
      sent(extra, callerDialect);
    } catch (error) {
      assert.ok(error instanceof TranslationError, String(error));
      return { param: error.param, code: error.code, message: error.message };
    }
    return assert.fail('not refused');
  };

  it('required among one function is that function named (the call it must make)', () => {
    const request = sent({ tools: tools.slice(0, 1), tool_choice: 'required' });
    assert.deepEqual(request.function_call, { name: 'weather' });
    assert.deepEqual(
      request.functions?.map((fn) => fn.name),
      ['weather'],
    );
  });

  it('required among several is refused naming tool_choice, in the words of the caller', () => {
    assert.deepEqual(refusal({ tools, tool_choice: 'required' }), {
      param: 'tool_choice',
      code: 'unsupported_value',
      message:
        "`tool_choice` 'required' cannot be sent to GigaChat: it calls a function only when told which " +
        'one, or when it chooses to (auto); name one function, or use auto.',
    });
    // An Anthropic caller's `any`, translated to `required`, hears its own value.
    assert.deepEqual(refusal({ tools, tool_choice: 'required' }, 'anthropic'), {
      param: 'tool_choice',
      code: 'unsupported_value',
      message:
        "`tool_choice` {type: 'any'} cannot be sent to GigaChat: it calls a function only when told " +
        "which one, or when it chooses to (auto); name one tool ({type: 'tool', name}) or use {type: 'auto'}.",
    });
    const allowed = {
      type: 'allowed_tools',
      allowed_tools: {
        mode: 'required',
        tools: tools.map((tool) => ({ type: 'function', function: { name: tool.function.name } })),
      },
    };
    assert.match(
      refusal({ tools: [...tools, { ...tools[0], function: { name: 'news' } }], tool_choice: allowed })
        .message,
      /^`tool_choice` `allowed_tools` with mode 'required' cannot be sent to GigaChat/,
    );
  });
});

describe('GigaChat answers -> OpenAI', () => {
  it('maps a blacklisted answer and precached tokens', () => {
    const completion = gigaChatResponseToOpenAI(
      {
        choices: [
          { message: { content: 'Не могу', role: 'assistant' }, index: 0, finish_reason: 'blacklist' },
        ],
        created: 1791396000,
        model: 'GigaChat:2.0.28.2',
        object: 'chat.completion',
        usage: { prompt_tokens: 18, completion_tokens: 9, total_tokens: 27, precached_prompt_tokens: 4 },
      },
      { model: 'GigaChat', created: 0 },
    );
    assert.equal(completion.choices[0]?.finish_reason, 'content_filter');
    assert.equal(completion.model, 'GigaChat:2.0.28.2');
    assert.deepEqual(completion.usage, {
      prompt_tokens: 22,
      completion_tokens: 9,
      total_tokens: 31,
      prompt_tokens_details: { cached_tokens: 4 },
    });
  });

  // GigaChat REST reference (post-chat), usage: total_tokens is "Общее число токенов,
  // подлежащих тарификации, после вычитания кэшированных токенов (поле
  // precached_prompt_tokens)", and its example answer has prompt_tokens 55, completion_tokens 30,
  // total_tokens 85, precached_prompt_tokens 4: prompt_tokens leaves the cached tokens out.
  // OpenAI's prompt_tokens counts the whole prompt, cached_tokens being a part of it.
  it('precached prompt tokens are added to prompt_tokens, not taken out of them', () => {
    const completion = gigaChatResponseToOpenAI(
      {
        choices: [
          { message: { content: 'GigaChat is', role: 'assistant' }, index: 0, finish_reason: 'stop' },
        ],
        created: 1760434636,
        model: 'GigaChat:2.0.28.2',
        object: 'chat.completion',
        usage: { prompt_tokens: 55, completion_tokens: 30, total_tokens: 85, precached_prompt_tokens: 4 },
      },
      { model: 'GigaChat', created: 0 },
    );
    assert.deepEqual(completion.usage, {
      prompt_tokens: 59,
      completion_tokens: 30,
      total_tokens: 89,
      prompt_tokens_details: { cached_tokens: 4 },
    });
  });

  it('an answer GigaChat ended with `error` is cut short (length), not a clean stop', () => {
    const completion = gigaChatResponseToOpenAI(
      {
        choices: [
          { message: { content: 'Начало отв', role: 'assistant' }, index: 0, finish_reason: 'error' },
        ],
        created: 1791396000,
        model: 'GigaChat:2.0.28.2',
        object: 'chat.completion',
        usage: { prompt_tokens: 18, completion_tokens: 4, total_tokens: 22 },
      },
      { model: 'GigaChat', created: 0 },
    );
    assert.equal(completion.choices[0]?.finish_reason, 'length');
  });

  it('maps chunks and passes [DONE] through', () => {
    const mapper = new GigaChatStreamMapper({ model: 'GigaChat', created: 1 });
    const translator = streamObserver('openai', 'GigaChat');
    const frames = [
      {
        choices: [{ delta: { content: 'Здравствуйте', role: 'assistant' }, index: 0 }],
        created: 1,
        model: 'GigaChat:2',
        object: 'chat.completion',
      },
      {
        choices: [{ delta: { content: '!' }, index: 0, finish_reason: 'stop' }],
        created: 1,
        model: 'GigaChat:2',
        object: 'chat.completion',
        usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
      },
      OPENAI_DONE,
    ];
    for (const frame of frames) for (const event of mapper.map(frame)) translator.push(event);
    assert.equal(translator.finished, true);
    assert.equal(translator.outputText(), 'Здравствуйте!');
    assert.deepEqual(translator.usage, { inputTokens: 5, outputTokens: 2, cachedInputTokens: 0 });
  });

  it('a stream GigaChat ended with `error` ends with an error event after its text and usage', () => {
    const mapper = new GigaChatStreamMapper({ model: 'GigaChat', created: 1 });
    const translator = streamObserver('openai', 'GigaChat');
    const frames = [
      {
        choices: [{ delta: { content: 'Начало', role: 'assistant' }, index: 0 }],
        created: 1,
        model: 'GigaChat:2',
        object: 'chat.completion',
      },
      {
        choices: [{ delta: { content: ' отв' }, index: 0, finish_reason: 'error' }],
        created: 1,
        model: 'GigaChat:2',
        object: 'chat.completion',
        usage: { prompt_tokens: 18, completion_tokens: 4, total_tokens: 22 },
      },
      OPENAI_DONE,
    ];
    const out = frames.flatMap((frame) => mapper.map(frame));
    for (const event of out) translator.push(event);
    assert.equal(translator.finished, false, 'not a complete answer');
    assert.equal(translator.failure?.kind, 'upstream_error', 'the caller gets an error event');
    assert.equal(translator.outputText(), 'Начало отв');
    assert.deepEqual(translator.usageSoFar(), { inputTokens: 18, outputTokens: 4, cachedInputTokens: 0 });
    assert.ok(
      out.every(
        (event) => (event as { choices?: { finish_reason?: unknown }[] }).choices?.[0]?.finish_reason == null,
      ),
      'no finish chunk claims the answer ended',
    );
  });

  it('turns an error event into a failure', () => {
    const mapper = new GigaChatStreamMapper({ model: 'GigaChat', created: 1 });
    const translator = streamObserver('openai', 'GigaChat');
    for (const event of mapper.map({ status: 500, message: 'Internal Server Error' })) translator.push(event);
    assert.equal(translator.failure?.kind, 'upstream_error');
  });
});
