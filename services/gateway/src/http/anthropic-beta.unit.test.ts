import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { anthropicBetaOf } from './anthropic-beta.js';
import { GatewayError } from './gateway-error.js';

const req = (value: string | string[] | undefined) =>
  ({ headers: value === undefined ? {} : { 'anthropic-beta': value } }) as unknown as IncomingMessage;

describe('anthropicBetaOf', () => {
  it('passes a list of feature names on as sent', () => {
    assert.equal(anthropicBetaOf(req(undefined)), undefined);
    assert.equal(anthropicBetaOf(req('  ')), undefined);
    assert.equal(anthropicBetaOf(req('prompt-caching-2024-07-31')), 'prompt-caching-2024-07-31');
    assert.equal(
      anthropicBetaOf(req('interleaved-thinking-2025-05-14, context-1m-2025-08-07')),
      'interleaved-thinking-2025-05-14, context-1m-2025-08-07',
    );
    assert.equal(anthropicBetaOf(req(['a-1', 'b_2.x'])), 'a-1,b_2.x');
  });

  it('refuses anything else with a 400 naming the header', () => {
    for (const value of ['x;y=1', 'a,,b', ',a', 'a b', 'ä', 'a'.repeat(2049)]) {
      assert.throws(
        () => anthropicBetaOf(req(value)),
        (error: unknown) =>
          error instanceof GatewayError && error.status === 400 && error.options.param === 'anthropic-beta',
        value,
      );
    }
  });
});
