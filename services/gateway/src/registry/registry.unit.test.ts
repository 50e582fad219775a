import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type KordonEvent, type KordonEventData, kordonCatalogue, streams } from '@kordon/events';
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
