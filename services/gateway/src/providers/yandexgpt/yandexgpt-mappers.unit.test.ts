import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  anthropicMessagesRequest,
  anthropicToOpenAIRequest,
  OPENAI_DONE,
  StreamTranslator,
  TranslationError,
  UsageReport,
} from '../../translate/index.js';
import { OpenAIStreamParser } from '../../translate/openai-stream-parser.js';
import { streamObserver } from '../provider-contract.js';
import { YandexStreamMapper, yandexRequestFromOpenAI, yandexResponseToOpenAI } from './yandexgpt-mappers.js';
import { yandexGPTProvider } from './yandexgpt-provider.js';

const MODEL_URI = 'gpt://b1gfolder/yandexgpt/latest';
const refusedAt = (param: string) => (error: unknown) =>
  error instanceof TranslationError && error.param === param;

describe('OpenAI request -> YandexGPT', () => {
  it('maps roles, options, tools and tool results', () => {
    const request = yandexRequestFromOpenAI(
      {
        model: 'yandexgpt/latest',
        temperature: 1.4,
        max_completion_tokens: 50,
        messages: [
          { role: 'developer', content: 'Be brief.' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Weather in' },
              { type: 'text', text: 'Moscow?' },
            ],
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'weather', arguments: '{"city":"Moscow"}' },
              },
              { id: 'call_2', type: 'function', function: { name: 'time', arguments: '' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '+5' },
          { role: 'tool', tool_call_id: 'call_2', content: '12:00' },
        ],
        tools: [
          {
            type: 'function',
            function: { name: 'weather', description: 'Forecast', parameters: { type: 'object' } },
          },
        ],
        tool_choice: { type: 'function', function: { name: 'weather' } },
        parallel_tool_calls: false,
        response_format: { type: 'json_object' },
        top_p: 0.3,
      },
      { modelUri: MODEL_URI, stream: true },
    );
    assert.deepEqual(request, {
      modelUri: MODEL_URI,
      completionOptions: { stream: true, temperature: 1, maxTokens: '50' },
      messages: [
        { role: 'system', text: 'Be brief.' },
        { role: 'user', text: 'Weather in\nMoscow?' },
        {
          role: 'assistant',
          toolCallList: {
            toolCalls: [
              { functionCall: { name: 'weather', arguments: { city: 'Moscow' } } },
              { functionCall: { name: 'time', arguments: {} } },
            ],
          },
        },
        {
          role: 'user',
          toolResultList: {
            toolResults: [
              { functionResult: { name: 'weather', content: '+5' } },
              { functionResult: { name: 'time', content: '12:00' } },
            ],
          },
        },
      ],
      tools: [{ function: { name: 'weather', description: 'Forecast', parameters: { type: 'object' } } }],
      toolChoice: { functionName: 'weather' },
      parallelToolCalls: false,
      jsonObject: true,
    });
  });

  it('reasoning_effort -> reasoningOptions.mode on YandexGPT Pro: none/minimal DISABLED, low to xhigh ENABLED_HIDDEN', () => {
    const sent = (reasoning_effort: unknown, modelUri = MODEL_URI) =>
      yandexRequestFromOpenAI(
        { model: 'm', messages: [{ role: 'user', content: 'x' }], reasoning_effort },
        { modelUri, stream: false },
      ).completionOptions.reasoningOptions;
    assert.deepEqual(sent('none'), { mode: 'DISABLED' });
    assert.deepEqual(sent('minimal'), { mode: 'DISABLED' });
    for (const effort of ['low', 'medium', 'high', 'xhigh']) {
      assert.deepEqual(sent(effort), { mode: 'ENABLED_HIDDEN' }, effort);
    }
    assert.deepEqual(sent('high', 'gpt://b1gfolder/yandexgpt'), { mode: 'ENABLED_HIDDEN' });
    assert.equal(sent(undefined), undefined);
    assert.equal(sent(null), undefined);
    // Other models have no reasoning mode: not reasoning is their default, reasoning is refused.
    const lite = 'gpt://b1gfolder/yandexgpt-lite/latest';
    assert.equal(sent('none', lite), undefined);
    assert.throws(() => sent('high', lite), refusedAt('reasoning_effort'));
    assert.throws(() => sent('extreme'), refusedAt('reasoning_effort'));
  });

  // An Anthropic-SDK caller's body goes the gateway's way (exchange.ts): parsed, written as an
  // OpenAI request with the adapter's options, then mapped for Yandex.
  const fromAnthropic = (fields: Record<string, unknown>, modelUri = MODEL_URI) =>
    yandexRequestFromOpenAI(
      anthropicToOpenAIRequest(
        anthropicMessagesRequest.parse({
          model: 'yandexgpt/latest',
          max_tokens: 1000,
          messages: [{ role: 'user', content: 'Solve step by step: 6*7' }],
          ...fields,
        }),
        { reasoningSwitch: yandexGPTProvider.reasoningSwitch },
      ),
      { modelUri, stream: false, callerDialect: 'anthropic' },
    ).completionOptions.reasoningOptions;

  it('Anthropic thinking -> reasoningOptions.mode on YandexGPT Pro: enabled and adaptive ENABLED_HIDDEN, disabled DISABLED', () => {
    const on = { mode: 'ENABLED_HIDDEN' };
    // Any budget turns the mode on: it has no level, and no budget to pass.
    for (const budget_tokens of [1024, 8192, 32000]) {
      assert.deepEqual(
        fromAnthropic({ thinking: { type: 'enabled', budget_tokens } }),
        on,
        `${budget_tokens}`,
      );
    }
    assert.deepEqual(fromAnthropic({ thinking: { type: 'adaptive' } }), on);
    assert.deepEqual(fromAnthropic({ thinking: { type: 'disabled' } }), { mode: 'DISABLED' });
    assert.equal(fromAnthropic({}), undefined);
  });

  it('Anthropic output_config.effort alone leaves reasoning off, as Claude does not think without thinking', () => {
    for (const effort of ['low', 'medium', 'high', 'xhigh', 'max']) {
      assert.equal(fromAnthropic({ output_config: { effort } }), undefined, effort);
    }
  });

  it('Anthropic output_config.effort with thinking adaptive turns reasoning on; disabled wins', () => {
    for (const effort of ['low', 'medium', 'high', 'xhigh', 'max']) {
      assert.deepEqual(
        fromAnthropic({ output_config: { effort }, thinking: { type: 'adaptive' } }),
        { mode: 'ENABLED_HIDDEN' },
        effort,
      );
    }
    assert.deepEqual(fromAnthropic({ output_config: { effort: 'high' }, thinking: { type: 'disabled' } }), {
      mode: 'DISABLED',
    });
  });

  it('Anthropic thinking on a model without a reasoning mode sends nothing; malformed thinking is refused', () => {
    const lite = 'gpt://b1gfolder/yandexgpt-lite/latest';
    assert.equal(fromAnthropic({ thinking: { type: 'enabled', budget_tokens: 2048 } }, lite), undefined);
    assert.equal(fromAnthropic({ thinking: { type: 'adaptive' } }, lite), undefined);
    assert.equal(fromAnthropic({ output_config: { effort: 'high' } }, lite), undefined);
    assert.equal(fromAnthropic({ thinking: { type: 'disabled' } }, lite), undefined);
    assert.throws(
      () => fromAnthropic({ thinking: { type: 'enabled' } }),
      refusedAt('thinking.budget_tokens'),
    );
    assert.throws(() => fromAnthropic({ thinking: { type: 'sometimes' } }), refusedAt('thinking.type'));
  });

  it('tool_choice allowed_tools: only the allowed tools offered, with AUTO or REQUIRED; one required is that tool named', () => {
    const tools = ['weather', 'time', 'news'].map((name) => ({
      type: 'function',
      function: { name, parameters: { type: 'object' } },
    }));
    const allowed = (mode: string, names: string[]) => ({
      type: 'allowed_tools',
      allowed_tools: { mode, tools: names.map((name) => ({ type: 'function', function: { name } })) },
    });
    const sent = (tool_choice: unknown) => {
      const request = yandexRequestFromOpenAI(
        { model: 'yandexgpt/latest', messages: [{ role: 'user', content: 'hi' }], tools, tool_choice },
        { modelUri: MODEL_URI, stream: false },
      );
      return { tools: request.tools?.map((tool) => tool.function.name), choice: request.toolChoice };
    };
    assert.deepEqual(sent(allowed('required', ['time', 'news'])), {
      tools: ['time', 'news'],
      choice: { mode: 'REQUIRED' },
    });
    assert.deepEqual(sent(allowed('auto', ['weather'])), { tools: ['weather'], choice: { mode: 'AUTO' } });
    assert.deepEqual(sent(allowed('required', ['news'])), {
      tools: ['weather', 'time', 'news'],
      choice: { functionName: 'news' },
    });
    assert.deepEqual(sent(allowed('auto', [])), {
      tools: ['weather', 'time', 'news'],
      choice: { mode: 'NONE' },
    });
    assert.throws(
      () => sent(allowed('auto', ['weather', 'stock'])),
      refusedAt('tool_choice.allowed_tools.tools[1].function.name'),
    );
    assert.throws(() => sent({ type: 'custom', custom: { name: 'weather' } }), refusedAt('tool_choice'));
  });

  it('tool_choice naming a function not in tools (or with no tools) is refused as OpenAI refuses it', () => {
    const tools = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }];
    const sent = (extra: Record<string, unknown>) =>
      yandexRequestFromOpenAI(
        { model: 'yandexgpt/latest', messages: [{ role: 'user', content: 'hi' }], ...extra },
        { modelUri: MODEL_URI, stream: false },
      ).toolChoice;
    const named = (name: string) => ({ type: 'function', function: { name } });
    const saying = (message: string) => (error: unknown) =>
      refusedAt('tool_choice')(error) && (error as Error).message === message;
    assert.throws(
      () => sent({ tools, tool_choice: named('stock') }),
      saying(
        "Invalid value for 'tool_choice': no function named 'stock' was specified in the 'tools' parameter.",
      ),
    );
    for (const without of [{}, { tools: [] }])
      assert.throws(
        () => sent({ ...without, tool_choice: named('stock') }),
        saying(
          "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified " +
            "(it names the function 'stock').",
        ),
      );
    assert.deepEqual(sent({ tools, tool_choice: named('weather') }), { functionName: 'weather' });
  });

  it('refuses what it cannot express, naming the field', () => {
    const user = { role: 'user', content: 'x' };
    const cases: [unknown, string][] = [
      [{ model: 'm', n: 2, messages: [user] }, 'n'],
      [{ model: 'm', logprobs: true, messages: [user] }, 'logprobs'],
      [
        {
          model: 'm',
          messages: [
            { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
          ],
        },
        'messages[0].content[0]',
      ],
      [
        { model: 'm', messages: [{ role: 'tool', tool_call_id: 'nope', content: 'x' }] },
        'messages[0].tool_call_id',
      ],
      [{ model: 'm', messages: 'not a list' }, 'messages'],
    ];
    for (const [body, param] of cases) {
      assert.throws(
        () => yandexRequestFromOpenAI(body, { modelUri: MODEL_URI, stream: false }),
        refusedAt(param),
        param,
      );
    }
  });
});

