import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AnthropicMessagesRequest, anthropicMessagesRequest } from './anthropic-messages-types.js';
import { DEFAULT_ANTHROPIC_MAX_TOKENS } from './neutral-to-anthropic-request.js';
import { openAIChatRequest } from './openai-chat-types.js';
import { openAIToAnthropicRequest } from './requests.js';
import { TranslationError } from './translation-error.js';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk';
const weather = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

/** Parses the body as the edge would, translates, and checks the result is a valid Anthropic request. */
function translate(
  body: Record<string, unknown>,
  options?: { defaultMaxTokens?: number },
): AnthropicMessagesRequest {
  const request = openAIChatRequest.parse({ model: 'claude-sonnet-4-5', ...body });
  const translated = openAIToAnthropicRequest(request, options);
  assert.deepEqual(
    anthropicMessagesRequest.parse(translated),
    translated,
    'the output has the Anthropic shape',
  );
  return translated;
}

const user = (content: unknown) => ({ role: 'user', content });

describe('OpenAI chat request -> Anthropic messages request', () => {
  const cases: {
    name: string;
    body: Record<string, unknown>;
    expected: Partial<AnthropicMessagesRequest>;
  }[] = [
    {
      name: 'system and developer messages become the system blocks, in order',
      body: {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
          user('Hi'),
        ],
      },
      expected: {
        system: [
          { type: 'text', text: 'Be brief.' },
          { type: 'text', text: 'Answer in French.' },
        ],
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      },
    },
    {
      name: 'images: a data: URL becomes a base64 source, an https URL a url source; detail is dropped',
      body: {
        messages: [
          user([
            { type: 'text', text: 'Compare' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ]),
        ],
      },
      expected: {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Compare' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
              { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
            ],
          },
        ],
      },
    },
    {
      name: 'a PDF given as file_data becomes a document block',
      body: {
        messages: [
          user([
            {
              type: 'file',
              file: { filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' },
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
                type: 'document',
                source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
                title: 'report.pdf',
              },
            ],
          },
        ],
      },
    },
    {
      name: 'tool calls become tool_use blocks; tool messages become tool_result blocks of one user turn, before its text',
      body: {
        messages: [
          user('Weather in Paris and Rome?'),
          {
            role: 'assistant',
            content: 'Checking.',
            tool_calls: [
              {
                id: 'call_1',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
              },
              {
                id: 'call_2',
                type: 'function',
                function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
              },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
          { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'rain' }] },
          user('And tomorrow?'),
        ],
        tools: [
          {
            type: 'function',
            function: { name: 'get_weather', description: 'Weather', parameters: weather },
          },
        ],
      },
      expected: {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
          {
            role: 'assistant',
            content: [
              { type: 'text', text: 'Checking.' },
              { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
              { type: 'tool_use', id: 'call_2', name: 'get_weather', input: { city: 'Rome' } },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'call_1', content: 'sunny' },
              { type: 'tool_result', tool_use_id: 'call_2', content: 'rain' },
              { type: 'text', text: 'And tomorrow?' },
            ],
          },
        ],
        tools: [{ name: 'get_weather', description: 'Weather', input_schema: weather }],
      },
    },
    {
      name: 'consecutive messages of one role are merged; empty texts are dropped',
      body: {
        messages: [
          user('one'),
          user([{ type: 'text', text: '' }]),
          user('two'),
          { role: 'assistant', content: 'a' },
          { role: 'assistant', content: [{ type: 'text', text: 'b' }] },
          { role: 'assistant', content: null },
        ],
      },
      expected: {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'one' },
              { type: 'text', text: 'two' },
            ],
          },
          {
            role: 'assistant',
            content: [
              { type: 'text', text: 'a' },
              { type: 'text', text: 'b' },
            ],
          },
        ],
      },
    },
    {
      name: "max_tokens defaults to the model's ceiling (Sonnet 4.5: 64,000)",
      body: { messages: [user('Hi')] },
      expected: { max_tokens: 64_000 },
    },
    {
      name: `max_tokens defaults to ${DEFAULT_ANTHROPIC_MAX_TOKENS} for a model the table does not know`,
      body: { model: 'my-claude', messages: [user('Hi')] },
      expected: { max_tokens: DEFAULT_ANTHROPIC_MAX_TOKENS },
    },
    {
      name: 'max_completion_tokens wins over max_tokens',
      body: { messages: [user('Hi')], max_tokens: 100, max_completion_tokens: 50 },
      expected: { max_tokens: 50 },
    },
    {
      name: 'max_tokens alone is taken',
      body: { messages: [user('Hi')], max_tokens: 100 },
      expected: { max_tokens: 100 },
    },
    {
      name: 'temperature above Anthropic range is capped at 1; top_p kept alone; stop string becomes stop_sequences',
      body: { messages: [user('Hi')], temperature: 1.6, stop: 'END' },
      expected: { temperature: 1, stop_sequences: ['END'] },
    },
    {
      name: 'top_p alone is kept',
      body: { messages: [user('Hi')], top_p: 0.9 },
      expected: { top_p: 0.9, temperature: undefined },
    },
    {
      name: 'a stop sequence with whitespace around a visible character is kept as is',
      body: { messages: [user('Hi')], stop: ['\nObservation:', ' END '] },
      expected: { stop_sequences: ['\nObservation:', ' END '] },
    },
    {
      name: 'stop array and user id',
      body: { messages: [user('Hi')], stop: ['a', 'b'], user: 'u-42', temperature: 0.2 },
      expected: { stop_sequences: ['a', 'b'], metadata: { user_id: 'u-42' }, temperature: 0.2 },
    },
    {
      name: 'stream is kept',
      body: { messages: [user('Hi')], stream: true, stream_options: { include_usage: true } },
      expected: { stream: true },
    },
    {
      name: 'json_schema response_format becomes output_config.format, every object closed (Claude requires it)',
      body: {
        messages: [user('Hi')],
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'answer', schema: weather, strict: true },
        },
      },
      expected: {
        output_config: {
          format: { type: 'json_schema', schema: { ...weather, additionalProperties: false } },
        },
      },
    },
  ];
  for (const { name, body, expected } of cases) {
    it(name, () => {
      const translated = translate(body);
      for (const [key, value] of Object.entries(expected))
        assert.deepEqual(translated[key as keyof AnthropicMessagesRequest], value, key);
    });
  }

  it('json_object and text response formats have no Anthropic field and are left out', () => {
    for (const type of ['json_object', 'text']) {
      const translated = translate({ messages: [user('Reply in JSON')], response_format: { type } });
      assert.equal(translated.output_config, undefined);
    }
  });

  it("passes the gateway default for max_tokens, which wins over the model's ceiling", () => {
    assert.equal(translate({ messages: [user('Hi')] }, { defaultMaxTokens: 8000 }).max_tokens, 8000);
  });

  it("max_tokens defaults to the model's ceiling from the 4.5 generation on, by any of its names", () => {
    const ceilings: [string, number][] = [
      ['claude-opus-4-5', 64_000],
      ['claude-haiku-4-5@20251001', 64_000],
      ['anthropic/claude-sonnet-4.5', 64_000],
      ['claude-sonnet-4-6', 128_000],
      ['claude-opus-4-6', 128_000],
      ['claude-opus-4-7', 128_000],
      ['claude-opus-5', 128_000],
      ['claude-sonnet-5', 128_000],
    ];
    for (const [model, ceiling] of ceilings)
      assert.equal(translate({ model, messages: [user('Hi')] }).max_tokens, ceiling, model);
  });

  it('max_tokens stays 4096 for models that refuse prompt + max_tokens beyond their window (3.7, 4.0, 4.1) and older ones', () => {
    for (const model of [
      'claude-3-haiku-20240307',
      'claude-3-5-sonnet-20241022',
      'claude-3-7-sonnet-20250219',
      'claude-sonnet-4-20250514',
      'claude-opus-4-0',
      'anthropic.claude-opus-4-1-20250805-v1:0',
      'some-other-model',
    ])
      assert.equal(translate({ model, messages: [user('Hi')] }).max_tokens, 4096, model);
  });

  it("a max_completion_tokens above the model's ceiling goes as the ceiling (Claude refuses more)", () => {
    for (const [model, asked, sent] of [
      ['claude-sonnet-4-5', 128_000, 64_000],
      ['claude-opus-4-1-20250805', 100_000, 32_000],
      ['claude-3-5-haiku-20241022', 16_384, 8_192],
      ['claude-3-haiku-20240307', 8_000, 4_096],
      ['claude-sonnet-4-5', 64_000, 64_000],
      ['claude-sonnet-4-5', 1_000, 1_000],
      ['some-other-model', 200_000, 200_000],
    ] as const)
      assert.equal(
        translate({ model, messages: [user('Hi')], max_completion_tokens: asked }).max_tokens,
        sent,
        `${model} ${asked}`,
      );
    const thinking = translate({
      model: 'claude-opus-4-1-20250805',
      messages: [user('Hi')],
      max_tokens: 100_000,
      reasoning_effort: 'high',
    });
    assert.deepEqual(
      [thinking.max_tokens, thinking.thinking],
      [32_000, { type: 'enabled', budget_tokens: 24_576 }],
      'the thinking budget fits under the lowered maximum',
    );
  });

  describe('inline images', () => {
    const imageOf = (url: string) =>
      translate({ messages: [user([{ type: 'image_url', image_url: { url } }])] }).messages[0]?.content;

    it('an image named image/jpg or image/pjpeg (which OpenAI accepts) is sent as image/jpeg, which Claude takes', () => {
      for (const label of ['image/jpg', 'image/pjpeg', 'IMAGE/JPG'])
        assert.deepEqual(
          imageOf(`data:${label};base64,AAAA`),
          [{ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'AAAA' } }],
          label,
        );
    });

    it('base64 that decoders take is sent as it came: wrapped lines, the URL-safe alphabet, no padding', () => {
      const accepted: [string, string][] = [
        [`${PNG.slice(0, 20)}\r\n${PNG.slice(20)}`, 'image/png'],
        ['_9j_4AAQSk-Z', 'image/jpeg'],
        ['iVBORw0KGgo', 'image/png'],
      ];
      for (const [data, type] of accepted)
        assert.deepEqual(imageOf(`data:image/png;base64,${data}`), [
          { type: 'image', source: { type: 'base64', media_type: type, data } },
        ]);
    });

    it('a data URL whose scheme or `base64` is in upper case (both case-insensitive, RFC 2397) is read', () => {
      for (const url of [`data:image/png;BASE64,${PNG}`, `DATA:image/png;Base64,${PNG}`])
        assert.deepEqual(imageOf(url), [
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
        ]);
    });

    it('an image whose bytes are another type than its label is sent with the type of its bytes (Claude refuses a mismatch)', () => {
      const bytes = {
        'image/jpeg': [0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46],
        'image/png': [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d],
        'image/gif': [...Buffer.from('GIF89a'), 0x01, 0x00, 0x01, 0x00],
        'image/webp': [...Buffer.from('RIFF'), 0x24, 0x00, 0x00, 0x00, ...Buffer.from('WEBPVP8 ')],
      };
      for (const [type, header] of Object.entries(bytes)) {
        const data = Buffer.from(header).toString('base64');
        for (const label of ['image/png', 'image/jpeg', 'image/webp', 'application/octet-stream'])
          assert.deepEqual(
            imageOf(`data:${label};base64,${data}`),
            [{ type: 'image', source: { type: 'base64', media_type: type, data } }],
            `${type} bytes labelled ${label}`,
          );
      }
    });
  });

  describe('image size', () => {
    /** The first bytes of a PNG of this size (signature, IHDR), base64. */
    const pngOf = (width: number, height: number) => {
      const head = Buffer.alloc(33);
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(head);
      head.writeUInt32BE(13, 8);
      head.write('IHDR', 12, 'latin1');
      head.writeUInt32BE(width, 16);
      head.writeUInt32BE(height, 20);
      return head.toString('base64');
    };
    const images = (...sizes: [number, number][]) =>
      translate({
        messages: [
          user(
            sizes.map(([w, h]) => ({
              type: 'image_url',
              image_url: { url: `data:image/png;base64,${pngOf(w, h)}` },
            })),
          ),
        ],
      });
    const refusedAt = (param: string) => (error: unknown) =>
      error instanceof TranslationError && error.code === 'unsupported_value' && error.param === param;

    // Claude: "At least one of the image dimensions exceed max allowed size: 8000 pixels"; OpenAI resizes.
    it('an image over 8000 px on a side (a full-page screenshot) is refused naming its field', () => {
      assert.throws(() => images([1280, 8001]), refusedAt('messages[0].content[0].image_url.url'));
      assert.equal(images([1280, 8000]).messages[0]?.content.length, 1);
    });

    it("with more than 20 images, one over 2000 px is refused (Claude's many-image limit)", () => {
      const twenty = Array.from({ length: 20 }, (): [number, number] => [2560, 1440]);
      assert.equal(images(...twenty).messages[0]?.content.length, 20);
      assert.throws(() => images(...twenty, [100, 100]), refusedAt('messages[0].content[0].image_url.url'));
    });

    it("an image of exactly Claude's 5 MB of base64 is sent", () => {
      const data = `${PNG}${'A'.repeat(5 * 1024 * 1024 - PNG.length)}`;
      const content = translate({
        messages: [user([{ type: 'image_url', image_url: { url: `data:image/png;base64,${data}` } }])],
      }).messages[0]?.content;
      assert.equal(
        Array.isArray(content) && content[0]?.type === 'image' && content[0].source.type,
        'base64',
      );
    });
  });

  describe('sampling parameters the model takes', () => {
    it('Opus 4.7 and later get no temperature or top_p (they refuse any sampling parameter), by any of their names', () => {
      for (const model of [
        'claude-opus-4-7',
        'claude-opus-4-7-20260416',
        'claude-opus-4-7@20260416',
        'us.anthropic.claude-opus-4-7-v1:0',
        'anthropic/claude-opus-4.7',
        'anthropic/claude-4.7-opus',
        'claude-opus-4-8',
        'claude-opus-5',
        'claude-sonnet-5',
      ]) {
        const translated = translate({
          model,
          messages: [user('Hi')],
          temperature: 0.7,
          top_p: 0.9,
          top_k: 40,
        });
        assert.deepEqual(
          [translated.temperature, translated.top_p, translated.top_k],
          [undefined, undefined, undefined],
          model,
        );
      }
    });

    it('temperature with top_p: the 4.5 models and Opus 4.1+ get temperature only (they refuse both)', () => {
      for (const model of [
        'claude-sonnet-4-5',
        'claude-sonnet-4-5-20250929',
        'claude-haiku-4-5@20251001',
        'anthropic.claude-opus-4-1-20250805-v1:0',
        'claude-opus-4-5',
        'claude-opus-4-6',
        'anthropic/claude-sonnet-4.6',
      ]) {
        const translated = translate({ model, messages: [user('Hi')], temperature: 0.7, top_p: 0.9 });
        assert.deepEqual([translated.temperature, translated.top_p], [0.7, undefined], model);
      }
    });

    it('temperature with top_p: older models get both', () => {
      for (const model of [
        'claude-sonnet-4-20250514',
        'claude-opus-4-0',
        'claude-3-7-sonnet-latest',
        'my-model',
      ])
        assert.deepEqual(
          (({ temperature, top_p }) => [temperature, top_p])(
            translate({ model, messages: [user('Hi')], temperature: 0.7, top_p: 0.9 }),
          ),
          [0.7, 0.9],
          model,
        );
    });

    it('Opus 4.6 and Sonnet 4.6 keep a temperature', () => {
      for (const model of ['claude-opus-4-6', 'claude-sonnet-4-6'])
        assert.equal(translate({ model, messages: [user('Hi')], temperature: 0.7 }).temperature, 0.7, model);
    });
  });

  describe('reasoning_effort', () => {
    const refusedNaming = (param: string) => (error: unknown) =>
      error instanceof TranslationError && error.param === param;

    it('"low" on a model with the effort parameter is sent as output_config.effort (Claude defaults to high)', () => {
      const translated = translate({
        model: 'claude-opus-4-5',
        messages: [user('Hi')],
        reasoning_effort: 'low',
      });
      assert.equal(translated.output_config?.effort, 'low');
    });

    it('"high" on a manual-thinking model turns thinking on, within the caller\'s max_completion_tokens', () => {
      const translated = translate({
        model: 'claude-sonnet-4-5',
        messages: [user('Hi')],
        reasoning_effort: 'high',
        max_completion_tokens: 20000,
      });
      assert.deepEqual(translated.thinking, { type: 'enabled', budget_tokens: 19999 });
      assert.equal(translated.max_tokens, 20000, "the caller's maximum stays the ceiling");
      assert.equal(translated.output_config, undefined);
    });

    it('manual-thinking models get the budgets of the Gemini mapping, added to the default max_tokens', () => {
      for (const [model, effort, budget, maxTokens] of [
        ['claude-3-7-sonnet-20250219', 'minimal', 1024, 4096 + 1024],
        ['claude-sonnet-4-20250514', 'low', 1024, 4096 + 1024],
        ['anthropic.claude-opus-4-1-20250805-v1:0', 'medium', 8192, 4096 + 8192],
        ['claude-opus-4-0', 'high', 24576, 4096 + 24576],
        ['claude-haiku-4-5@20251001', 'high', 24576, 64000],
      ] as const) {
        const translated = translate({ model, messages: [user('Hi')], reasoning_effort: effort });
        assert.deepEqual(
          [translated.thinking, translated.max_tokens],
          [{ type: 'enabled', budget_tokens: budget }, maxTokens],
          model,
        );
      }
    });

    it('Opus 4.5 gets both the effort and a thinking budget; minimal is low', () => {
      const translated = translate({
        model: 'claude-opus-4-5',
        messages: [user('Hi')],
        reasoning_effort: 'minimal',
      });
      assert.deepEqual(
        [translated.output_config, translated.thinking, translated.max_tokens],
        [{ effort: 'low' }, { type: 'enabled', budget_tokens: 1024 }, 64000],
      );
    });

    it('Opus and Sonnet 4.6 and later 4.x models get adaptive thinking with the effort', () => {
      for (const model of [
        'claude-opus-4-6',
        'anthropic/claude-sonnet-4.6',
        'claude-opus-4-7',
        'claude-opus-4-8',
      ]) {
        const translated = translate({ model, messages: [user('Hi')], reasoning_effort: 'medium' });
        assert.deepEqual(
          [translated.thinking, translated.output_config, translated.max_tokens],
          [{ type: 'adaptive' }, { effort: 'medium' }, 128000],
          model,
        );
      }
    });

    it('Claude 5 models, which think by default, get the effort only; xhigh where the model has it', () => {
      for (const model of ['claude-opus-5', 'claude-sonnet-5', 'claude-fable-5-1']) {
        const translated = translate({ model, messages: [user('Hi')], reasoning_effort: 'xhigh' });
        assert.deepEqual(
          [translated.thinking, translated.output_config],
          [undefined, { effort: 'xhigh' }],
          model,
        );
      }
      assert.equal(
        translate({ model: 'claude-opus-4-7', messages: [user('Hi')], reasoning_effort: 'xhigh' })
          .output_config?.effort,
        'xhigh',
      );
    });

    it('the effort is merged with a json_schema output format, not written over it', () => {
      const translated = translate({
        model: 'claude-sonnet-4-6',
        messages: [user('Hi')],
        reasoning_effort: 'low',
        response_format: { type: 'json_schema', json_schema: { name: 'w', schema: weather } },
      });
      assert.deepEqual(translated.output_config, {
        format: { type: 'json_schema', schema: { ...weather, additionalProperties: false } },
        effort: 'low',
      });
    });

    it('with thinking on, temperature, top_p and top_k are dropped (Claude refuses them with thinking)', () => {
      for (const model of ['claude-sonnet-4-5', 'claude-sonnet-4-6']) {
        const translated = translate({
          model,
          messages: [user('Hi')],
          reasoning_effort: 'high',
          temperature: 0.2,
          top_p: 0.5,
        });
        assert.deepEqual([translated.temperature, translated.top_p], [undefined, undefined], model);
      }
      assert.equal(
        translate({
          model: 'claude-sonnet-4-5',
          messages: [user('Hi')],
          reasoning_effort: 'none',
          temperature: 0.2,
        }).temperature,
        0.2,
      );
    });

    it('"none" sends nothing to models that think only when asked, and models that do not think get nothing', () => {
      for (const [model, effort] of [
        ['claude-sonnet-4-5', 'none'],
        ['claude-opus-4-6', 'none'],
        ['claude-3-5-sonnet-20241022', 'high'],
        ['claude-3-opus-20240229', 'low'],
      ]) {
        const translated = translate({ model, messages: [user('Hi')], reasoning_effort: effort });
        assert.deepEqual([translated.thinking, translated.output_config], [undefined, undefined], model);
      }
    });

    it('refused naming reasoning_effort: none on Claude 5, an effort the model lacks, an unknown model, max_tokens too small for thinking', () => {
      for (const body of [
        { model: 'claude-opus-5', reasoning_effort: 'none' },
        { model: 'claude-sonnet-4-5', reasoning_effort: 'xhigh' },
        { model: 'claude-opus-4-6', reasoning_effort: 'xhigh' },
        { model: 'claude-sonnet-4-5', reasoning_effort: 'max' },
        { model: 'my-model', reasoning_effort: 'low' },
        { model: 'claude-mythos-preview', reasoning_effort: 'low' },
        { model: 'claude-sonnet-4-5', reasoning_effort: 'low', max_tokens: 1024 },
      ])
        assert.throws(
          () => translate({ messages: [user('Hi')], ...body }),
          refusedNaming('reasoning_effort'),
          JSON.stringify(body),
        );
    });

    it('a request continuing an open tool loop goes without thinking (Claude requires its thinking block there, which an OpenAI caller cannot send back); the effort stays', () => {
      const tools = [{ type: 'function', function: { name: 'get_weather', parameters: weather } }];
      const call = {
        id: 'call_1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      };
      const loop = [
        user('Weather in Paris?'),
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: 'call_1', content: 'Sunny' },
      ];
      for (const [model, effort, maxTokens] of [
        ['claude-sonnet-4-5', undefined, 64000],
        ['claude-sonnet-4-20250514', undefined, 4096],
        ['claude-opus-4-5', 'medium', 64000],
        ['claude-opus-4-6', 'medium', 128000],
      ] as const) {
        const translated = translate({ model, messages: loop, tools, reasoning_effort: 'medium' });
        assert.deepEqual(
          [translated.thinking, translated.output_config?.effort, translated.max_tokens],
          [undefined, effort, maxTokens],
          model,
        );
      }
      // The next turn (the loop closed by an answer, a new question) thinks again.
      const next = translate({
        messages: [...loop, { role: 'assistant', content: 'Sunny.' }, user('And Rome?')],
        tools,
        reasoning_effort: 'medium',
      });
      assert.deepEqual(next.thinking, { type: 'enabled', budget_tokens: 8192 });
    });

    it('thinking with a forced tool choice is refused naming tool_choice (Claude refuses it)', () => {
      assert.throws(
        () =>
          translate({
            model: 'claude-sonnet-4-5',
            messages: [user('Hi')],
            reasoning_effort: 'low',
            tools: [{ type: 'function', function: { name: 'get_weather', parameters: weather } }],
            tool_choice: 'required',
          }),
        refusedNaming('tool_choice'),
      );
    });
  });

  it('web_search_options is refused naming it (no web search would be made)', () => {
    assert.throws(
      () => translate({ messages: [user('Hi')], web_search_options: { search_context_size: 'medium' } }),
      (error: unknown) => error instanceof TranslationError && error.param === 'web_search_options',
    );
  });

  it('rebuilds the request from known fields only: a caller-chosen base URL is not carried', () => {
    const translated = translate({
      messages: [user('Hi')],
      api_base: 'http://evil.test',
      base_url: 'http://evil.test',
    });
    assert.ok(!JSON.stringify(translated).includes('evil.test'));
  });

  describe('tool_choice', () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: weather } }];
    const choices: { name: string; body: Record<string, unknown>; expected: unknown }[] = [
      { name: 'left out: Anthropic default (auto)', body: {}, expected: undefined },
      { name: 'auto', body: { tool_choice: 'auto' }, expected: { type: 'auto' } },
      { name: 'none', body: { tool_choice: 'none' }, expected: { type: 'none' } },
      { name: 'required -> any', body: { tool_choice: 'required' }, expected: { type: 'any' } },
      {
        name: 'named function -> tool',
        body: { tool_choice: { type: 'function', function: { name: 'get_weather' } } },
        expected: { type: 'tool', name: 'get_weather' },
      },
      {
        name: 'parallel_tool_calls false -> disable_parallel_tool_use on auto',
        body: { parallel_tool_calls: false },
        expected: { type: 'auto', disable_parallel_tool_use: true },
      },
      {
        name: 'parallel_tool_calls false with required',
        body: { parallel_tool_calls: false, tool_choice: 'required' },
        expected: { type: 'any', disable_parallel_tool_use: true },
      },
    ];
    for (const { name, body, expected } of choices)
      it(name, () =>
        assert.deepEqual(translate({ messages: [user('Hi')], tools, ...body }).tool_choice, expected),
      );

    describe('allowed_tools and custom', () => {
      const three = ['get_weather', 'get_time', 'get_news'].map((name) => ({
        type: 'function',
        function: { name, parameters: weather },
      }));
      const allowed = (mode: string, names: string[], extra: unknown[] = []) => ({
        type: 'allowed_tools',
        allowed_tools: {
          mode,
          tools: [...names.map((name) => ({ type: 'function', function: { name } })), ...extra],
        },
      });
      const sent = (tool_choice: unknown, body: Record<string, unknown> = {}) => {
        const translated = translate({ messages: [user('Hi')], tools: three, tool_choice, ...body });
        return { tools: translated.tools?.map((tool) => tool.name), choice: translated.tool_choice };
      };
      const refused = (param: string, code: string) => (error: unknown) =>
        error instanceof TranslationError && error.param === param && error.code === code;

      it('mode required: only the allowed tools are offered, tool_choice any', () =>
        assert.deepEqual(sent(allowed('required', ['get_time', 'get_weather'])), {
          tools: ['get_weather', 'get_time'],
          choice: { type: 'any' },
        }));
      it('mode auto: only the allowed tools are offered, tool_choice auto', () =>
        assert.deepEqual(sent(allowed('auto', ['get_news', 'get_time'])), {
          tools: ['get_time', 'get_news'],
          choice: { type: 'auto' },
        }));
      it('one tool with mode required is that tool named (every tool kept)', () =>
        assert.deepEqual(sent(allowed('required', ['get_news'])), {
          tools: ['get_weather', 'get_time', 'get_news'],
          choice: { type: 'tool', name: 'get_news' },
        }));
      it('one tool with mode auto: only it offered, tool_choice auto', () =>
        assert.deepEqual(sent(allowed('auto', ['get_news'])), {
          tools: ['get_news'],
          choice: { type: 'auto' },
        }));
      it('every tool allowed is plain auto or any; a name listed twice counts once', () => {
        assert.deepEqual(sent(allowed('required', ['get_weather', 'get_time', 'get_news', 'get_time'])), {
          tools: ['get_weather', 'get_time', 'get_news'],
          choice: { type: 'any' },
        });
        assert.deepEqual(sent(allowed('auto', ['get_weather', 'get_time', 'get_news'])).choice, {
          type: 'auto',
        });
      });
      it('no tool allowed with mode auto is none; with required it is refused', () => {
        assert.deepEqual(sent(allowed('auto', [])).choice, { type: 'none' });
        assert.throws(
          () => sent(allowed('required', [])),
          refused('tool_choice.allowed_tools.tools', 'invalid_value'),
        );
      });
      it('parallel_tool_calls false rides on the tool choice', () =>
        assert.deepEqual(
          sent(allowed('required', ['get_weather', 'get_time']), { parallel_tool_calls: false }).choice,
          {
            type: 'any',
            disable_parallel_tool_use: true,
          },
        ));
      it('a name that matches no tool is refused naming it (the tools could not be cut)', () =>
        assert.throws(
          () => sent(allowed('auto', ['get_weather', 'get_stock'])),
          refused('tool_choice.allowed_tools.tools[1].function.name', 'invalid_value'),
        ));
      it('a custom tool among the allowed ones is refused naming it, as custom tools are', () =>
        assert.throws(
          () => sent(allowed('auto', ['get_weather'], [{ type: 'custom', custom: { name: 'sql' } }])),
          refused('tool_choice.allowed_tools.tools[1]', 'unsupported_value'),
        ));
      it('a custom tool_choice is refused naming tool_choice', () =>
        assert.throws(
          () => sent({ type: 'custom', custom: { name: 'get_weather' } }),
          (error: unknown) =>
            refused('tool_choice', 'unsupported_value')(error) && /custom/.test(String(error)),
        ));
      it('with thinking, allowed_tools required is refused as a forced choice is', () =>
        assert.throws(
          () => sent(allowed('required', ['get_weather', 'get_time']), { reasoning_effort: 'low' }),
          refused('tool_choice', 'unsupported_value'),
        ));
    });

    it('a function without parameters gets an empty object schema; strict is kept', () => {
      const translated = translate({
        messages: [user('Hi')],
        tools: [{ type: 'function', function: { name: 'now', strict: true } }],
      });
      assert.deepEqual(translated.tools, [
        {
          name: 'now',
          input_schema: { type: 'object', properties: {}, additionalProperties: false },
          strict: true,
        },
      ]);
    });

    it("a strict function's parameters are held to Claude's structured-output subset (refused keywords described); other functions' go as written", () => {
      const parameters = {
        type: 'object',
        properties: { city: { type: 'string', minLength: 1, maxLength: 100 } },
        required: ['city'],
        additionalProperties: false,
      };
      const translated = translate({
        messages: [user('Hi')],
        tools: [
          { type: 'function', function: { name: 'strict_weather', strict: true, parameters } },
          { type: 'function', function: { name: 'loose_weather', parameters } },
        ],
      });
      assert.deepEqual(
        translated.tools?.map((tool) => tool.input_schema),
        [
          {
            type: 'object',
            properties: { city: { type: 'string', description: '{minLength: 1, maxLength: 100}' } },
            additionalProperties: false,
            required: ['city'],
          },
          parameters,
        ],
      );
    });

    it('a history with tool calls but no tools declares them, with tool_choice none (Anthropic requires it)', () => {
      const translated = translate({
        messages: [
          user('Weather?'),
          {
            role: 'assistant',
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
        ],
      });
      assert.deepEqual(translated.tools, [
        { name: 'get_weather', input_schema: { type: 'object', properties: {} } },
      ]);
      assert.deepEqual(translated.tool_choice, { type: 'none' });
    });

    it('empty tool arguments (some compatible servers) are an empty input', () => {
      const translated = translate({
        messages: [
          {
            role: 'assistant',
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'now', arguments: '' } }],
          },
        ],
        tools: [{ type: 'function', function: { name: 'now' } }],
      });
      assert.deepEqual(translated.messages[0]?.content, [
        { type: 'tool_use', id: 'c1', name: 'now', input: {} },
      ]);
    });

    it('whitespace-only assistant text (a model\'s "\\n\\n" before its calls) is dropped: Claude refuses it', () => {
      const translated = translate({
        messages: [
          user('Weather?'),
          {
            role: 'assistant',
            content: '\n\n',
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
          { role: 'assistant', content: ' ' },
          user('Thanks'),
        ],
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: weather } }],
      });
      assert.deepEqual(translated.messages, [
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'get_weather', input: {} }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'c1', content: 'sunny' },
            { type: 'text', text: 'Thanks' },
          ],
        },
      ]);
    });

    it('whitespace-only user, tool and system texts are dropped: Claude refuses them as text blocks', () => {
      const translated = translate({
        messages: [
          { role: 'system', content: '\n' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Weather?' },
              { type: 'text', text: '\t' },
            ],
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
          },
          {
            role: 'tool',
            tool_call_id: 'c1',
            content: [
              { type: 'text', text: ' ' },
              { type: 'text', text: '\n' },
            ],
          },
          user(' '),
        ],
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: weather } }],
      });
      assert.equal(translated.system, undefined);
      assert.deepEqual(translated.messages, [
        { role: 'user', content: [{ type: 'text', text: 'Weather?' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'get_weather', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1' }] },
      ]);
    });

    it('a last assistant text (a prefill to Claude) goes without its trailing whitespace, which Claude refuses', () => {
      const translated = translate({ messages: [user('Say hi'), { role: 'assistant', content: 'Sure, ' }] });
      assert.deepEqual(translated.messages.at(-1), {
        role: 'assistant',
        content: [{ type: 'text', text: 'Sure,' }],
      });
    });

    it('refuses, naming messages, a request of system messages only: Claude needs a turn', () => {
      for (const messages of [[{ role: 'system', content: 'Write a haiku.' }], [user('')]])
        assert.throws(
          () => translate({ messages }),
          (error: unknown) => error instanceof TranslationError && error.param === 'messages',
        );
    });
  });

  describe('refusals name the offending field', () => {
    const refusals: { name: string; body: Record<string, unknown>; code: string; param: string }[] = [
      { name: 'n > 1', body: { messages: [user('Hi')], n: 3 }, code: 'unsupported_value', param: 'n' },
      {
        name: 'logprobs',
        body: { messages: [user('Hi')], logprobs: true },
        code: 'unsupported_parameter',
        param: 'logprobs',
      },
      {
        name: 'audio output',
        body: { messages: [user('Hi')], modalities: ['text', 'audio'] },
        code: 'unsupported_value',
        param: 'modalities',
      },
      {
        name: 'deprecated functions',
        body: { messages: [user('Hi')], functions: [{ name: 'f' }] },
        code: 'unsupported_parameter',
        param: 'functions',
      },
      {
        name: 'deprecated function role',
        body: { messages: [user('Hi'), { role: 'function', name: 'f', content: 'x' }] },
        code: 'unsupported_value',
        param: 'messages[1].role',
      },
      {
        name: 'tool arguments that are not JSON',
        body: {
          messages: [
            user('Hi'),
            {
              role: 'assistant',
              tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }],
            },
          ],
        },
        code: 'invalid_value',
        param: 'messages[1].tool_calls[0].function.arguments',
      },
      {
        name: 'tool arguments that are JSON but not an object',
        body: {
          messages: [
            {
              role: 'assistant',
              tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '[1]' } }],
            },
          ],
        },
        code: 'invalid_value',
        param: 'messages[0].tool_calls[0].function.arguments',
      },
      {
        // A string to the edge's depth check: JSON.stringify of the parsed object would overflow.
        name: 'tool arguments nested thousands of levels deep',
        body: {
          messages: [
            user('Hi'),
            {
              role: 'assistant',
              tool_calls: [
                {
                  id: 'c',
                  type: 'function',
                  function: { name: 'f', arguments: `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}` },
                },
              ],
            },
          ],
        },
        code: 'invalid_value',
        param: 'messages[1].tool_calls[0].function.arguments',
      },
      {
        name: 'an image type Claude does not read',
        body: {
          messages: [user([{ type: 'image_url', image_url: { url: 'data:image/tiff;base64,AAAA' } }])],
        },
        code: 'unsupported_value',
        param: 'messages[0].content[0].image_url.url',
      },
      {
        // Claude measures the base64 as sent ("image exceeds 5 MB maximum: 6405384 bytes > 5242880 bytes").
        name: "an image over Claude's 5 MB of base64, which OpenAI takes",
        body: {
          messages: [
            user([
              {
                type: 'image_url',
                image_url: { url: `data:image/png;base64,${PNG}${'A'.repeat(5 * 1024 * 1024)}` },
              },
            ]),
          ],
        },
        code: 'unsupported_value',
        param: 'messages[0].content[0].image_url.url',
      },
      {
        name: 'an image URL that is neither http(s) nor base64 data',
        body: { messages: [user([{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }])] },
        code: 'invalid_value',
        param: 'messages[0].content[0].image_url.url',
      },
      // Sent on, Claude would refuse these naming its own path (`messages.0.content.0.image.source.base64`).
      ...[
        'data:image/png;base64,this is not base64 at all!',
        'data:image/png;base64,',
        'data:image/png;base64,  ==',
      ].map((url) => ({
        name: `an image data: URL whose payload is not base64: ${JSON.stringify(url)}`,
        body: { messages: [user([{ type: 'image_url', image_url: { url } }])] },
        code: 'invalid_value',
        param: 'messages[0].content[0].image_url.url',
      })),
      {
        name: 'a PDF data: URL whose payload is not base64',
        body: {
          messages: [user([{ type: 'file', file: { file_data: 'data:application/pdf;base64,%PDF-1.4' } }])],
        },
        code: 'invalid_value',
        param: 'messages[0].content[0].file.file_data',
      },
      {
        name: 'an audio part',
        body: { messages: [user([{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }])] },
        code: 'unsupported_value',
        param: 'messages[0].content[0]',
      },
      {
        name: 'a file_id',
        body: { messages: [user([{ type: 'file', file: { file_id: 'file-abc' } }])] },
        code: 'unsupported_value',
        param: 'messages[0].content[0].file.file_id',
      },
      {
        name: 'a non-PDF file',
        body: { messages: [user([{ type: 'file', file: { file_data: 'data:text/csv;base64,YSxi' } }])] },
        code: 'unsupported_value',
        param: 'messages[0].content[0].file.file_data',
      },
      {
        name: 'a custom (grammar) tool',
        body: { messages: [user('Hi')], tools: [{ type: 'custom', custom: { name: 'sql' } }] },
        code: 'unsupported_value',
        param: 'tools[0].type',
      },
      // Claude refuses whitespace-only stop sequences; OpenAI takes them.
      ...(['\n', ['\n\n', 'END'], [' ', '\t'], ''] as const).map((stop) => ({
        name: `a stop sequence of whitespace only: ${JSON.stringify(stop)}`,
        body: { messages: [user('One line please')], stop },
        code: 'unsupported_value',
        param: 'stop',
      })),
    ];
    for (const { name, body, code, param } of refusals) {
      it(name, () => {
        assert.throws(
          () => translate(body),
          (error: unknown) =>
            error instanceof TranslationError &&
            error.code === code &&
            error.param === param &&
            error.isRetryable === false,
        );
      });
    }
  });
});
