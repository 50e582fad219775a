import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TranslationError } from '../../translate/translation-error.js';
import { openAIErrorInfo } from '../openai/openai-error.js';
import { chatRequest } from '../provider-contract.js';
import { providers } from '../provider-registry.js';
import { OPENAI_COMPATIBLE_VENDORS } from '../provider-types.js';
import {
  modelChoiceRefusal,
  OPENAI_COMPATIBLE_PRESETS,
  openAICompatibleErrorInfo,
  openAICompatibleProvider,
} from './openai-compatible-provider.js';

describe('OpenAI-compatible presets', () => {
  it('has a preset per vendor', () => {
    assert.deepEqual(Object.keys(OPENAI_COMPATIBLE_PRESETS).sort(), [...OPENAI_COMPATIBLE_VENDORS].sort());
  });

  it('asks for stream usage only where the vendor needs asking', () => {
    for (const vendor of OPENAI_COMPATIBLE_VENDORS) {
      const prepared = openAICompatibleProvider.prepare(
        chatRequest(openAICompatibleProvider, 'm', 'hi', true),
        {
          baseUrl: 'http://127.0.0.1:9/v1',
          vendor,
        },
      );
      const body = JSON.parse(prepared.body ?? '{}') as { stream?: boolean; stream_options?: unknown };
      assert.equal(body.stream, true);
      const asks = OPENAI_COMPATIBLE_PRESETS[vendor].streamUsage === 'stream_options';
      assert.deepEqual(body.stream_options, asks ? { include_usage: true } : undefined, vendor);
    }
  });

  it('uses the vendor endpoint by default and refuses what the vendor lacks', () => {
    const prepared = openAICompatibleProvider.prepare(
      chatRequest(openAICompatibleProvider, 'm', 'hi', false),
      { vendor: 'groq' },
    );
    assert.equal(
      `${prepared.target.origin}${prepared.target.path}`,
      'https://api.groq.com/openai/v1/chat/completions',
    );
    assert.equal(openAICompatibleProvider.supports('embeddings', { vendor: 'deepseek' }), false);
    assert.deepEqual(openAICompatibleProvider.configProblems({ vendor: 'vllm' }), [
      'vLLM needs a baseUrl in its configuration',
    ]);
  });

  const preparedBody = (
    vendor: (typeof OPENAI_COMPATIBLE_VENDORS)[number],
    operation: 'chat' | 'embeddings',
    body: Record<string, unknown>,
    stream = false,
    callerDialect?: 'openai' | 'anthropic',
  ) =>
    JSON.parse(
      openAICompatibleProvider.prepare(
        { operation, model: 'm', stream, body: { model: 'm', ...body }, callerDialect },
        { baseUrl: 'http://127.0.0.1:9/v1', vendor },
      ).body ?? '{}',
    ) as Record<string, unknown>;

  it("does not pass a caller's stream_options to a vendor that sends usage unasked (Mistral refuses the field)", () => {
    const caller = { messages: [], stream_options: { include_usage: true } };
    for (const vendor of ['mistral', 'openrouter'] as const) {
      for (const stream of [true, false]) {
        const body = preparedBody(vendor, 'chat', caller, stream);
        assert.equal('stream_options' in body, false, `${vendor} ${JSON.stringify(body)}`);
      }
    }
    assert.deepEqual(preparedBody('groq', 'chat', caller, true).stream_options, { include_usage: true });
  });

  it('sends max_completion_tokens as the output-limit field of the vendor', () => {
    assert.deepEqual(preparedBody('mistral', 'chat', { messages: [], max_completion_tokens: 64 }), {
      model: 'm',
      messages: [],
      max_tokens: 64,
      stream: false,
    });
    // The newer field wins when both are sent (as in a translation); a null one is no limit.
    assert.equal(
      preparedBody('mistral', 'chat', { max_tokens: 10, max_completion_tokens: 64 }).max_tokens,
      64,
    );
    const nullLimit = preparedBody('deepseek', 'chat', { max_tokens: 10, max_completion_tokens: null });
    assert.equal(nullLimit.max_tokens, 10);
    assert.equal('max_completion_tokens' in nullLimit, false);
    // Groq takes OpenAI's field.
    assert.equal(preparedBody('groq', 'chat', { max_completion_tokens: 64 }).max_completion_tokens, 64);
  });

  it("sends embeddings' dimensions as Mistral's output_dimension", () => {
    assert.deepEqual(preparedBody('mistral', 'embeddings', { input: 'x', dimensions: 256 }), {
      model: 'm',
      input: 'x',
      output_dimension: 256,
    });
    assert.equal(preparedBody('together', 'embeddings', { input: 'x', dimensions: 256 }).dimensions, 256);
  });

  it("drops OpenAI's user for Mistral (no such field: a 422) and sends seed as its random_seed", () => {
    const chat = preparedBody('mistral', 'chat', { messages: [], user: 'end-user-42', seed: 7 });
    assert.deepEqual(chat, { model: 'm', messages: [], random_seed: 7, stream: false });
    // The vendor's own field, when sent too, wins.
    assert.equal(preparedBody('mistral', 'chat', { seed: 7, random_seed: 9 }).random_seed, 9);
    assert.deepEqual(preparedBody('mistral', 'embeddings', { input: 'x', user: 'end-user-42' }), {
      model: 'm',
      input: 'x',
    });
    // Others take both as OpenAI names them.
    const groq = preparedBody('groq', 'chat', { messages: [], user: 'u', seed: 7 });
    assert.equal(groq.user, 'u');
    assert.equal(groq.seed, 7);
  });

  it('drops for Mistral the OpenAI fields it lacks that change no answer, keeps those it takes; others get them as sent', () => {
    const dropped = {
      store: true,
      service_tier: 'priority',
      safety_identifier: 'h',
      prompt_cache_retention: '24h',
      prompt_cache_options: { mode: 'implicit' },
      verbosity: 'low',
    };
    const askingNothing = {
      logprobs: false,
      top_logprobs: null,
      modalities: ['text'],
      logit_bias: {},
      audio: null,
      functions: [],
      function_call: null,
      web_search_options: null,
      moderation: null,
    };
    const taken = {
      metadata: { a: 'b' },
      parallel_tool_calls: false,
      prediction: { type: 'content', content: 'x' },
      prompt_cache_key: 'k',
      reasoning_effort: 'high',
      n: 2,
    };
    const body = { messages: [], ...dropped, ...askingNothing, ...taken };
    assert.deepEqual(preparedBody('mistral', 'chat', body), {
      model: 'm',
      messages: [],
      stream: false,
      ...taken,
    });
    for (const vendor of ['groq', 'vllm', 'openrouter', 'generic'] as const)
      assert.deepEqual(preparedBody(vendor, 'chat', body), { model: 'm', stream: false, ...body }, vendor);
  });

  it('refuses for Mistral, naming the field, the OpenAI fields it lacks whose loss would change the answer', () => {
    for (const [field, value] of [
      ['logit_bias', { '50256': -100 }],
      ['logprobs', true],
      ['top_logprobs', 0],
      ['modalities', ['text', 'audio']],
      ['audio', { voice: 'alloy', format: 'wav' }],
      ['web_search_options', {}],
      ['functions', [{ name: 'f' }]],
      ['function_call', 'none'],
      ['moderation', { model: 'omni-moderation-latest' }],
    ] as const) {
      assert.throws(
        () => preparedBody('mistral', 'chat', { messages: [], [field]: value }),
        (error: unknown) =>
          error instanceof TranslationError && error.param === field && error.message.includes('Mistral'),
        field,
      );
      assert.deepEqual(preparedBody('together', 'chat', { [field]: value })[field], value, field);
    }
  });

  it("refuses OpenRouter's fields that choose other models (models, route, preset); other vendors take them as sent", () => {
    for (const [field, value] of [
      ['models', ['openai/o1-pro']],
      ['models', []],
      ['route', 'fallback'],
      ['preset', 'team-b'],
    ] as const) {
      const refusal = modelChoiceRefusal(OPENAI_COMPATIBLE_PRESETS.openrouter, {
        messages: [],
        [field]: value,
      });
      assert.ok(refusal instanceof TranslationError, field);
      assert.equal(refusal.param, field);
      assert.match(refusal.message, /is not passed on to OpenRouter/);
      // The adapter never sends one, whatever path the request took.
      assert.throws(
        () => preparedBody('openrouter', 'chat', { messages: [], [field]: value }),
        (error: unknown) => error instanceof TranslationError && error.param === field,
      );
    }
    // Null asks for nothing; a field OpenRouter does not read this way goes as sent.
    assert.equal(
      modelChoiceRefusal(OPENAI_COMPATIBLE_PRESETS.openrouter, { models: null, route: null }),
      undefined,
    );
    assert.deepEqual(preparedBody('openrouter', 'chat', { provider: { order: ['Groq'] } }).provider, {
      order: ['Groq'],
    });
    for (const vendor of OPENAI_COMPATIBLE_VENDORS.filter((vendor) => vendor !== 'openrouter'))
      assert.deepEqual(preparedBody(vendor, 'chat', { messages: [], models: ['x'] }).models, ['x'], vendor);
  });

  describe("Mistral's order of roles, for a request translated from Anthropic's Messages", () => {
    const fromAnthropic = (vendor: (typeof OPENAI_COMPATIBLE_VENDORS)[number], messages: unknown[]) =>
      preparedBody(vendor, 'chat', { messages }, false, 'anthropic').messages as Record<string, unknown>[];
    const call = {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'Call00001', type: 'function', function: { name: 'f', arguments: '{}' } }],
    };
    const prefill = [
      { role: 'user', content: 'Give me JSON' },
      { role: 'assistant', content: '{' },
    ];

    it('a last assistant message (a prefill) goes with prefix: true (Mistral refuses it otherwise)', () => {
      assert.deepEqual(fromAnthropic('mistral', prefill).at(-1), {
        role: 'assistant',
        content: '{',
        prefix: true,
      });
      // Not an earlier assistant message, nor to other vendors or from an OpenAI caller.
      assert.deepEqual(
        fromAnthropic('mistral', [...prefill, { role: 'user', content: 'Go on' }])[1],
        prefill[1],
      );
      for (const vendor of ['deepseek', 'groq', 'openrouter', 'generic'] as const)
        assert.deepEqual(fromAnthropic(vendor, prefill), prefill, vendor);
      assert.deepEqual(
        preparedBody('mistral', 'chat', { messages: prefill }, false, 'openai').messages,
        prefill,
      );
    });

    it("a user message after tool messages (Mistral: \"Unexpected role 'user' after role 'tool'\") goes into the last tool message", () => {
      const tool = (id: string, content: string) => ({ role: 'tool', tool_call_id: id, content });
      const reminder = '<system-reminder>Answer briefly.</system-reminder>';
      assert.deepEqual(
        fromAnthropic('mistral', [
          { role: 'user', content: 'Weather?' },
          call,
          tool('Call00000', 'rainy'),
          tool('Call00001', 'sunny'),
          { role: 'user', content: reminder },
        ]),
        [
          { role: 'user', content: 'Weather?' },
          call,
          tool('Call00000', 'rainy'),
          tool('Call00001', `sunny\n\n${reminder}`),
        ],
      );
      // Parts (an image from a tool result) go as Mistral's content chunks, after the result's text.
      const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } };
      assert.deepEqual(
        fromAnthropic('mistral', [
          call,
          tool('Call00001', 'the chart'),
          { role: 'user', content: [image] },
        ]).at(-1),
        { role: 'tool', tool_call_id: 'Call00001', content: [{ type: 'text', text: 'the chart' }, image] },
      );
      // Other vendors take the order OpenAI does.
      const messages = [call, tool('Call00001', 'sunny'), { role: 'user', content: reminder }];
      assert.deepEqual(fromAnthropic('groq', messages), messages);
    });
  });

  it("tool call ids Mistral refuses (it takes 9 letters and digits) go as 9 of their sha256's base-62 characters, the call's and its result's alike; from any caller, to Mistral only", () => {
    const messages = [
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'f', arguments: '{}' } },
          { id: 'Call00001', type: 'function', function: { name: 'f', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'toolu_01A09q90qw90lq917835lq9', content: 'a' },
      { role: 'tool', tool_call_id: 'Call00001', content: 'b' },
    ];
    for (const dialect of ['openai', 'anthropic'] as const) {
      const sent = preparedBody('mistral', 'chat', { messages }, false, dialect).messages as {
        tool_call_id?: string;
        tool_calls?: { id: string }[];
      }[];
      const [mapped, kept] = (sent[0]?.tool_calls ?? []).map((call) => call.id);
      assert.match(mapped ?? '', /^[a-zA-Z0-9]{9}$/, dialect);
      assert.equal(kept, 'Call00001', dialect);
      assert.deepEqual([sent[1]?.tool_call_id, sent[2]?.tool_call_id], [mapped, kept], dialect);
    }
    assert.deepEqual(preparedBody('deepseek', 'chat', { messages }).messages, messages);
  });

  it("drops another model's reasoning_content from the history for Mistral and Groq (both refuse the field), keeps it for others", () => {
    // A history with DeepSeek's reasoning, as clients send it back (Mistral: 422 extra_forbidden
    // at messages.1.assistant.reasoning_content; Groq: 400 "property 'reasoning_content' is
    // unsupported"), for example after a fallback from a DeepSeek provider.
    const answered = { role: 'assistant', content: 'Paris', reasoning_content: 'The capital is…' };
    const messages = [
      { role: 'user', content: 'Capital of France?' },
      answered,
      { role: 'user', content: 'And?' },
    ];
    for (const vendor of ['mistral', 'groq'] as const) {
      const sent = preparedBody(vendor, 'chat', { messages }).messages as Record<string, unknown>[];
      assert.deepEqual(sent[1], { role: 'assistant', content: 'Paris' }, vendor);
      assert.deepEqual(messages[1], answered, 'the caller body is not changed');
    }
    assert.deepEqual(preparedBody('deepseek', 'chat', { messages }).messages, messages);
  });

  it('sends DeepSeek a translated tool-call turn without reasoning with an empty reasoning_content (its thinking mode refuses it absent)', () => {
    // DeepSeek answers some tool calls with no reasoning: the Anthropic caller then has no
    // thinking block to send back, and a turn begun on another model has none either.
    const call = { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } };
    const messages = [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      { role: 'assistant', content: 'Sunny.', tool_calls: [call], reasoning_content: 'Look it up.' },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      { role: 'assistant', content: 'Sunny.' },
      { role: 'user', content: 'Thanks' },
    ];
    const sent = preparedBody('deepseek', 'chat', { messages }, false, 'anthropic').messages as Record<
      string,
      unknown
    >[];
    assert.deepEqual(sent[1], { ...messages[1], reasoning_content: '' });
    assert.deepEqual(
      sent.slice(2),
      messages.slice(2),
      'a turn with reasoning or without tool calls as it is',
    );
    // A same-dialect body is the caller's; other vendors get the history as it is.
    assert.deepEqual(preparedBody('deepseek', 'chat', { messages }, false, 'openai').messages, messages);
    assert.deepEqual(preparedBody('vllm', 'chat', { messages }, false, 'anthropic').messages, messages);
  });

  it('keeps the caller stream_options while asking for usage', () => {
    const prepared = providers.openai.prepare(
      {
        operation: 'chat',
        model: 'gpt-4o',
        stream: true,
        body: { model: 'gpt-4o', messages: [], stream_options: { include_obfuscation: false } },
      },
      {},
    );
    assert.deepEqual(JSON.parse(prepared.body ?? '{}').stream_options, {
      include_obfuscation: false,
      include_usage: true,
    });
  });
});

