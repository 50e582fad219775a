import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KordonEventData, NewEvent } from '@kordon/events';
import { type PolicyEntry, type RegistryState, registryProjection } from '../registry/registry.js';
import { type AdmissionEstimate, type AdmissionSubject, LimitsEnforcer, type Ticket } from './admission.js';
import { parseUsd } from './amount.js';
import { parseIp } from './ip-address.js';

/*
 * Every hold admission takes (a concurrency slot, the rpm count, budget reservations, the tpm
 * estimate, a distinct address) is given back whatever fails on the way: a LimitReset the
 * appender cannot take (its buffer is full: `SpoolFullError`; closed at shutdown) throws out of
 * `emit`, at admission or at settle, both of which renew a budget whose period passed.
 */

const ORG = 'org_1';
type Limits = KordonEventData<'PolicySet'>['limits'];
const T0 = Date.parse('2026-11-30T10:00:00Z');
const DAY = 86_400_000;

function registryWith(limits: Limits): RegistryState {
  const state = registryProjection.initialState();
  const entry: PolicyEntry = {
    orgId: ORG,
    scope: 'proxy-key',
    scopeId: 'pxk_1',
    limits,
    renewal: {},
    managedBy: 'config',
  };
  state.policies.set(`${ORG}/proxy-key/pxk_1`, entry);
  return state;
}

let sequence = 0;
function subject(address = '10.1.2.3'): AdmissionSubject {
  sequence++;
  return {
    orgId: ORG,
    proxyKeyId: 'pxk_1',
    userId: 'usr_1',
    teamId: null,
    requestId: `00000000-0000-7000-8000-${String(sequence).padStart(12, '0')}`,
    clientAddress: parseIp(address),
    model: 'gpt-4o-mini',
  };
}

/** $0.60 and 600 tokens: one such request fits the limits below, two do not. */
const estimate = (): AdmissionEstimate => ({
  bound: false,
  usd: parseUsd('0.6'),
  inputTokens: 300,
  outputTokens: 300,
});

/** One request at a time, one a minute, $1 and 1000 tokens a day, 1000 tokens a minute, one address. */
const TIGHT: Limits = {
  concurrency: 1,
  rpm: 1,
  tpm: 1000,
  budget: { usd: '1', period: '1d' },
  tokens: { kind: 'total', count: 1000, period: '1d' },
  maxDistinctIps: { count: 1, period: '1d' },
};

class AppenderFull extends Error {}

function enforcer(limits: Limits) {
  const state = { failing: false, emitted: [] as NewEvent[] };
  const enforcer = new LimitsEnforcer({
    registry: () => registryWith(limits),
    emit: (event) => {
      // A budget's reset (the distinct-address cap renews before anything is held).
      const limit = event.type === 'LimitReset' ? (event.data as { limit: string }).limit : '';
      if (state.failing && limit.startsWith('budget_'))
        throw new AppenderFull('the appender holds too many events');
      state.emitted.push(event);
    },
  });
  return { limits: enforcer, state };
}

function admitted(admission: ReturnType<LimitsEnforcer['admit']>): Ticket {
  assert.ok(admission.ok, `admitted, not refused: ${admission.ok ? '' : admission.message}`);
  return admission;
}

describe('admission gives back its holds when a LimitReset cannot be written', () => {
  for (const [held, limits] of [
    ['its concurrency slot', { ...TIGHT, rpm: 10 }],
    ['its rpm count', { ...TIGHT, concurrency: 10 }],
  ] as const) {
    it(`at admission: ${held} is not kept by the request that failed`, () => {
      const { limits: admission, state } = enforcer(limits);
      // The first admission of the day renews the budgets: a LimitReset each, which fails.
      state.failing = true;
      assert.throws(() => admission.admit(subject(), estimate, T0), AppenderFull);
      state.failing = false;
      // The same key right after: its one slot and its one request a minute are free.
      const ticket = admitted(admission.admit(subject(), estimate, T0 + 1));
      admission.settle(ticket, { usd: '0.01', inputTokens: 5, outputTokens: 5 }, T0 + 2);
    });
  }

  it('at settle: the reservations, the tpm estimate and the slot are given back all the same', () => {
    const { limits, state } = enforcer({ ...TIGHT, rpm: 10 });
    const ticket = admitted(limits.admit(subject(), estimate, T0));
    assert.equal(limits.usdView('proxy-key', 'pxk_1').reserved, parseUsd('0.6'));
    // It ends in the next day: settle renews the budgets first, and that LimitReset fails.
    const end = T0 + DAY;
    state.failing = true;
    assert.throws(
      () => limits.settle(ticket, { usd: '0.01', inputTokens: 5, outputTokens: 5 }, end),
      AppenderFull,
    );
    state.failing = false;
    assert.equal(limits.usdView('proxy-key', 'pxk_1').reserved, 0n, 'no USD still held for it');
    // The next request needs more than half of every limit: nothing of the first is still held.
    const next = admitted(limits.admit(subject(), estimate, end + 1));
    limits.settle(next, { usd: '0.01', inputTokens: 5, outputTokens: 5 }, end + 2);
  });
});
