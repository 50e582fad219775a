/**
 * A prompt longer than the model's context, said by each provider in its own words, reaches an
 * SDK caller of the other dialect in the form its SDK and agents look for: OpenAI's
 * `code: 'context_length_exceeded'`, Claude's "prompt is too long".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import {
  type MockServer,
  startAnthropicMock,
  startGeminiMock,
  startOpenAIMock,
} from '@kordon/mock-providers';
import OpenAI from 'openai';
import { type KordonUnderTest, startKordonUnderTest } from './support/kordon-under-test.js';

const OPENAI_KEY = 'sk-proj-overflowtestabcdefghijklmnopqrstuvwx';
const ANTHROPIC_KEY = 'sk-ant-api03-overflowtestabcdefghijklmnopqrs';
const GEMINI_KEY = 'AIzaSyDoverflowtestabcdefghijklmnopqrstu';

describe('a prompt over the context, across dialects', () => {
  let openaiMock: MockServer;
  let anthropicMock: MockServer;
  let geminiMock: MockServer;
  let gateway: KordonUnderTest;

  before(async () => {
    openaiMock = await startOpenAIMock({ keys: [OPENAI_KEY] });
    anthropicMock = await startAnthropicMock({ keys: [ANTHROPIC_KEY] });
    geminiMock = await startGeminiMock({ keys: [GEMINI_KEY] });
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
      - name: google
        type: gemini
        baseUrl: ${geminiMock.url}
        models: [gemini-2.5-flash]
        keys: [{ name: k1, secret: "\${GEMINI_KEY}" }]
    users:
      - email: dev@acme.test
        proxyKeys: [{ name: dev }]
`,
      { OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY },
    );
  });
  after(async () => {
    await gateway?.stop();
    await Promise.all([openaiMock?.close(), anthropicMock?.close(), geminiMock?.close()]);
  });

  const apiKey = () => gateway.proxyKeys.get('dev@acme.test--dev')!;
  const openai = () => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: apiKey(), maxRetries: 0 });
  const anthropic = () => new Anthropic({ baseURL: gateway.url, apiKey: apiKey(), maxRetries: 0 });

  for (const [model, mock] of [
    ['claude-sonnet-4-5', () => anthropicMock],
    ['gemini-2.5-flash', () => geminiMock],
  ] as const) {
    it(`an OpenAI SDK caller of ${model} gets code context_length_exceeded`, async () => {
      mock().enqueueScenario('context-overflow', { times: 1 });
      const error = await openai()
        .chat.completions.create({ model, messages: [{ role: 'user', content: 'a very long prompt' }] })
        .then(
          () => assert.fail('answered'),
          (caught: unknown) => caught,
        );
      assert.ok(error instanceof OpenAI.BadRequestError, String(error));
      assert.equal(error.status, 400);
      assert.equal(error.code, 'context_length_exceeded');
    });
  }

  for (const [model, mock, words] of [
    ['gpt-4o-mini', () => openaiMock, /maximum context length is 128000 tokens/],
    ['gemini-2.5-flash', () => geminiMock, /exceeds the maximum number of tokens allowed/],
  ] as const) {
    it(`an Anthropic SDK caller of ${model} is told "prompt is too long"`, async () => {
      mock().enqueueScenario('context-overflow', { times: 1 });
      const error = await anthropic()
        .messages.create({
          model,
          max_tokens: 64,
          messages: [{ role: 'user', content: 'a very long prompt' }],
        })
        .then(
          () => assert.fail('answered'),
          (caught: unknown) => caught,
        );
      assert.ok(error instanceof Anthropic.BadRequestError, String(error));
      const body = error.error as { type: string; error: { type: string; message: string } };
      assert.equal(body.error.type, 'invalid_request_error');
      assert.match(body.error.message, /^prompt is too long: /);
      assert.match(body.error.message, words, 'the provider’s own figures are kept');
    });
  }

  it('a same-dialect caller gets the provider’s own error, unchanged', async () => {
    anthropicMock.enqueueScenario('context-overflow', { times: 1 });
    const error = await anthropic()
      .messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 64,
        messages: [{ role: 'user', content: 'a very long prompt' }],
      })
      .then(
        () => assert.fail('answered'),
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof Anthropic.BadRequestError);
    const body = error.error as { error: { message: string } };
    assert.equal(body.error.message, 'prompt is too long: 208310 tokens > 200000 maximum');

    openaiMock.enqueueScenario('context-overflow', { times: 1 });
    const openaiError = await openai()
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'long' }] })
      .then(
        () => assert.fail('answered'),
        (caught: unknown) => caught,
      );
    assert.ok(openaiError instanceof OpenAI.BadRequestError);
    assert.equal(openaiError.code, 'context_length_exceeded');
    assert.match(openaiError.message, /maximum context length is 128000 tokens/);
  });
});
