import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamErrorResponse } from '../../upstream/upstream-client.js';
import { geminiErrorInfo } from './gemini-error.js';

const response = (status: number, json: unknown): UpstreamErrorResponse => ({
  status,
  headers: {},
  json,
  text: JSON.stringify(json),
});

describe('Gemini error bodies', () => {
  it('Gemini: a wrong key is an authentication error, RetryInfo gives the delay', () => {
    const key = geminiErrorInfo(
      response(400, {
        error: {
          code: 400,
          message: 'API key not valid. Please pass a valid API key.',
          status: 'INVALID_ARGUMENT',
          details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }],
        },
      }),
    );
    assert.equal(key.type, 'authentication');
    assert.equal(key.retryable, false);
    const limited = geminiErrorInfo(
      response(429, {
        error: {
          code: 429,
          message: 'Resource has been exhausted',
          status: 'RESOURCE_EXHAUSTED',
          details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' }],
        },
      }),
    );
    assert.equal(limited.type, 'rate_limit');
    assert.equal(limited.retryAfterMs, 1500);
    assert.equal(limited.retryable, true);
  });

  it('a project without billing where the free tier is not offered cannot pay (quota_exceeded), other FAILED_PRECONDITIONs are the request’s', () => {
    const refusal = (message: string) =>
      geminiErrorInfo(response(400, { error: { code: 400, message, status: 'FAILED_PRECONDITION' } }));
    for (const message of [
      'Gemini API free tier is not available in your country. Please enable billing on your project in Google AI Studio.',
      'User location is not supported for the API use without a billing account linked.',
    ]) {
      const noBilling = refusal(message);
      assert.equal(noBilling.type, 'quota_exceeded', message);
      assert.equal(noBilling.retryable, false);
    }
    assert.equal(refusal('Precondition check failed.').type, 'invalid_request');
  });

  it('a 429 whose QuotaFailure names one model in every violation names it (quotaModel); a project quota does not', () => {
    const exhausted = (...dimensions: Record<string, string>[]) =>
      geminiErrorInfo(
        response(429, {
          error: {
            code: 429,
            message: 'You exceeded your current quota',
            status: 'RESOURCE_EXHAUSTED',
            details: [
              {
                '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
                violations: dimensions.map((quotaDimensions) => ({
                  quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier',
                  quotaDimensions,
                })),
              },
              { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '50s' },
            ],
          },
        }),
      );
    const perModel = exhausted(
      { location: 'global', model: 'gemini-3-flash-preview' },
      { location: 'global', model: 'gemini-3-flash-preview' },
    );
    assert.equal(perModel.quotaModel, 'gemini-3-flash-preview');
    assert.equal(perModel.retryAfterMs, 50_000);
    assert.equal(
      exhausted({ model: 'gemini-3-flash-preview' }, { location: 'global' }).quotaModel,
      undefined,
    );
    assert.equal(exhausted().quotaModel, undefined);
  });
});
