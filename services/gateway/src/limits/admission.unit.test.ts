import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type KordonEvent,
  type KordonEventData,
  kordonCatalogue,
  limitResetEventId,
  type NewEvent,
  streams,
} from '@kordon/events';
import { type PolicyEntry, type RegistryState, registryProjection } from '../registry/registry.js';
import { type AdmissionEstimate, type AdmissionSubject, LimitsEnforcer, type Ticket } from './admission.js';
import { parseUsd } from './amount.js';
import { parseIp } from './ip-address.js';

const ORG = 'org_1';
type Limits = KordonEventData<'PolicySet'>['limits'];

function registryWith(
  policies: Array<{
    scope: PolicyEntry['scope'];
    scopeId: string;
    limits: Limits;
    renewal?: PolicyEntry['renewal'];
  }>,
): RegistryState {
  const state = registryProjection.initialState();
  for (const p of policies) {
    state.policies.set(`${ORG}/${p.scope}/${p.scopeId}`, {
      orgId: ORG,
      scope: p.scope,
      scopeId: p.scopeId,
      limits: p.limits,
      renewal: p.renewal ?? {},
      managedBy: 'config',
    });
  }
  return state;
}

let sequence = 0;
function subject(overrides: Partial<AdmissionSubject> = {}): AdmissionSubject {
  sequence++;
  return {
    orgId: ORG,
    proxyKeyId: 'pxk_1',
    userId: 'usr_1',
    teamId: 'tm_1',
    requestId: `00000000-0000-7000-8000-${String(sequence).padStart(12, '0')}`,
    clientAddress: parseIp('10.1.2.3'),
    model: 'gpt-4o-mini',
    ...overrides,
  };
}

const estimate =
  (usd: string, inputTokens = 100, outputTokens = 100): (() => AdmissionEstimate) =>
  () => ({ bound: false, usd: parseUsd(usd), inputTokens, outputTokens });

function enforcer(state: RegistryState) {
  const emitted: NewEvent[] = [];
  const limits = new LimitsEnforcer({ registry: () => state, emit: (e) => emitted.push(e) });
  return { limits, emitted };
}

const T0 = Date.parse('2026-11-30T10:00:00Z');

/** A stored RequestCompleted of pxk_1 (user usr_1, team tm_1), as the log delivers it. */
function completed(requestId: string, cost: string, at: number, position = 1): KordonEvent {
  const event = kordonCatalogue.create(
    'RequestCompleted',
    streams.usage(ORG),
    {
      requestId,
      proxyKeyId: 'pxk_1',
      userId: 'usr_1',
      teamId: 'tm_1',
      provider: 'openai',
      providerKeyId: 'prk_1',
      model: 'gpt-4o-mini',
      endpoint: 'chat.completions',
      stream: false,
      usage: { inputTokens: 10, outputTokens: 10, cachedInputTokens: 0 },
      cost,
      currency: 'USD',
      latencyMs: 10,
      timeToFirstTokenMs: null,
      status: 200,
      clientIp: '10.1.2.3',
      attempts: 1,
      redactedPrompt: null,
      redactedResponse: null,
    },
    { orgId: ORG, actor: { kind: 'proxy-key', id: 'pxk_1' }, time: new Date(at) },
  );
  return { ...event, position, streamVersion: position } as unknown as KordonEvent;
}

const KEY_TEAM_AND_ORG_BUDGETS = [
  { scope: 'proxy-key' as const, scopeId: 'pxk_1', limits: { budget: { usd: '10', period: '1mo' } } },
  { scope: 'team' as const, scopeId: 'tm_1', limits: { budget: { usd: '10', period: '1mo' } } },
  { scope: 'org' as const, scopeId: ORG, limits: { budget: { usd: '1', period: '1mo' } } },
];

/** The registry as the log builds it: each PolicySet at its time (`setAt`), removals too. */
function policiesFromLog() {
  const state = registryProjection.initialState();
  let position = 0;
  const set = (
    scope: PolicyEntry['scope'],
    scopeId: string,
    limits: Limits,
    at: number,
    renewal: PolicyEntry['renewal'] = {},
  ) => {
    position++;
    const event = kordonCatalogue.create(
      'PolicySet',
      streams.policy(ORG, scope, scopeId),
      { scope, scopeId, limits, renewal },
      { orgId: ORG, actor: { kind: 'user', id: 'usr_admin' }, time: new Date(at) },
    );
    registryProjection.evolve(state, {
      ...event,
      streamVersion: position,
      position,
    } as unknown as KordonEvent);
  };
  return { state, set };
}

