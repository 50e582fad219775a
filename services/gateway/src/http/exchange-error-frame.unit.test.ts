/**
 * The error event that ends a caller's stream when the provider's broke: an overload is said
 * as one in the caller's dialect (Claude Code retries Anthropic's `overloaded_error` mid-stream,
 * not an `api_error`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamFailure } from '../translate/stream-parts.js';
import { errorFrame } from './exchange.js';

function anthropicError(frame: string): { type: string; message: string } {
  const [event, data] = frame.trim().split('\n');
  assert.equal(event, 'event: error');
  return (JSON.parse(data?.slice('data: '.length) ?? '') as { error: { type: string; message: string } })
    .error;
}

function openAIError(frame: string): { type: string; code: string; message: string; param: null } {
  assert.ok(frame.startsWith('data: ') && frame.endsWith('\n\n'));
  return (JSON.parse(frame.slice('data: '.length)) as { error: never }).error;
}

const upstream = (errorType: string, status?: number): StreamFailure => ({
  kind: 'upstream_error',
  errorType,
  message: 'The model is overloaded.',
  ...(status === undefined ? {} : { status }),
});

describe('errorFrame', () => {
  const overloads: [string, StreamFailure][] = [
    ['Gemini UNAVAILABLE (503)', upstream('UNAVAILABLE', 503)],
    ["Claude's overloaded_error", upstream('overloaded_error')],
    ["OpenAI's service_unavailable_error", upstream('service_unavailable_error')],
    ['a 529 of another type', upstream('error', 529)],
  ];
  for (const [what, failure] of overloads) {
    it(`${what} is overloaded_error to an Anthropic caller, server_is_overloaded to an OpenAI caller`, () => {
      assert.deepEqual(anthropicError(errorFrame('anthropic', 'upstream stream interrupted: x', failure)), {
        type: 'overloaded_error',
        message: 'upstream stream interrupted: x',
      });
      assert.deepEqual(openAIError(errorFrame('openai', 'upstream stream interrupted: x', failure)), {
        message: 'upstream stream interrupted: x',
        type: 'service_unavailable_error',
        param: null,
        code: 'server_is_overloaded',
      });
    });
  }

  const others: [string, StreamFailure | undefined][] = [
    ['no failure (a cut connection)', undefined],
    ['a malformed event', { kind: 'malformed_event', message: 'bad' }],
    ['Gemini INTERNAL (500)', upstream('INTERNAL', 500)],
    ["Claude's api_error", upstream('api_error')],
  ];
  for (const [what, failure] of others) {
    it(`${what} is api_error / stream_interrupted`, () => {
      assert.equal(anthropicError(errorFrame('anthropic', 'm', failure)).type, 'api_error');
      const error = openAIError(errorFrame('openai', 'm', failure));
      assert.equal(error.type, 'api_error');
      assert.equal(error.code, 'stream_interrupted');
    });
  }
});