describe("a self-hosted server's 404 for a model it does not have", () => {
  const answer = (status: number, json: unknown) => ({
    status,
    headers: {},
    text: JSON.stringify(json),
    json,
  });
  const ollama = (message: string, type = 'not_found_error') => ({
    error: { message, type, param: null, code: null },
  });
  const vllm = (message: string) => ({
    object: 'error',
    message,
    type: 'NotFoundError',
    param: null,
    code: 404,
  });

  it('is read as OpenAI model_not_found: vLLM, Ollama (current and older wordings), in any vendor preset', () => {
    for (const body of [
      vllm('The model `Qwen/Qwen2.5-7B-Instruct` does not exist.'),
      // vLLM's newer ErrorResponse nests the same fields under `error`.
      {
        error: {
          message: 'The model `gpt-4o` does not exist.',
          type: 'NotFoundError',
          param: null,
          code: 404,
        },
      },
      ollama("model 'qwen2.5:7b' not found"),
      ollama('model "qwen2.5:7b" not found, try pulling it first', 'api_error'),
      ollama("model 'llama3' not found, try pulling it first", 'api_error'),
      // Ollama's native error shape, should a base URL reach it.
      { error: "model 'llama3' not found" },
    ]) {
      const info = openAICompatibleErrorInfo(answer(404, body));
      assert.equal(info.modelNotServed, true, JSON.stringify(body));
      assert.equal(info.type, 'not_found', JSON.stringify(body));
      assert.equal(info.retryable, false);
    }
  });

  it('is not read into another status, another 404, or OpenAI’s own adapter', () => {
    for (const [status, body] of [
      [400, vllm('The model `x` does not exist.')],
      [500, ollama("model 'x' not found", 'api_error')],
      [404, vllm('The model `x` does not exist. Try another.')],
      [404, ollama('Not Found', 'not_found_error')],
      [404, ollama("response 'resp_1' not found")],
    ] as const) {
      assert.equal(
        openAICompatibleErrorInfo(answer(status, body)).modelNotServed,
        undefined,
        JSON.stringify(body),
      );
    }
    assert.equal(
      openAIErrorInfo(answer(404, vllm('The model `x` does not exist.'))).modelNotServed,
      undefined,
    );
    assert.equal(openAICompatibleProvider.mapError, openAICompatibleErrorInfo);
  });

  it("keeps OpenAI's own model_not_found", () => {
    const info = openAICompatibleErrorInfo(
      answer(404, {
        error: {
          message: 'The model `gpt-5-nano` does not exist or you do not have access to it.',
          type: 'invalid_request_error',
          param: null,
          code: 'model_not_found',
        },
      }),
    );
    assert.equal(info.modelNotServed, true);
    assert.equal(info.code, 'model_not_found');
  });
});

