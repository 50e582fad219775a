import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type KordonEvent, kordonCatalogue, streams } from '@kordon/events';
import { type RegistryState, registryProjection } from '../registry/registry.js';
import { encryptSecret, MasterKey, MasterKeyRing } from '../secrets/index.js';
import { KeyChoice } from './key-choice.js';
import { type Route, routeModel } from './route-model.js';

const ORG = 'org_1';
const ring = new MasterKeyRing(MasterKey.generate('test'));
let position = 0;

function apply(state: RegistryState, type: string, streamId: string, data: unknown): void {
  const event = kordonCatalogue.create(type as never, streamId, data as never, {
    orgId: ORG,
    actor: { kind: 'config', id: 'test' },
  });
  registryProjection.evolve(state, {
    ...event,
    position: ++position,
    streamVersion: 1,
  } as unknown as KordonEvent);
}

/** One round-robin OpenAI provider serving `gpt-4.1*` and `gpt-4o`, with keys limited as given. */
function registry(keys: Record<string, string[] | null>): RegistryState {
  const state = registryProjection.initialState();
  apply(state, 'ProviderConfigured', streams.provider(ORG, 'openai'), {
    provider: 'openai',
    type: 'openai',
    baseUrl: 'https://api.openai.com/v1',
    models: ['gpt-4.1*', 'gpt-4o'],
    options: { balancer: 'round-robin' },
  });
  for (const [id, models] of Object.entries(keys)) {
    apply(state, 'ProviderKeyAdded', streams.providerKey(ORG, id), {
      providerKeyId: id,
      provider: 'openai',
      name: id,
      secret: encryptSecret(
        `sk-proj-${id}-abcdefghijklmnopqrstuvwxyz`,
        { orgId: ORG, providerKeyId: id },
        ring,
      ),
      last4: 'wxyz',
      weight: 1,
      models,
      baseUrl: null,
    });
  }
  return state;
}

const route = (state: RegistryState, model: string): Route => routeModel(state, ORG, model)[0]!;

function pick(choice: KeyChoice, state: RegistryState, model: string, session?: string): string {
  return choice.candidates(state, route(state, model), session).next(Date.now())!.providerKeyId;
}

/** The keys that serve `times` choices in a row, sorted. */
function serving(choice: KeyChoice, state: RegistryState, model: string, times = 10): string[] {
  const seen = new Set<string>();
  for (let i = 0; i < times; i++) seen.add(pick(choice, state, model));
  return [...seen].sort();
}

describe('KeyChoice: groups of keys limited to some models', () => {
  it('a key limited to some models serves only those; the others serve every model', () => {
    const state = registry({ prk_a: ['gpt-4.1*'], prk_b: null });
    const choice = new KeyChoice();
    assert.deepEqual(serving(choice, state, 'gpt-4.1-mini'), ['prk_a', 'prk_b']);
    assert.deepEqual(serving(choice, state, 'gpt-4o'), ['prk_b']);
  });

  it("model names the caller makes up do not each make a group: the groups are the configuration's", () => {
    const state = registry({ prk_a: ['gpt-4.1*'], prk_b: null, prk_c: ['gpt-4.1-nano'] });
    const choice = new KeyChoice();
    for (let i = 0; i < 20_000; i++) pick(choice, state, `gpt-4.1-made-up-${i}`);
    assert.deepEqual(serving(choice, state, 'gpt-4.1-nano'), ['prk_a', 'prk_b', 'prk_c']);
    assert.deepEqual(serving(choice, state, 'gpt-4o'), ['prk_b']);
    // {a, b} for every made-up name, {a, b, c} for gpt-4.1-nano, {b} for gpt-4o.
    assert.equal(choice.balancer.groupCount, 3);
  });

  it('models served by the same keys share their round-robin turns', () => {
    const state = registry({ prk_a: ['gpt-4.1*'], prk_b: ['gpt-4.1*'], prk_c: null });
    const choice = new KeyChoice();
    const served: string[] = [];
    for (let i = 0; i < 6; i++) served.push(pick(choice, state, i % 2 ? 'gpt-4.1-mini' : 'gpt-4.1'));
    assert.deepEqual(served, ['prk_a', 'prk_b', 'prk_c', 'prk_a', 'prk_b', 'prk_c']);
  });

  it('a pinned session (a stored answer) is kept through a flood of made-up model names', () => {
    const state = registry({ prk_a: ['gpt-4.1*'], prk_b: null, prk_c: null });
    const choice = new KeyChoice();
    const session = 'stored:resp_1';
    const first = pick(choice, state, 'gpt-4.1', session);
    const other = first === 'prk_c' ? 'prk_b' : 'prk_c';
    choice.pin(route(state, 'gpt-4.1'), session, other);
    for (let i = 0; i < 10_000; i++) pick(choice, state, `gpt-4.1-made-up-${i}`);
    assert.equal(pick(choice, state, 'gpt-4.1', session), other);
    // Another model name served by the same keys finds it too.
    assert.equal(pick(choice, state, 'gpt-4.1-mini', session), other);
  });

  it('groups made under the old keys and models lists are dropped when those change', () => {
    const state = registry({ prk_a: ['gpt-4.1*'], prk_b: null });
    const choice = new KeyChoice();
    // A limited key replaced again and again (ids are never reused), and one whose list moves.
    for (let i = 0; i < 50; i++) {
      const id = `prk_x${i}`;
      apply(state, 'ProviderKeyAdded', streams.providerKey(ORG, id), {
        providerKeyId: id,
        provider: 'openai',
        name: id,
        secret: encryptSecret(
          `sk-proj-${id}-abcdefghijklmnopqrstuvwxyz`,
          { orgId: ORG, providerKeyId: id },
          ring,
        ),
        last4: 'wxyz',
        weight: 1,
        models: ['gpt-4.1'],
        baseUrl: null,
      });
      apply(state, 'ProviderKeyModelsChanged', streams.providerKey(ORG, 'prk_a'), {
        providerKeyId: 'prk_a',
        models: [`gpt-4.1-v${i}`],
      });
      assert.deepEqual(serving(choice, state, 'gpt-4.1'), ['prk_b', id]);
      assert.deepEqual(serving(choice, state, `gpt-4.1-v${i}`), ['prk_a', 'prk_b']);
      apply(state, 'ProviderKeyRemoved', streams.providerKey(ORG, id), { providerKeyId: id });
    }
    assert.deepEqual(serving(choice, state, 'gpt-4o'), ['prk_b']);
    assert.deepEqual(serving(choice, state, 'gpt-4.1-v49'), ['prk_a', 'prk_b']);
    // {b} and {a, b}: those of the keys and lists of now.
    assert.equal(choice.balancer.groupCount, 2);
  });
});
