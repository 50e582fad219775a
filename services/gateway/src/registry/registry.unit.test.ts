import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type KordonEvent, type KordonEventData, kordonCatalogue, streams } from '@kordon/events';
import { encryptSecret, MasterKey, MasterKeyRing } from '../secrets/index.js';
import { fallbackOrder, providersOf, type RegistryState, registryProjection } from './registry.js';

const ORG = 'org_acme';
const meta = { orgId: ORG, actor: { kind: 'user' as const, id: 'usr_admin' }, time: new Date() };

/** The registry after these events, as a replay builds it. */
function replay(events: [string, object][]): RegistryState {
  let state = registryProjection.initialState();
  events.forEach(([type, data], i) => {
    const stream = type === 'ProvidersOrdered' ? streams.org(ORG) : streams.provider(ORG, 'x');
    const event = kordonCatalogue.create(type as never, stream, data as never, meta);
    state = registryProjection.evolve(state, {
      ...event,
      streamVersion: 1,
      position: i + 1,
    } as unknown as KordonEvent);
  });
  return state;
}

const configured = (provider: string): [string, KordonEventData<'ProviderConfigured'>] => [
  'ProviderConfigured',
  { provider, type: 'openai', baseUrl: `https://${provider}.example/v1`, models: ['m'], options: {} },
];
const names = (state: RegistryState) => providersOf(state, ORG).map((p) => p.name);

describe('registry: the fallback order of providers', () => {
  it('is the first-configured order until ProvidersOrdered names one; unnamed providers follow', () => {
    assert.deepEqual(names(replay([configured('a'), configured('b'), configured('c')])), ['a', 'b', 'c']);
    const ordered = replay([
      configured('a'),
      configured('b'),
      configured('c'),
      ['ProvidersOrdered', { providers: ['c', 'a'] }],
    ]);
    assert.deepEqual(names(ordered), ['c', 'a', 'b']);
  });

  it('places a provider configured after the order at the place the order names, and keeps it there when changed', () => {
    const state = replay([
      configured('a'),
      ['ProvidersOrdered', { providers: ['b', 'a'] }],
      configured('c'),
      configured('b'),
      configured('a'), // changed in place: its place stays
    ]);
    assert.deepEqual(names(state), ['b', 'a', 'c']);
  });

  it('fallbackOrder sorts stably: names the order lacks keep their relative order', () => {
    assert.deepEqual(fallbackOrder(['x', 'a', 'y', 'b'], ['b', 'a']), ['b', 'a', 'x', 'y']);
    assert.deepEqual(fallbackOrder(['x', 'a'], undefined), ['x', 'a']);
  });
});