describe('YandexGPT answer -> OpenAI', () => {
  it('maps text, status and int64 usage', () => {
    const completion = yandexResponseToOpenAI(
      {
        result: {
          alternatives: [
            { message: { role: 'assistant', text: 'Hi' }, status: 'ALTERNATIVE_STATUS_TRUNCATED_FINAL' },
          ],
          usage: {
            inputTextTokens: '18',
            completionTokens: '9',
            totalTokens: '27',
            completionTokensDetails: { reasoningTokens: '2' },
          },
          modelVersion: '23.10.2024',
        },
      },
      { model: 'yandexgpt/latest', created: 100, id: 'chatcmpl-x' },
    );
    assert.deepEqual(completion, {
      id: 'chatcmpl-x',
      object: 'chat.completion',
      created: 100,
      model: 'yandexgpt/latest',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hi', refusal: null },
          logprobs: null,
          finish_reason: 'length',
        },
      ],
      usage: {
        prompt_tokens: 18,
        completion_tokens: 9,
        total_tokens: 27,
        prompt_tokens_details: { cached_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 2 },
      },
    });
  });

  it('refuses an answer that is not Yandex-shaped', () => {
    assert.throws(
      () => yandexResponseToOpenAI({ choices: [] }, { model: 'm', created: 0 }),
      /YandexGPT answer/,
    );
  });
});

