import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ProviderErrorInfo, UpstreamError } from '../upstream/upstream-error.js';
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

test("a provider's refusal names the field at fault (param) to an OpenAI caller; an Anthropic caller's errors have no such field", () => {
  const refused = new UpstreamError('upstream_http_error', 'provider answered 400', {
    phase: 'headers',
    status: 400,
    provider: {
      status: 400,
      type: 'invalid_request',
      message: "Invalid schema for response_format 'answer'",
      code: 'invalid_json_schema',
      param: 'text.format.schema',
      retryable: false,
    },
  });
  const openai = errorBody(asGatewayError(refused), 'openai') as { error: { param: unknown; code: unknown } };
  assert.equal(openai.error.param, 'text.format.schema');
  assert.equal(openai.error.code, 'invalid_json_schema');
  const anthropic = errorBody(asGatewayError(refused), 'anthropic') as { error: Record<string, unknown> };
  assert.deepEqual(Object.keys(anthropic.error).sort(), ['message', 'type']);
  // Without one, null as before.
  const body = errorBody(asGatewayError(refusal('content_filter')), 'openai') as {
    error: { param: unknown };
  };
  assert.equal(body.error.param, null);
});

test("Azure's innererror of a content-filter refusal reaches an OpenAI caller where Azure puts it; an Anthropic caller's errors have no such field", () => {
  const innerError = {
    code: 'ResponsibleAIPolicyViolation',
    content_filter_result: {
      hate: { filtered: true, severity: 'high' },
      jailbreak: { filtered: false, detected: false },
    },
  };
  const refused = new UpstreamError('upstream_http_error', 'provider answered 400', {
    phase: 'headers',
    status: 400,
    provider: {
      status: 400,
      type: 'content_filter',
      message:
        "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
      code: 'content_filter',
      param: 'prompt',
      innerError,
      retryable: false,
    },
  });
  const openai = errorBody(asGatewayError(refused), 'openai') as { error: Record<string, unknown> };
  assert.deepEqual(openai.error.innererror, innerError);
  assert.equal(openai.error.param, 'prompt');
  const anthropic = errorBody(asGatewayError(refused), 'anthropic') as { error: Record<string, unknown> };
  assert.deepEqual(Object.keys(anthropic.error).sort(), ['message', 'type']);
  // Without one, none: OpenAI's errors have no such field.
  const plain = errorBody(asGatewayError(refusal('content_filter')), 'openai') as { error: object };
  assert.equal('innererror' in plain.error, false);
});

test("Azure's inner_error (its v1 API's, and its REST reference's name) reaches an OpenAI caller as inner_error", () => {
  const innerError = {
    code: 'ResponsibleAIPolicyViolation',
    content_filter_results: { sexual: { filtered: true, severity: 'high' } },
  };
  const refused = new UpstreamError('upstream_http_error', 'provider answered 400', {
    phase: 'headers',
    status: 400,
    provider: {
      status: 400,
      type: 'content_filter',
      message:
        "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
      code: 'content_filter',
      param: 'prompt',
      innerError,
      innerErrorField: 'inner_error',
      retryable: false,
    },
  });
  const openai = errorBody(asGatewayError(refused), 'openai') as { error: Record<string, unknown> };
  assert.deepEqual(openai.error.inner_error, innerError);
  assert.equal('innererror' in openai.error, false);
});

test('a code that is not a plain identifier is not passed on', () => {
  for (const code of ['has space', 'a'.repeat(80), 'x"; drop', undefined]) {
    const body = errorBody(asGatewayError(refusal(code)), 'openai') as { error: { code: unknown } };
    assert.notEqual(body.error.code, code, String(code));
  }
});

/** A provider's error answer, as its adapter read it. */
const answered = (status: number, provider: Omit<ProviderErrorInfo, 'status'>, retryAfterMs?: number) =>
  new UpstreamError('upstream_http_error', `provider answered ${status}`, {
    phase: 'headers',
    status,
    retryAfterMs,
    provider: { status, ...provider },
  });

