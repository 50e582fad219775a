import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamErrorResponse } from '../../upstream/upstream-client.js';
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
});
