import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ProviderKeyEntry } from '../registry/registry.js';
import { Balancer } from './balancer.js';
import type { BalancerKey, Strategy } from './types.js';

const T = 1_700_000_000_000;
const G = 'org_1/openai';

function key(providerKeyId: string, weight = 1, extra: Partial<BalancerKey> = {}): BalancerKey {
  return { providerKeyId, weight, ...extra };
}

function balancerWith(keys: BalancerKey[], strategy?: Strategy): Balancer {
  const balancer = new Balancer();
  balancer.setGroup(G, keys, strategy ? { strategy } : {});
  return balancer;
}

/** How often each key is picked over `count` selections, the clock moving 1 ms each. */
function tally(balancer: Balancer, count: number, start = T, session?: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const id = balancer.pick(G, start + i, session)?.providerKeyId ?? 'none';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Picks until `id` comes out (at most `count` picks) and returns its probe ticket (0: none). */
function probeOf(balancer: Balancer, id: string, now: number, count = 100): number {
  for (let i = 0; i < count; i++)
    if (balancer.pick(G, now + i)?.providerKeyId === id) return balancer.lastProbe;
  return 0;
}

function picks(balancer: Balancer, count: number, now = T): string[] {
  return Array.from({ length: count }, () => balancer.pick(G, now)?.providerKeyId ?? 'none');
}

describe('strategies', () => {
  test('weighted: 3:1 exactly, in every window of 4', () => {
    const balancer = balancerWith([key('a', 3), key('b', 1)], 'weighted');
    const sequence = picks(balancer, 10_000);
    assert.equal(sequence.filter((id) => id === 'a').length, 7_500);
    for (let i = 0; i + 4 <= sequence.length; i++) {
      assert.equal(sequence.slice(i, i + 4).filter((id) => id === 'b').length, 1, `window at ${i}`);
    }
  });

  test('adaptive (the default): 3:1 within 5% over 10,000 selections', () => {
    const balancer = balancerWith([key('a', 3), key('b', 1)]);
    assert.equal(balancer.strategyOf(G), 'adaptive');
    const counts = tally(balancer, 10_000);
    const ratio = (counts.get('a') ?? 0) / (counts.get('b') ?? 1);
    assert.ok(Math.abs(ratio - 3) / 3 < 0.05, `ratio ${ratio}`);
  });

  test('round-robin: exact rotation, weights ignored (but 0 sends nothing)', () => {
    const balancer = balancerWith([key('a', 5), key('b', 1), key('c', 2), key('z', 0)], 'round-robin');
    const sequence = picks(balancer, 9_999);
    for (let i = 0; i < sequence.length; i++) assert.equal(sequence[i], 'abc'[i % 3]);
  });

  test('round-robin resumes after the key it served last when a key leaves and returns', () => {
    const balancer = balancerWith([key('a'), key('b'), key('c'), key('d')], 'round-robin');
    assert.deepEqual(picks(balancer, 2), ['a', 'b']);
    balancer.reportFailure('c', { now: T, kind: 'rate_limited', retryAfterMs: 1_000 });
    assert.deepEqual(picks(balancer, 3, T + 1), ['d', 'a', 'b']);
    assert.deepEqual(picks(balancer, 4, T + 1_000), ['c', 'd', 'a', 'b']);
  });

  test('an unchanged setGroup keeps the sequence going', () => {
    const keys = [key('a', 3), key('b', 2), key('c', 1)];
    const plain = balancerWith(keys, 'weighted');
    const resynced = balancerWith(keys, 'weighted');
    for (let i = 0; i < 100; i++) {
      resynced.setGroup(
        G,
        keys.map((k) => ({ ...k })),
      );
      assert.equal(resynced.pick(G, T)?.providerKeyId, plain.pick(G, T)?.providerKeyId);
    }
  });

  test('no keys, or none usable: undefined', () => {
    assert.equal(new Balancer().pick('nobody', T), undefined);
    const balancer = balancerWith([key('a', 1, { disabled: true }), key('b', 0)]);
    assert.equal(balancer.pick(G, T), undefined);
    assert.equal(balancer.nextUsableAt(G, T), null);
  });
});

describe('priority tiers', () => {
  test('a tier-1 key gets traffic only while every tier-0 key is cooling', () => {
    const balancer = balancerWith([key('a'), key('b'), key('backup', 10, { tier: 1 })]);
    assert.equal(tally(balancer, 1_000).get('backup'), undefined);
    balancer.reportFailure('a', { now: T + 1_000, kind: 'rate_limited', retryAfterMs: 5_000 });
    assert.deepEqual([...tally(balancer, 1_000, T + 1_000)], [['b', 1_000]]);
    balancer.reportFailure('b', { now: T + 2_000, kind: 'rate_limited', retryAfterMs: 2_000 });
    assert.deepEqual([...tally(balancer, 1_000, T + 2_000)], [['backup', 1_000]]);
    // b is back at T + 4000: the backup gets nothing again.
    assert.deepEqual([...tally(balancer, 1_000, T + 4_000)], [['b', 1_000]]);
    assert.equal(tally(balancer, 1_000, T + 6_000).get('backup'), undefined);
  });

  test('disabled, open circuits and spent quotas count as unusable too', () => {
    const balancer = balancerWith([key('a'), key('b'), key('c'), key('backup', 1, { tier: 2 })]);
    balancer.reportFailure('a', { now: T, kind: 'auth_refused' });
    for (let i = 0; i < 5; i++) balancer.reportFailure('b', { now: T, kind: 'server_error' });
    balancer.reportSuccess('c', {
      now: T,
      latencyMs: 100,
      rateLimits: { limitRequests: 10, remainingRequests: 0, resetRequestsMs: 3_000 },
    });
    assert.equal(balancer.pick(G, T + 1)?.providerKeyId, 'backup');
    assert.equal(balancer.pick(G, T + 3_000)?.providerKeyId, 'c');
  });
});

describe('health', () => {
  test('429: no traffic until Retry-After has passed, then it returns', () => {
    const balancer = balancerWith([key('a'), key('b')]);
    const decision = balancer.reportFailure('a', { now: T, kind: 'rate_limited', retryAfterMs: 2_000 });
    assert.deepEqual(decision, {
      type: 'cooled_down',
      providerKeyId: 'a',
      until: T + 2_000,
      reason: 'rate_limited',
      retryAfterMs: 2_000,
    });
    assert.deepEqual([...tally(balancer, 1_999, T)], [['b', 1_999]]);
    assert.ok((tally(balancer, 100, T + 2_000).get('a') ?? 0) >= 49);
  });

  test('all keys resting: nothing to pick, and when the first is back', () => {
    const balancer = balancerWith([key('a'), key('b'), key('c', 1, { disabled: true })]);
    balancer.reportFailure('a', { now: T, kind: 'rate_limited', retryAfterMs: 5_000 });
    balancer.reportFailure('b', { now: T, kind: 'rate_limited', retryAfterMs: 3_000 });
    assert.equal(balancer.pick(G, T + 1), undefined);
    assert.equal(balancer.nextUsableAt(G, T + 1), T + 3_000);
  });

  test('auth_refused disables the key, for good', () => {
    const balancer = balancerWith([key('a'), key('b')]);
    assert.equal(balancer.reportFailure('a', { now: T, kind: 'auth_refused' }).type, 'disabled');
    assert.deepEqual([...tally(balancer, 1_000, T + 86_400_000)], [['b', 1_000]]);
    assert.equal(balancer.describe(G, T)[0]?.state, 'disabled');
    balancer.enable('a');
    assert.equal(tally(balancer, 10, T).get('a'), 5);
  });

  test('5 server errors open the circuit; half-open lets one probe through; its success closes it', () => {
    const balancer = balancerWith([key('a'), key('b')]);
    for (let i = 0; i < 4; i++) {
      assert.equal(balancer.reportFailure('a', { now: T, kind: 'server_error' }).type, 'unchanged');
    }
    const opened = balancer.reportFailure('a', { now: T, kind: 'server_error' });
    assert.equal(opened.type, 'circuit_opened');
    assert.equal(opened.type === 'circuit_opened' && opened.until, T + 5_000);
    assert.deepEqual([...tally(balancer, 1_000, T + 1)], [['b', 1_000]]);
    assert.equal(balancer.describe(G, T + 1)[0]?.state, 'circuit_open');

    // Half-open: a appears exactly once however many requests come, until the probe reports.
    assert.equal(balancer.describe(G, T + 5_000)[0]?.state, 'half_open');
    const probe = probeOf(balancer, 'a', T + 5_000);
    assert.ok(probe > 0, 'the probe goes out');
    const during = tally(balancer, 500, T + 5_100);
    assert.equal(during.get('a'), undefined, 'no second probe');
    assert.equal(
      balancer.reportSuccess('a', { now: T + 5_600, latencyMs: 300, probe }).type,
      'circuit_closed',
    );
    assert.equal(balancer.describe(G, T + 5_600)[0]?.state, 'ok');
    // Back in rotation; adaptive still weighs it down for its recent failures.
    assert.ok((tally(balancer, 100, T + 5_600).get('a') ?? 0) >= 5);
  });

  test('a failed probe reopens the circuit for longer', () => {
    const balancer = balancerWith([key('a'), key('b')]);
    for (let i = 0; i < 5; i++) balancer.reportFailure('a', { now: T, kind: 'timeout' });
    const probe = probeOf(balancer, 'a', T + 5_000);
    assert.ok(probe > 0, 'the probe goes out');
    const reopened = balancer.reportFailure('a', { now: T + 6_000, kind: 'timeout', probe });
    assert.equal(reopened.type === 'circuit_opened' && reopened.until, T + 16_000);
    assert.equal(tally(balancer, 1_000, T + 6_000).get('a'), undefined);
  });

  test('caller_cancelled changes nothing', () => {
    const keys = [key('a', 2), key('b', 1)];
    const cancelled = balancerWith(keys);
    const untouched = balancerWith(keys);
    for (const b of [cancelled, untouched]) b.reportSuccess('a', { now: T, latencyMs: 200 });
    const before = cancelled.describe(G, T);
    for (let i = 0; i < 10; i++) {
      assert.equal(cancelled.reportFailure('a', { now: T, kind: 'caller_cancelled' }).type, 'unchanged');
    }
    assert.deepEqual(cancelled.describe(G, T), before);
    assert.deepEqual(picks(cancelled, 300, T + 1_000), picks(untouched, 300, T + 1_000));
  });

  test('a key in two groups (per provider and per model) shares its health', () => {
    const balancer = new Balancer();
    balancer.setGroup('org_1/openai', [key('a'), key('b')]);
    balancer.setGroup('org_1/openai#gpt-4o', [key('a'), key('c')]);
    balancer.reportFailure('a', { now: T, kind: 'rate_limited', retryAfterMs: 1_000 });
    assert.equal(balancer.pick('org_1/openai', T)?.providerKeyId, 'b');
    assert.equal(balancer.pick('org_1/openai#gpt-4o', T)?.providerKeyId, 'c');
  });

  test("the registry's disabled and cooledDownUntil are honoured, and its re-enable", () => {
    const balancer = balancerWith([
      key('a', 1, { cooledDownUntil: T + 500 }),
      key('b', 1, { disabled: true }),
    ]);
    assert.equal(balancer.pick(G, T), undefined);
    assert.equal(balancer.pick(G, T + 500)?.providerKeyId, 'a');
    balancer.setGroup(G, [key('a'), key('b')]);
    assert.equal(tally(balancer, 10, T + 500).get('b'), 5);
  });
});

describe('adaptive', () => {
  const quota = (remaining: number) => ({
    limitRequests: 1_000,
    remainingRequests: remaining,
    resetRequestsMs: 60_000,
  });

  test('moves traffic off a key whose remaining quota is low, and back after its reset', () => {
    const balancer = balancerWith([key('a'), key('b')]);
    balancer.reportSuccess('a', { now: T, latencyMs: 200, rateLimits: quota(50) });
    balancer.reportSuccess('b', { now: T, latencyMs: 200, rateLimits: quota(1_000) });
    const low = tally(balancer, 10_000, T + 100).get('a') ?? 0;
    // 5% left against 100%: about 1 request in 20.
    assert.ok(low > 300 && low < 800, `a got ${low} of 10,000`);
    const after = tally(balancer, 10_000, T + 60_000).get('a') ?? 0;
    assert.ok(Math.abs(after - 5_000) < 100, `after the reset a got ${after}`);
  });

  test('moves traffic off a slow key, in proportion to its latency', () => {
    const balancer = balancerWith([key('a'), key('b')]);
    for (let i = 0; i < 20; i++) {
      balancer.reportSuccess('a', { now: T, latencyMs: 1_000 });
      balancer.reportSuccess('b', { now: T, latencyMs: 250 });
    }
    const slow = tally(balancer, 10_000, T + 100).get('a') ?? 0;
    // Factor (250 + 100) / (1000 + 100) = 0.32 (latencies carry a 100 ms slack): about 24%.
    assert.ok(slow > 2_150 && slow < 2_750, `a got ${slow} of 10,000`);
  });

  test('moves traffic off a failing key, which recovers once it stops failing', () => {
    const balancer = balancerWith([key('a'), key('b')]);
    for (let i = 0; i < 3; i++) balancer.reportFailure('a', { now: T, kind: 'server_error' });
    balancer.reportSuccess('b', { now: T, latencyMs: 200 });
    balancer.reportSuccess('a', { now: T, latencyMs: 200 });
    const failing = tally(balancer, 10_000, T + 100).get('a') ?? 0;
    assert.ok(failing < 3_000, `a got ${failing} of 10,000`);
    for (let i = 0; i < 30; i++) balancer.reportSuccess('a', { now: T + 20_000, latencyMs: 200 });
    const recovered = tally(balancer, 10_000, T + 20_000).get('a') ?? 0;
    assert.ok(recovered > 4_500, `a got ${recovered} of 10,000 after recovering`);
  });

  test('equally fast keys share evenly despite millisecond jitter', () => {
    const balancer = balancerWith([key('a'), key('b'), key('c')]);
    for (let i = 0; i < 20; i++) {
      balancer.reportSuccess('a', { now: T, latencyMs: 1 });
      balancer.reportSuccess('b', { now: T, latencyMs: 4 });
      balancer.reportSuccess('c', { now: T, latencyMs: 9 });
    }
    const counts = tally(balancer, 9_000, T + 100);
    for (const id of ['a', 'b', 'c']) assert.ok((counts.get(id) ?? 0) > 2_700, `${id}: ${counts.get(id)}`);
  });

  test("a key's own RPM limit: it rests once the minute's budget is used", () => {
    const balancer = balancerWith([key('a', 1, { limits: { rpm: 10 } }), key('b', 1)]);
    const counts = tally(balancer, 1_000, T);
    assert.equal(counts.get('a'), 10);
    assert.equal(balancer.describe(G, T + 1_000)[0]?.state, 'cooling');
  });

  test("a group's change (a key added, a weight changed) keeps the minute's count of own limits", () => {
    const a = key('a', 1, { limits: { rpm: 2 } });
    const balancer = balancerWith([a]);
    assert.equal(balancer.pick(G, T + 1_000)?.providerKeyId, 'a');
    assert.equal(balancer.pick(G, T + 1_001)?.providerKeyId, 'a');
    assert.equal(balancer.pick(G, T + 1_002), undefined, 'the minute is spent');
    balancer.setGroup(G, [a, key('b', 1, { tier: 1 })]);
    assert.equal(balancer.pick(G, T + 1_003)?.providerKeyId, 'b', 'a still rests');
    assert.equal(balancer.describe(G, T + 1_003)[0]?.usage.requestsPerMinute, 2);
  });

  test('a key handed out but skipped before any call gets its request and its probe back', () => {
    const balancer = balancerWith([key('a', 1, { limits: { rpm: 2 } })]);
    for (let i = 0; i < 10; i++) {
      assert.equal(balancer.pick(G, T + i)?.providerKeyId, 'a');
      balancer.reportUnused('a', T + i);
    }
    assert.equal(balancer.describe(G, T + 10)[0]?.usage.requestsPerMinute, 0);
    for (let i = 0; i < 5; i++) balancer.reportFailure('a', { now: T + 10, kind: 'timeout' });
    assert.equal(balancer.pick(G, T + 5_010)?.providerKeyId, 'a', 'the probe');
    balancer.reportUnused('a', T + 5_010, balancer.lastProbe);
    assert.equal(balancer.pick(G, T + 5_011)?.providerKeyId, 'a', 'the probe again: the first never went');
  });

  test("a probe ended by the gateway's own fault frees the slot, keeps the minute's count, and no other ticket does", () => {
    const balancer = balancerWith([key('a', 1, { limits: { rpm: 100 } })]);
    for (let i = 0; i < 5; i++) balancer.reportFailure('a', { now: T, kind: 'timeout' });
    assert.equal(balancer.pick(G, T + 5_000)?.providerKeyId, 'a', 'the probe');
    const probe = balancer.lastProbe;
    assert.ok(probe > 0);
    balancer.releaseProbe('a', T + 5_001, probe + 1);
    assert.equal(balancer.pick(G, T + 5_002), undefined, 'another ticket frees nothing');
    balancer.releaseProbe('a', T + 5_003, probe);
    assert.equal(balancer.describe(G, T + 5_003)[0]?.state, 'half_open', 'nothing learnt');
    assert.equal(balancer.describe(G, T + 5_003)[0]?.usage.requestsPerMinute, 1, 'the call may have gone');
    assert.equal(balancer.pick(G, T + 5_004)?.providerKeyId, 'a', 'the next request probes');
    const second = balancer.lastProbe;
    assert.equal(
      balancer.reportSuccess('a', { now: T + 5_100, latencyMs: 50, probe: second }).type,
      'circuit_closed',
    );
    balancer.releaseProbe('a', T + 5_101, second);
    assert.equal(
      balancer.describe(G, T + 5_101)[0]?.state,
      'ok',
      'a ticket already reported changes nothing',
    );
  });

  test("a key's own TPM limit counts a stream's tokens reported at its end, and nothing else of it", () => {
    const balancer = balancerWith([key('a', 1, { limits: { tpm: 1_000 } }), key('b', 1, { tier: 1 })]);
    assert.equal(balancer.pick(G, T)?.providerKeyId, 'a');
    // The stream started (its first byte): a success of unknown tokens.
    balancer.reportSuccess('a', { now: T, latencyMs: 50 });
    assert.equal(balancer.pick(G, T + 1)?.providerKeyId, 'a');
    balancer.reportTokens('a', 5_000, T + 2);
    const [a] = balancer.describe(G, T + 3);
    assert.equal(a?.usage.tokensPerMinute, 5_000);
    assert.equal(a?.state, 'cooling');
    assert.equal(balancer.pick(G, T + 3)?.providerKeyId, 'b');
    // A key the balancer never saw, or one without a tpm, is left as it is.
    balancer.reportTokens('unknown', 5_000, T + 4);
    balancer.reportTokens('b', 5_000, T + 4);
    assert.equal(balancer.describe(G, T + 4)[1]?.usage.tokensPerMinute, 0);
  });

  test('weights are recomputed on a timer, not per request', () => {
    const balancer = new Balancer({ recomputeIntervalMs: 1_000 });
    balancer.setGroup(G, [key('a'), key('b')]);
    balancer.pick(G, T);
    for (let i = 0; i < 20; i++) balancer.reportSuccess('a', { now: T, latencyMs: 1_000 });
    balancer.reportSuccess('b', { now: T, latencyMs: 100 });
    assert.equal(tally(balancer, 998, T + 1).get('a'), 499, 'before the next recompute');
    assert.ok((tally(balancer, 1_000, T + 1_000).get('a') ?? 0) < 200, 'after it');
  });
});

describe('stickiness', () => {
  test('a session stays on one key while that key is usable, then moves', () => {
    const balancer = balancerWith([key('a'), key('b'), key('c'), key('d')]);
    const first = balancer.pick(G, T, 'session-42')!.providerKeyId;
    assert.deepEqual([...tally(balancer, 500, T, 'session-42')], [[first, 500]]);
    balancer.reportFailure(first, { now: T + 500, kind: 'rate_limited', retryAfterMs: 1_000 });
    const moved = balancer.pick(G, T + 500, 'session-42')!.providerKeyId;
    assert.notEqual(moved, first);
    // Stays where it moved: its prompt cache now lives there.
    assert.equal(balancer.pick(G, T + 2_000, 'session-42')?.providerKeyId, moved);
  });

  test('sessions spread by weight', () => {
    const balancer = balancerWith([key('a', 3), key('b', 1)]);
    let a = 0;
    for (let s = 0; s < 10_000; s++) if (balancer.pick(G, T, `s${s}`)?.providerKeyId === 'a') a++;
    assert.ok(Math.abs(a / 10_000 - 0.75) < 0.0375, `a held ${a} of 10,000 sessions`);
  });

  test('removing a key moves only its sessions, on this replica and on a fresh one', () => {
    const keys = [key('a'), key('b'), key('c'), key('d')];
    const balancer = balancerWith(keys);
    const sessions = Array.from({ length: 2_000 }, (_, i) => `conversation-${i}`);
    const before = new Map(sessions.map((s) => [s, balancer.pick(G, T, s)!.providerKeyId]));
    const withoutC = keys.filter((k) => k.providerKeyId !== 'c');
    balancer.setGroup(G, withoutC);
    const fresh = balancerWith(withoutC);
    for (const s of sessions) {
      const was = before.get(s)!;
      const now = balancer.pick(G, T + 1, s)!.providerKeyId;
      assert.equal(fresh.pick(G, T + 1, s)?.providerKeyId, now, 'replicas agree');
      if (was === 'c') assert.notEqual(now, 'c');
      else assert.equal(now, was, `${s} moved off ${was}`);
    }
  });

  test('a session goes back to a higher tier when it returns', () => {
    const balancer = balancerWith([key('a'), key('backup', 1, { tier: 1 })]);
    balancer.reportFailure('a', { now: T, kind: 'rate_limited', retryAfterMs: 1_000 });
    assert.equal(balancer.pick(G, T, 's')?.providerKeyId, 'backup');
    assert.equal(balancer.pick(G, T + 1_000, 's')?.providerKeyId, 'a');
  });
});

describe('failover lists', () => {
  test('order: the pick first, then the rest of its tier by weight, then lower tiers; never a resting key', () => {
    const keys = [key('a', 1), key('b', 5), key('c', 2), key('d', 1, { tier: 1 }), key('e', 3)];
    const balancer = balancerWith(keys, 'weighted');
    balancer.reportFailure('e', { now: T, kind: 'rate_limited', retryAfterMs: 1_000 });
    assert.deepEqual(
      balancer.order(G, keys, T),
      ['b', 'c', 'a', 'd'].map((id) => keys.find((k) => k.providerKeyId === id)),
    );
    // The next list starts with the scheduler's next choice; the rest keep their order.
    const [head, ...tail] = balancer.order(G, keys, T).map((k) => k.providerKeyId);
    assert.deepEqual(tail, ['b', 'c', 'a'].filter((id) => id !== head).concat('d'));
  });

  test('order hands back the caller’s own objects and takes a changing list', () => {
    const balancer = new Balancer();
    const a = key('a');
    const b = key('b');
    assert.equal(balancer.order(G, [a, b], T)[0], a);
    assert.deepEqual(balancer.order(G, [b], T), [b]);
    assert.deepEqual(balancer.order(G, [], T), []);
  });

  test('order in round-robin: the rotation', () => {
    const keys = [key('a'), key('b'), key('c'), key('d')];
    const balancer = balancerWith(keys, 'round-robin');
    const ids = () =>
      balancer
        .order(G, keys, T)
        .map((k) => k.providerKeyId)
        .join('');
    assert.deepEqual([ids(), ids(), ids()], ['abcd', 'bcda', 'cdab']);
  });

  test('candidates: lazily, each key once, lower tiers last, reports taken into account', () => {
    const balancer = balancerWith([key('a', 3), key('b', 2), key('c', 1), key('backup', 1, { tier: 1 })]);
    const attempts = balancer.candidates(G);
    const first = attempts.next(T)!.providerKeyId;
    assert.equal(first, 'a');
    balancer.reportFailure('a', { now: T + 10, kind: 'server_error' });
    const tried = [first];
    for (let next = attempts.next(T + 10); next; next = attempts.next(T + 10)) tried.push(next.providerKeyId);
    assert.deepEqual(tried, ['a', 'b', 'c', 'backup']);
  });

  test('candidates skip a key that went unusable after the first attempt', () => {
    const balancer = balancerWith([key('a', 3), key('b', 2), key('c', 1)]);
    const attempts = balancer.candidates(G);
    assert.equal(attempts.next(T)?.providerKeyId, 'a');
    balancer.reportFailure('b', { now: T, kind: 'auth_refused' });
    assert.equal(attempts.next(T)?.providerKeyId, 'c');
    assert.equal(attempts.next(T), undefined);
  });

  test('candidates of an unknown group, or with nothing usable', () => {
    assert.equal(new Balancer().candidates('nope').next(T), undefined);
    const balancer = balancerWith([key('a', 1, { disabled: true })]);
    const attempts = balancer.candidates(G);
    assert.equal(attempts.next(T), undefined);
    assert.equal(attempts.next(T), undefined);
  });
});

describe('peek (a key for a call that is not one of its requests)', () => {
  test('spends no rpm and moves no rotation: the next picks are the ones they would have been', () => {
    const balancer = balancerWith(
      [key('a', 1, { limits: { rpm: 1 } }), key('b', 1, { limits: { rpm: 1 } })],
      'round-robin',
    );
    for (let i = 0; i < 10; i++) assert.ok(balancer.peek(G, T));
    assert.deepEqual(
      balancer.describe(G, T).map((k) => k.usage.requestsPerMinute),
      [0, 0],
    );
    // Each key still has its one request of the minute, and the rotation starts where it was.
    assert.deepEqual(picks(balancer, 3), ['a', 'b', 'none']);
  });

  test('the usable keys of the best tier in turn; lower tiers only when none is; none at all', () => {
    const balancer = balancerWith([key('a', 1), key('b', 3), key('backup', 9, { tier: 1 })], 'weighted');
    const peeks = (count: number) =>
      Array.from({ length: count }, () => balancer.peek(G, T)?.providerKeyId ?? 'none');
    assert.deepEqual(peeks(4), ['a', 'b', 'a', 'b']);
    balancer.reportFailure('b', { now: T, kind: 'rate_limited', retryAfterMs: 1_000 });
    assert.deepEqual(peeks(2), ['a', 'a']);
    balancer.reportFailure('a', { now: T, kind: 'auth_refused' });
    assert.deepEqual(peeks(1), ['backup']);
    balancer.reportFailure('backup', { now: T, kind: 'auth_refused' });
    assert.deepEqual(peeks(1), ['none']);
    assert.equal(new Balancer().peek('nope', T), undefined);
  });

  test('leaves a half-open key out and its one probe to a request', () => {
    const balancer = balancerWith([key('a', 5), key('b', 1)], 'weighted');
    for (let i = 0; i < 5; i++) balancer.reportFailure('a', { now: T, kind: 'server_error' });
    assert.equal(balancer.describe(G, T + 5_000)[0]?.state, 'half_open');
    for (let i = 0; i < 10; i++) assert.equal(balancer.peek(G, T + 5_000)?.providerKeyId, 'b');
    assert.equal(tally(balancer, 10, T + 5_000).get('a'), 1, 'the probe is still there to take');
  });
});

describe('peekCandidates (the keys of a call that is not one of their requests, failing over)', () => {
  const ids = (balancer: Balancer, count: number) => {
    const keys = balancer.peekCandidates(G);
    return Array.from({ length: count }, () => keys.next(T)?.providerKeyId ?? 'none');
  };

  test('every usable key once, best tier first, lower tiers after; probe 0; no rpm spent', () => {
    const balancer = balancerWith(
      [
        key('a', 1, { limits: { rpm: 1 } }),
        key('b', 1, { limits: { rpm: 1 } }),
        key('backup', 1, { tier: 1, limits: { rpm: 1 } }),
      ],
      'round-robin',
    );
    const keys = balancer.peekCandidates(G);
    const seen: string[] = [];
    for (let k = keys.next(T); k; k = keys.next(T)) {
      seen.push(k.providerKeyId);
      assert.equal(keys.probe, 0);
    }
    assert.deepEqual(seen, ['a', 'b', 'backup']);
    assert.deepEqual(
      balancer.describe(G, T).map((k) => k.usage.requestsPerMinute),
      [0, 0, 0],
    );
    // The requests' rotation did not move, and each key still has its one request.
    assert.deepEqual(picks(balancer, 4), ['a', 'b', 'backup', 'none']);
  });

  test("a call's failovers move peek's turn once: the next call starts at the next key", () => {
    const balancer = balancerWith([key('a', 1), key('b', 1), key('c', 1)], 'round-robin');
    assert.deepEqual(ids(balancer, 3), ['a', 'b', 'c']);
    assert.deepEqual(ids(balancer, 3), ['b', 'c', 'a']);
    assert.equal(balancer.peek(G, T)?.providerKeyId, 'c');
  });

  test('a pinned key first, whatever its tier or turn, then the others; not when it cannot be peeked', () => {
    const balancer = balancerWith(
      [key('a', 1, { limits: { rpm: 1 } }), key('b', 1), key('backup', 1, { tier: 1, limits: { rpm: 1 } })],
      'round-robin',
    );
    const pinnedFirst = (pinned: string, now = T) => {
      const keys = balancer.peekCandidates(G, pinned);
      const seen: string[] = [];
      for (let k = keys.next(now); k; k = keys.next(now)) {
        seen.push(k.providerKeyId);
        assert.equal(keys.probe, 0);
      }
      return seen;
    };
    assert.deepEqual(pinnedFirst('backup'), ['backup', 'a', 'b']);
    assert.deepEqual(pinnedFirst('b'), ['b', 'a', 'backup']);
    assert.deepEqual(
      balancer.describe(G, T).map((k) => k.usage.requestsPerMinute),
      [0, 0, 0],
      'nothing handed out, the pinned key neither',
    );
    // Resting, or half-open (its one probe is a request's): the turn's keys as without a pin.
    balancer.reportFailure('backup', { now: T, kind: 'rate_limited', retryAfterMs: 1_000 });
    assert.deepEqual(pinnedFirst('backup').includes('backup'), false);
    for (let i = 0; i < 5; i++) balancer.reportFailure('a', { now: T - 5_000, kind: 'server_error' });
    assert.equal(balancer.describe(G, T)[0]?.state, 'half_open');
    assert.deepEqual(pinnedFirst('a'), ['b']);
    assert.deepEqual(pinnedFirst('unknown'), ['b']);
  });

  test('leaves out half-open and resting keys, and an unknown group has none', () => {
    const balancer = balancerWith([key('a', 5), key('b', 1), key('c', 1)], 'weighted');
    for (let i = 0; i < 5; i++) balancer.reportFailure('a', { now: T - 5_000, kind: 'server_error' });
    balancer.reportFailure('c', { now: T, kind: 'rate_limited', retryAfterMs: 1_000 });
    assert.equal(balancer.describe(G, T)[0]?.state, 'half_open');
    assert.deepEqual(ids(balancer, 2), ['b', 'none']);
    assert.equal(tally(balancer, 10, T).get('a'), 1, "the half-open key's probe is still a request's");
    assert.equal(new Balancer().peekCandidates('nope').next(T), undefined);
  });
});

describe('describe', () => {
  test('per key: effective weight, tier, state, error rate, latency, remaining quota, usage', () => {
    const balancer = balancerWith([key('a', 2), key('b', 1, { tier: 1, limits: { rpm: 100 } })]);
    balancer.reportSuccess('a', {
      now: T,
      latencyMs: 400,
      rateLimits: { limitRequests: 100, remainingRequests: 50, limitTokens: 1_000, remainingTokens: 800 },
    });
    balancer.reportFailure('b', { now: T, kind: 'rate_limited', retryAfterMs: 1_000 });
    const [a, b] = balancer.describe(G, T);
    assert.deepEqual(a, {
      providerKeyId: 'a',
      tier: 0,
      weight: 2,
      effectiveWeight: 1,
      state: 'ok',
      usable: true,
      usableAt: null,
      errorRate: 0,
      latencyEwmaMs: 400,
      consecutiveFailures: 0,
      remaining: { requests: 50, tokens: 800 },
      usage: { requestsPerMinute: 0, tokensPerMinute: 0 },
    });
    assert.equal(b?.state, 'cooling');
    assert.equal(b?.usable, false);
    assert.equal(b?.usableAt, T + 1_000);
    assert.equal(b?.tier, 1);
  });
});

describe('the registry', () => {
  test('its ProviderKeyEntry is a BalancerKey as it is (checked by the compiler)', () => {
    const fits: ProviderKeyEntry extends BalancerKey ? true : false = true;
    assert.equal(fits, true);
    const balancer = new Balancer<ProviderKeyEntry>();
    assert.equal(balancer.pick(G, T), undefined);
  });
});
