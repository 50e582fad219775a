import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { anthropicMessagesRequest, FOREIGN_REASONING_SIGNATURE } from './anthropic-messages-types.js';
import { type OpenAIRequestOptions, TOOL_ERROR_PREFIX } from './neutral-to-openai-request.js';
import { type OpenAIChatRequest, openAIChatRequest } from './openai-chat-types.js';
import { anthropicToOpenAIRequest, anthropicToolNamesSent } from './requests.js';
import { shortToolName } from './tool-names.js';
import { TranslationError } from './translation-error.js';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk';
const weather = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

/** Parses the body as the edge would, translates, and checks the result is a valid OpenAI request. */
function translate(body: Record<string, unknown>, options?: OpenAIRequestOptions): OpenAIChatRequest {
  const request = anthropicMessagesRequest.parse({ model: 'gpt-4.1', max_tokens: 1024, ...body });
  const translated = anthropicToOpenAIRequest(request, options);
  assert.deepEqual(openAIChatRequest.parse(translated), translated, 'the output has the OpenAI shape');
  return translated;
}

const user = (content: unknown) => ({ role: 'user', content });

describe('Anthropic messages request -> OpenAI chat request', () => {
  const cases: { name: string; body: Record<string, unknown>; expected: Partial<OpenAIChatRequest> }[] = [
    {
      name: 'a system string becomes the first message; max_tokens becomes max_completion_tokens',
      body: { system: 'Be brief.', messages: [user('Hi')] },
      expected: {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
        ],
        max_completion_tokens: 1024,
      },
    },
    {
      name: 'system text blocks are joined into one system message (cache_control is dropped)',
      body: {
        system: [
          { type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } },
          { type: 'text', text: 'Answer in French.' },
        ],
        messages: [user([{ type: 'text', text: 'Hi' }])],
      },
      expected: {
        messages: [
          { role: 'system', content: 'Be brief.\n\nAnswer in French.' },
          { role: 'user', content: 'Hi' },
        ],
      },
    },
    {
      name: 'image blocks become image_url parts (base64 as a data: URL); a PDF document becomes a file part after its title',
      body: {
        messages: [
          user([
            { type: 'text', text: 'Compare' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
            {
              type: 'document',
              source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
              title: 'r.pdf',
            },
          ]),
        ],
      },
      expected: {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Compare' },
              { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
              { type: 'text', text: 'r.pdf' },
              {
                type: 'file',
                file: { filename: 'r.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' },
              },
            ],
          },
        ],
      },
    },
    {
      name: 'a plain-text document becomes text, titled',
      body: {
        messages: [
          user([
            {
              type: 'document',
              source: { type: 'text', media_type: 'text/plain', data: 'Body' },
              title: 'Notes',
            },
          ]),
        ],
      },
      expected: { messages: [{ role: 'user', content: 'Notes\n\nBody' }] },
    },
    {
      // Anthropic: `context` is "metadata about the document that the model can use but not cite".
      name: "a document's title and context reach the model as text: a text document's, and before a PDF",
      body: {
        messages: [
          user([
            {
              type: 'document',
              source: { type: 'text', media_type: 'text/plain', data: 'Revenue grew 4%.' },
              title: 'Q3 report',
              context: 'The unreviewed draft.',
            },
            {
              type: 'document',
              source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
              context: 'The published version.',
            },
          ]),
        ],
      },
      expected: {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Q3 report\n\nThe unreviewed draft.\n\nRevenue grew 4%.' },
              { type: 'text', text: 'The published version.' },
              {
                type: 'file',
                file: { filename: 'document.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' },
              },
            ],
          },
        ],
      },
    },
    {
      // Anthropic's search results (client-side RAG): text, as a text document is.
      name: 'search_result blocks become text (title, source, text blocks), in a turn and in a tool result',
      body: {
        messages: [
          user([
            {
              type: 'search_result',
              source: 'https://docs.example.com/returns',
              title: 'Return policy',
              content: [
                { type: 'text', text: 'Items may be returned within 30 days.' },
                { type: 'text', text: 'Refunds take 5 days.' },
              ],
              citations: { enabled: true },
            },
            { type: 'text', text: 'How long?' },
          ]),
          { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'search', input: { q: 'x' } }] },
          user([
            {
              type: 'tool_result',
              tool_use_id: 't1',
              content: [
                {
                  type: 'search_result',
                  source: 'kb:7',
                  title: 'Shipping',
                  content: [{ type: 'text', text: 'Free.' }],
                },
              ],
            },
          ]),
        ],
      },
      expected: {
        messages: [
          {
            role: 'user',
            content: [
              {
                type: 'text',
                text: 'Return policy\n\nhttps://docs.example.com/returns\n\nItems may be returned within 30 days.\n\nRefunds take 5 days.',
              },
              { type: 'text', text: 'How long?' },
            ],
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 't1', type: 'function', function: { name: 'search', arguments: '{"q":"x"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 't1', content: 'Shipping\n\nkb:7\n\nFree.' },
        ],
      },
    },
    {
      name: 'tool_use blocks become tool_calls with JSON arguments; thinking blocks are dropped',
      body: {
        messages: [
          user('Weather in Paris?'),
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'hmm', signature: 'sig' },
              { type: 'text', text: 'Checking.' },
              { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
            ],
          },
        ],
      },
      expected: {
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          {
            role: 'assistant',
            content: 'Checking.',
            tool_calls: [
              {
                id: 'toolu_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
            ],
          },
        ],
      },
    },
    {
      name: 'an assistant turn of tool calls only has null content',
      body: {
        messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'now', input: {} }] }],
      },
      expected: {
        messages: [
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 't', type: 'function', function: { name: 'now', arguments: '{}' } }],
          },
        ],
      },
    },
    {
      name: 'tool_result blocks become tool messages before the rest of the turn; content arrays are joined; errors are marked',
      body: {
        messages: [
          {
            role: 'assistant',
            content: ['toolu_1', 'toolu_2', 'toolu_3', 'toolu_4'].map((id) => ({
              type: 'tool_use',
              id,
              name: 'get_weather',
              input: {},
            })),
          },
          user([
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
            {
              type: 'tool_result',
              tool_use_id: 'toolu_2',
              content: [
                { type: 'text', text: 'line 1' },
                { type: 'text', text: 'line 2' },
              ],
            },
            { type: 'tool_result', tool_use_id: 'toolu_3', content: 'city not found', is_error: true },
            { type: 'tool_result', tool_use_id: 'toolu_4' },
            { type: 'text', text: 'Summarise.' },
          ]),
        ],
      },
      expected: {
        messages: [
          {
            role: 'assistant',
            content: null,
            tool_calls: ['toolu_1', 'toolu_2', 'toolu_3', 'toolu_4'].map((id) => ({
              id,
              type: 'function',
              function: { name: 'get_weather', arguments: '{}' },
            })),
          },
          { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
          { role: 'tool', tool_call_id: 'toolu_2', content: 'line 1\nline 2' },
          { role: 'tool', tool_call_id: 'toolu_3', content: `${TOOL_ERROR_PREFIX}city not found` },
          { role: 'tool', tool_call_id: 'toolu_4', content: '' },
          { role: 'user', content: 'Summarise.' },
        ],
      },
    },
    {
      name: 'images inside a tool result move to a user message after the tool messages',
      body: {
        messages: [
          {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 'toolu_1', name: 'screenshot', input: {} }],
          },
          user([
            {
              type: 'tool_result',
              tool_use_id: 'toolu_1',
              content: [
                { type: 'text', text: 'screenshot' },
                { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
              ],
            },
          ]),
        ],
      },
      expected: {
        messages: [
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'toolu_1', type: 'function', function: { name: 'screenshot', arguments: '{}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'toolu_1', content: 'screenshot' },
          {
            role: 'user',
            content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }],
          },
        ],
      },
    },
    {
      name: 'sampling and stop: stop_sequences -> stop; top_k has no OpenAI counterpart and is dropped',
      body: { messages: [user('Hi')], temperature: 0.3, top_p: 0.8, top_k: 40, stop_sequences: ['END'] },
      expected: { temperature: 0.3, top_p: 0.8, stop: ['END'] },
    },
    {
      name: 'a stream is a stream; its usage is asked for by the adapter, where the provider takes the field',
      body: { messages: [user('Hi')], stream: true },
      expected: { stream: true },
    },
    {
      name: 'metadata.user_id -> user; output_config.format -> response_format json_schema',
      body: {
        messages: [user('Hi')],
        metadata: { user_id: 'u-42' },
        output_config: { format: { type: 'json_schema', schema: weather } },
      },
      expected: {
        user: 'u-42',
        response_format: { type: 'json_schema', json_schema: { name: 'response', schema: weather } },
      },
    },
    {
      name: 'the deprecated output_format is output_config.format',
      body: { messages: [user('Hi')], output_format: { type: 'json_schema', schema: weather } },
      expected: {
        response_format: { type: 'json_schema', json_schema: { name: 'response', schema: weather } },
      },
    },
    {
      name: 'output_format beside the same output_config.format',
      body: {
        messages: [user('Hi')],
        output_format: { type: 'json_schema', schema: weather },
        output_config: { format: { type: 'json_schema', schema: { ...weather } } },
      },
      expected: {
        response_format: { type: 'json_schema', json_schema: { name: 'response', schema: weather } },
      },
    },
  ];
  for (const { name, body, expected } of cases) {
    it(name, () => {
      const translated = translate(body);
      for (const [key, value] of Object.entries(expected))
        assert.deepEqual(translated[key as keyof OpenAIChatRequest], value, key);
    });
  }

  it("metadata.user_id over OpenAI's 64 characters goes as its sha256 hex (Claude Code sends ~150)", () => {
    const long = 'u'.repeat(65);
    assert.equal(
      translate({ messages: [user('Hi')], metadata: { user_id: long } }).user,
      createHash('sha256').update(long).digest('hex'),
    );
    const fits = 'u'.repeat(64);
    assert.equal(translate({ messages: [user('Hi')], metadata: { user_id: fits } }).user, fits);
  });

  describe('thinking -> reasoning_effort, by what the model takes (openai-models.ts)', () => {
    const disabled = { type: 'disabled' };
    const enabled = (budget_tokens: number) => ({ type: 'enabled', budget_tokens });
    const cases: { model: string; thinking: object; effort: string | undefined }[] = [
      // gpt-5 reasons at medium unless told: disabled asks for its least.
      { model: 'gpt-5', thinking: disabled, effort: 'minimal' },
      { model: 'gpt-5-mini-2025-08-07', thinking: disabled, effort: 'minimal' },
      { model: 'gpt-5-nano', thinking: disabled, effort: 'minimal' },
      { model: 'gpt-5.1', thinking: disabled, effort: 'none' },
      { model: 'gpt-5.2-2025-12-11', thinking: disabled, effort: 'none' },
      // gpt-5.1 does not reason unless told: enabled must say how much.
      { model: 'gpt-5.1', thinking: enabled(1024), effort: 'low' },
      { model: 'gpt-5.1', thinking: enabled(8191), effort: 'low' },
      { model: 'gpt-5.1', thinking: enabled(8192), effort: 'medium' },
      { model: 'gpt-5', thinking: enabled(24575), effort: 'medium' },
      { model: 'o3', thinking: enabled(24576), effort: 'high' },
      { model: 'gpt-5.1-codex', thinking: enabled(30000), effort: 'high' },
      // The model's default.
      { model: 'gpt-5', thinking: { type: 'adaptive' }, effort: undefined },
      { model: 'gpt-5.1', thinking: { type: 'adaptive' }, effort: undefined },
      // Only the default effort (o1-mini takes no reasoning_effort, the pro models only high).
      { model: 'o1-mini', thinking: enabled(2048), effort: undefined },
      { model: 'gpt-5-pro', thinking: enabled(2048), effort: undefined },
      // Models that do not reason, and names the table does not know, get nothing.
      ...['gpt-4o', 'gpt-4.1', 'gpt-5-chat-latest', 'deepseek-reasoner', 'openai/gpt-5'].flatMap((model) => [
        { model, thinking: disabled, effort: undefined },
        { model, thinking: enabled(8000), effort: undefined },
      ]),
    ];
    for (const { model, thinking, effort } of cases)
      it(`${model}: ${JSON.stringify(thinking)} -> ${String(effort)}`, () => {
        assert.equal(translate({ messages: [user('Hi')], model, thinking }).reasoning_effort, effort);
      });

    // Claude's effort parameter (low ... max): how much the model spends, its reasoning included.
    const effortCases: { model: string; effort: string; thinking?: object; expected: string | undefined }[] =
      [
        { model: 'gpt-5', effort: 'low', thinking: { type: 'adaptive' }, expected: 'low' },
        { model: 'gpt-5', effort: 'medium', expected: 'medium' },
        { model: 'gpt-5.1', effort: 'high', thinking: { type: 'adaptive' }, expected: 'high' },
        { model: 'o3', effort: 'low', expected: 'low' },
        // max: the most the model takes.
        { model: 'gpt-5', effort: 'max', expected: 'high' },
        { model: 'gpt-5.1', effort: 'max', thinking: { type: 'adaptive' }, expected: 'high' },
        { model: 'gpt-5.2', effort: 'max', thinking: { type: 'adaptive' }, expected: 'xhigh' },
        { model: 'gpt-5.1', effort: 'low', thinking: enabled(30000), expected: 'low' },
        // Without thinking, a model that reasons only when asked (gpt-5.1 on, default `none`)
        // keeps its default: Claude thinks only when `thinking` asks it to.
        { model: 'gpt-5.1', effort: 'high', expected: undefined },
        { model: 'gpt-5.1', effort: 'max', expected: undefined },
        { model: 'gpt-5.2', effort: 'max', expected: undefined },
        { model: 'gpt-5.1', effort: 'xhigh', expected: undefined },
        // A model that reasons anyway is told the effort (it lowers or raises the reasoning).
        { model: 'gpt-5-mini', effort: 'low', expected: 'low' },
        { model: 'gpt-5.1-codex', effort: 'high', expected: 'high' },
        { model: 'gpt-5.1-mini', effort: 'low', expected: 'low' },
        { model: 'gpt-5.1-codex-max', effort: 'max', expected: 'xhigh' },
        { model: 'gpt-5.1-codex-max', effort: 'xhigh', expected: 'xhigh' },
        // With thinking enabled, budget_tokens stays the ceiling; disabled asks for the least.
        { model: 'gpt-5', effort: 'high', thinking: enabled(2048), expected: 'low' },
        { model: 'gpt-5', effort: 'low', thinking: enabled(30000), expected: 'low' },
        { model: 'gpt-5', effort: 'high', thinking: disabled, expected: 'minimal' },
        // As for thinking: nothing for a model that takes only its default, or does not reason.
        { model: 'gpt-5-pro', effort: 'max', expected: undefined },
        { model: 'gpt-4o', effort: 'high', expected: undefined },
        { model: 'deepseek-reasoner', effort: 'low', expected: undefined },
      ];
    for (const { model, effort, thinking, expected } of effortCases)
      it(`${model}: output_config.effort ${effort}${thinking ? ` with ${JSON.stringify(thinking)}` : ''} -> ${String(expected)}`, () => {
        const body = {
          messages: [user('Hi')],
          model,
          output_config: { effort },
          ...(thinking ? { thinking } : {}),
        };
        assert.equal(translate(body).reasoning_effort, expected);
      });

    for (const { model, effort, thinking } of [
      { model: 'gpt-5', effort: 'xhigh' } as { model: string; effort: string; thinking?: object },
      { model: 'gpt-5.1', effort: 'xhigh', thinking: { type: 'adaptive' } },
      { model: 'gpt-4o', effort: 'none' },
    ])
      it(`${model}: output_config.effort ${effort} is refused naming output_config.effort`, () => {
        assert.throws(
          () =>
            translate({
              messages: [user('Hi')],
              model,
              output_config: { effort },
              ...(thinking ? { thinking } : {}),
            }),
          (error: unknown) => error instanceof TranslationError && error.param === 'output_config.effort',
        );
      });

    it('a reasoning effort drops the sampling parameters gpt-5.1 takes only without reasoning', () => {
      const sampled = { messages: [user('Hi')], model: 'gpt-5.1', temperature: 0.2 };
      assert.equal(translate({ ...sampled, thinking: enabled(4096) }).temperature, undefined);
      assert.equal(translate({ ...sampled, thinking: disabled }).temperature, 0.2);
      // An effort alone turns no reasoning on there (Claude does not think without `thinking`).
      assert.equal(translate({ ...sampled, output_config: { effort: 'high' } }).temperature, 0.2);
    });

    const refusals: { model: string; thinking: object; param: string }[] = [
      ...['o3', 'o1-mini', 'o4-mini', 'gpt-5-codex', 'gpt-5-pro', 'gpt-5.1-codex-max'].map((model) => ({
        model,
        thinking: disabled,
        param: 'thinking',
      })),
      { model: 'gpt-5', thinking: { type: 'enabled' }, param: 'thinking.budget_tokens' },
      { model: 'gpt-5', thinking: { type: 'between_tools' }, param: 'thinking.type' },
    ];
    for (const { model, thinking, param } of refusals)
      it(`${model}: ${JSON.stringify(thinking)} is refused naming ${param}`, () => {
        assert.throws(
          () => translate({ messages: [user('Hi')], model, thinking }),
          (error: unknown) => error instanceof TranslationError && error.param === param,
        );
      });
  });

  describe('reasoningSwitch: thinking -> reasoning_effort whatever the model (YandexGPT maps it)', () => {
    const effortOf = (fields: Record<string, unknown>) =>
      translate({ messages: [user('Hi')], model: 'yandexgpt/latest', ...fields }, { reasoningSwitch: true })
        .reasoning_effort;
    const cases: { fields: Record<string, unknown>; effort: string | undefined }[] = [
      { fields: {}, effort: undefined },
      { fields: { thinking: { type: 'disabled' } }, effort: 'none' },
      { fields: { thinking: { type: 'disabled' }, output_config: { effort: 'high' } }, effort: 'none' },
      { fields: { thinking: { type: 'enabled', budget_tokens: 1024 } }, effort: 'low' },
      { fields: { thinking: { type: 'enabled', budget_tokens: 8192 } }, effort: 'medium' },
      { fields: { thinking: { type: 'enabled', budget_tokens: 30000 } }, effort: 'high' },
      // The budget stays the ceiling of the effort.
      {
        fields: { thinking: { type: 'enabled', budget_tokens: 2048 }, output_config: { effort: 'max' } },
        effort: 'low',
      },
      { fields: { thinking: { type: 'adaptive' } }, effort: 'medium' },
      { fields: { thinking: { type: 'adaptive' }, output_config: { effort: 'low' } }, effort: 'low' },
      // An effort without thinking: Claude does not think, so the switch stays at its default.
      { fields: { output_config: { effort: 'max' } }, effort: undefined },
      { fields: { output_config: { effort: 'high' } }, effort: undefined },
      { fields: { thinking: { type: 'adaptive' }, output_config: { effort: 'max' } }, effort: 'xhigh' },
      { fields: { thinking: { type: 'adaptive' }, output_config: { effort: 'xhigh' } }, effort: 'xhigh' },
    ];
    for (const { fields, effort } of cases)
      it(`${JSON.stringify(fields)} -> ${effort}`, () => assert.equal(effortOf(fields), effort));

    it('without the option a name the OpenAI table does not know gets nothing', () => {
      const body = { messages: [user('Hi')], model: 'yandexgpt/latest', thinking: { type: 'adaptive' } };
      assert.equal(translate(body).reasoning_effort, undefined);
    });
  });

  describe('sampling parameters on OpenAI reasoning models, which refuse any but 1', () => {
    const sampled = { messages: [user('Hi')], temperature: 0, top_p: 0.5 };
    for (const model of [
      'o1',
      'o3-mini',
      'o4-mini-2025-04-16',
      'gpt-5',
      'gpt-5-mini',
      'gpt-5-codex',
      'gpt-5.1-codex',
    ])
      it(`${model}: temperature and top_p are dropped`, () => {
        const translated = translate({ ...sampled, model });
        assert.equal(translated.temperature, undefined);
        assert.equal(translated.top_p, undefined);
      });
    it('a temperature or top_p of 1 (the only value they take) is kept', () => {
      const translated = translate({ messages: [user('Hi')], model: 'gpt-5', temperature: 1, top_p: 1 });
      assert.equal(translated.temperature, 1);
      assert.equal(translated.top_p, 1);
    });
    for (const model of [
      'gpt-4o',
      'gpt-4.1',
      'gpt-5-chat-latest',
      'gpt-5.1-chat-latest',
      'deepseek-chat',
      'gpt-5.1',
    ])
      it(`${model} (not reasoning${model === 'gpt-5.1' ? ' by default: effort none' : ''}) keeps them`, () => {
        const translated = translate({ ...sampled, model });
        assert.equal(translated.temperature, 0);
        assert.equal(translated.top_p, 0.5);
      });
  });

  describe('stop sequences on OpenAI reasoning models, which refuse `stop`', () => {
    const stopped = { messages: [user('Hi')], stop_sequences: ['\nObservation:'] };
    for (const model of ['o1', 'o3', 'o3-mini', 'o4-mini-2025-04-16', 'gpt-5', 'gpt-5-mini', 'gpt-5.1-codex'])
      it(`${model}: stop_sequences are refused naming stop_sequences, not dropped`, () => {
        assert.throws(
          () => translate({ ...stopped, model }),
          (error: unknown) =>
            error instanceof TranslationError &&
            error.code === 'unsupported_parameter' &&
            error.param === 'stop_sequences' &&
            error.message.includes(model),
        );
      });
    it('gpt-5.1 takes them while it does not reason (effort none), not with reasoning asked for', () => {
      const body = { ...stopped, model: 'gpt-5.1' };
      assert.deepEqual(translate(body).stop, ['\nObservation:']);
      assert.deepEqual(translate({ ...body, thinking: { type: 'disabled' } }).stop, ['\nObservation:']);
      assert.throws(
        () => translate({ ...body, thinking: { type: 'enabled', budget_tokens: 4096 } }),
        (error: unknown) =>
          error instanceof TranslationError &&
          error.param === 'stop_sequences' &&
          /reasons/.test(error.message),
      );
      assert.throws(
        () => translate({ ...body, thinking: { type: 'adaptive' }, output_config: { effort: 'low' } }),
        (error: unknown) => error instanceof TranslationError && error.param === 'stop_sequences',
      );
      // An effort alone turns no reasoning on (Claude does not think without `thinking`).
      assert.deepEqual(translate({ ...body, output_config: { effort: 'low' } }).stop, ['\nObservation:']);
    });
    const five = ['A', 'B', 'C', 'D', 'E'];
    for (const model of [
      'gpt-4o',
      'gpt-4o-mini',
      'gpt-4.1-mini',
      'gpt-4-turbo',
      'gpt-3.5-turbo',
      'gpt-5.1',
      'gpt-5-chat-latest',
    ])
      it(`${model}: more than OpenAI's 4 stop sequences are refused naming stop_sequences`, () => {
        assert.throws(
          () => translate({ messages: [user('Hi')], model, stop_sequences: five }),
          (error: unknown) =>
            error instanceof TranslationError &&
            error.code === 'unsupported_value' &&
            error.param === 'stop_sequences' &&
            error.message.includes('up to 4'),
        );
        assert.deepEqual(
          translate({ messages: [user('Hi')], model, stop_sequences: five.slice(0, 4) }).stop,
          ['A', 'B', 'C', 'D'],
        );
      });
    it('a model the table does not know (a compatible server, which may take more) gets them all', () => {
      assert.deepEqual(
        translate({ messages: [user('Hi')], model: 'deepseek-chat', stop_sequences: five }).stop,
        five,
      );
    });
    for (const model of ['gpt-4o', 'gpt-4.1', 'gpt-5-chat-latest', 'deepseek-reasoner'])
      it(`${model} keeps them`, () => {
        assert.deepEqual(translate({ ...stopped, model }).stop, ['\nObservation:']);
      });
  });

  it("a max_tokens above the model's ceiling goes as the ceiling (OpenAI refuses more)", () => {
    for (const [model, asked, sent] of [
      ['gpt-4o', 32_000, 16_384],
      ['gpt-4o-2024-11-20', 32_000, 16_384],
      ['gpt-4o-2024-05-13', 8_192, 4_096],
      ['gpt-4o-mini', 64_000, 16_384],
      ['chatgpt-4o-latest', 20_000, 16_384],
      ['gpt-4.1-mini-2025-04-14', 64_000, 32_768],
      ['gpt-5-chat-latest', 32_000, 16_384],
      ['gpt-5.1-chat-latest', 32_000, 16_384],
      ['o3', 128_000, 100_000],
      ['o4-mini-2025-04-16', 128_000, 100_000],
      ['o1-mini', 100_000, 65_536],
      ['gpt-4o', 8_000, 8_000],
      ['gpt-5', 128_000, 128_000],
      ['gpt-5', 200_000, 128_000],
      ['gpt-5-2025-08-07', 200_000, 128_000],
      ['gpt-5-mini', 200_000, 128_000],
      ['gpt-5-nano-2025-08-07', 200_000, 128_000],
      ['gpt-5-codex', 200_000, 128_000],
      ['gpt-5.1', 200_000, 128_000],
      ['gpt-5.1-codex-mini', 200_000, 128_000],
      ['gpt-5.1-codex-max', 200_000, 128_000],
      ['gpt-5.2', 200_000, 128_000],
      ['gpt-5.4-mini', 200_000, 128_000],
      ['gpt-5-pro', 300_000, 272_000],
      ['gpt-5-pro', 200_000, 200_000],
      ['gpt-4-turbo', 32_000, 4_096],
      ['gpt-4-turbo-2024-04-09', 32_000, 4_096],
      ['gpt-4-turbo-preview', 32_000, 4_096],
      ['gpt-4-1106-preview', 32_000, 4_096],
      ['gpt-4-vision-preview', 32_000, 4_096],
      ['gpt-4', 32_000, 8_192],
      ['gpt-4-0613', 32_000, 8_192],
      ['gpt-3.5-turbo', 32_000, 4_096],
      ['gpt-3.5-turbo-0125', 32_000, 4_096],
      ['gpt-4o-search-preview', 32_000, 16_384],
      ['gpt-4o-mini-audio-preview-2024-12-17', 32_000, 16_384],
      ['gpt-3.5-turbo', 1_000, 1_000],
      // Unknown: a ceiling the published pages disagree on, and names the table does not know.
      ['gpt-5.5', 300_000, 300_000],
      ['gpt-5.2-pro', 300_000, 300_000],
      ['gpt-5-search-api', 300_000, 300_000],
      ['gpt-3.5-turbo-16k', 32_000, 32_000],
      ['gpt-4-32k', 64_000, 64_000],
      ['deepseek-chat', 64_000, 64_000],
    ] as const)
      assert.equal(
        translate({ model, messages: [user('Hi')], max_tokens: asked }).max_completion_tokens,
        sent,
        `${model} ${asked}`,
      );
    assert.equal(
      translate(
        { model: 'gpt-4o', messages: [user('Hi')], max_tokens: 32_000 },
        { maxTokensField: 'max_tokens' },
      ).max_tokens,
      16_384,
    );
  });

  it('max_tokens goes to max_tokens for servers that only know it', () => {
    const translated = translate({ messages: [user('Hi')] }, { maxTokensField: 'max_tokens' });
    assert.equal(translated.max_tokens, 1024);
    assert.equal(translated.max_completion_tokens, undefined);
  });

  describe('tools and tool_choice', () => {
    const tools = [
      {
        name: 'get_weather',
        description: 'Weather',
        input_schema: weather,
        cache_control: { type: 'ephemeral' },
      },
    ];
    it('client tools become function tools', () => {
      assert.deepEqual(translate({ messages: [user('Hi')], tools }).tools, [
        { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: weather } },
      ]);
    });
    const choices: { name: string; choice: unknown; expected: Partial<OpenAIChatRequest> }[] = [
      { name: 'auto', choice: { type: 'auto' }, expected: { tool_choice: 'auto' } },
      { name: 'any -> required', choice: { type: 'any' }, expected: { tool_choice: 'required' } },
      { name: 'none', choice: { type: 'none' }, expected: { tool_choice: 'none' } },
      {
        name: 'tool -> named function',
        choice: { type: 'tool', name: 'get_weather' },
        expected: { tool_choice: { type: 'function', function: { name: 'get_weather' } } },
      },
      {
        name: 'disable_parallel_tool_use -> parallel_tool_calls false',
        choice: { type: 'auto', disable_parallel_tool_use: true },
        expected: { tool_choice: 'auto', parallel_tool_calls: false },
      },
    ];
    for (const { name, choice, expected } of choices) {
      it(name, () => {
        const translated = translate({ messages: [user('Hi')], tools, tool_choice: choice });
        for (const [key, value] of Object.entries(expected))
          assert.deepEqual(translated[key as keyof OpenAIChatRequest], value, key);
      });
    }
    for (const model of ['o1', 'o3-mini', 'o3', 'o4-mini-2025-04-16'])
      it(`disable_parallel_tool_use on ${model} (which refuses parallel_tool_calls, even false) sends none`, () => {
        const choice = { type: 'auto', disable_parallel_tool_use: true };
        const translated = translate({ messages: [user('Hi')], model, tools, tool_choice: choice });
        assert.equal(translated.tool_choice, 'auto');
        assert.equal('parallel_tool_calls' in translated, false);
      });
    it('disable_parallel_tool_use on gpt-5 (which takes the field) is parallel_tool_calls false', () => {
      const choice = { type: 'auto', disable_parallel_tool_use: true };
      const translated = translate({ messages: [user('Hi')], model: 'gpt-5', tools, tool_choice: choice });
      assert.equal(translated.parallel_tool_calls, false);
    });
    it('an object schema without properties gets them empty (OpenAI refuses it; MCP tools send it)', () => {
      const tool = { name: 'list_namespaces', input_schema: { type: 'object' } };
      assert.deepEqual(translate({ messages: [user('Hi')], tools: [tool] }).tools, [
        {
          type: 'function',
          function: { name: 'list_namespaces', parameters: { type: 'object', properties: {} } },
        },
      ]);
    });
    describe("strict tools: kept where OpenAI's strict mode takes the schema, else sent without", () => {
      const closed = (properties: Record<string, unknown>, required = Object.keys(properties)) => ({
        type: 'object',
        properties,
        required,
        additionalProperties: false,
      });
      const strictOf = (schema: Record<string, unknown>, flag: { strict?: boolean } = { strict: true }) => {
        const tool = { name: 'f', input_schema: schema, ...flag };
        const [sent] = translate({ messages: [user('Hi')], tools: [tool] }).tools ?? [];
        assert.deepEqual(
          sent?.type === 'function' && sent.function.parameters,
          schema,
          'the schema as written',
        );
        return sent?.type === 'function' ? sent.function.strict : 'not a function';
      };
      const item = closed({ sku: { type: 'string' } });
      const cases: { name: string; schema: Record<string, unknown>; expected: boolean | undefined }[] = [
        {
          name: 'every property required, objects closed',
          schema: closed({ a: { type: 'string' } }),
          expected: true,
        },
        { name: 'no properties', schema: closed({}), expected: true },
        {
          name: 'closed objects nested in properties, items, anyOf and $defs',
          schema: {
            ...closed({
              items: { type: 'array', items: item },
              either: { anyOf: [item, { type: 'null' }] },
              ref: { $ref: '#/$defs/item' },
            }),
            $defs: { item },
          },
          expected: true,
        },
        {
          name: 'an optional property (Claude takes it; OpenAI wants every one required)',
          schema: closed({ a: { type: 'string' }, b: { type: 'string' } }, ['a']),
          expected: undefined,
        },
        {
          name: 'no required list',
          schema: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false },
          expected: undefined,
        },
        {
          name: 'an object without additionalProperties false',
          schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
          expected: undefined,
        },
        {
          name: 'an optional property of an array item',
          schema: closed({ list: { type: 'array', items: closed({ x: {}, y: {} }, ['x']) } }),
          expected: undefined,
        },
        {
          name: 'an optional property in a $defs entry',
          schema: { ...closed({ r: { $ref: '#/$defs/d' } }), $defs: { d: closed({ x: {} }, []) } },
          expected: undefined,
        },
      ];
      for (const { name, schema, expected } of cases)
        it(name, () => {
          assert.equal(strictOf(schema), expected);
        });
      it('strict false and no strict go as sent', () => {
        const open = { type: 'object', properties: { a: { type: 'string' } } };
        assert.equal(strictOf(open, { strict: false }), false);
        assert.equal(strictOf(open, {}), undefined);
      });
    });
  });

  describe("tool names over OpenAI's 64 characters (Anthropic takes 128)", () => {
    const long = 'mcp__github_enterprise_server__list_pull_request_review_comments_for_repository';
    const short = shortToolName(long);
    it('go as 55 characters, _ and 8 hex of their sha256, in the tools, tool_choice and the history', () => {
      assert.equal(
        short,
        `${long.slice(0, 55)}_${createHash('sha256').update(long).digest('hex').slice(0, 8)}`,
      );
      assert.equal(short.length, 64);
      const translated = translate({
        tools: [{ name: long, input_schema: weather }],
        tool_choice: { type: 'tool', name: long },
        messages: [
          user('List them'),
          { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: long, input: {} }] },
          user([{ type: 'tool_result', tool_use_id: 't1', content: 'none' }]),
        ],
      });
      const [tool] = translated.tools ?? [];
      assert.equal(tool?.type === 'function' ? tool.function.name : undefined, short);
      assert.deepEqual(translated.tool_choice, { type: 'function', function: { name: short } });
      const call = translated.messages[1];
      assert.equal(call?.role === 'assistant' ? call.tool_calls?.[0]?.function.name : undefined, short);
    });
    it('the request names what it sent in place of which name (only those shortened)', () => {
      const request = anthropicMessagesRequest.parse({
        model: 'gpt-4.1',
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

  describe("another model's reasoning in the history (thinking blocks signed as Kordon's)", () => {
    const history = (signature: string) => [
      user('Weather in Paris?'),
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Call get_weather.', signature },
          { type: 'tool_use', id: 't1', name: 'get_weather', input: { city: 'Paris' } },
        ],
      },
      user([{ type: 'tool_result', tool_use_id: 't1', content: 'sunny' }]),
    ];
    const assistantTurn = (translated: OpenAIChatRequest) =>
      translated.messages.find((m) => m.role === 'assistant');
    it('goes back as reasoning_content where the server takes it (DeepSeek requires it with tool calls)', () => {
      const translated = translate(
        { messages: history(FOREIGN_REASONING_SIGNATURE) },
        { reasoningContent: true },
      );
      assert.equal(assistantTurn(translated)?.reasoning_content, 'Call get_weather.');
    });
    it('is dropped for other servers (OpenAI, Groq, Mistral)', () => {
      assert.equal(
        assistantTurn(translate({ messages: history(FOREIGN_REASONING_SIGNATURE) }))?.reasoning_content,
        undefined,
      );
    });
    it("Claude's thinking (a signature of Claude's) is never sent: it is not what the target model wrote", () => {
      const translated = translate({ messages: history('EqQBCkgIARABGAIiQL') }, { reasoningContent: true });
      assert.equal(assistantTurn(translated)?.reasoning_content, undefined);
    });
  });

  describe('refusals name the offending field', () => {
    const refusals: { name: string; body: Record<string, unknown>; param: string }[] = [
      {
        name: 'a server tool',
        body: { messages: [user('Hi')], tools: [{ type: 'web_search_20250305', name: 'web_search' }] },
        param: 'tools[0].type',
      },
      {
        name: 'a file_id image',
        body: { messages: [user([{ type: 'image', source: { type: 'file', file_id: 'file_1' } }])] },
        param: 'messages[0].content[0].source.file_id',
      },
      {
        name: 'a PDF by URL (OpenAI takes documents inline only)',
        body: {
          messages: [user([{ type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } }])],
        },
        param: 'messages[0].content[0].source',
      },
      // Sent on, OpenAI would refuse these naming its own path ("got empty base64-encoded bytes").
      ...['', 'not base64!', '\n'].map((data) => ({
        name: `an image whose base64 data is not base64: ${JSON.stringify(data)}`,
        body: {
          messages: [user([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data } }])],
        },
        param: 'messages[0].content[0].source',
      })),
      {
        name: 'a PDF document whose base64 data is empty',
        body: {
          messages: [
            user([{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: '' } }]),
          ],
        },
        param: 'messages[0].content[0].source',
      },
      {
        name: 'an image in a tool result whose base64 data is empty',
        body: {
          messages: [
            { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'shot', input: {} }] },
            user([
              {
                type: 'tool_result',
                tool_use_id: 't1',
                content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: '' } }],
              },
            ]),
          ],
        },
        param: 'messages[1].content[0].content[0].source',
      },
      {
        name: 'output_format and output_config.format that differ',
        body: {
          messages: [user('Hi')],
          output_format: { type: 'json_schema', schema: weather },
          output_config: { format: { type: 'json_schema', schema: { type: 'object' } } },
        },
        param: 'output_format',
      },
      {
        name: 'a search_result block in an assistant turn',
        body: {
          messages: [
            user('Hi'),
            {
              role: 'assistant',
              content: [
                { type: 'search_result', source: 's', title: 't', content: [{ type: 'text', text: 'x' }] },
              ],
            },
          ],
        },
        param: 'messages[1].content[0].type',
      },
      {
        name: 'a tool_use block in a user turn',
        body: { messages: [user([{ type: 'tool_use', id: 't', name: 'f', input: {} }])] },
        param: 'messages[0].content[0].type',
      },
    ];
    for (const { name, body, param } of refusals) {
      it(name, () => {
        assert.throws(
          () => translate(body),
          (error: unknown) => error instanceof TranslationError && error.param === param,
        );
      });
    }
  });
});
