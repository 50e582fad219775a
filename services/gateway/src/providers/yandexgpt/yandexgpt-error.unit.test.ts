import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamErrorResponse } from '../../upstream/upstream-client.js';
import { yandexErrorInfo } from './yandexgpt-provider.js';

const response = (status: number, json: unknown): UpstreamErrorResponse => ({
  status,
  headers: {},
  json,
  text: JSON.stringify(json),
});

describe('YandexGPT error bodies', () => {
  it('YandexGPT: the gRPC code names the case', () => {
    const info = yandexErrorInfo(
      response(429, {
        error: {
          grpcCode: 8,
          httpCode: 429,
          message: 'quota limit exceeded',
          httpStatus: 'Too Many Requests',
          details: [],
        },
      }),
    );
    assert.deepEqual(info, {
      status: 429,
      type: 'rate_limit',
      message: 'quota limit exceeded',
      code: '8',
      retryable: true,
    });
  });
});
