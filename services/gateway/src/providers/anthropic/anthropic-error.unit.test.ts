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
});
