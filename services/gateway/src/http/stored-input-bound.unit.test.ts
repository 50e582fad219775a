import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Route } from './route-model.js';
import { storedInputBound } from './stored-input-bound.js';

const route = { model: 'gpt-4o' } as unknown as Route;
const none = () => undefined;

test('a Responses input that references stored items is held at the context window', () => {
  // `item_reference` brings a stored item (a past answer, a past input with its images) into the
  // prompt: billed as input, though the body carries only its id.
  const input = [
    { type: 'item_reference', id: 'msg_0123' },
    { role: 'user', content: [{ type: 'input_image', image_url: 'https://example.test/a.png' }] },
  ];
  assert.deepEqual(storedInputBound(route, { model: 'gpt-4o', input }, none), {
    tokens: 128_000,
    whole: true,
  });
  // With a recorded previous_response_id too: the items referenced are beyond what it recorded.
  assert.deepEqual(
    storedInputBound(route, { model: 'gpt-4o', previous_response_id: 'resp_1', input }, () => 500),
    { tokens: 128_000, whole: true },
  );
  // A request that carries its whole prompt is not held for stored state.
  assert.equal(storedInputBound(route, { model: 'gpt-4o', input: input.slice(1) }, none), undefined);
  assert.deepEqual(
    storedInputBound(route, { model: 'gpt-4o', previous_response_id: 'resp_1', input: 'hi' }, () => 500),
    { tokens: 500, whole: false },
  );
});
