/**
 * The SDKs' structured-output and stream-event helpers through Kordon, each against a model of
 * the caller's dialect and one of the other: openai's `chat.completions.parse()` and the
 * `content.delta` / `content.done` events of `chat.completions.stream()` with a strict
 * json_schema (what `zodResponseFormat` sends), `responses.parse()`; Anthropic's
 * `messages.parse()` with `jsonSchemaOutputFormat`, and the `text` and `inputJson` events of
 * `messages.stream()`. The mocks answer the prompt's text itself (no reply prefix), so a prompt
 * that is JSON of the schema is an answer the helpers parse. Each call is one RequestCompleted
 * with the tokens the SDK was told.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { jsonSchemaOutputFormat } from '@anthropic-ai/sdk/helpers/json-schema';
import type { KordonEvent } from '@kordon/events';
import { type MockServer, startAnthropicMock, startOpenAIMock } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OPENAI_KEY = 'sk-proj-structuredhelpersabcdefghijklmn01';
const ANTHROPIC_KEY = 'sk-ant-api03-structuredhelpersabcdefghij01';
const MODELS = ['gpt-4o-mini', 'claude-sonnet-4-5'] as const;

const citySchema = {
  type: 'object',
  properties: { city: { type: 'string' }, days: { type: 'integer' } },
  required: ['city', 'days'],
  additionalProperties: false,
} as const;
const ANSWER = { city: 'Paris', days: 3 };
const PROMPT = JSON.stringify(ANSWER);
const responseFormat = {
  type: 'json_schema' as const,
  json_schema: { name: 'trip', strict: true, schema: { ...citySchema, required: [...citySchema.required] } },
};

describe('SDK structured-output and stream-event helpers -> Kordon, same dialect and across', () => {
  let openaiMock: MockServer;
  let anthropicMock: MockServer;
  let gateway: KordonUnderTest;
  let proxyKey: string;
  const openai = () => new OpenAI({ apiKey: proxyKey, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  const anthropic = () => new Anthropic({ apiKey: proxyKey, baseURL: gateway.url, maxRetries: 0 });
  let seen = 0;
  /** The request events since the last call: exactly one, completed, with these tokens. */
  const recordedOnce = async (model: string, input: number, output: number) => {
    const events: KordonEvent[] = (await gateway.requestEvents()).slice(seen);
    seen += events.length;
    assert.equal(events.length, 1, 'one event per call');
    const event = events[0]!;
    assert.ok(event.type === 'RequestCompleted', event.type);
    assert.equal(event.data.model, model);
    assert.equal(event.data.usage.inputTokens, input);
    assert.equal(event.data.usage.outputTokens, output);
    assert.ok(Number(event.data.cost) > 0);
  };

  /** The JSON schema the provider was last asked to answer in, as its own API takes it. */
  const schemaSent = (model: string): unknown => {
    if (model.startsWith('claude')) {
      const body = anthropicMock.requests.at(-1)!.body as {
        output_config?: { format?: { schema?: unknown } };
      };
      return body.output_config?.format?.schema;
    }
    const body = openaiMock.requests.at(-1)!.body as {
      response_format?: { json_schema?: { schema?: unknown } };
      text?: { format?: { schema?: unknown } };
    };
    return body.response_format?.json_schema?.schema ?? body.text?.format?.schema;
  };
  const assertSchemaSent = (model: string) => {
    const schema = schemaSent(model) as { properties?: Record<string, unknown> } | undefined;
    assert.deepEqual(
      Object.keys(schema?.properties ?? {}),
      ['city', 'days'],
      'the schema reached the provider',
    );
  };

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [OPENAI_KEY], replyPrefix: '' });
    anthropicMock = await startAnthropicMock({ keys: [ANTHROPIC_KEY], replyPrefix: '' });
    gateway = await startKordonUnderTest(
      `
orgs:
  - slug: acme
    name: Acme
    providers:
      - name: openai
        type: openai
        baseUrl: ${openaiMock.url}/v1
        models: [gpt-4o-mini]
        keys: [{ name: k1, secret: "\${OPENAI_KEY}" }]
      - name: anthropic
        type: anthropic
        baseUrl: ${anthropicMock.url}
        models: [claude-sonnet-4-5]
        keys: [{ name: k1, secret: "\${ANTHROPIC_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { OPENAI_KEY, ANTHROPIC_KEY },
    );
    proxyKey = gateway.proxyKeys.get('dev@acme.test--dev')!;
  });
  after(async () => {
    await gateway?.stop();
    await openaiMock?.close();
    await anthropicMock?.close();
  });

  for (const model of MODELS) {
    it(`openai chat.completions.parse() with a strict json_schema, ${model}: message.parsed`, async () => {
      const completion = await openai().chat.completions.parse({
        model,
        messages: [{ role: 'user', content: PROMPT }],
        response_format: responseFormat,
      });
      assert.deepEqual(completion.choices[0]?.message.parsed, ANSWER);
      assertSchemaSent(model);
      await recordedOnce(model, completion.usage!.prompt_tokens, completion.usage!.completion_tokens);
    });

    it(`openai chat.completions.stream() with a strict json_schema, ${model}: content.delta snapshots parse, content.done and the final completion hold the object`, async () => {
      const stream = openai().chat.completions.stream({
        model,
        messages: [{ role: 'user', content: PROMPT }],
        response_format: responseFormat,
        stream_options: { include_usage: true },
      });
      let deltas = '';
      let done: unknown;
      stream.on('content.delta', ({ delta }) => {
        deltas += delta;
      });
      stream.on('content.done', ({ parsed }) => {
        done = parsed;
      });
      const final = await stream.finalChatCompletion();
      assert.equal(deltas, PROMPT);
      assert.deepEqual(done, ANSWER);
      assert.deepEqual(final.choices[0]?.message.parsed, ANSWER);
      assertSchemaSent(model);
      await recordedOnce(model, final.usage!.prompt_tokens, final.usage!.completion_tokens);
    });

    it(`anthropic messages.parse() with jsonSchemaOutputFormat, ${model}: parsed_output`, async () => {
      const message = await anthropic().messages.parse({
        model,
        max_tokens: 200,
        messages: [{ role: 'user', content: PROMPT }],
        output_config: { format: jsonSchemaOutputFormat(citySchema) },
      });
      assert.deepEqual(message.parsed_output, ANSWER);
      assertSchemaSent(model);
      await recordedOnce(model, message.usage.input_tokens, message.usage.output_tokens);
    });

    it(`anthropic messages.stream(), ${model}: the text events add up to the final text, the inputJson snapshots to the tool input`, async () => {
      let text = '';
      const stream = anthropic().messages.stream({
        model,
        max_tokens: 200,
        messages: [{ role: 'user', content: 'tell me about the weather' }],
      });
      stream.on('text', (delta) => {
        text += delta;
      });
      const message = await stream.finalMessage();
      assert.equal(text, 'tell me about the weather');
      assert.equal(await stream.finalText(), text);
      await recordedOnce(model, message.usage.input_tokens, message.usage.output_tokens);

      const snapshots: unknown[] = [];
      const tools = anthropic().messages.stream({
        model,
        max_tokens: 200,
        messages: [{ role: 'user', content: 'call get_trip Paris' }],
        tools: [{ name: 'get_trip', input_schema: { ...citySchema, required: [...citySchema.required] } }],
      });
      tools.on('inputJson', (_delta, snapshot) => snapshots.push(snapshot));
      const called = await tools.finalMessage();
      const toolUse = called.content.find((block) => block.type === 'tool_use');
      assert.deepEqual(toolUse?.input, { city: 'Paris', days: 42 });
      assert.deepEqual(snapshots.at(-1), { city: 'Paris', days: 42 });
      assert.equal(called.stop_reason, 'tool_use');
      await recordedOnce(model, called.usage.input_tokens, called.usage.output_tokens);
    });
  }

  it('openai chat.completions.parse() to Claude: a description beside a $ref reaches Claude, in the schema and in a strict tool, as @anthropic-ai/sdk 1.17 sends it', async () => {
    // A schema used twice is one `$defs` entry, each use a `$ref` with its own description (what
    // zod 4 writes for `.describe()` on a shared schema). @anthropic-ai/sdk 1.17.0's
    // transformJSONSchema keeps that description for Claude (its CHANGELOG, "helpers: keep a
    // description that sits beside a $ref"; 1.14.0 dropped it): Claude reads it as the field's.
    const place = {
      type: 'object',
      properties: { city: { type: 'string', minLength: 1 } },
      required: ['city'],
      additionalProperties: false,
    };
    const trip = {
      type: 'object',
      $defs: { place },
      properties: {
        from: { $ref: '#/$defs/place', description: 'Where the trip starts' },
        to: { $ref: '#/$defs/place', description: 'Where the trip ends' },
      },
      required: ['from', 'to'],
      additionalProperties: false,
    };
    const expected = {
      $defs: {
        place: {
          type: 'object',
          properties: { city: { type: 'string', description: '{minLength: 1}' } },
          additionalProperties: false,
          required: ['city'],
        },
      },
      type: 'object',
      properties: {
        from: { $ref: '#/$defs/place', description: 'Where the trip starts' },
        to: { $ref: '#/$defs/place', description: 'Where the trip ends' },
      },
      additionalProperties: false,
      required: ['from', 'to'],
    };
    const answer = { from: { city: 'Paris' }, to: { city: 'Rome' } };
    const completion = await openai().chat.completions.parse({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: JSON.stringify(answer) }],
      response_format: { type: 'json_schema', json_schema: { name: 'trip', strict: true, schema: trip } },
    });
    assert.deepEqual(completion.choices[0]?.message.parsed, answer);
    assert.deepEqual(schemaSent('claude-sonnet-4-5'), expected);
    await recordedOnce(
      'claude-sonnet-4-5',
      completion.usage!.prompt_tokens,
      completion.usage!.completion_tokens,
    );

    const called = await openai().chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'call plan_trip Paris' }],
      tools: [{ type: 'function', function: { name: 'plan_trip', strict: true, parameters: trip } }],
    });
    assert.equal(called.choices[0]?.message.tool_calls?.[0]?.type, 'function');
    const tools = (anthropicMock.requests.at(-1)!.body as { tools?: { input_schema?: unknown }[] }).tools;
    assert.deepEqual(tools?.[0]?.input_schema, expected, 'a strict tool takes the same subset');
    await recordedOnce('claude-sonnet-4-5', called.usage!.prompt_tokens, called.usage!.completion_tokens);
  });

  it('openai responses.parse() with a strict json_schema text format, gpt-4o-mini: output_parsed', async () => {
    const response = await openai().responses.parse({
      model: 'gpt-4o-mini',
      input: PROMPT,
      text: {
        format: {
          type: 'json_schema',
          name: 'trip',
          strict: true,
          schema: responseFormat.json_schema.schema,
        },
      },
    });
    assert.deepEqual(response.output_parsed, ANSWER);
    assertSchemaSent('gpt-4o-mini');
    await recordedOnce('gpt-4o-mini', response.usage!.input_tokens, response.usage!.output_tokens);
  });
});
