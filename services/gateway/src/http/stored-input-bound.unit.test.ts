import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Route } from './route-model.js';
import { claudeThreadInputBound, continuedThread, storedInputBound } from './stored-input-bound.js';

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

test("a Claude thread's continuation is held at its recorded conversation, else at Claude's largest window", () => {
  const continuation = {
    model: 'claude-sonnet-4-6',
    messages: [{ role: 'user', content: 'Continue.' }],
    thread: { type: 'continue', previous_message_id: 'msg_01' },
  };
  assert.equal(continuedThread(continuation), 'msg_01');
  const asked: string[] = [];
  const recorded = (id: string) => {
    asked.push(id);
    return id === 'msg_01' ? 10_050 : undefined;
  };
  assert.deepEqual(claudeThreadInputBound(continuation, recorded), { tokens: 10_050, whole: false });
  assert.deepEqual(asked, ['msg_01']);
  // Made elsewhere (another replica, before a restart): whatever the thread holds, within the window.
  const elsewhere = { ...continuation, thread: { type: 'continue', previous_message_id: 'msg_02' } };
  assert.deepEqual(claudeThreadInputBound(elsewhere, recorded), { tokens: 1_000_000, whole: true });
  // A new thread, a request without one, or a malformed one carries its whole prompt.
  for (const thread of [{ type: 'create' }, undefined, null, { type: 'continue' }, 'continue']) {
    const body = { ...continuation, thread };
    assert.equal(continuedThread(body), undefined);
    assert.equal(claudeThreadInputBound(body, recorded), undefined);
  }
});
