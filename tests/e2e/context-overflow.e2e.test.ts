/**
 * A prompt longer than the model's context, said by each provider in its own words, reaches an
 * SDK caller of the other dialect in the form its SDK and agents look for: OpenAI's
 * `code: 'context_length_exceeded'`, Claude's "prompt is too long".
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { MockServer } from '@kordon/mock-providers';
import OpenAI from 'openai';
import { startThreeDialects, type ThreeDialects } from './support/three-dialects.js';

const OPENAI_KEY = 'sk-proj-overflowtestabcdefghijklmnopqrstuvwx';
const ANTHROPIC_KEY = 'sk-ant-api03-overflowtestabcdefghijklmnopqrs';
const GEMINI_KEY = 'AIzaSyDoverflowtestabcdefghijklmnopqrstu';

describe('a prompt over the context, across dialects', () => {
  let kordon: ThreeDialects;

  before(async () => {
    kordon = await startThreeDialects({ openai: OPENAI_KEY, anthropic: ANTHROPIC_KEY, gemini: GEMINI_KEY });
  });
  after(async () => {
    await kordon?.stop();
  });

  const openai = () =>
    new OpenAI({ baseURL: `${kordon.gateway.url}/v1`, apiKey: kordon.proxyKey, maxRetries: 0 });
  const anthropic = () =>
    new Anthropic({ baseURL: kordon.gateway.url, apiKey: kordon.proxyKey, maxRetries: 0 });
  const anthropicMock = (): MockServer => kordon.anthropicMock;
  const openaiMock = (): MockServer => kordon.openaiMock;
  const geminiMock = (): MockServer => kordon.geminiMock;

  for (const [model, mock] of [
    ['claude-sonnet-4-5', anthropicMock],
    ['gemini-2.5-flash', geminiMock],
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
    ['gpt-4o-mini', openaiMock, /maximum context length is 128000 tokens/],
    ['gemini-2.5-flash', geminiMock, /exceeds the maximum number of tokens allowed/],
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
    anthropicMock().enqueueScenario('context-overflow', { times: 1 });
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

    openaiMock().enqueueScenario('context-overflow', { times: 1 });
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