describe('LimitsEnforcer', () => {
  it('admits everything when no scope has a policy, without estimating', () => {
    const { limits } = enforcer(registryWith([]));
    const result = limits.admit(subject(), () => assert.fail('no estimate needed'), T0);
    assert.equal(result.ok, true);
  });

  it('refuses the request past the rpm of the tightest scope, with rate-limit headers', () => {
    const { limits } = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { rpm: 3 } },
        { scope: 'org', scopeId: ORG, limits: { rpm: 100 } },
      ]),
    );
    for (let i = 0; i < 3; i++) assert.equal(limits.admit(subject(), estimate('0'), T0 + i).ok, true);
    const refused = limits.admit(subject(), estimate('0'), T0 + 10);
    assert.equal(refused.ok, false);
    if (refused.ok) return;
    assert.equal(refused.reason, 'rate_limit_rpm');
    assert.deepEqual(refused.limitScope, { scope: 'proxy-key', scopeId: 'pxk_1' });
    assert.equal(refused.status, 429);
    assert.equal(refused.rates.requests?.limit, 3);
    assert.equal(refused.rates.requests?.remaining, 0);
    assert.ok((refused.retryAfterSeconds ?? 0) >= 1);
  });

  it('holds a USD budget exactly: reservations on estimates, settled to the real cost', () => {
    const { limits } = enforcer(
      registryWith([{ scope: 'user', scopeId: 'usr_1', limits: { budget: { usd: '1', period: '1mo' } } }]),
    );
    const tickets: Ticket[] = [];
    for (let i = 0; i < 25; i++) {
      const result = limits.admit(subject(), estimate('0.05'), T0);
      if (result.ok) tickets.push(result);
    }
    assert.equal(tickets.length, 20, '20 reservations of $0.05 fit in $1');
    // Each request really cost $0.01: the difference is free again.
    for (const ticket of tickets)
      limits.settle(ticket, { usd: '0.01', inputTokens: 10, outputTokens: 10 }, T0);
    assert.equal(limits.usdView('user', 'usr_1').usedUsd, '0.2');
    let admitted = 0;
    for (let i = 0; i < 20; i++) if (limits.admit(subject(), estimate('0.05'), T0).ok) admitted++;
    assert.equal(admitted, 16, '$0.80 left holds 16 more reservations');
  });

  it('refuses the budget with insufficient-quota semantics and the time to the period end', () => {
    const { limits } = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { budget: { usd: '0.01', period: '1d' } } },
      ]),
    );
    const first = limits.admit(subject(), estimate('0.01'), T0);
    assert.ok(first.ok);
    limits.settle(first, { usd: '0.01', inputTokens: 1, outputTokens: 1 }, T0);
    const refused = limits.admit(subject(), estimate('0.001'), T0 + 1000);
    assert.ok(!refused.ok);
    assert.equal(refused.reason, 'budget_usd');
    assert.equal(refused.quota, true);
    // 10:00 UTC: the day ends in 14 hours.
    assert.equal(refused.retryAfterSeconds, 14 * 3600 - 1);
  });

  it('a budget refusal tells the rpm and tpm as they are, the refused request counted in neither', () => {
    const { limits } = enforcer(
      registryWith([
        {
          scope: 'proxy-key',
          scopeId: 'pxk_1',
          limits: { rpm: 5, tpm: 10_000, budget: { usd: '0.01', period: '1d' } },
        },
      ]),
    );
    const first = limits.admit(subject(), estimate('0.01'), T0);
    assert.ok(first.ok);
    assert.equal(first.rates.requests?.remaining, 4);
    limits.settle(first, { usd: '0.01', inputTokens: 100, outputTokens: 100 }, T0);
    for (const at of [T0 + 1000, T0 + 2000]) {
      const refused = limits.admit(subject(), estimate('0.001'), at);
      assert.ok(!refused.ok && refused.reason === 'budget_usd' && refused.quota);
      assert.deepEqual(
        { limit: refused.rates.requests?.limit, remaining: refused.rates.requests?.remaining },
        { limit: 5, remaining: 4 },
      );
      assert.deepEqual(
        { limit: refused.rates.tokens?.limit, remaining: refused.rates.tokens?.remaining },
        { limit: 10_000, remaining: 9800 },
      );
      assert.ok((refused.rates.requests?.resetMs ?? 0) > 0);
      assert.equal(refused.retryAfterSeconds, 14 * 3600 - (at - T0) / 1000, 'the budget`s, as before');
    }
  });

  it('a spent lifetime budget, which never renews, does not tell the caller to retry in an hour', () => {
    const { limits } = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { budget: { usd: '0.01', period: 'lifetime' } } },
      ]),
    );
    const first = limits.admit(subject(), estimate('0.01'), T0);
    assert.ok(first.ok);
    limits.settle(first, { usd: '0.01', inputTokens: 1, outputTokens: 1 }, T0);
    const refused = limits.admit(subject(), estimate('0.001'), T0 + 1000);
    assert.ok(!refused.ok);
    assert.equal(refused.reason, 'budget_usd');
    assert.equal(refused.quota, true, 'x-should-retry: false');
    assert.equal(refused.retryAfterSeconds, undefined, 'Retry-After promises a renewal that never comes');
    assert.match(refused.message, /lifetime budget, which does not renew/);
  });

  it('with several budgets spent, Retry-After waits for the last of them to renew (USD and tokens alike)', () => {
    const tenth = Date.parse('2026-11-10T10:00:00Z');
    const dayEnd = Date.parse('2026-11-11T00:00:00Z');
    const monthEnd = Date.parse('2026-12-01T00:00:00Z');
    const spentBoth = (
      key: Limits,
      org: Limits,
      usage: { usd: string; inputTokens: number; outputTokens: number },
    ) => {
      const { limits } = enforcer(
        registryWith([
          { scope: 'proxy-key', scopeId: 'pxk_1', limits: key },
          { scope: 'org', scopeId: ORG, limits: org },
        ]),
      );
      const first = limits.admit(subject(), estimate('0.01', 50, 50), tenth);
      assert.ok(first.ok);
      limits.settle(first, usage, tenth);
      const refused = limits.admit(subject(), estimate('0.001', 1, 1), tenth + 1000);
      assert.ok(!refused.ok);
      assert.equal(refused.quota, true);
      return { limits, refused };
    };
    const spend = { usd: '0.01', inputTokens: 50, outputTokens: 50 };
    // The key's day renews at midnight, the org's month on 1 December: refused until then.
    const usd = spentBoth(
      { budget: { usd: '0.01', period: '1d' } },
      { budget: { usd: '0.01', period: '1mo' } },
      spend,
    );
    assert.equal(usd.refused.reason, 'budget_usd');
    assert.equal(usd.refused.retryAfterSeconds, (monthEnd - tenth) / 1000 - 1);
    assert.match(usd.refused.message, /the USD budget of this org cannot hold this request either/);
    // And so it is at midnight, when only the key's day has renewed.
    const atMidnight = usd.limits.admit(subject(), estimate('0.001', 1, 1), dayEnd);
    assert.ok(!atMidnight.ok && atMidnight.reason === 'budget_usd');
    assert.deepEqual(atMidnight.limitScope, { scope: 'org', scopeId: ORG });
    // A spent USD budget of a day beside a spent token budget of a month.
    const mixed = spentBoth(
      { budget: { usd: '0.01', period: '1d' } },
      { tokens: { kind: 'total', count: 100, period: '1mo' } },
      spend,
    );
    assert.equal(mixed.refused.reason, 'budget_usd');
    assert.equal(mixed.refused.retryAfterSeconds, (monthEnd - tenth) / 1000 - 1);
    assert.match(mixed.refused.message, /the total token budget of this org cannot hold this request either/);
    // Two token budgets.
    const tokens = spentBoth(
      { tokens: { kind: 'total', count: 100, period: '1d' } },
      { tokens: { kind: 'input', count: 50, period: '1mo' } },
      spend,
    );
    assert.equal(tokens.refused.reason, 'budget_tokens');
    assert.equal(tokens.refused.retryAfterSeconds, (monthEnd - tenth) / 1000 - 1);
    // A spent lifetime budget among them: no wait brings the request back.
    const lifetime = spentBoth(
      { budget: { usd: '0.01', period: '1d' } },
      { tokens: { kind: 'total', count: 100, period: 'lifetime' } },
      spend,
    );
    assert.equal(lifetime.refused.retryAfterSeconds, undefined);
    assert.match(lifetime.refused.message, /a lifetime budget, which does not renew/);
    // A budget refused only for requests in flight does not hold the retry back to its end.
    const { limits } = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { budget: { usd: '0.01', period: '1d' } } },
        { scope: 'org', scopeId: ORG, limits: { budget: { usd: '1', period: '1mo' } } },
      ]),
    );
    const spent = limits.admit(subject(), estimate('0.01'), tenth);
    assert.ok(spent.ok);
    limits.settle(spent, { usd: '0.01', inputTokens: 1, outputTokens: 1 }, tenth);
    const other = limits.admit(subject({ proxyKeyId: 'pxk_2' }), estimate('0.9895'), tenth + 1);
    assert.ok(other.ok, 'the org holds $0.9895 for a request of another key: $0.0005 left');
    const refused = limits.admit(subject(), estimate('0.001'), tenth + 1000);
    assert.ok(!refused.ok && refused.reason === 'budget_usd');
    assert.equal(refused.retryAfterSeconds, (dayEnd - tenth) / 1000 - 1);
  });

  it('a request whose estimate alone is more than is left says so, not that the budget is spent', () => {
    const { limits } = enforcer(
      registryWith([
        {
          scope: 'proxy-key',
          scopeId: 'pxk_1',
          limits: {
            budget: { usd: '5', period: '1d' },
            tokens: { kind: 'total', count: 10_000, period: '1d' },
          },
        },
      ]),
    );
    const held = limits.admit(subject(), estimate('1', 100, 100), T0);
    assert.ok(held.ok);
    limits.settle(held, { usd: '0.5', inputTokens: 100, outputTokens: 100 }, T0);
    const costly = limits.admit(subject(), estimate('12.5', 100, 100), T0 + 1);
    assert.ok(!costly.ok && costly.reason === 'budget_usd');
    assert.equal(
      costly.message,
      'this request may cost up to $12.5 (its prompt and the longest answer it allows), more than the $4.5 left of the USD budget of this key ($0.5 of $5 spent); set max_tokens (lower) or send a shorter prompt',
    );
    const long = limits.admit(subject(), estimate('0.1', 5_000, 6_000), T0 + 2);
    assert.ok(!long.ok && long.reason === 'budget_tokens');
    assert.match(
      long.message,
      /^this request may take up to 11000 tokens .*more than the 9800 tokens left of the total token budget of this key;/,
    );
  });

  it('a budget held by requests in flight is not spent: its refusal is retried, not final', () => {
    const { limits } = enforcer(
      registryWith([
        {
          scope: 'proxy-key',
          scopeId: 'pxk_1',
          limits: {
            budget: { usd: '5', period: '1d' },
            tokens: { kind: 'total', count: 10_000, period: '1d' },
          },
        },
      ]),
    );
    const first = limits.admit(subject(), estimate('2', 2_000, 2_000), T0);
    assert.ok(first.ok);
    assert.ok(limits.admit(subject(), estimate('2', 2_000, 2_000), T0 + 1).ok);
    // Nothing is spent: $4 is held by two requests that will cost what they use, no more.
    const third = limits.admit(subject(), estimate('2.5', 2_000, 2_000), T0 + 2);
    assert.ok(!third.ok && third.reason === 'budget_usd');
    assert.equal(third.quota, undefined, 'a final insufficient_quota (x-should-retry: false)');
    assert.equal(third.retryAfterSeconds, 1);
    assert.match(third.message, /\$1 left .*\$4 held for requests in flight/);
    const tokens = limits.admit(subject(), estimate('0.1', 2_000, 2_000), T0 + 3);
    assert.ok(!tokens.ok && tokens.reason === 'budget_tokens');
    assert.equal(tokens.quota, undefined);
    assert.equal(tokens.retryAfterSeconds, 1);
    limits.settle(first, { usd: '0.1', inputTokens: 100, outputTokens: 100 }, T0 + 4);
    assert.ok(limits.admit(subject(), estimate('2.5', 2_000, 2_000), T0 + 5).ok);
  });

  it('a budget all held by requests in flight is not called spent when a larger request is refused', () => {
    const { limits } = enforcer(
      registryWith([
        {
          scope: 'proxy-key',
          scopeId: 'pxk_1',
          limits: {
            budget: { usd: '1', period: '1d' },
            tokens: { kind: 'total', count: 1_000, period: '1d' },
          },
        },
      ]),
    );
    // The whole budget is held by one request in flight; nothing is spent.
    assert.ok(limits.admit(subject(), estimate('1', 500, 500), T0).ok);
    const usd = limits.admit(subject({ proxyKeyId: 'pxk_1' }), estimate('1.5', 10, 10), T0 + 1);
    assert.ok(!usd.ok && usd.reason === 'budget_usd');
    assert.equal(usd.quota, true, 'final: it cannot fit even were the request in flight to cost nothing');
    assert.equal(
      usd.message,
      'this request may cost up to $1.5 (its prompt and the longest answer it allows), more than the $1 of the USD budget of this key not yet spent ($0 of $1 spent, $1 held for requests in flight); set max_tokens (lower) or send a shorter prompt',
    );
    const tokens = limits.admit(subject(), estimate('0', 800, 800), T0 + 2);
    assert.ok(!tokens.ok && tokens.reason === 'budget_tokens');
    assert.equal(
      tokens.message,
      'this request may take up to 1600 tokens (its prompt and the longest answer it allows), more than the 1000 tokens of the total token budget of this key not yet spent (1000 tokens held for requests in flight); set max_tokens (lower) or send a shorter prompt',
    );
  });

  it('a final refusal names the budget that cannot hold the request, not one short only by holds in flight', () => {
    const tenth = Date.parse('2026-11-10T10:00:00Z');
    const dayEnd = Date.parse('2026-11-11T00:00:00Z');
    const monthEnd = Date.parse('2026-12-01T00:00:00Z');
    // The key's USD budget is all held by a request in flight; the org's tokens are spent.
    const tokens = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { budget: { usd: '1', period: '1d' } } },
        { scope: 'org', scopeId: ORG, limits: { tokens: { kind: 'total', count: 100, period: '1mo' } } },
      ]),
    ).limits;
    assert.ok(tokens.admit(subject(), estimate('1', 10, 10), tenth).ok);
    const other = tokens.admit(subject({ proxyKeyId: 'pxk_2' }), estimate('0', 30, 30), tenth + 1);
    assert.ok(other.ok);
    tokens.settle(other, { usd: '0', inputTokens: 50, outputTokens: 50 }, tenth + 2);
    const spentTokens = tokens.admit(subject(), estimate('0.001', 1, 1), tenth + 1000);
    assert.ok(!spentTokens.ok);
    assert.equal(spentTokens.reason, 'budget_tokens');
    assert.deepEqual(spentTokens.limitScope, { scope: 'org', scopeId: ORG });
    assert.equal(spentTokens.message, 'the total token budget of this org is spent');
    assert.equal(spentTokens.quota, true);
    assert.equal(spentTokens.retryAfterSeconds, (monthEnd - tenth) / 1000 - 1);
    // The org's USD budget is held by another key's request and has the least left; the key's is
    // short of this request whatever those holds cost.
    const usd = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { budget: { usd: '1', period: '1d' } } },
        { scope: 'org', scopeId: ORG, limits: { budget: { usd: '10', period: '1mo' } } },
      ]),
    ).limits;
    const first = usd.admit(subject(), estimate('0.8'), tenth);
    assert.ok(first.ok);
    usd.settle(first, { usd: '0.8', inputTokens: 100, outputTokens: 100 }, tenth + 1);
    assert.ok(usd.admit(subject({ proxyKeyId: 'pxk_2' }), estimate('9.1'), tenth + 2).ok);
    const spentUsd = usd.admit(subject(), estimate('0.5'), tenth + 1000);
    assert.ok(!spentUsd.ok);
    assert.equal(spentUsd.reason, 'budget_usd');
    assert.deepEqual(spentUsd.limitScope, { scope: 'proxy-key', scopeId: 'pxk_1' });
    assert.equal(
      spentUsd.message,
      'this request may cost up to $0.5 (its prompt and the longest answer it allows), more than the $0.2 left of the USD budget of this key ($0.8 of $1 spent); set max_tokens (lower) or send a shorter prompt',
    );
    assert.equal(spentUsd.quota, true);
    assert.equal(spentUsd.retryAfterSeconds, (dayEnd - tenth) / 1000 - 1);
  });

  it('an exact estimate that throws gives back the concurrency slot and the rpm it took', () => {
    const { limits } = enforcer(
      registryWith([
        {
          scope: 'proxy-key',
          scopeId: 'pxk_1',
          limits: { rpm: 2, concurrency: 1, budget: { usd: '0.01', period: '1d' } },
        },
      ]),
    );
    // The cheap bound does not fit, so the tokenizer is asked, after the slot was taken.
    const failing = (precision: 'bound' | 'exact'): AdmissionEstimate => {
      if (precision === 'exact') throw new Error('tokenizer failed');
      return { bound: true, usd: parseUsd('1'), inputTokens: 1, outputTokens: 1 };
    };
    assert.throws(() => limits.admit(subject(), failing, T0), /tokenizer failed/);
    const next = limits.admit(subject(), estimate('0.001'), T0 + 1);
    assert.equal(next.ok ? 'admitted' : next.reason, 'admitted');
    // Refused by the slot the second request holds, not by an rpm the first one kept.
    const third = limits.admit(subject(), estimate('0.001'), T0 + 2);
    assert.equal(third.ok ? 'admitted' : third.reason, 'concurrency');
  });

  it('a USD budget refuses a model without a USD price (it would cost the budget nothing), and nothing else', () => {
    const { limits } = enforcer(
      registryWith([
        { scope: 'team', scopeId: 'tm_1', limits: { budget: { usd: '5', period: '1mo' } } },
        { scope: 'user', scopeId: 'usr_2', limits: { rpm: 100 } },
      ]),
    );
    const unpriced = () => ({ bound: false, usd: null, inputTokens: 100, outputTokens: 100 });
    const refused = limits.admit(subject({ model: 'my-vllm-model' }), unpriced, T0);
    assert.ok(!refused.ok);
    assert.equal(refused.reason, 'budget_usd');
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.limitScope, { scope: 'team', scopeId: 'tm_1' });
    assert.equal(
      refused.message,
      "my-vllm-model has no price in USD, so the USD budget of this team cannot hold its requests; an admin can price it in the org's prices",
    );
    assert.equal(limits.usdView('team', 'tm_1').usedUsd, '0', 'nothing held');
    // Where no USD budget applies, an unpriced model is admitted.
    assert.ok(
      limits.admit(subject({ model: 'my-vllm-model', userId: 'usr_2', teamId: null }), unpriced, T0).ok,
    );
  });

  it('a USD budget refuses a request whose tool fee cannot be priced, saying so', () => {
    const { limits } = enforcer(
      registryWith([{ scope: 'team', scopeId: 'tm_1', limits: { budget: { usd: '5', period: '1mo' } } }]),
    );
    const unpricedTool = () => ({
      bound: false,
      usd: null,
      unpriced:
        'the code_interpreter tool is billed per container, which the gateway cannot price; send the request without it',
      inputTokens: 100,
      outputTokens: 100,
    });
    const refused = limits.admit(subject({ model: 'gpt-4o-mini' }), unpricedTool, T0);
    assert.ok(!refused.ok);
    assert.equal(refused.reason, 'budget_usd');
    assert.equal(refused.status, 403);
    assert.equal(
      refused.message,
      'the USD budget of this team cannot hold this request: the code_interpreter tool is billed per container, which the gateway cannot price; send the request without it',
    );
  });

  it('renews at the period boundary with one LimitReset of a deterministic id', () => {
    const { limits, emitted } = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { budget: { usd: '0.01', period: '90s' } } },
      ]),
    );
    const first = limits.admit(subject(), estimate('0.01'), T0);
    assert.ok(first.ok);
    limits.settle(first, { usd: '0.01', inputTokens: 1, outputTokens: 1 }, T0);
    assert.equal(limits.admit(subject(), estimate('0.01'), T0 + 1000).ok, false);
    // 90 s periods are aligned to the epoch: the next one starts at the next multiple of 90 s.
    const nextStart = Math.ceil((T0 + 1) / 90_000) * 90_000;
    assert.equal(limits.admit(subject(), estimate('0.01'), nextStart).ok, true);
    const resets = emitted.filter((e) => e.type === 'LimitReset');
    assert.equal(resets.length, 2, 'one for the first period, one for the next');
    const last = resets.at(-1)!;
    const data = last.data as KordonEventData<'LimitReset'>;
    assert.equal(data.periodStart, new Date(nextStart).toISOString());
    assert.equal(
      last.id,
      limitResetEventId(ORG, { scope: 'proxy-key', scopeId: 'pxk_1', limit: 'budget_usd' }, data.periodStart),
    );
  });

  it('learns other replicas usage from the log, once per request', () => {
    const { limits } = enforcer(
      registryWith([
        { scope: 'org', scopeId: ORG, limits: { budget: { usd: '1', period: '1mo' }, rpm: 10 } },
      ]),
    );
    assert.ok(limits.admit(subject(), estimate('0'), T0).ok); // starts the period
    const remote = kordonCatalogue.create(
      'RequestCompleted',
      streams.usage(ORG),
      {
        requestId: '00000000-0000-7000-8000-999999999999',
        proxyKeyId: 'pxk_2',
        userId: 'usr_2',
        teamId: null,
        provider: 'openai',
        providerKeyId: 'prk_1',
        model: 'gpt-4o-mini',
        endpoint: 'chat.completions',
        stream: false,
        usage: { inputTokens: 10, outputTokens: 10, cachedInputTokens: 0 },
        cost: '0.75',
        currency: 'USD',
        latencyMs: 10,
        timeToFirstTokenMs: null,
        status: 200,
        clientIp: '10.9.9.9',
        attempts: 1,
        redactedPrompt: null,
        redactedResponse: null,
      },
      { orgId: ORG, actor: { kind: 'proxy-key', id: 'pxk_2' }, time: new Date(T0 + 5) },
    );
    const event = { ...remote, position: 1, streamVersion: 1 } as unknown as KordonEvent;
    limits.observe(event);
    limits.observe(event); // redelivered: counted once
    assert.equal(limits.usdView('org', ORG).usedUsd, '0.75');
    assert.equal(limits.admit(subject(), estimate('0.30'), T0 + 10).ok, false, '$0.25 left');
    assert.equal(limits.admit(subject(), estimate('0.20'), T0 + 10).ok, true);
  });

  it('charges another replica`s request to every scope with a USD budget, not only the narrowest', () => {
    const { limits } = enforcer(registryWith(KEY_TEAM_AND_ORG_BUDGETS));
    assert.ok(limits.admit(subject(), estimate('0'), T0).ok); // starts the periods
    limits.observe(completed('00000000-0000-7000-8000-999999999999', '0.75', T0 + 5));
    assert.equal(limits.usdView('proxy-key', 'pxk_1').usedUsd, '0.75');
    assert.equal(limits.usdView('team', 'tm_1').usedUsd, '0.75');
    assert.equal(limits.usdView('org', ORG).usedUsd, '0.75');
    const refused = limits.admit(subject(), estimate('0.5'), T0 + 10);
    assert.ok(!refused.ok && refused.limitScope.scope === 'org', '$0.25 left of the org`s $1');
  });

  it('a rebuild from the log reaches the counters of the replica that settled the requests', () => {
    const state = registryWith(KEY_TEAM_AND_ORG_BUDGETS);
    const live = enforcer(state);
    const requests: KordonEvent[] = [];
    for (let i = 0; i < 3; i++) {
      const s = subject();
      const ticket = live.limits.admit(s, estimate('0.3'), T0 + i);
      assert.ok(ticket.ok);
      live.limits.settle(ticket, { usd: '0.3', inputTokens: 10, outputTokens: 10 }, T0 + i);
      requests.push(completed(s.requestId, '0.3', T0 + i));
    }
    // The LimitResets were written at the first admission, before any request event.
    const log = [...live.emitted.map((e) => ({ ...e }) as unknown as KordonEvent), ...requests];
    const rebuilt = enforcer(state).limits;
    for (const event of log) rebuilt.observe(event);
    for (const [scope, scopeId] of [
      ['proxy-key', 'pxk_1'],
      ['team', 'tm_1'],
      ['org', ORG],
    ] as const) {
      assert.equal(rebuilt.usdView(scope, scopeId).usedUsd, '0.9', scope);
      assert.equal(live.limits.usdView(scope, scopeId).usedUsd, '0.9', scope);
    }
    assert.equal(live.limits.admit(subject(), estimate('0.5'), T0 + 100).ok, false);
    assert.equal(rebuilt.admit(subject(), estimate('0.5'), T0 + 100).ok, false);
  });

  it('a request admitted before a day boundary and settled after it is charged to the new day (docs: usage counts in the period in which it is settled)', () => {
    const { limits, emitted } = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { budget: { usd: '1', period: '1d' } } },
      ]),
    );
    const beforeMidnight = Date.parse('2026-11-30T23:59:00Z');
    const afterMidnight = Date.parse('2026-12-01T00:01:00Z');
    const long = limits.admit(subject(), estimate('1'), beforeMidnight);
    assert.ok(long.ok);
    // The answer (a long generation) ends two minutes later, in the new day: $0.90.
    limits.settle(long, { usd: '0.9', inputTokens: 100, outputTokens: 100 }, afterMidnight);
    // The next request of 1 December: $0.90 of the day's $1 is spent, so $0.50 does not fit.
    const next = limits.admit(subject(), estimate('0.5'), afterMidnight + 60_000);
    assert.equal(
      limits.usdView('proxy-key', 'pxk_1').usedUsd,
      '0.9',
      'the $0.90 settled on 1 December counts in 1 December',
    );
    assert.equal(next.ok, false, 'a $0.50 request fits in the $0.10 left of the day');
    // Renewed at settle, with the same LimitReset admission writes (once).
    const resets = emitted
      .filter((e) => e.type === 'LimitReset')
      .map((e) => (e.data as KordonEventData<'LimitReset'>).periodStart);
    assert.deepEqual(resets, ['2026-11-30T00:00:00.000Z', '2026-12-01T00:00:00.000Z']);
  });

  it('usage from the log settled after a boundary this replica has not renewed counts in the new period', () => {
    const state = registryWith([
      { scope: 'proxy-key', scopeId: 'pxk_1', limits: { budget: { usd: '1', period: '1d' } } },
    ]);
    const here = enforcer(state);
    const beforeMidnight = Date.parse('2026-11-30T23:59:00Z');
    const afterMidnight = Date.parse('2026-12-01T00:01:00Z');
    assert.ok(here.limits.admit(subject(), estimate('0'), beforeMidnight).ok); // in 30 November
    // Another replica's request, settled on 1 December, whose LimitReset is not in the log.
    here.limits.observe(completed('00000000-0000-7000-8000-999999999998', '0.9', afterMidnight));
    assert.equal(here.limits.usdView('proxy-key', 'pxk_1').usedUsd, '0.9');
    assert.equal(here.limits.admit(subject(), estimate('0.5'), afterMidnight + 60_000).ok, false);
    const resets = here.emitted
      .filter((e) => e.type === 'LimitReset')
      .map((e) => (e.data as KordonEventData<'LimitReset'>).periodStart);
    assert.deepEqual(resets, ['2026-11-30T00:00:00.000Z', '2026-12-01T00:00:00.000Z']);
    // Replayed from the log (resets first, as written), a rebuild reaches the same counter and writes nothing.
    const rebuilt = enforcer(state);
    for (const e of here.emitted) rebuilt.limits.observe({ ...e } as unknown as KordonEvent);
    rebuilt.limits.observe(completed('00000000-0000-7000-8000-999999999998', '0.9', afterMidnight));
    assert.equal(rebuilt.limits.usdView('proxy-key', 'pxk_1').usedUsd, '0.9');
    assert.equal(rebuilt.emitted.length, 0);
  });

  it('a budget whose period is changed mid-period renews on the new period, as after a restart', () => {
    const monthly = {
      scope: 'proxy-key' as const,
      scopeId: 'pxk_1',
      limits: { budget: { usd: '1', period: '1mo' } },
    };
    const state = registryWith([monthly]);
    const live = enforcer(state).limits;
    const day1 = Date.parse('2026-11-10T10:00:00Z');
    const first = live.admit(subject(), estimate('1'), day1);
    assert.ok(first.ok);
    live.settle(first, { usd: '1', inputTokens: 100, outputTokens: 100 }, day1);
    assert.equal(live.admit(subject(), estimate('0.1'), day1 + 1000).ok, false, 'the month is spent');
    const snapshot = JSON.parse(JSON.stringify(live.snapshot()));

    // An admin makes it $1 a day (a PolicySet brings a new policy object, stamped with its time).
    const daily = registryWith([{ ...monthly, limits: { budget: { usd: '1', period: '1d' } } }]);
    state.policies.set(`${ORG}/proxy-key/pxk_1`, {
      ...daily.policies.get(`${ORG}/proxy-key/pxk_1`)!,
      setAt: day1 + 1500,
    });
    const restarted = enforcer(state).limits;
    restarted.restore(snapshot, day1 + 2000);
    const day2 = Date.parse('2026-11-11T09:00:00Z');
    assert.equal(live.admit(subject(), estimate('0.1'), day2).ok, true, 'renewed on 11 November');
    assert.equal(restarted.admit(subject(), estimate('0.1'), day2).ok, true);
    // Both renewed once, on the first day boundary after the change: no day before it invented.
    assert.equal(live.usdView('proxy-key', 'pxk_1').periodStart, Date.parse('2026-11-11T00:00:00Z'));
    assert.equal(restarted.usdView('proxy-key', 'pxk_1').periodStart, Date.parse('2026-11-11T00:00:00Z'));
  });

  it('a 1mo budget changed to 1d on the 10th keeps what was spent until the 11th (docs: fresh allowance on the 11th)', () => {
    const monthly = {
      scope: 'proxy-key' as const,
      scopeId: 'pxk_1',
      limits: { budget: { usd: '1', period: '1mo' } },
    };
    const state = registryWith([monthly]);
    const { limits, emitted } = enforcer(state);
    const tenth = Date.parse('2026-11-10T10:00:00Z');
    const first = limits.admit(subject(), estimate('1'), tenth);
    assert.ok(first.ok);
    limits.settle(first, { usd: '1', inputTokens: 100, outputTokens: 100 }, tenth);
    // An admin makes it $1 a day (a PolicySet brings a new policy object), at 10:05 on the 10th.
    const daily = registryWith([{ ...monthly, limits: { budget: { usd: '1', period: '1d' } } }]);
    state.policies.set(`${ORG}/proxy-key/pxk_1`, daily.policies.get(`${ORG}/proxy-key/pxk_1`)!);
    const resetsBefore = emitted.filter((e) => e.type === 'LimitReset').length;
    const sameDay = limits.admit(subject(), estimate('0.5'), tenth + 5 * 60_000);
    const resets = emitted
      .filter((e) => e.type === 'LimitReset')
      .slice(resetsBefore)
      .map((e) => (e.data as KordonEventData<'LimitReset'>).periodStart);
    assert.deepEqual(resets, [], 'no renewal on the 10th: the new daily period renews on the 11th');
    assert.equal(sameDay.ok, false, 'the $1 spent on the 10th still counts on the 10th');
  });

  it('a lifetime budget made 6h keeps what it spent until the first 6h boundary after the change', () => {
    // Found by admission-property.unit.test.ts: the counter of a lifetime budget was never reset,
    // so the first admission under the 6h period renewed it as a budget never counted, at once.
    const { state, set } = policiesFromLog();
    const at = Date.parse('2026-01-30T22:00:00Z');
    set('proxy-key', 'pxk_1', { budget: { usd: '1', period: 'lifetime' } }, at - 3_600_000);
    const { limits } = enforcer(state);
    const spent = limits.admit(subject(), estimate('0.9'), at);
    assert.ok(spent.ok);
    limits.settle(spent, { usd: '0.9', inputTokens: 1, outputTokens: 1 }, at);
    set('proxy-key', 'pxk_1', { budget: { usd: '1', period: '6h' } }, at + 60_000);
    const sameWindow = limits.admit(subject(), estimate('0.5'), at + 120_000);
    assert.equal(sameWindow.ok, false, 'the $0.90 spent still counts until 00:00');
    assert.equal(limits.usdView('proxy-key', 'pxk_1').usedUsd, '0.9');
    assert.ok(
      limits.admit(subject(), estimate('0.5'), Date.parse('2026-01-31T00:00:01Z')).ok,
      'renewed at 00:00',
    );
  });

  it('a period changed twice before it renews keeps what was spent under the first change (6h, 1w, back to 6h)', () => {
    // Found by admission-property.unit.test.ts: back on a spec the last reset fits, the counter
    // was renewed from that reset's period, wiping what was spent while the week held it.
    const { state, set } = policiesFromLog();
    const at = Date.parse('2026-01-30T22:00:00Z');
    set('proxy-key', 'pxk_1', { budget: { usd: '1', period: '6h' } }, at - 3_600_000);
    const { limits } = enforcer(state);
    const first = limits.admit(subject(), estimate('0'), at);
    assert.ok(first.ok);
    limits.settle(first, { usd: '0', inputTokens: 1, outputTokens: 1 }, at);
    set('proxy-key', 'pxk_1', { budget: { usd: '1', period: '1w' } }, at);
    const spent = limits.admit(subject(), estimate('0.9'), at);
    assert.ok(spent.ok);
    // Settled on Saturday 08:00, in the week the change keeps until Monday.
    const saturday = Date.parse('2026-01-31T08:00:00Z');
    limits.settle(spent, { usd: '0.9', inputTokens: 1, outputTokens: 1 }, saturday);
    set('proxy-key', 'pxk_1', { budget: { usd: '1', period: '6h' } }, saturday);
    const sameWindow = limits.admit(subject(), estimate('0.5'), saturday + 60_000);
    assert.equal(sameWindow.ok, false, 'the $0.90 spent at 08:00 still counts until 12:00');
    assert.equal(limits.usdView('proxy-key', 'pxk_1').usedUsd, '0.9');
    assert.ok(
      limits.admit(subject(), estimate('0.5'), Date.parse('2026-01-31T12:00:01Z')).ok,
      'renewed at 12:00',
    );
  });

  it('a period changed twice before it renews counts the second change from its own time (1w, 1mo, 6h)', () => {
    // Found by admission-property.unit.test.ts: the second change was dated from the first, so the
    // 6h periods since the first change renewed at once, wiping what the month held since.
    const { state, set } = policiesFromLog();
    const monday = Date.parse('2026-01-26T10:00:00Z');
    set('proxy-key', 'pxk_1', { budget: { usd: '1', period: '1w' } }, monday - 3_600_000);
    const { limits } = enforcer(state);
    assert.ok(limits.admit(subject(), estimate('0'), monday).ok);
    const sunday = Date.parse('2026-02-01T08:00:00Z');
    set('proxy-key', 'pxk_1', { budget: { usd: '1', period: '1mo' } }, sunday);
    const spent = limits.admit(subject(), estimate('0.9'), sunday);
    assert.ok(spent.ok);
    // Settled on Monday 08:00: the week ended, but the change keeps its spend until 1 March.
    const nextMonday = Date.parse('2026-02-02T08:00:00Z');
    limits.settle(spent, { usd: '0.9', inputTokens: 1, outputTokens: 1 }, nextMonday);
    set('proxy-key', 'pxk_1', { budget: { usd: '1', period: '6h' } }, nextMonday);
    assert.equal(
      limits.admit(subject(), estimate('0.5'), nextMonday + 60_000).ok,
      false,
      'spent until 12:00',
    );
    assert.equal(limits.usdView('proxy-key', 'pxk_1').usedUsd, '0.9');
  });

  it('a period change not yet renewed survives a snapshot: a PolicySet replayed after it does not date it anew', () => {
    // Found by admission-property.unit.test.ts: the restored replica renewed at once, wiping the
    // week's spend the live one kept, since it dated the change from the later PolicySet.
    const { state, set } = policiesFromLog();
    const at = Date.parse('2026-01-30T22:00:00Z');
    set('proxy-key', 'pxk_1', { budget: { usd: '1', period: '6h' } }, at - 3_600_000);
    const { limits } = enforcer(state);
    assert.ok(limits.admit(subject(), estimate('0'), at).ok);
    set('proxy-key', 'pxk_1', { budget: { usd: '1', period: '1w' } }, at);
    const spent = limits.admit(subject(), estimate('0.9'), at);
    assert.ok(spent.ok);
    limits.settle(spent, { usd: '0.9', inputTokens: 1, outputTokens: 1 }, at);
    const snapshot = JSON.parse(JSON.stringify(limits.snapshot()));
    // The same budget set again (say, with an rpm) on Saturday, after the 6h period's end.
    const saturday = Date.parse('2026-01-31T08:00:00Z');
    set('proxy-key', 'pxk_1', { budget: { usd: '1', period: '1w' }, rpm: 100 }, saturday);
    const restored = enforcer(state).limits;
    restored.restore(snapshot, saturday);
    for (const replica of [limits, restored]) {
      assert.equal(
        replica.admit(subject(), estimate('0.5'), saturday + 60_000).ok,
        false,
        'spent until Monday',
      );
      assert.equal(replica.usdView('proxy-key', 'pxk_1').usedUsd, '0.9');
    }
  });

  it('with rollover, a 1mo budget changed to 1d on the 10th does not credit nine days never lived under it', () => {
    const monthly = {
      scope: 'proxy-key' as const,
      scopeId: 'pxk_1',
      limits: { budget: { usd: '1', period: '1mo' } },
      renewal: { rollover: true },
    };
    const state = registryWith([monthly]);
    const { limits } = enforcer(state);
    const tenth = Date.parse('2026-11-10T10:00:00Z');
    const first = limits.admit(subject(), estimate('0.01'), tenth);
    assert.ok(first.ok);
    limits.settle(first, { usd: '0.01', inputTokens: 1, outputTokens: 1 }, tenth);
    const daily = registryWith([{ ...monthly, limits: { budget: { usd: '1', period: '1d' } } }]);
    state.policies.set(`${ORG}/proxy-key/pxk_1`, daily.policies.get(`${ORG}/proxy-key/pxk_1`)!);
    // $1 a day, with what the month left carried: at most about $2 can be available on the 10th.
    const big = limits.admit(subject(), estimate('5'), tenth + 5 * 60_000);
    assert.equal(
      big.ok,
      false,
      `a $5 request admitted under a $1/day budget: ${JSON.stringify(limits.usdView('proxy-key', 'pxk_1'), (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`,
    );
  });
  it('with rollover, a budget raised after its period ended carries what that period left at its own allowance', () => {
    const monthly = {
      scope: 'proxy-key' as const,
      scopeId: 'pxk_1',
      limits: { budget: { usd: '10', period: '1mo' } },
      renewal: { rollover: true },
    };
    const november = Date.parse('2026-11-10T10:00:00Z');
    const raisedAt = Date.parse('2026-12-01T09:00:00Z');
    // The same month either way: only whether a request came between midnight and the raise.
    const december = (requestBeforeRaise: boolean) => {
      const state = registryWith([monthly]);
      const { limits } = enforcer(state);
      const spent = limits.admit(subject(), estimate('9'), november);
      assert.ok(spent.ok);
      limits.settle(spent, { usd: '9', inputTokens: 1, outputTokens: 1 }, november);
      if (requestBeforeRaise) assert.ok(limits.admit(subject(), estimate('0'), raisedAt - 3_600_000).ok);
      const raised = registryWith([{ ...monthly, limits: { budget: { usd: '20', period: '1mo' } } }]);
      state.policies.set(`${ORG}/proxy-key/pxk_1`, {
        ...raised.policies.get(`${ORG}/proxy-key/pxk_1`)!,
        setAt: raisedAt,
      });
      assert.ok(limits.admit(subject(), estimate('0'), raisedAt + 5 * 60_000).ok);
      return limits.usdView('proxy-key', 'pxk_1');
    };
    // November had $10 and spent $9: $1 carries into December, which has the raised $20.
    assert.equal(december(true).rolledOver, parseUsd('1'));
    assert.equal(december(false).rolledOver, parseUsd('1'), 'the raise on 1 December is not November`s');
    assert.equal(december(false).available, parseUsd('21'));
  });

  it('a budget removed and set again in its period keeps the period`s spend (removing is no way to reset it)', () => {
    const { state, set } = policiesFromLog();
    const tenth = Date.parse('2026-11-10T10:00:00Z');
    set('proxy-key', 'pxk_1', { budget: { usd: '10', period: '1mo' } }, tenth - 3_600_000);
    const { limits } = enforcer(state);
    const spent = limits.admit(subject(), estimate('9'), tenth);
    assert.ok(spent.ok);
    limits.settle(spent, { usd: '9', inputTokens: 1, outputTokens: 1 }, tenth);
    set('proxy-key', 'pxk_1', { rpm: 100 }, tenth + 60_000);
    assert.ok(limits.admit(subject(), estimate('5'), tenth + 120_000).ok, 'no budget: admitted');
    set('proxy-key', 'pxk_1', {}, tenth + 180_000);
    set('proxy-key', 'pxk_1', { budget: { usd: '10', period: '1mo' } }, tenth + 240_000);
    const again = limits.admit(subject(), estimate('2'), tenth + 300_000);
    assert.ok(!again.ok && again.reason === 'budget_usd', 'the $9 spent this month still counts');
    assert.equal(limits.usdView('proxy-key', 'pxk_1').usedUsd, '9');
    assert.ok(limits.admit(subject(), estimate('1'), tenth + 360_000).ok);
  });

  it('with rollover, a budget set again periods after it was removed is credited no period it did not exist in', () => {
    const september = Date.parse('2026-09-05T10:00:00Z');
    const november = Date.parse('2026-11-10T10:00:00Z');
    const monthly = { budget: { usd: '10', period: '1mo' } };
    const tokens = (kind: 'input' | 'total') => ({ tokens: { kind, count: 1000, period: '1mo' } });
    const { state, set } = policiesFromLog();
    set('proxy-key', 'pxk_1', { ...monthly, ...tokens('input') }, september - 3_600_000, { rollover: true });
    const { limits, emitted } = enforcer(state);
    const spent = limits.admit(subject(), estimate('1', 100, 100), september);
    assert.ok(spent.ok);
    limits.settle(spent, { usd: '1', inputTokens: 100, outputTokens: 100 }, september);
    // Removed in September (the token budget counts total tokens instead), set again on 10 November.
    set('proxy-key', 'pxk_1', tokens('total'), september + 3_600_000, { rollover: true });
    set('proxy-key', 'pxk_1', { ...monthly, ...tokens('input') }, november - 60_000, { rollover: true });
    emitted.length = 0;
    assert.ok(limits.admit(subject(), estimate('0', 1, 1), november).ok);
    // Neither September's $9 nor October's $10 carries: the budget was not there to carry them.
    const usd = limits.usdView('proxy-key', 'pxk_1');
    assert.equal(usd.rolledOver, 0n);
    assert.equal(usd.available, parseUsd('10'));
    assert.equal(limits.admit(subject(), estimate('10.5', 1, 1), november + 1000).ok, false);
    assert.equal(
      limits.admit(subject(), estimate('0', 1100, 1), november + 2000).ok,
      false,
      '1000 input tokens',
    );
    const resets = emitted
      .filter((e) => e.type === 'LimitReset')
      .map((e) => e.data as KordonEventData<'LimitReset'>);
    assert.deepEqual(
      resets.filter((d) => d.limit === 'budget_usd').map((d) => [d.periodStart, d.rolledOver]),
      [['2026-11-01T00:00:00.000Z', '0']],
      'no reset of October, when there was no budget',
    );
  });

  it('with rollover, a replica whose LimitReset lost the race takes the stored one, as a replay does', () => {
    const monthly = {
      scope: 'proxy-key' as const,
      scopeId: 'pxk_1',
      limits: { budget: { usd: '10', period: '1mo' } },
      renewal: { rollover: true },
    };
    const november = Date.parse('2026-11-10T10:00:00Z');
    const december = Date.parse('2026-12-01T00:00:05Z');
    const state = registryWith([monthly]);
    const a = enforcer(state);
    const b = enforcer(state);
    // A spends $9 in November; B has not seen that request's event when December begins.
    const spent = a.limits.admit(subject(), estimate('9'), november);
    assert.ok(spent.ok);
    a.limits.settle(spent, { usd: '9', inputTokens: 1, outputTokens: 1 }, november);
    assert.ok(b.limits.admit(subject(), estimate('0'), november + 1000).ok);
    assert.ok(a.limits.admit(subject(), estimate('0'), december).ok);
    assert.ok(b.limits.admit(subject(), estimate('0'), december + 1000).ok);
    // The store keeps the first LimitReset of each id: A's. B then reads it, and A's request.
    const stored = new Map<string, NewEvent>();
    for (const event of [...a.emitted, ...b.emitted]) if (!stored.has(event.id)) stored.set(event.id, event);
    const log = [...stored.values()].map(
      (event, i) => ({ ...event, position: i + 1, streamVersion: i + 1 }) as unknown as KordonEvent,
    );
    const request = completed(spent.subject.requestId, '9', november, 100);
    for (const event of [request, ...log]) b.limits.observe(event);
    // A restarted replica replays the log: the same carry as B's.
    const replayed = enforcer(state).limits;
    for (const event of [...log.slice(0, 1), request, ...log.slice(1)]) replayed.observe(event);
    assert.equal(replayed.usdView('proxy-key', 'pxk_1').rolledOver, parseUsd('1'));
    assert.equal(b.limits.usdView('proxy-key', 'pxk_1').rolledOver, parseUsd('1'));
  });

  it('holds a reservation for as long as a call may run: hours, with every attempt at its longest', () => {
    const { limits } = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { budget: { usd: '1', period: '1mo' } } },
      ]),
    );
    const long = limits.admit(subject(), estimate('0.6'), T0);
    assert.ok(long.ok);
    // Two attempts that each hit a one-hour timeout: the first request still holds its $0.60.
    const later = limits.admit(subject(), estimate('0.6'), T0 + 2 * 3_600_000 + 1);
    assert.ok(!later.ok && later.reason === 'budget_usd');
    limits.settle(long, { usd: '0.5', inputTokens: 100, outputTokens: 100 }, T0 + 2 * 3_600_000 + 2);
    assert.equal(limits.usdView('proxy-key', 'pxk_1').usedUsd, '0.5');
  });

  it('refuses by IP rules and model lists with 403, and caps distinct client IPs', () => {
    const { limits } = enforcer(
      registryWith([
        {
          scope: 'proxy-key',
          scopeId: 'pxk_1',
          limits: { ipDeny: ['10.66.0.0/16'], maxDistinctIps: { count: 2, period: '1d' } },
        },
        {
          scope: 'org',
          scopeId: ORG,
          limits: { ipAllow: ['10.0.0.0/8', '2001:db8::/32'], models: ['gpt-4o*'] },
        },
      ]),
    );
    const denied = limits.admit(subject({ clientAddress: parseIp('10.66.1.1') }), estimate('0'), T0);
    assert.ok(!denied.ok && denied.reason === 'ip_denied' && denied.status === 403);
    const outside = limits.admit(subject({ clientAddress: parseIp('192.0.2.1') }), estimate('0'), T0);
    assert.ok(!outside.ok && outside.reason === 'ip_denied' && outside.limitScope.scope === 'org');
    const model = limits.admit(subject({ model: 'o3' }), estimate('0'), T0);
    assert.ok(!model.ok && model.reason === 'model_forbidden' && model.status === 403);
    assert.ok(limits.admit(subject({ clientAddress: parseIp('10.0.0.1') }), estimate('0'), T0).ok);
    assert.ok(limits.admit(subject({ clientAddress: parseIp('2001:db8::1') }), estimate('0'), T0).ok);
    assert.ok(
      limits.admit(subject({ clientAddress: parseIp('10.0.0.1') }), estimate('0'), T0).ok,
      'known address',
    );
    const third = limits.admit(subject({ clientAddress: parseIp('10.0.0.3') }), estimate('0'), T0);
    assert.ok(!third.ok && third.reason === 'ip_cap');
    // The next day the set starts empty.
    assert.ok(
      limits.admit(subject({ clientAddress: parseIp('10.0.0.3') }), estimate('0'), T0 + 86_400_000).ok,
    );
  });

  it('an address refused by a wider scope (the org cap) is not counted against the key cap', () => {
    const { limits } = enforcer(
      registryWith([
        // The key may be shared by 2 addresses a day; the org admits 1 new address an hour.
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { maxDistinctIps: { count: 2, period: '1d' } } },
        { scope: 'org', scopeId: ORG, limits: { maxDistinctIps: { count: 1, period: '1h' } } },
      ]),
    );
    const from = (ip: string) => subject({ clientAddress: parseIp(ip) });
    assert.ok(limits.admit(from('203.0.113.1'), estimate('0'), T0).ok);
    const refused = limits.admit(from('203.0.113.2'), estimate('0'), T0 + 1000);
    assert.ok(!refused.ok && refused.reason === 'ip_cap' && refused.limitScope.scope === 'org');
    assert.ok(limits.checkAccess(from('203.0.113.2'), T0 + 2000)?.reason === 'ip_cap');
    // An hour later the org's set is new; the key was served from one address only (cap 2).
    const third = limits.admit(from('203.0.113.3'), estimate('0'), T0 + 3_600_000);
    assert.ok(third.ok, third.ok ? '' : `${third.reason} (${third.limitScope.scope}): ${third.message}`);
  });

  it('a request refused after the address cap (a rate, a budget, their retries) takes no place under it', () => {
    const { limits } = enforcer(
      registryWith([
        {
          scope: 'proxy-key',
          scopeId: 'pxk_1',
          limits: { maxDistinctIps: { count: 2, period: '1d' }, budget: { usd: '0.10', period: '1d' } },
        },
        { scope: 'user', scopeId: 'usr_1', limits: { concurrency: 1 } },
        { scope: 'org', scopeId: ORG, limits: { rpm: 2 } },
      ]),
    );
    const from = (ip: string) => subject({ clientAddress: parseIp(ip) });
    const reasonOf = (admission: ReturnType<typeof limits.admit>) =>
      admission.ok ? 'admitted' : admission.reason;
    // A request over the budget, and the SDK's retry of its 429.
    assert.equal(reasonOf(limits.admit(from('203.0.113.1'), estimate('1'), T0)), 'budget_usd');
    assert.equal(reasonOf(limits.admit(from('203.0.113.1'), estimate('1'), T0 + 1)), 'budget_usd');
    const first = limits.admit(from('203.0.113.2'), estimate('0.01'), T0 + 2);
    assert.equal(reasonOf(first), 'admitted');
    assert.equal(reasonOf(limits.admit(from('203.0.113.3'), estimate('0.01'), T0 + 3)), 'concurrency');
    // Refused requests take no place under the rpm either: a second admitted one fills it.
    assert.ok(first.ok);
    limits.settle(first, { usd: '0.01', inputTokens: 100, outputTokens: 100 }, T0 + 4);
    assert.equal(reasonOf(limits.admit(from('203.0.113.2'), estimate('0.01'), T0 + 5)), 'admitted');
    assert.equal(reasonOf(limits.admit(from('203.0.113.4'), estimate('0.01'), T0 + 6)), 'rate_limit_rpm');
    // Only 203.0.113.2 was counted: one more address fits under the cap of 2, and no other.
    assert.equal(limits.checkAccess(from('203.0.113.5'), T0 + 7), undefined);
    assert.equal(limits.checkAccess(from('203.0.113.6'), T0 + 8)?.reason, 'ip_cap');
  });

  it("holds the models named in a request's tools to every scope's model list, naming the first refused", () => {
    const { limits } = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { models: ['gpt-4o-mini', 'gpt-image-1'] } },
        { scope: 'org', scopeId: ORG, limits: { models: ['gpt-*'] } },
      ]),
    );
    const withTools = (...toolModels: { model: string | null; param: string }[]) =>
      limits.admit(subject({ model: 'gpt-4o-mini', toolModels }), estimate('0'), T0);
    assert.ok(withTools({ model: 'gpt-image-1', param: 'tools[0].model' }).ok);
    const denied = withTools(
      { model: 'gpt-image-1', param: 'tools[0].model' },
      { model: 'gpt-image-2', param: 'tools[1].model' },
    );
    assert.ok(!denied.ok && denied.reason === 'model_forbidden' && denied.status === 403);
    assert.equal(denied.limitScope.scope, 'proxy-key');
    assert.match(denied.message, /the model gpt-image-2 \(tools\[1\]\.model\) is not allowed for this key/);
    // A model left to the model's choice at call time: no list can hold it.
    const unnamed = withTools({ model: null, param: 'tools[0].parameters.model' });
    assert.ok(!unnamed.ok && unnamed.reason === 'model_forbidden');
    assert.match(unnamed.message, /tools\[0\]\.parameters\.model is left out/);
    // Without model lists, tools name what they like.
    const { limits: open } = enforcer(
      registryWith([{ scope: 'proxy-key', scopeId: 'pxk_1', limits: { rpm: 100 } }]),
    );
    const toolModels = [{ model: null, param: 'tools[0].parameters.model' }];
    assert.ok(open.admit(subject({ toolModels }), estimate('0'), T0).ok);
  });

  it('counting tokens and listing models count their address only when access is granted', () => {
    const { limits } = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { maxDistinctIps: { count: 2, period: '1d' } } },
        { scope: 'user', scopeId: 'usr_1', limits: { models: ['gpt-4o*'] } },
        { scope: 'org', scopeId: ORG, limits: { maxDistinctIps: { count: 1, period: '1h' } } },
      ]),
    );
    const from = (ip: string, model = 'gpt-4o-mini') => subject({ clientAddress: parseIp(ip), model });
    assert.equal(limits.checkAccess(from('203.0.113.9', 'o3'), T0)?.reason, 'model_forbidden');
    assert.equal(typeof limits.modelAccess(from('203.0.113.1'), T0), 'function', 'counted');
    assert.equal(limits.checkAccess(from('203.0.113.1'), T0), undefined, 'known');
    assert.equal(limits.checkAccess(from('203.0.113.2'), T0)?.reason, 'ip_cap');
    // The next hour: the org's set is new, the key holds 203.0.113.1 only, so one more fits.
    assert.equal(limits.checkAccess(from('203.0.113.3'), T0 + 3_600_000), undefined);
    const past = limits.modelAccess(from('203.0.113.4'), T0 + 7_200_000);
    assert.ok(
      typeof past !== 'function' && past.reason === 'ip_cap' && past.limitScope.scope === 'proxy-key',
    );
  });

  it('a request settled after its address cap`s period turned counts its address in the new period, as its event does elsewhere', () => {
    const policies = registryWith([
      { scope: 'proxy-key', scopeId: 'pxk_1', limits: { maxDistinctIps: { count: 1, period: '1d' } } },
    ]);
    const here = enforcer(policies);
    const beforeMidnight = Date.parse('2026-11-30T23:59:00Z');
    const afterMidnight = Date.parse('2026-12-01T00:01:00Z');
    const admitted = here.limits.admit(
      subject({ clientAddress: parseIp('203.0.113.1') }),
      estimate('0'),
      beforeMidnight,
    );
    assert.ok(admitted.ok);
    here.limits.settle(admitted, { usd: '0', inputTokens: 1, outputTokens: 1 }, afterMidnight);
    // Another replica, and a rebuild, count 203.0.113.1 on 1 December from the request's event.
    const elsewhere = enforcer(policies).limits;
    elsewhere.observe({
      ...completed(admitted.subject.requestId, '0', afterMidnight),
      data: { ...completed(admitted.subject.requestId, '0', afterMidnight).data, clientIp: '203.0.113.1' },
    } as KordonEvent);
    const later = afterMidnight + 60_000;
    for (const replica of [here.limits, elsewhere]) {
      const other = replica.admit(subject({ clientAddress: parseIp('203.0.113.2') }), estimate('0'), later);
      assert.ok(!other.ok && other.reason === 'ip_cap', 'the day`s one address is 203.0.113.1');
    }
  });

  it('a request settled in a new period keeps its address there though another request only held it', () => {
    // Found by admission-property.unit.test.ts: the second request's hold was let go when it was
    // refused, taking with it the address the first request's event counts on every replica.
    const policies = registryWith([
      { scope: 'proxy-key', scopeId: 'pxk_1', limits: { maxDistinctIps: { count: 1, period: '6h' } } },
    ]);
    const { limits } = enforcer(policies);
    const from = (ip: string) => subject({ clientAddress: parseIp(ip) });
    const evening = Date.parse('2026-11-30T22:00:00Z');
    const morning = Date.parse('2026-12-01T08:00:00Z');
    const first = limits.admit(from('203.0.113.1'), estimate('0'), evening);
    const second = limits.admit(from('203.0.113.1'), estimate('0'), morning);
    assert.ok(first.ok && second.ok);
    limits.settle(first, { usd: '0', inputTokens: 1, outputTokens: 1 }, morning);
    limits.release(second);
    const other = limits.admit(from('203.0.113.2'), estimate('0'), morning + 60_000);
    assert.ok(!other.ok && other.reason === 'ip_cap', 'the period`s one address is 203.0.113.1');
  });

  it('concurrent requests from new addresses: a cap of 3 admits exactly 3', () => {
    const { limits } = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { maxDistinctIps: { count: 3, period: '1d' } } },
        { scope: 'org', scopeId: ORG, limits: { maxDistinctIps: { count: 5, period: '1d' } } },
      ]),
    );
    // All in flight at once: none settled, so only the admission itself records the address.
    const results = Array.from({ length: 8 }, (_, i) =>
      limits.admit(subject({ clientAddress: parseIp(`203.0.113.${i + 1}`) }), estimate('0'), T0),
    );
    assert.equal(results.filter((r) => r.ok).length, 3);
    assert.ok(
      results.slice(3).every((r) => !r.ok && r.reason === 'ip_cap' && r.limitScope.scope === 'proxy-key'),
    );
  });

  it('caps concurrency and gives the slot back when the request ends', () => {
    const { limits } = enforcer(
      registryWith([{ scope: 'user', scopeId: 'usr_1', limits: { concurrency: 2 } }]),
    );
    const a = limits.admit(subject(), estimate('0'), T0);
    const b = limits.admit(subject(), estimate('0'), T0);
    const c = limits.admit(subject(), estimate('0'), T0);
    assert.ok(a.ok && b.ok && !c.ok && c.reason === 'concurrency');
    limits.settle(a, { usd: null, inputTokens: 0, outputTokens: 0 }, T0);
    limits.settle(a, { usd: null, inputTokens: 0, outputTokens: 0 }, T0); // twice: no extra slot
    assert.ok(limits.admit(subject(), estimate('0'), T0).ok);
    assert.equal(limits.admit(subject(), estimate('0'), T0).ok, false);
  });

  it('holds a token budget of the kind it counts', () => {
    const { limits } = enforcer(
      registryWith([
        { scope: 'team', scopeId: 'tm_1', limits: { tokens: { kind: 'output', count: 1000, period: '1d' } } },
      ]),
    );
    const a = limits.admit(subject(), estimate('0', 5000, 600), T0);
    assert.ok(a.ok, 'input tokens do not count against an output budget');
    assert.equal(limits.admit(subject(), estimate('0', 10, 600), T0).ok, false, '600 + 600 > 1000');
    limits.settle(a, { usd: null, inputTokens: 5000, outputTokens: 100 }, T0);
    const b = limits.admit(subject(), estimate('0', 10, 600), T0);
    assert.ok(b.ok);
    if (!b.ok) return;
    assert.equal(b.tokenScopes[0]?.kind, 'output');
  });

  it('reserves a cheap upper bound first and counts exactly only when the bound does not fit', () => {
    const { limits } = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { budget: { usd: '0.10', period: '1d' } } },
      ]),
    );
    const asked: string[] = [];
    const twoStage = (precision: 'bound' | 'exact') => {
      asked.push(precision);
      return precision === 'bound'
        ? { bound: true, usd: parseUsd('0.08'), inputTokens: 800, outputTokens: 0 }
        : { bound: false, usd: parseUsd('0.02'), inputTokens: 200, outputTokens: 0 };
    };
    const first = limits.admit(subject(), twoStage, T0);
    assert.ok(first.ok);
    assert.deepEqual(asked, ['bound'], 'the bound fitted: no tokenizer pass');
    asked.length = 0;
    const second = limits.admit(subject(), twoStage, T0);
    assert.ok(second.ok, '$0.08 held + $0.02 exact fits in $0.10');
    assert.deepEqual(asked, ['bound', 'exact']);
    asked.length = 0;
    const third = limits.admit(subject(), twoStage, T0);
    assert.ok(!third.ok && third.reason === 'budget_usd', 'nothing left, exactly either');
    assert.deepEqual(asked, ['bound', 'exact']);
  });

  it('snapshots and restores the counters; requests settled ahead of the log are not counted twice', () => {
    const state = registryWith([
      {
        scope: 'proxy-key',
        scopeId: 'pxk_1',
        limits: { budget: { usd: '1', period: '1mo' }, maxDistinctIps: { count: 1, period: '1d' } },
      },
    ]);
    const { limits } = enforcer(state);
    const first = subject();
    const ticket = limits.admit(first, estimate('0.1'), T0);
    assert.ok(ticket.ok);
    limits.settle(ticket, { usd: '0.4', inputTokens: 1, outputTokens: 1 }, T0);
    const snapshot = JSON.parse(JSON.stringify(limits.snapshot()));
    assert.deepEqual(snapshot.pending, [first.requestId]);

    const restored = enforcer(state).limits;
    restored.restore(snapshot, T0 + 10);
    assert.equal(restored.usdView('proxy-key', 'pxk_1').usedUsd, '0.4');
    // The request's event arrives after the snapshot's position: already counted.
    const event = kordonCatalogue.create(
      'RequestCompleted',
      streams.usage(ORG),
      {
        requestId: first.requestId,
        proxyKeyId: 'pxk_1',
        userId: 'usr_1',
        teamId: 'tm_1',
        provider: 'openai',
        providerKeyId: 'prk_1',
        model: 'gpt-4o-mini',
        endpoint: 'chat.completions',
        stream: false,
        usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0 },
        cost: '0.4',
        currency: 'USD',
        latencyMs: 1,
        timeToFirstTokenMs: null,
        status: 200,
        clientIp: '10.1.2.3',
        attempts: 1,
        redactedPrompt: null,
        redactedResponse: null,
      },
      { orgId: ORG, actor: { kind: 'proxy-key', id: 'pxk_1' }, time: new Date(T0 + 5) },
    );
    restored.observe({ ...event, position: 9, streamVersion: 1 } as unknown as KordonEvent);
    assert.equal(restored.usdView('proxy-key', 'pxk_1').usedUsd, '0.4');
    // The distinct-IP set came back too: another address is past the cap of 1.
    const other = restored.admit(subject({ clientAddress: parseIp('10.9.9.9') }), estimate('0'), T0 + 20);
    assert.ok(!other.ok && other.reason === 'ip_cap');
  });
});