test('an account out of credit (the last key tried): 503, not to be retried; OpenAI callers read insufficient_quota', () => {
  for (const error of [
    answered(429, {
      type: 'quota_exceeded',
      message: 'You exceeded your current quota',
      code: 'insufficient_quota',
      retryable: false,
    }),
    answered(400, {
      type: 'quota_exceeded',
      message: 'Your credit balance is too low',
      code: 'invalid_request_error',
      retryable: false,
    }),
    answered(402, { type: 'quota_exceeded', message: 'Insufficient Balance', retryable: false }),
  ]) {
    const answer = asGatewayError(error);
    assert.equal(answer.kind, 'upstream_out_of_credit');
    assert.equal(answer.options.noRetry, true);
    assert.equal(answer.statusIn('openai'), 503);
    assert.equal(answer.statusIn('anthropic'), 503);
    const openai = errorBody(answer, 'openai') as { error: { code: string; type: string } };
    assert.equal(openai.error.code, 'insufficient_quota');
    assert.equal(openai.error.type, 'insufficient_quota');
    const anthropic = errorBody(answer, 'anthropic') as { error: { type: string } };
    assert.equal(anthropic.error.type, 'billing_error');
  }
});

test("an overloaded provider (Claude's 529, a 503): 529 overloaded_error to Anthropic callers, 503 to OpenAI's, with its Retry-After", () => {
  for (const status of [529, 503]) {
    const answer = asGatewayError(
      answered(
        status,
        { type: 'overloaded', message: 'Overloaded', code: 'overloaded_error', retryable: true },
        7000,
      ),
    );
    assert.equal(answer.kind, 'overloaded');
    assert.equal(answer.statusIn('anthropic'), 529);
    assert.equal(answer.statusIn('openai'), 503);
    assert.equal(answer.options.retryAfterSeconds, 7);
    assert.equal(answer.options.noRetry, undefined, 'an overload passes: the SDKs retry it');
    assert.deepEqual(errorBody(answer, 'anthropic'), {
      type: 'error',
      error: { type: 'overloaded_error', message: answer.message },
      request_id: null,
    });
    assert.equal((errorBody(answer, 'openai') as { error: { code: string } }).error.code, 'overloaded');
  }
});

test("a provider's refusal of the request reaches an Anthropic caller with the type of its status", () => {
  for (const [status, type] of [
    [400, 'invalid_request_error'],
    [404, 'not_found_error'],
    [413, 'request_too_large'],
    [422, 'invalid_request_error'],
  ] as const) {
    const answer = asGatewayError(
      answered(status, { type: 'unknown', message: 'refused', retryable: false }),
    );
    assert.equal(answer.statusIn('anthropic'), status);
    assert.equal(
      (errorBody(answer, 'anthropic') as { error: { type: string } }).error.type,
      type,
      String(status),
    );
    // OpenAI's callers keep OpenAI's type for a refusal (its 404 model_not_found is one).
    assert.equal(
      (errorBody(answer, 'openai') as { error: { type: string } }).error.type,
      'invalid_request_error',
    );
  }
});

test("an input a provider's moderation flagged (OpenRouter's 403) is a 400 to either caller with the provider's words, not a refused credential", () => {
  const flagged = new UpstreamError('upstream_http_error', 'provider answered 403', {
    phase: 'headers',
    status: 403,
    provider: {
      status: 403,
      type: 'content_filter',
      message: 'Your input was flagged for "harassment".',
      code: 'content_filter',
      retryable: false,
    },
  });
  const answer = asGatewayError(flagged);
  assert.equal(answer.kind, 'invalid_request');
  assert.equal(answer.statusIn('openai'), 400);
  assert.equal(answer.statusIn('anthropic'), 400);
  assert.deepEqual(errorBody(answer, 'openai'), {
    error: {
      message: 'Your input was flagged for "harassment".',
      type: 'invalid_request_error',
      param: null,
      code: 'content_filter',
    },
  });
  assert.equal(
    (errorBody(answer, 'anthropic') as { error: { type: string } }).error.type,
    'invalid_request_error',
  );
});