/**
 * Vendors that name their rate-limit headers otherwise than OpenAI, as their answers carry
 * them: the balancer weighs a key by what it has left.
 */
describe("a hosted vendor's answer that it does not serve the model", () => {
  const answer = (status: number, json: unknown) => ({
    status,
    headers: {},
    text: JSON.stringify(json),
    json,
  });
  const nested = (message: string, code: unknown, type = 'invalid_request_error') => ({
    error: { message, type, param: null, code },
  });

  it('is read as OpenAI model_not_found: Mistral, DeepSeek, OpenRouter, Together (400s)', () => {
    for (const body of [
      {
        object: 'error',
        message: 'Invalid model: mistral-x',
        type: 'invalid_model',
        param: null,
        code: '1500',
      },
      nested('Model Not Exist', 'invalid_request_error'),
      { error: { message: 'google/gemini-x is not a valid model ID', code: 400 }, user_id: 'user_1' },
      nested(
        'Unable to access non-serverless model a/b. Please visit https://api.together.ai/models',
        'model_not_available',
      ),
    ]) {
      const info = openAICompatibleErrorInfo(answer(400, body));
      assert.equal(info.modelNotServed, true, JSON.stringify(body));
      assert.equal(info.retryable, false);
    }
  });

  it('is not read into their other refusals, or another status', () => {
    for (const [status, body] of [
      [400, nested('Invalid request: messages must not be empty', 'invalid_request_error')],
      [
        422,
        { object: 'error', message: 'Invalid model: x', type: 'invalid_model', param: null, code: '1500' },
      ],
      [400, { error: { message: 'x is not a valid model ID for tools', code: 400 } }],
      [500, nested('Model Not Exist', 'invalid_request_error')],
      [400, nested('The dedicated endpoint for a/b is not running.', 'dedicated_endpoint_not_running')],
    ] as const) {
      assert.equal(
        openAICompatibleErrorInfo(answer(status, body)).modelNotServed,
        undefined,
        JSON.stringify(body),
      );
    }
  });
});