describe('registry: a provider key resting', () => {
  const ring = new MasterKeyRing(MasterKey.generate());
  const added: [string, object] = [
    'ProviderKeyAdded',
    {
      providerKeyId: 'prk_a',
      provider: 'x',
      name: 'a',
      secret: encryptSecret('sk-test-0123456789', { orgId: ORG, providerKeyId: 'prk_a' }, ring),
      last4: '6789',
      weight: 1,
      models: null,
      baseUrl: null,
    },
  ];
  const cooled = (until: number): [string, object] => [
    'ProviderKeyCooledDown',
    {
      providerKeyId: 'prk_a',
      until: new Date(until).toISOString(),
      reason: 'rate_limited',
      retryAfterMs: null,
      upstreamStatus: 429,
    },
  ];
  const T = 1_700_000_000_000;

  it("keeps the longer of two replicas' rests, whichever event came last", () => {
    // Replica A rests the key 60 s; replica B, before it learnt of that, got a 429 without
    // Retry-After (1 s) and its event landed second.
    const state = replay([added, cooled(T + 60_000), cooled(T + 1_000)]);
    assert.equal(state.providerKeys.get('prk_a')?.cooledDownUntil, T + 60_000);
  });

  it('counts a replaced secret (and lifts its rest), not a re-wrapped one', () => {
    const rotated = (kind: 'replaced' | 'rewrapped'): [string, object] => [
      'ProviderKeyRotated',
      {
        providerKeyId: 'prk_a',
        kind,
        secret: encryptSecret('sk-test-new-0123456789', { orgId: ORG, providerKeyId: 'prk_a' }, ring),
        last4: '6789',
      },
    ];
    const rewrapped = replay([added, cooled(T + 60_000), rotated('rewrapped')]).providerKeys.get('prk_a');
    assert.equal(rewrapped?.secretCount, 0);
    assert.equal(rewrapped?.cooledDownUntil, T + 60_000);
    const replaced = replay([added, cooled(T + 60_000), rotated('replaced')]).providerKeys.get('prk_a');
    assert.equal(replaced?.secretCount, 1);
    assert.equal(replaced?.cooledDownUntil, 0);
  });

  it('remembers why a key is disabled until it is enabled', () => {
    const disabled: [string, object] = [
      'ProviderKeyDisabled',
      { providerKeyId: 'prk_a', reason: 'invalid_credentials', upstreamStatus: 401, note: null },
    ];
    assert.equal(replay([added, disabled]).providerKeys.get('prk_a')?.disabledFor, 'invalid_credentials');
    const enabled: [string, object] = ['ProviderKeyEnabled', { providerKeyId: 'prk_a' }];
    assert.equal(replay([added, disabled, enabled]).providerKeys.get('prk_a')?.disabledFor, null);
  });

  it('lifts a rest when an admin enables the key', () => {
    const state = replay([added, cooled(T + 60_000), ['ProviderKeyEnabled', { providerKeyId: 'prk_a' }]]);
    assert.equal(state.providerKeys.get('prk_a')?.cooledDownUntil, 0);
  });
});

describe('registry: since when a scope has had its budgets', () => {
  const policyAt = (limits: object, at: number) => ({
    ...kordonCatalogue.create(
      'PolicySet',
      streams.policy(ORG, 'proxy-key', 'pxk_1'),
      { scope: 'proxy-key', scopeId: 'pxk_1', limits, renewal: {} } as KordonEventData<'PolicySet'>,
      { ...meta, time: new Date(at) },
    ),
    streamVersion: 1,
    position: 1,
  });
  const entryAfter = (policies: [object, number][]) => {
    const state = registryProjection.initialState();
    for (const [limits, at] of policies)
      registryProjection.evolve(state, policyAt(limits, at) as unknown as KordonEvent);
    return state.policies.get(`${ORG}/proxy-key/pxk_1`);
  };
  const usd = (amount: string) => ({ budget: { usd: amount, period: '1mo' } });
  const tokens = (kind: string) => ({ tokens: { kind, count: 1000, period: '1mo' } });

  it('keeps the time a budget was set through raises and other limits changing', () => {
    const entry = entryAfter([
      [{ ...usd('10'), ...tokens('total') }, 1000],
      [{ ...usd('20'), ...tokens('total'), rpm: 5 }, 2000],
      [{ budget: { usd: '20', period: '1d' }, tokens: { kind: 'total', count: 5, period: '1d' } }, 3000],
    ]);
    assert.equal(entry?.setAt, 3000);
    assert.equal(entry?.budgetSince, 1000);
    assert.equal(entry?.tokensSince, 1000);
  });

  it('starts it again when the budget was removed in between, or the token budget counts another kind', () => {
    const removed = entryAfter([
      [{ ...usd('10'), ...tokens('total') }, 1000],
      [{ rpm: 5 }, 2000],
      [{ ...usd('10'), ...tokens('total') }, 3000],
    ]);
    assert.equal(removed?.budgetSince, 3000);
    assert.equal(removed?.tokensSince, 3000);
    const emptied = entryAfter([
      [usd('10'), 1000],
      [{}, 2000],
      [usd('10'), 3000],
    ]);
    assert.equal(emptied?.budgetSince, 3000);
    const otherKind = entryAfter([
      [{ ...usd('10'), ...tokens('total') }, 1000],
      [{ ...usd('10'), ...tokens('input') }, 2000],
    ]);
    assert.equal(otherKind?.budgetSince, 1000);
    assert.equal(otherKind?.tokensSince, 2000);
    assert.equal(entryAfter([[{ rpm: 5 }, 1000]])?.budgetSince, undefined);
  });
});
