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
  const bound = (body: Record<string, unknown>, model = 'claude-sonnet-4-6', beta?: string) =>
    claudeThreadInputBound(body, model, beta, recorded);
  assert.deepEqual(bound(continuation), { tokens: 10_050, whole: false });
  assert.deepEqual(asked, ['msg_01']);
  // Made elsewhere (another replica, before a restart): whatever the thread holds, within the window.
  const elsewhere = { ...continuation, thread: { type: 'continue', previous_message_id: 'msg_02' } };
  assert.deepEqual(bound(elsewhere), { tokens: 1_000_000, whole: true });
  // A new thread, a request without one, or a malformed one carries its whole prompt.
  for (const thread of [{ type: 'create' }, undefined, null, { type: 'continue' }, 'continue']) {
    const body = { ...continuation, thread };
    assert.equal(continuedThread(body), undefined);
    assert.equal(bound(body), undefined);
  }
});

test("an unrecorded Claude thread's continuation is held at its model's own context window", () => {
  const elsewhere = {
    model: 'ignored: the route names the model sent',
    messages: [{ role: 'user', content: 'Continue.' }],
    thread: { type: 'continue', previous_message_id: 'msg_made_elsewhere' },
  };
  const window = (model: string, beta?: string) =>
    claudeThreadInputBound(elsewhere, model, beta, () => undefined)?.tokens;
  for (const model of [
    'claude-haiku-4-5',
    'claude-haiku-4-5-20251001',
    'claude-opus-4-5-20251101',
    'claude-opus-4-1',
    'claude-opus-4-20250514',
    'claude-sonnet-4-5',
    'claude-sonnet-4-20250514',
    'claude-3-7-sonnet-20250219',
    'claude-3-5-haiku-20241022',
    'claude-3-haiku-20240307',
  ])
    assert.equal(window(model), 200_000, model);
  // Sonnet 4 and 4.5 have 1M tokens with the 1M-context beta, among others, any dated version.
  for (const beta of [
    'context-1m-2025-08-07',
    'interleaved-thinking-2025-05-14, context-1m-2025-08-07',
    'context-1m-2025-08-07,message-threads-2026-08-12',
  ]) {
    assert.equal(window('claude-sonnet-4-5', beta), 1_000_000, beta);
    assert.equal(window('claude-sonnet-4-20250514', beta), 1_000_000, beta);
  }
  // Only there: the beta gives the others nothing, and a lookalike feature is not it.
  assert.equal(window('claude-haiku-4-5', 'context-1m-2025-08-07'), 200_000);
  assert.equal(window('claude-opus-4-5', 'context-1m-2025-08-07'), 200_000);
  assert.equal(window('claude-sonnet-4-5', 'no-context-1m-2025-08-07'), 200_000);
  assert.equal(window('claude-sonnet-4-5', 'message-threads-2026-08-12'), 200_000);
  for (const model of [
    'claude-opus-4-6',
    'claude-sonnet-4-6',
    'claude-opus-4-7',
    'claude-opus-4-8',
    'claude-opus-5',
    'claude-sonnet-5',
  ])
    assert.equal(window(model), 1_000_000, model);
  // A name the table does not know (a later family, a proxy's own name): Claude's largest window.
  for (const model of ['claude-haiku-4', 'claude-2.1', 'claude-opus-6', 'house-model'])
    assert.equal(window(model), 1_000_000, model);
});
