import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UpstreamError } from '../upstream/upstream-error.js';
import { errorBody } from './gateway-error.js';
import { asGatewayError } from './generate.js';

const refusal = (code: string | undefined) =>
  new UpstreamError('upstream_http_error', 'provider answered 400', {
    phase: 'headers',
    status: 400,
    provider: {
      status: 400,
      type: 'content_filter',
      message:
        "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
      code,
      retryable: false,
    },
  });

test("a provider's refusal reaches an OpenAI caller with the provider's code (Azure's content_filter)", () => {
  const body = errorBody(asGatewayError(refusal('content_filter')), 'openai') as {
    error: { code: string | null; type: string; message: string };
  };
  assert.equal(body.error.code, 'content_filter');
  assert.equal(body.error.type, 'invalid_request_error');
  assert.match(body.error.message, /content management policy/);
});

test('a code that is not a plain identifier is not passed on', () => {
  for (const code of ['has space', 'a'.repeat(80), 'x"; drop', undefined]) {
    const body = errorBody(asGatewayError(refusal(code)), 'openai') as { error: { code: unknown } };
    assert.notEqual(body.error.code, code, String(code));
  }
});
