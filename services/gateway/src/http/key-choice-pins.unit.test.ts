import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type KordonEvent, kordonCatalogue, streams } from '@kordon/events';
import { requestCompletedExample } from '@kordon/events/testing';
import { type RegistryState, registryProjection } from '../registry/registry.js';
import { encryptSecret, MasterKey, MasterKeyRing } from '../secrets/index.js';
import { claudeThreadSession, KeyChoice, storedResponseSession } from './key-choice.js';
import { type Route, routeModel } from './route-model.js';

// A session pinned to a key (a stored Responses answer, `previous_response_id`) must keep
// going to that key while it serves the model: "that answer is found only by the key that
// made it (the provider keeps it in that key's project)" (key-choice.ts, storedResponseSession).
// These tests change something about ANOTHER key of the provider and check the pin holds.

const ORG = 'org_1';
const ring = new MasterKeyRing(MasterKey.generate('test'));
let position = 0;

function apply(state: RegistryState, type: string, streamId: string, data: unknown, orgId = ORG): void {
  const event = kordonCatalogue.create(type as never, streamId, data as never, {
    orgId,
    actor: { kind: 'config', id: 'test' },
  });
  registryProjection.evolve(state, {
    ...event,
    position: ++position,
    streamVersion: 1,
  } as unknown as KordonEvent);
}

function addKey(state: RegistryState, id: string, models: string[] | null, orgId = ORG): void {
  apply(
    state,
    'ProviderKeyAdded',
    streams.providerKey(orgId, id),
    {
      providerKeyId: id,
      provider: 'openai',
      name: id,
      secret: encryptSecret(`sk-proj-${id}-abcdefghijklmnopqrstuvwxyz`, { orgId, providerKeyId: id }, ring),
      last4: 'wxyz',
      weight: 1,
      models,
      baseUrl: null,
    },
    orgId,
  );
}

function configure(state: RegistryState, strategy: string, orgId = ORG): void {
  apply(
    state,
    'ProviderConfigured',
    streams.provider(orgId, 'openai'),
    {
      provider: 'openai',
      type: 'openai',
      baseUrl: 'https://api.openai.com/v1',
      models: ['gpt-4.1*', 'gpt-4o'],
      options: { balancer: strategy },
    },
    orgId,
  );
}