describe('YandexGPT stream -> OpenAI chunks', () => {
  const line = (text: string, status: string, completion: number) => ({
    result: {
      alternatives: [{ message: { role: 'assistant', text }, status }],
      usage: {
        inputTextTokens: '18',
        completionTokens: String(completion),
        totalTokens: String(18 + completion),
      },
    },
  });

  it('turns cumulative text into deltas and ends with usage and [DONE]', () => {
    const mapper = new YandexStreamMapper({ model: 'yandexgpt/latest', created: 1, id: 'chatcmpl-s' });
    const translator = streamObserver('openai', 'yandexgpt/latest');
    const events = [
      ...mapper.map(line('Здравствуйте', 'ALTERNATIVE_STATUS_PARTIAL', 2)),
      ...mapper.map(line('Здравствуйте! Чем могу', 'ALTERNATIVE_STATUS_PARTIAL', 6)),
      ...mapper.map(line('Здравствуйте! Чем могу помочь?', 'ALTERNATIVE_STATUS_FINAL', 9)),
    ];
    for (const event of events) translator.push(event);
    assert.equal(events.at(-1), OPENAI_DONE);
    assert.equal(translator.finished, true);
    assert.equal(translator.outputText(), 'Здравствуйте! Чем могу помочь?');
    assert.deepEqual(translator.usage, { inputTokens: 18, outputTokens: 9, cachedInputTokens: 0 });
    assert.deepEqual(mapper.map(line('late', 'ALTERNATIVE_STATUS_FINAL', 1)), []);
  });

  it('never finishes a stream that stopped before a final status', () => {
    const mapper = new YandexStreamMapper({ model: 'm', created: 1 });
    const translator = streamObserver('openai', 'm');
    for (const event of mapper.map(line('Hello', 'ALTERNATIVE_STATUS_PARTIAL', 1))) translator.push(event);
    assert.equal(translator.finished, false);
    assert.deepEqual(translator.usage, undefined);
  });

  it('fails a stream whose PARTIAL text does not extend the text before', () => {
    const mapper = new YandexStreamMapper({ model: 'm', created: 1 });
    const translator = streamObserver('openai', 'm');
    for (const event of [
      ...mapper.map(line('Hello there', 'ALTERNATIVE_STATUS_PARTIAL', 2)),
      ...mapper.map(line('Goodbye', 'ALTERNATIVE_STATUS_PARTIAL', 2)),
    ]) {
      translator.push(event);
    }
    assert.equal(translator.finished, false);
    assert.equal(translator.failure?.kind, 'upstream_error');
  });

  // The filter tripping on the output ends the stream with Yandex's canned notice in place of
  // the text so far (black-roland/homeassistant-yandexgpt#9).
  it('ends with content_filter and the text so far when CONTENT_FILTER brings a canned notice', () => {
    const mapper = new YandexStreamMapper({ model: 'm', created: 1 });
    const translator = streamObserver('openai', 'm');
    const events = [
      ...mapper.map(line('Чтобы вскрыть', 'ALTERNATIVE_STATUS_PARTIAL', 2)),
      ...mapper.map(line('Чтобы вскрыть замок, нужно', 'ALTERNATIVE_STATUS_PARTIAL', 5)),
      ...mapper.map(
        line(
          'В интернете есть много сайтов с информацией на эту тему.',
          'ALTERNATIVE_STATUS_CONTENT_FILTER',
          7,
        ),
      ),
    ];
    for (const event of events) translator.push(event);
    assert.equal(events.at(-1), OPENAI_DONE);
    assert.equal(translator.failure, undefined);
    assert.equal(translator.finished, true);
    assert.equal(translator.outputText(), 'Чтобы вскрыть замок, нужно');
    const finishes = events.flatMap(
      (event) =>
        (event as { choices?: { finish_reason: string | null }[] }).choices?.map((c) => c.finish_reason) ??
        [],
    );
    assert.deepEqual(
      finishes.filter((reason) => reason !== null),
      ['content_filter'],
    );
    assert.deepEqual(translator.usage, { inputTokens: 18, outputTokens: 7, cachedInputTokens: 0 });
  });

  it('sends the notice of a CONTENT_FILTER line that comes before any text', () => {
    const mapper = new YandexStreamMapper({ model: 'm', created: 1 });
    const translator = streamObserver('openai', 'm');
    for (const event of mapper.map(
      line('Не могу обсуждать эту тему.', 'ALTERNATIVE_STATUS_CONTENT_FILTER', 0),
    )) {
      translator.push(event);
    }
    assert.equal(translator.finished, true);
    assert.equal(translator.outputText(), 'Не могу обсуждать эту тему.');
  });

  it('keeps the text so far when a final line brings other text', () => {
    const mapper = new YandexStreamMapper({ model: 'm', created: 1 });
    const translator = streamObserver('openai', 'm');
    for (const event of [
      ...mapper.map(line('Hello there', 'ALTERNATIVE_STATUS_PARTIAL', 2)),
      ...mapper.map(line('Goodbye', 'ALTERNATIVE_STATUS_TRUNCATED_FINAL', 3)),
    ]) {
      translator.push(event);
    }
    assert.equal(translator.failure, undefined);
    assert.equal(translator.finished, true);
    assert.equal(translator.outputText(), 'Hello there');
  });

  it('sends the usage reported so far before the error event of a stream that fails after text', () => {
    const mapper = new YandexStreamMapper({ model: 'm', created: 1 });
    const translator = streamObserver('openai', 'm');
    const events = [
      ...mapper.map(line('Hello', 'ALTERNATIVE_STATUS_PARTIAL', 40)),
      ...mapper.map({ error: { grpcCode: 13, httpCode: 500, message: 'Internal error' } }),
    ];
    for (const event of events) translator.push(event);
    assert.equal(translator.failure?.kind, 'upstream_error');
    // Yandex's 40 output tokens (its hidden reasoning among them), not the text's count.
    assert.deepEqual(translator.usage, { inputTokens: 18, outputTokens: 40, cachedInputTokens: 0 });
    assert.deepEqual(translator.usageSoFar(), { inputTokens: 18, outputTokens: 40, cachedInputTokens: 0 });
    // A text that does not extend the text before fails the stream the same way.
    const broken = new YandexStreamMapper({ model: 'm', created: 1 });
    const observer = streamObserver('openai', 'm');
    for (const event of [
      ...broken.map(line('Hello there', 'ALTERNATIVE_STATUS_PARTIAL', 2)),
      ...broken.map(line('Goodbye', 'ALTERNATIVE_STATUS_PARTIAL', 30)),
    ])
      observer.push(event);
    assert.equal(observer.failure?.kind, 'upstream_error');
    assert.equal(observer.usage?.outputTokens, 30);
  });

  // Hidden reasoning (reasoningOptions ENABLED_HIDDEN): the model reasons before it writes, and
  // every line's usage counts those tokens within completionTokens (the reference's
  // completionTokensDetails tells "how the completion tokens were utilized").
  const REASONING = 120;
  const reasoningLine = (text: string, status: string, textTokens: number) => {
    const base = line(text, status, REASONING + textTokens);
    return {
      result: {
        ...base.result,
        usage: { ...base.result.usage, completionTokensDetails: { reasoningTokens: String(REASONING) } },
      },
    };
  };
  /** As the gateway follows a same-dialect stream: the tokenizer's count is the fallback. */
  const following = (countedPerChar: number) =>
    new StreamTranslator<never>(
      new OpenAIStreamParser(),
      { emit: () => [] },
      {
        fallbackUsage: (text) => ({
          inputTokens: 999,
          outputTokens: text.length * countedPerChar,
          cachedInputTokens: 0,
        }),
      },
    );
  const isUsageChunk = (event: unknown) =>
    !(event instanceof UsageReport) && (event as { usage?: unknown } | null)?.usage != null;

  it('a stream cut after text is charged the running usage of its last line, hidden reasoning once, no usage chunk sent', () => {
    const mapper = new YandexStreamMapper({ model: 'yandexgpt/latest', created: 1 });
    // Kordon's count of the text would be more than Yandex's: Yandex's is what it bills.
    const translator = following(3);
    const events = [
      ...mapper.map(reasoningLine('Сначала', 'ALTERNATIVE_STATUS_PARTIAL', 2)),
      ...mapper.map(reasoningLine('Сначала посчитаем', 'ALTERNATIVE_STATUS_PARTIAL', 5)),
    ];
    for (const event of events) translator.push(event);
    // The connection is reset here: nothing more comes.
    assert.equal(translator.finished, false);
    assert.deepEqual(events.filter(isUsageChunk), [], 'no usage chunk reaches the caller before the end');
    assert.deepEqual(translator.usageSoFar(), {
      inputTokens: 18,
      outputTokens: REASONING + 5,
      cachedInputTokens: 0,
      reasoningTokens: REASONING,
    });
    // Kordon's count is not taken when it is the smaller either: the report is Yandex's bill.
    const small = following(0);
    for (const event of events) small.push(event);
    assert.equal(small.usageSoFar()?.outputTokens, REASONING + 5);
  });

  it('text after the last usage Yandex reported is counted by Kordon on top of it', () => {
    const mapper = new YandexStreamMapper({ model: 'm', created: 1 });
    const translator = following(1);
    const { usage: _none, ...withoutUsage } = reasoningLine(
      'Hi there',
      'ALTERNATIVE_STATUS_PARTIAL',
      3,
    ).result;
    for (const event of [
      ...mapper.map(reasoningLine('Hi', 'ALTERNATIVE_STATUS_PARTIAL', 1)),
      ...mapper.map({ result: withoutUsage }),
    ]) {
      translator.push(event);
    }
    // ' there' (6 characters, 1 token each here) streamed after the report of 'Hi'.
    assert.deepEqual(translator.usageSoFar(), {
      inputTokens: 18,
      outputTokens: REASONING + 1 + 6,
      cachedInputTokens: 0,
      reasoningTokens: REASONING,
    });
  });

  it('a whole stream with hidden reasoning: one usage chunk, at the end, reasoning within completion_tokens', () => {
    const mapper = new YandexStreamMapper({ model: 'm', created: 1 });
    const translator = following(3);
    const events = [
      ...mapper.map(reasoningLine('42', 'ALTERNATIVE_STATUS_PARTIAL', 1)),
      ...mapper.map(reasoningLine('42 is the answer', 'ALTERNATIVE_STATUS_FINAL', 4)),
    ];
    for (const event of events) translator.push(event);
    const usageChunks = events.filter(isUsageChunk);
    assert.equal(usageChunks.length, 1);
    assert.equal(events.indexOf(usageChunks[0]), events.length - 2, 'just before [DONE]');
    assert.deepEqual((usageChunks[0] as { usage: unknown }).usage, {
      prompt_tokens: 18,
      completion_tokens: REASONING + 4,
      total_tokens: 18 + REASONING + 4,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: REASONING },
    });
    assert.equal(translator.finished, true);
    const charged = {
      inputTokens: 18,
      outputTokens: REASONING + 4,
      cachedInputTokens: 0,
      reasoningTokens: REASONING,
    };
    assert.deepEqual(translator.usage, charged);
    assert.deepEqual(translator.usageSoFar(), charged);
  });

  it('turns an error line into an error event', () => {
    const mapper = new YandexStreamMapper({ model: 'm', created: 1 });
    const translator = streamObserver('openai', 'm');
    for (const event of mapper.map({
      error: { grpcCode: 3, httpCode: 400, message: 'Invalid temperature value' },
    })) {
      translator.push(event);
    }
    assert.deepEqual(translator.failure, {
      kind: 'upstream_error',
      errorType: 'upstream_error',
      message: 'Invalid temperature value',
    });
  });
});