describe("OpenAI-compatible vendors' rate-limit headers", () => {
  const read = (headers: Record<string, string>) => openAICompatibleProvider.rateLimits(headers);

  it("reads Together's and OpenRouter's x-ratelimit-limit / -remaining as requests", () => {
    assert.deepEqual(
      read({ 'x-ratelimit-limit': '600', 'x-ratelimit-remaining': '598', 'x-ratelimit-reset': '1' }),
      {
        limitRequests: 600,
        remainingRequests: 598,
      },
    );
    assert.deepEqual(read({ 'x-ratelimit-limit': '16', 'x-ratelimit-remaining': '0' }), {
      limitRequests: 16,
      remainingRequests: 0,
    });
  });

  it("reads Mistral's x-ratelimitbysize-*-minute as tokens, not its month's budget", () => {
    assert.deepEqual(
      read({
        'x-ratelimitbysize-limit-minute': '500000',
        'x-ratelimitbysize-remaining-minute': '499120',
        'x-ratelimitbysize-limit-month': '1000000000',
        'x-ratelimitbysize-remaining-month': '999000000',
        'ratelimitbysize-reset': '17',
      }),
      { limitTokens: 500_000, remainingTokens: 499_120 },
    );
  });

  it("keeps OpenAI's names first (Groq), and nothing read is undefined", () => {
    assert.deepEqual(
      read({
        'x-ratelimit-limit-requests': '1000',
        'x-ratelimit-remaining-requests': '999',
        'x-ratelimit-remaining-tokens': '5000',
        'x-ratelimit-reset-requests': '1m26.4s',
        'x-ratelimit-remaining': '3',
      }),
      { limitRequests: 1000, remainingRequests: 999, remainingTokens: 5000, resetRequestsMs: 86_400 },
    );
    assert.equal(read({ 'content-type': 'application/json' }), undefined);
  });
});
