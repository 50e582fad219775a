import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamErrorResponse } from '../../upstream/upstream-client.js';
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
});