function registry(keys: Record<string, string[] | null>, strategy = 'round-robin'): RegistryState {
  const state = registryProjection.initialState();
  configure(state, strategy);
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

// Another replica's answer reaches this one as its request event (RequestCompleted naming the
// stored answer): a follow-up through this replica goes to the key that made it.
describe('pins learnt from the request events of every replica', () => {
  const ORG_2 = 'org_2';
  let eventPosition = 1_000;

  /** A RequestCompleted as another replica writes it: `orgId`'s answer on `key`, `stored`. */
  function completedAt(
    key: string,
    stored: { kind: 'response' | 'thread'; id: string } | null,
    orgId = ORG,
    usage = { inputTokens: 1200, outputTokens: 340, cachedInputTokens: 0 },
  ): KordonEvent {
    const event = kordonCatalogue.create(
      'RequestCompleted',
      streams.usage(orgId),
      { ...requestCompletedExample, providerKeyId: key, usage, storedAnswer: stored },
      { orgId, actor: { kind: 'proxy-key', id: 'key-1' } },
    );
    return kordonCatalogue.decode({ ...event, position: ++eventPosition, streamVersion: 1 }) as KordonEvent;
  }

  /** The key a follow-up of `session` asks first, ten times over (round robin moves on otherwise). */
  const firstKeys = (choice: KeyChoice, state: RegistryState, session: string) =>
    new Set(Array.from({ length: 10 }, () => pick(choice, state, 'gpt-4o', session)));

  it("another replica's stored answer pins its key, with the conversation's tokens from the event's usage", () => {
    const state = registry({ prk_a: null, prk_b: null, prk_c: null });
    const choice = new KeyChoice();
    const session = storedResponseSession(ORG, 'resp_made_elsewhere');
    // Unknown here: the session sticks to the key its hash picks, which need not have it.
    const hashed = firstKeys(choice, state, session);
    assert.equal(hashed.size, 1);
    const holder = ['prk_a', 'prk_b', 'prk_c'].find((key) => !hashed.has(key))!;
    assert.equal(choice.conversationTokens(session), undefined);
    choice.observe(completedAt(holder, { kind: 'response', id: 'resp_made_elsewhere' }), state);
    assert.deepEqual(firstKeys(choice, state, session), new Set([holder]));
    assert.equal(choice.conversationTokens(session), 1540);
    assert.deepEqual(choice.storedKey(session), {
      provider: 'openai',
      providerKeyId: holder,
      conversationTokens: 1540,
    });
  });

  it("a Claude thread's reply pins the thread's session, not a stored response's", () => {
    const state = registry({ prk_a: null, prk_b: null });
    const choice = new KeyChoice();
    choice.observe(completedAt('prk_a', { kind: 'thread', id: 'msg_01XFDUDYJgAACzvnptvVoYEL' }), state);
    assert.equal(
      choice.storedKey(claudeThreadSession(ORG, 'msg_01XFDUDYJgAACzvnptvVoYEL'))?.providerKeyId,
      'prk_a',
    );
    assert.equal(choice.storedKey(storedResponseSession(ORG, 'msg_01XFDUDYJgAACzvnptvVoYEL')), undefined);
  });

  it('an answer that stored nothing pins nothing', () => {
    const state = registry({ prk_a: null });
    const choice = new KeyChoice();
    choice.observe(completedAt('prk_a', null), state);
    assert.deepEqual(choice.snapshotPins(), []);
  });

  it('an answer recorded without usage pins its key, and its conversation stays unknown (held whole)', () => {
    const state = registry({ prk_a: null });
    const choice = new KeyChoice();
    const zero = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };
    choice.observe(completedAt('prk_a', { kind: 'response', id: 'resp_unmetered' }, ORG, zero), state);
    const session = storedResponseSession(ORG, 'resp_unmetered');
    assert.equal(choice.storedKey(session)?.providerKeyId, 'prk_a');
    assert.equal(choice.conversationTokens(session), undefined);
  });

  it("an org never reaches another org's pin, nor is a key pinned under an org that is not its own", () => {
    const state = registry({ prk_a: null, prk_b: null });
    configure(state, 'round-robin', ORG_2);
    addKey(state, 'prk_g1', null, ORG_2);
    addKey(state, 'prk_g2', null, ORG_2);
    const choice = new KeyChoice();
    // Org 2's answer resp_same (ids are not secret: org 1's caller may name it).
    choice.observe(completedAt('prk_g2', { kind: 'response', id: 'resp_same' }, ORG_2), state);
    assert.equal(choice.storedKey(storedResponseSession(ORG, 'resp_same')), undefined);
    assert.equal(choice.conversationTokens(storedResponseSession(ORG, 'resp_same')), undefined);
    for (const key of firstKeys(choice, state, storedResponseSession(ORG, 'resp_same')))
      assert.ok(key === 'prk_a' || key === 'prk_b', `org 1's follow-up goes to its own keys, not ${key}`);
    assert.equal(choice.storedKey(storedResponseSession(ORG_2, 'resp_same'))?.providerKeyId, 'prk_g2');
    // An event of org 1 naming org 2's key (no gateway writes one): not pinned at all.
    choice.observe(completedAt('prk_g1', { kind: 'response', id: 'resp_crossed' }, ORG), state);
    assert.equal(choice.storedKey(storedResponseSession(ORG, 'resp_crossed')), undefined);
    assert.equal(choice.storedKey(storedResponseSession(ORG_2, 'resp_crossed')), undefined);
    // A key no longer in the registry (removed since): nothing to send a follow-up to.
    choice.observe(completedAt('prk_gone', { kind: 'response', id: 'resp_gone' }), state);
    assert.equal(choice.storedKey(storedResponseSession(ORG, 'resp_gone')), undefined);
  });

  it('a session this replica pinned itself keeps its pin: an event neither moves it nor renews it', () => {
    const state = registry({ prk_a: null, prk_b: null });
    const choice = new KeyChoice();
    const r = route(state, 'gpt-4o');
    const session = storedResponseSession(ORG, 'resp_local');
    choice.pin(r, session, 'prk_a', 10);
    choice.observe(completedAt('prk_b', { kind: 'response', id: 'resp_local' }), state);
    assert.deepEqual(choice.storedKey(session), {
      provider: 'openai',
      providerKeyId: 'prk_a',
      conversationTokens: 10,
    });
    // Not renewed: as many newer pins as are remembered push it out.
    for (let i = 1; i < MAX_PINNED; i++) choice.pin(r, storedResponseSession(ORG, `resp_${i}`), 'prk_b');
    choice.observe(completedAt('prk_a', { kind: 'response', id: 'resp_local' }), state);
    choice.pin(r, storedResponseSession(ORG, 'resp_newest'), 'prk_b');
    assert.equal(choice.storedKey(session), undefined, 'forgotten, oldest first');
  });

  it('pins learnt from events are bounded as local ones are, the oldest forgotten first', () => {
    const state = registry({ prk_a: null });
    const choice = new KeyChoice();
    const usage = { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0 };
    for (let i = 0; i <= MAX_PINNED; i++)
      choice.observePin(
        ORG,
        {
          provider: 'openai',
          providerKeyId: 'prk_a',
          usage,
          storedAnswer: { kind: 'response', id: `resp_${i}` },
        },
        state,
      );
    assert.equal(choice.snapshotPins().length, MAX_PINNED);
    assert.equal(choice.storedKey(storedResponseSession(ORG, 'resp_0')), undefined);
    assert.equal(choice.storedKey(storedResponseSession(ORG, 'resp_1'))?.providerKeyId, 'prk_a');
  });

  it('the pins go into the counters snapshot and come back from it, in their order', () => {
    const state = registry({ prk_a: null, prk_b: null });
    const choice = new KeyChoice();
    choice.pin(route(state, 'gpt-4o'), storedResponseSession(ORG, 'resp_1'), 'prk_a', 77);
    choice.observe(completedAt('prk_b', { kind: 'thread', id: 'msg_2' }), state);
    choice.pin(route(state, 'gpt-4o'), storedResponseSession(ORG, 'resp_3'), 'prk_b');
    const saved = JSON.parse(JSON.stringify(choice.snapshotPins()));
    const restarted = new KeyChoice();
    restarted.restorePins(saved);
    assert.deepEqual(restarted.snapshotPins(), choice.snapshotPins());
    assert.equal(restarted.conversationTokens(storedResponseSession(ORG, 'resp_1')), 77);
    assert.equal(restarted.conversationTokens(claudeThreadSession(ORG, 'msg_2')), 1540);
    assert.equal(restarted.conversationTokens(storedResponseSession(ORG, 'resp_3')), undefined);
    assert.deepEqual(firstKeys(restarted, state, storedResponseSession(ORG, 'resp_1')), new Set(['prk_a']));
  });
});

/** KeyChoice's MAX_PINNED_SESSIONS. */
const MAX_PINNED = 65_536;
