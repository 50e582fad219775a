import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Refusal } from '../limits/admission.js';
import { errorBody } from './gateway-error.js';
import { LimitRefusalError } from './generate.js';

const refusal = (reason: Refusal['reason']): Refusal => ({
  ok: false,
  reason,
  limitScope: { scope: 'proxy-key', scopeId: 'pk_1' },
  status: 429,
  message: 'used up',
  retryAfterSeconds: 3,
  rates: {},
});

describe('a limit refusal to an OpenAI caller', () => {
  it('names the budget per minute that ran out as its type, as OpenAI does', () => {
    const type = (reason: Refusal['reason']) =>
      (
        errorBody(new LimitRefusalError(refusal(reason)), 'openai') as {
          error: { type: string; code: string };
        }
      ).error;
    assert.deepEqual(type('rate_limit_tpm'), {
      ...type('rate_limit_tpm'),
      type: 'tokens',
      code: 'rate_limit_exceeded',
    });
    assert.equal(type('rate_limit_rpm').type, 'requests');
  });
});
