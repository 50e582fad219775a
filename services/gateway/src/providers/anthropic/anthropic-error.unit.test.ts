import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamErrorResponse } from '../../upstream/upstream-client.js';
import { redactProviderError } from '../../upstream/upstream-error.js';
import { anthropicErrorInfo } from './anthropic-error.js';

const response = (status: number, json: unknown): UpstreamErrorResponse => ({
  status,
  headers: {},
  json,
  text: JSON.stringify(json),
});

describe('Anthropic error bodies', () => {
  it('Anthropic: overloaded is retryable at 529, the type wins over the status', () => {
    const info = anthropicErrorInfo(
      response(529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
    );
    assert.deepEqual(info, {
      status: 529,
      type: 'overloaded',
      message: 'Overloaded',
      code: 'overloaded_error',
      retryable: true,
    });
    assert.equal(
      anthropicErrorInfo(
        response(413, { type: 'error', error: { type: 'request_too_large', message: 'big' } }),
      ).type,
      'request_too_large',
    );
  });

  it("Anthropic: an account out of credit (a 400 by its message) is quota_exceeded, not the request's fault", () => {
    for (const message of [
      'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
      'You have reached your specified API usage limits. You will regain access on 2025-06-01 at 00:00 UTC.',
      'You have reached your specified workspace API usage limits. You will regain access on 2025-06-01 at 00:00 UTC.',
    ]) {
      const info = anthropicErrorInfo(
        response(400, { type: 'error', error: { type: 'invalid_request_error', message } }),
      );
      assert.equal(info.type, 'quota_exceeded', message);
      assert.equal(info.retryable, false);
      assert.equal(info.code, 'invalid_request_error');
    }
    assert.equal(
      anthropicErrorInfo(
        response(400, {
          type: 'error',
          error: { type: 'invalid_request_error', message: 'max_tokens: Field required' },
        }),
      ).type,
      'invalid_request',
    );
  });

  it("Claude's error.details are kept flat and bounded, and dropped when they quote a secret", () => {
    const refusal = (details: unknown) =>
      anthropicErrorInfo(
        response(404, {
          type: 'error',
          error: { type: 'not_found_error', message: 'No thread state was found.', details },
        }),
      ).anthropicDetails;
    assert.deepEqual(refusal({ error_code: 'thread_not_found' }), { error_code: 'thread_not_found' });
    assert.deepEqual(
      refusal({
        error_code: 'thread_unsupported_request',
        unsupported: ['thinking', 'cache_control'],
        nested: { a: 1 },
        'Not A Name': 'x',
      }),
      { error_code: 'thread_unsupported_request', unsupported: ['thinking', 'cache_control'] },
      'nested objects and odd names left out',
    );
    assert.equal(refusal({ unsupported: ['thinking'] }), undefined, 'no code, no details');
    assert.equal(refusal({ error_code: 'Thread Not Found' }), undefined);
    assert.equal(refusal('thread_not_found'), undefined);
    assert.equal(refusal({ error_code: 'x', long: 'y'.repeat(2000) }), undefined, 'bounded');

    const secret = 'sk-ant-api03-detailsecretabcdefghijklmnop01';
    const info = anthropicErrorInfo(
      response(400, {
        type: 'error',
        error: { type: 'invalid_request_error', message: 'no', details: { error_code: 'x', key: secret } },
      }),
    );
    assert.equal(redactProviderError(info, [secret]).anthropicDetails, undefined);
    assert.equal(redactProviderError(info, []).anthropicDetails, undefined, 'key-shaped');
    const plain = anthropicErrorInfo(
      response(404, {
        type: 'error',
        error: { type: 'not_found_error', message: 'gone', details: { error_code: 'thread_not_found' } },
      }),
    );
    assert.deepEqual(redactProviderError(plain, [secret]).anthropicDetails, {
      error_code: 'thread_not_found',
    });
  });
});
