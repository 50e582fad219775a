import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamErrorResponse } from '../../upstream/upstream-client.js';
import { redactProviderError } from '../../upstream/upstream-error.js';
import { openAIErrorInfo } from './openai-error.js';

const response = (status: number, json: unknown): UpstreamErrorResponse => ({
  status,
  headers: {},
  json,
  text: JSON.stringify(json),
});

describe('OpenAI error bodies', () => {
  it('OpenAI: a spent quota is not retryable, a rate limit is', () => {
    const quota = openAIErrorInfo(
      response(429, {
        error: {
          message: 'You exceeded your current quota',
          type: 'insufficient_quota',
          code: 'insufficient_quota',
        },
      }),
    );
    assert.equal(quota.type, 'quota_exceeded');
    assert.equal(quota.retryable, false);
    const rate = openAIErrorInfo(
      response(429, {
        error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' },
      }),
    );
    assert.equal(rate.type, 'rate_limit');
    assert.equal(rate.retryable, true);
    assert.equal(
      openAIErrorInfo(response(400, { error: { message: 'too long', code: 'context_length_exceeded' } }))
        .type,
      'context_length_exceeded',
    );
  });

  it('OpenAI variants of compatible servers', () => {
    assert.equal(
      openAIErrorInfo(response(404, { error: 'model "llama3" not found, try pulling it first' })).message,
      'model "llama3" not found, try pulling it first',
    );
    assert.equal(
      openAIErrorInfo(response(400, { object: 'error', message: 'bad', type: 'BadRequestError', code: 400 }))
        .code,
      '400',
    );
    assert.equal(
      openAIErrorInfo(response(422, { detail: [{ msg: 'field required' }, { msg: 'extra' }] })).message,
      'field required; extra',
    );
    assert.equal(openAIErrorInfo(response(502, undefined)).retryable, true);
  });

  it('Azure content filter', () => {
    const info = openAIErrorInfo(
      response(400, { error: { code: 'content_filter', message: 'The response was filtered' } }),
    );
    assert.equal(info.type, 'content_filter');
    assert.equal(info.retryable, false);
  });

  it('the field at fault (`param`) is kept, bounded, as OpenAI and the compatible servers name it', () => {
    const schema = openAIErrorInfo(
      response(400, {
        error: {
          message: "Invalid schema for response_format 'answer'",
          type: 'invalid_request_error',
          param: 'text.format.schema',
          code: 'invalid_json_schema',
        },
      }),
    );
    assert.equal(schema.param, 'text.format.schema');
    const vllm = { object: 'error', message: 'bad', type: 'BadRequestError', param: 'tools[2]', code: 400 };
    assert.equal(openAIErrorInfo(response(400, vllm)).param, 'tools[2]');
    // No param, or one that is no field path worth passing on: left out, the rest read as ever.
    for (const param of [null, 7, '', 'x'.repeat(257), 'messages\n[0]', { path: 'a' }]) {
      const info = openAIErrorInfo(
        response(400, { error: { message: 'bad', code: 'invalid_value', param } }),
      );
      assert.equal(info.param, undefined, JSON.stringify(param));
      assert.equal(info.code, 'invalid_value');
    }
    assert.equal(
      openAIErrorInfo(response(400, { error: { message: 'bad', param: 'x'.repeat(256) } })).param?.length,
      256,
    );
  });

  it('a param that quotes a secret is dropped with the secrets cut out of the message', () => {
    const secret = '0123456789abcdef0123456789abcdef'; // an Azure key: no shape to recognise
    const info = openAIErrorInfo(
      response(400, { error: { message: `bad key ${secret}`, param: `api-key=${secret}` } }),
    );
    const clean = redactProviderError(info, [secret]);
    assert.equal(clean.param, undefined);
    assert.doesNotMatch(clean.message, new RegExp(secret));
    const keyShaped = redactProviderError({ ...info, message: 'bad', param: 'sk-proj-abcdefghijklmnop' }, []);
    assert.equal(keyShaped.param, undefined);
    assert.equal(
      redactProviderError({ ...info, param: 'input[0].content' }, [secret]).param,
      'input[0].content',
    );
  });
});
