import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type KordonEvent, kordonCatalogue, streams } from '@kordon/events';
import { type RegistryState, registryProjection } from '../registry/registry.js';
import { encryptSecret, MasterKey, MasterKeyRing } from '../secrets/index.js';
import { KeyChoice } from './key-choice.js';
import { type Route, routeModel } from './route-model.js';

// A session pinned to a key (a stored Responses answer, `previous_response_id`) must keep
// going to that key while it serves the model: "that answer is found only by the key that
// made it (the provider keeps it in that key's project)" (key-choice.ts, storedResponseSession).
// These tests change something about ANOTHER key of the provider and check the pin holds.

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

function addKey(state: RegistryState, id: string, models: string[] | null): void {
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

function registry(keys: Record<string, string[] | null>, strategy = 'round-robin'): RegistryState {
  const state = registryProjection.initialState();
  apply(state, 'ProviderConfigured', streams.provider(ORG, 'openai'), {
    provider: 'openai',
    type: 'openai',
    baseUrl: 'https://api.openai.com/v1',
    models: ['gpt-4.1*', 'gpt-4o'],
    options: { balancer: strategy },
  });
  for (const [id, models] of Object.entries(keys)) addKey(state, id, models);
  return state;
}

const route = (state: RegistryState, model: string): Route => routeModel(state, ORG, model)[0]!;
const pick = (choice: KeyChoice, state: RegistryState, model: string, session?: string): string =>
  choice.candidates(state, route(state, model), session).next(Date.now())!.providerKeyId;

/** Pins 12 stored answers of `model`, spread over `keys`; returns session -> pinned key. */
function pinAll(choice: KeyChoice, state: RegistryState, model: string, keys: string[]): Map<string, string> {
  const pins = new Map<string, string>();
  for (let i = 0; i < 12; i++) {
    const session = `stored:resp_${i}`;
    pick(choice, state, model, session);
    const key = keys[i % keys.length]!;
    choice.pin(route(state, model), session, key);
    pins.set(session, key);
  }
  return pins;
}

function moved(choice: KeyChoice, state: RegistryState, model: string, pins: Map<string, string>): string[] {
  const lost: string[] = [];
  for (const [session, key] of pins) {
    const now = pick(choice, state, model, session);
    if (now !== key) lost.push(`${session}: pinned ${key}, went to ${now}`);
  }
  return lost;
}

describe('a pinned session (stored answer) survives changes to OTHER keys of the provider', () => {
  it('baseline: another key added that serves every model keeps the pins', () => {
    const state = registry({ prk_a: null, prk_b: null });
    const choice = new KeyChoice();
    const pins = pinAll(choice, state, 'gpt-4.1', ['prk_a', 'prk_b']);
    addKey(state, 'prk_c', null);
    assert.deepEqual(moved(choice, state, 'gpt-4.1', pins), []);
  });

  it('a new key limited to the same models (gpt-4.1*) is added: the pins to prk_a/prk_b hold', () => {
    const state = registry({ prk_a: null, prk_b: null });
    const choice = new KeyChoice();
    const pins = pinAll(choice, state, 'gpt-4.1', ['prk_a', 'prk_b']);
    addKey(state, 'prk_c', ['gpt-4.1*']);
    assert.deepEqual(moved(choice, state, 'gpt-4.1', pins), []);
  });

  it("an unrelated key's models list changes (gpt-4o only key widened): gpt-4.1 pins hold", () => {
    const state = registry({ prk_a: ['gpt-4.1*'], prk_b: null, prk_o: ['gpt-4o'] });
    const choice = new KeyChoice();
    const pins = pinAll(choice, state, 'gpt-4.1', ['prk_a', 'prk_b']);
    pick(choice, state, 'gpt-4o');
    apply(state, 'ProviderKeyModelsChanged', streams.providerKey(ORG, 'prk_o'), {
      providerKeyId: 'prk_o',
      models: ['gpt-4o', 'gpt-4o-mini'],
    });
    // The next request of the provider happens to be for gpt-4o, then the follow-ups come.
    pick(choice, state, 'gpt-4o');
    assert.deepEqual(moved(choice, state, 'gpt-4.1', pins), []);
  });

  it('a follow-up asking for another model the pinned key also serves goes to that key', () => {
    // prk_a is limited to gpt-4.1*; prk_b and prk_c serve every model. A Responses follow-up
    // may name another model (previous_response_id + model: gpt-4o): only the key that
    // stored the answer has it, and it serves gpt-4o too.
    const state = registry({ prk_a: ['gpt-4.1*'], prk_b: null, prk_c: null });
    const choice = new KeyChoice();
    const pins = pinAll(choice, state, 'gpt-4.1', ['prk_b', 'prk_c']);
    assert.deepEqual(moved(choice, state, 'gpt-4o', pins), []);
  });
});