describe('LimitsEnforcer: resets of the right counter, once per renewal, addresses of admitted requests', () => {
  /** The stored log of `emitted`, as the store keeps it: the first event of each id. */
  const storedLog = (emitted: readonly NewEvent[], from = 1) => {
    const stored = new Map<string, NewEvent>();
    for (const event of emitted) if (!stored.has(event.id)) stored.set(event.id, event);
    return [...stored.values()].map(
      (event, i) => ({ ...event, position: from + i, streamVersion: from + i }) as unknown as KordonEvent,
    );
  };

  it('a stored token-budget reset renews the counter of its kind only (docs: a kind switched is a new budget)', () => {
    const november = Date.parse('2026-11-10T10:00:00Z');
    const december = Date.parse('2026-12-01T00:00:05Z');
    const switchedAt = Date.parse('2026-12-05T10:00:00Z');
    const total = {
      scope: 'proxy-key' as const,
      scopeId: 'pxk_1',
      limits: { tokens: { kind: 'total' as const, count: 1000, period: '1mo' } },
      renewal: { rollover: true },
    };
    const state = registryWith([total]);
    const a = enforcer(state);
    // November leaves 800 of the total budget unused: December's reset carries 800.
    const spent = a.limits.admit(subject(), estimate('0', 100, 100), november);
    assert.ok(spent.ok);
    a.limits.settle(spent, { usd: null, inputTokens: 100, outputTokens: 100 }, november);
    assert.ok(a.limits.admit(subject(), estimate('0', 0, 0), december).ok);
    const december1 = a.emitted.filter((e) => e.type === 'LimitReset').at(-1)!;
    const data = december1.data as KordonEventData<'LimitReset'>;
    assert.equal(data.rolledOver, '800');

    // On the 5th the budget counts input tokens instead: a new budget of 1000, nothing carried.
    state.policies.set(`${ORG}/proxy-key/pxk_1`, {
      ...state.policies.get(`${ORG}/proxy-key/pxk_1`)!,
      limits: { tokens: { kind: 'input', count: 1000, period: '1mo' } },
    });
    // Replica B reads the log (the total budget's reset) before its first input-budget request.
    const b = enforcer(state);
    for (const event of storedLog(a.emitted)) b.limits.observe(event);
    const big = b.limits.admit(subject(), estimate('0', 1700, 0), switchedAt);
    assert.ok(
      !big.ok && big.reason === 'budget_tokens',
      'the input budget did not inherit the total budget`s 800 carried tokens',
    );
    assert.ok(b.limits.admit(subject(), estimate('0', 900, 0), switchedAt + 1).ok);
    assert.equal(data.tokenKind, 'total');
    // Its own reset is stored beside the total one (another id), and renews the input counter.
    const inputReset = b.emitted.find(
      (e) => e.type === 'LimitReset' && (e.data as KordonEventData<'LimitReset'>).tokenKind === 'input',
    );
    assert.ok(inputReset);
    assert.notEqual(inputReset.id, december1.id);
    const replayed = enforcer(state);
    for (const event of storedLog([...a.emitted, ...b.emitted])) replayed.limits.observe(event);
    const again = replayed.limits.admit(subject(), estimate('0', 1700, 0), switchedAt + 2);
    assert.ok(!again.ok && again.reason === 'budget_tokens');
  });

  it('a version-1 token-budget reset, which names no kind, still renews every kind`s counter', () => {
    const state = registryWith([
      {
        scope: 'proxy-key',
        scopeId: 'pxk_1',
        limits: { tokens: { kind: 'output', count: 1000, period: '1mo' } },
      },
    ]);
    const { limits } = enforcer(state);
    const spent = limits.admit(subject(), estimate('0', 0, 900), T0);
    assert.ok(spent.ok);
    limits.settle(spent, { usd: null, inputTokens: 0, outputTokens: 900 }, T0);
    // A v1 event as an older release stored it: no tokenKind.
    const v1 = {
      id: limitResetEventId(
        ORG,
        { scope: 'proxy-key', scopeId: 'pxk_1', limit: 'budget_tokens' },
        '2026-12-01T00:00:00Z',
      ),
      type: 'LimitReset',
      schemaVersion: 1,
      streamId: streams.limits(ORG),
      streamVersion: 1,
      position: 1,
      time: new Date('2026-12-01T00:00:01Z'),
      orgId: ORG,
      actor: { kind: 'system', id: 'limits' },
      causationId: null,
      correlationId: null,
      traceId: null,
      data: {
        scope: 'proxy-key',
        scopeId: 'pxk_1',
        limit: 'budget_tokens',
        periodStart: '2026-12-01T00:00:00.000Z',
        periodEnd: '2027-01-01T00:00:00.000Z',
        rolledOver: '0',
      },
    };
    const decoded = kordonCatalogue.decode(v1 as never);
    limits.observe(decoded);
    assert.ok(limits.admit(subject(), estimate('0', 0, 900), Date.parse('2026-12-01T00:00:02Z')).ok);
  });

  it('a distinct-IP cap idle for 30 days writes one LimitReset, for the current period', () => {
    const { limits, emitted } = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { maxDistinctIps: { count: 1, period: '1d' } } },
      ]),
    );
    assert.ok(limits.admit(subject(), estimate('0'), T0).ok);
    const later = T0 + 30 * 86_400_000;
    assert.ok(limits.admit(subject({ clientAddress: parseIp('10.9.9.9') }), estimate('0'), later).ok);
    const resets = emitted
      .filter((e) => e.type === 'LimitReset')
      .map((e) => (e.data as KordonEventData<'LimitReset'>).periodStart);
    assert.deepEqual(resets, [
      new Date(periodStartOfDay(T0)).toISOString(),
      new Date(periodStartOfDay(later)).toISOString(),
    ]);
    // A replica that reads only those two resets reaches the same set: the new day's address.
    const replica = enforcer(
      registryWith([
        { scope: 'proxy-key', scopeId: 'pxk_1', limits: { maxDistinctIps: { count: 1, period: '1d' } } },
      ]),
    );
    for (const event of storedLog(emitted)) replica.limits.observe(event);
    assert.ok(replica.limits.admit(subject({ clientAddress: parseIp('10.9.9.9') }), estimate('0'), later).ok);
  });

  it('a budget without rollover idle for 30 days writes one LimitReset; with rollover, one per period', () => {
    const budget = (rollover: boolean) =>
      registryWith([
        {
          scope: 'proxy-key',
          scopeId: 'pxk_1',
          limits: { budget: { usd: '1', period: '1d' } },
          renewal: { rollover },
        },
      ]);
    const count = (rollover: boolean) => {
      const { limits, emitted } = enforcer(budget(rollover));
      assert.ok(limits.admit(subject(), estimate('0.5'), T0).ok);
      assert.ok(limits.admit(subject(), estimate('0.5'), T0 + 30 * 86_400_000).ok);
      return emitted.filter((e) => e.type === 'LimitReset').length;
    };
    assert.equal(count(false), 2);
    assert.equal(count(true), 31, 'each missed day carries its allowance');
  });

  it('an address whose admitted request was refused after admission takes no place under the cap', () => {
    const state = registryWith([
      { scope: 'proxy-key', scopeId: 'pxk_1', limits: { maxDistinctIps: { count: 1, period: '1d' } } },
    ]);
    const { limits } = enforcer(state);
    const from = (ip: string) => subject({ clientAddress: parseIp(ip) });
    // Admitted, then refused before any provider was asked (RequestRejected): given back.
    const refused = limits.admit(from('203.0.113.1'), estimate('0'), T0);
    assert.ok(refused.ok);
    limits.release(refused);
    // Another replica never saw 203.0.113.1 (no usage event): this one agrees.
    const next = limits.admit(from('203.0.113.2'), estimate('0'), T0 + 1);
    assert.ok(next.ok, next.ok ? '' : next.message);
    limits.settle(next, { usd: null, inputTokens: 1, outputTokens: 1 }, T0 + 2);
    assert.equal(limits.checkAccess(from('203.0.113.1'), T0 + 3)?.reason, 'ip_cap');
  });

  it('an address stays counted while another admitted request of it holds it, or once one settled', () => {
    const state = registryWith([
      { scope: 'proxy-key', scopeId: 'pxk_1', limits: { maxDistinctIps: { count: 1, period: '1d' } } },
      { scope: 'org', scopeId: ORG, limits: { maxDistinctIps: { count: 5, period: '1d' } } },
    ]);
    const { limits } = enforcer(state);
    const from = (ip: string) => subject({ clientAddress: parseIp(ip) });
    const first = limits.admit(from('203.0.113.1'), estimate('0'), T0);
    const second = limits.admit(from('203.0.113.1'), estimate('0'), T0 + 1);
    assert.ok(first.ok && second.ok);
    limits.release(first);
    // The second request is still in flight: its address holds the key's one place.
    assert.equal(limits.checkAccess(from('203.0.113.2'), T0 + 2)?.reason, 'ip_cap');
    limits.settle(second, { usd: null, inputTokens: 1, outputTokens: 1 }, T0 + 3);
    const third = limits.admit(from('203.0.113.1'), estimate('0'), T0 + 4);
    assert.ok(third.ok);
    // Settled once (its event tells every replica): a later request's give-back removes nothing.
    limits.release(third);
    assert.equal(limits.checkAccess(from('203.0.113.2'), T0 + 5)?.reason, 'ip_cap');
    // An address another replica admitted (from the log) is not given back either.
    const { limits: other } = enforcer(state);
    const held = other.admit(from('10.1.2.3'), estimate('0'), T0);
    assert.ok(held.ok);
    other.observe(completed('00000000-0000-7000-8000-999999999999', '0', T0 + 1));
    other.release(held);
    assert.equal(other.checkAccess(from('203.0.113.2'), T0 + 2)?.reason, 'ip_cap');
  });
});

function periodStartOfDay(at: number): number {
  return at - (at % 86_400_000);
}
