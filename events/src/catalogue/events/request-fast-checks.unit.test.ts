import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestCompletedExample, requestFailedExample } from '../../testing/request-events.js';
import { requestCompletedHolds, requestFailedHolds } from './request-fast-checks.js';
import { RequestCompleted, RequestFailed } from './usage.js';

// The catalogue's examples, with sealed bodies on the completed one (the check covers them too).
const completed = {
  ...requestCompletedExample,
  sealedBodies: {
    keyId: '0195514f-6d7a-7cc1-9a3e-3d1b2f4e5a6c',
    prompt: 'c2VhbGVk',
    response: null,
  },
};
const failed = requestFailedExample;

/** Values every field is tried with: of the wrong type, at and past each bound, malformed. */
const VALUES: unknown[] = [
  undefined,
  null,
  true,
  false,
  -1,
  -0,
  0,
  1,
  1.5,
  99,
  100,
  599,
  600,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '',
  ' ',
  'a',
  'a:b',
  'a b',
  '-a',
  'A',
  'Open-AI',
  'x'.repeat(40),
  'x'.repeat(41),
  'x'.repeat(128),
  'x'.repeat(129),
  'x'.repeat(200),
  'x'.repeat(201),
  'x'.repeat(32_768),
  'x'.repeat(32_769),
  'x'.repeat(65_536),
  'x'.repeat(65_537),
  'gpt 4o',
  'gpt-4o\n',
  'USD',
  'usd',
  'US',
  '0',
  '0.5',
  '00.5',
  '1e3',
  '-1',
  '0.1234567890123',
  'chat.completions',
  'messages',
  'embeddings ',
  'client_disconnected',
  'priority',
  'flex',
  'us',
  'global',
  'fast',
  'standard',
  'default',
  'Priority',
  'nope',
  '127.0.0.1',
  '256.1.1.1',
  '1.2.3',
  '::1',
  '2001:db8::1',
  '0195514f-6d7a-7cc1-9a3e-3d1b2f4e5a6b',
  '0195514f-6d7a-0cc1-9a3e-3d1b2f4e5a6b',
  {},
  [],
  ['x'],
  { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0 },
  { inputTokens: 1, outputTokens: 1, cachedInputTokens: 2 },
  { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, reasoningTokens: 2 },
  { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, reasoningTokens: undefined },
  { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0, extra: 1 },
  {
    inputTokens: 10,
    outputTokens: 1,
    cachedInputTokens: 2,
    cacheWriteInputTokens: 3,
    cacheWrite1hInputTokens: 5,
  },
  {
    inputTokens: 10,
    outputTokens: 1,
    cachedInputTokens: 2,
    cacheWriteInputTokens: 3,
    cacheWrite1hInputTokens: 6,
  },
  { inputTokens: 10, outputTokens: 1, cachedInputTokens: 0, cacheWriteInputTokens: undefined },
  { inputTokens: 10, outputTokens: 1, cachedInputTokens: 0, cacheWrite1hInputTokens: -1 },
  { inputTokens: 10, outputTokens: 1, cachedInputTokens: 0, webSearches: 2 },
  { inputTokens: 10, outputTokens: 1, cachedInputTokens: 0, webSearches: 0.5 },
  { inputTokens: 10, outputTokens: 1, cachedInputTokens: 0, webSearches: undefined },
  { keyId: '0195514f-6d7a-7cc1-9a3e-3d1b2f4e5a6b', prompt: null, response: null },
  { keyId: 'not-a-uuid', prompt: null, response: null },
  { keyId: '0195514f-6d7a-7cc1-9a3e-3d1b2f4e5a6b', prompt: null },
  { kind: 'response', id: 'resp_68af0c1e' },
  { kind: 'thread', id: 'msg_01XFDUDYJgAACzvnptvVoYEL' },
  { kind: 'conversation', id: 'conv_1' },
  { kind: 'response', id: 'resp:1' },
  { kind: 'response' },
  { kind: 'response', id: 'resp_1', tokens: 1 },
];

/** Every variant of `base` with one field (top level or one level down) set to each value, removed, or one field added. */
function* mutations(base: Record<string, unknown>): Generator<Record<string, unknown>> {
  for (const key of Object.keys(base)) {
    for (const value of VALUES) yield { ...base, [key]: value };
    const { [key]: _, ...without } = base;
    yield without;
    const inner = base[key];
    if (inner && typeof inner === 'object') {
      for (const innerKey of Object.keys(inner)) {
        for (const value of VALUES) yield { ...base, [key]: { ...inner, [innerKey]: value } };
        const { [innerKey]: __, ...innerWithout } = inner as Record<string, unknown>;
        yield { ...base, [key]: innerWithout };
      }
      yield { ...base, [key]: { ...inner, extra: 1 } };
    }
  }
  yield { ...base, extra: 1 };
}

for (const [name, holds, definition, bases] of [
  [
    'RequestCompleted',
    requestCompletedHolds,
    RequestCompleted,
    [
      completed,
      // With cache writes: their count, their sum with the reads, mutated like every field.
      {
        ...completed,
        usage: { ...completed.usage, cacheWriteInputTokens: 60, cacheWrite1hInputTokens: 100 },
      },
      // With web searches.
      { ...completed, usage: { ...completed.usage, webSearches: 3 } },
      // Billed at another service tier's rates.
      { ...completed, usage: { ...completed.usage, serviceTier: 'priority' } },
      // Run on US-only infrastructure (Claude).
      { ...completed, usage: { ...completed.usage, inferenceGeo: 'us' } },
      // Run in fast mode (Claude).
      { ...completed, usage: { ...completed.usage, speed: 'fast', inferenceGeo: 'us' } },
      // A stored Responses answer, a Claude thread's reply: their kind and id mutated too.
      { ...completed, storedAnswer: { kind: 'response', id: 'resp_68af0c1e9d2c8190' } },
      { ...completed, storedAnswer: { kind: 'thread', id: 'msg_01XFDUDYJgAACzvnptvVoYEL' } },
      {
        ...completed,
        teamId: null,
        cost: null,
        currency: null,
        timeToFirstTokenMs: null,
        sealedBodies: null,
      },
    ],
  ],
  [
    'RequestFailed',
    requestFailedHolds,
    RequestFailed,
    [
      failed,
      { ...failed, provider: null, providerKeyId: null, status: 499 },
      { ...failed, usage: { ...failed.usage, cacheWrite1hInputTokens: 7 } },
      { ...failed, usage: { ...failed.usage, webSearches: 1 } },
      { ...failed, usage: { ...failed.usage, serviceTier: 'flex' } },
    ],
  ],
] as const) {
  test(`${name}: what the fast check accepts, the schema accepts and writes unchanged`, () => {
    let tried = 0;
    let fast = 0;
    let valid = 0;
    for (const base of bases) {
      assert.equal(holds(base), true, 'a valid event takes the fast path');
      for (const data of mutations(base)) {
        tried += 1;
        const parsed = definition.schema.safeParse(data);
        if (parsed.success) valid += 1;
        if (!holds(data)) continue;
        fast += 1;
        assert.ok(
          parsed.success,
          `the fast check accepted what the schema refuses: ${JSON.stringify(data).slice(0, 300)}`,
        );
        assert.deepEqual(parsed.data, data, 'the schema would have written something else');
      }
    }
    // Most valid variants go the fast way (the rest, e.g. IPv6 addresses, the schema's).
    assert.ok(fast > 0.8 * valid, `${fast} of ${valid} valid variants took the fast path (${tried} tried)`);
  });
}
