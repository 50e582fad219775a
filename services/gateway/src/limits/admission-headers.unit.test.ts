import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type KordonEvent, kordonCatalogue, streams } from '@kordon/events';
import { registryProjection } from '../registry/registry.js';
import { type AdmissionEstimate, type AdmissionSubject, LimitsEnforcer, type Ticket } from './admission.js';
import { parseIp } from './ip-address.js';

/*
 * Rate limits of several scopes at once (the key's and the org's): the headers describe the
 * tightest, and a refusal's Retry-After is when every one of them lets the request through, so
 * an SDK's automatic retry is not refused again.
 */

const ORG = 'org_1';
// A whole minute: windows are aligned to the epoch, so T0 starts one.
const T0 = Date.parse('2026-11-10T10:00:00Z');

type Limits = {
  tpm?: number;
  rpm?: number;
  concurrency?: number;
  models?: string[];
  ipAllow?: string[];
  maxDistinctIps?: { count: number; period: string };
};

function enforcer(key: Limits, org: Limits) {
  const state = registryProjection.initialState();
  state.policies.set(`${ORG}/proxy-key/pxk_1`, {
    orgId: ORG,
    scope: 'proxy-key',
    scopeId: 'pxk_1',
    limits: key,
    renewal: {},
    managedBy: 'config',
  });
  state.policies.set(`${ORG}/org/${ORG}`, {
    orgId: ORG,
    scope: 'org',
    scopeId: ORG,
    limits: org,
    renewal: {},
    managedBy: 'config',
  });
  return new LimitsEnforcer({ registry: () => state, emit: () => {} });
}

let sequence = 0;
function subject(overrides: Partial<AdmissionSubject> = {}): AdmissionSubject {
  sequence++;
  return {
    orgId: ORG,
    proxyKeyId: 'pxk_1',
    userId: 'usr_1',
    teamId: null,
    requestId: `00000000-0000-7000-8000-${String(sequence).padStart(12, '0')}`,
    clientAddress: parseIp('10.1.2.3'),
    model: 'gpt-4o-mini',
    ...overrides,
  };
}

const tokens =
  (inputTokens: number, outputTokens: number): (() => AdmissionEstimate) =>
  () => ({ bound: false, usd: 0n, inputTokens, outputTokens });

function admitted(result: ReturnType<LimitsEnforcer['admit']>): Ticket {
  assert.ok(result.ok, result.ok ? '' : result.message);
  return result;
}

/** Another key's request of the org, learned from the log. */
function otherKeyCompleted(input: number, at: number): KordonEvent {
  sequence++;
  const event = kordonCatalogue.create(
    'RequestCompleted',
    streams.usage(ORG),
    {
      requestId: `00000000-0000-7000-8000-${String(sequence).padStart(12, '0')}`,
      proxyKeyId: 'pxk_2',
      userId: 'usr_2',
      teamId: null,
      provider: 'openai',
      providerKeyId: 'prk_1',
      model: 'gpt-4o-mini',
      endpoint: 'chat.completions',
      stream: false,
      usage: { inputTokens: input, outputTokens: 0, cachedInputTokens: 0 },
      cost: '0',
      currency: 'USD',
      latencyMs: 10,
      timeToFirstTokenMs: null,
      status: 200,
      clientIp: '10.1.2.4',
      attempts: 1,
      redactedPrompt: null,
      redactedResponse: null,
    },
    { orgId: ORG, actor: { kind: 'proxy-key', id: 'pxk_2' }, time: new Date(at) },
  );
  return { ...event, position: 1, streamVersion: 1 } as unknown as KordonEvent;
}

describe('rate-limit headers and Retry-After across scopes', () => {
  it('an admitted answer`s token headers are those of the tightest tpm, not of the last scope', () => {
    const limits = enforcer({ tpm: 1000 }, { tpm: 100_000 });
    const ticket = admitted(limits.admit(subject(), tokens(300, 300), T0));
    assert.equal(ticket.rates.tokens?.limit, 1000);
    assert.equal(ticket.rates.tokens?.remaining, 400);
  });

  it('Retry-After of a tpm refusal is when every scope`s tpm lets the request through', () => {
    const limits = enforcer({ tpm: 1000 }, { tpm: 2000 });
    admitted(limits.admit(subject(), tokens(900, 0), T0 + 10_000)); // key 900, org 900
    limits.observe(otherKeyCompleted(1900, T0 + 10_000)); // org 2800
    const refused = limits.admit(subject(), tokens(200, 0), T0 + 20_000);
    assert.ok(!refused.ok && refused.reason === 'rate_limit_tpm');
    // The key fits 46.667 s from now; the org only 61.429 s from now.
    assert.equal(refused.retryAfterSeconds, 62);
    assert.equal(limits.admit(subject(), tokens(200, 0), T0 + 20_000 + 61_428).ok, false);
    admitted(limits.admit(subject(), tokens(200, 0), T0 + 20_000 + 61_429));
  });

  it('Retry-After of a tpm refusal waits for the rpm too, when it refuses as well', () => {
    const limits = enforcer({ tpm: 1000, rpm: 2 }, {});
    admitted(limits.admit(subject(), tokens(100, 0), T0));
    admitted(limits.admit(subject(), tokens(800, 0), T0 + 50_000));
    // At T0 + 55 s: 900 tokens and 2 requests counted. 200 tokens fit in 6.667 s of the next
    // minute (11.667 s from now); a third request only once the minute weighs 1/2 of itself in
    // the next (35 s from now).
    const refused = limits.admit(subject(), tokens(200, 0), T0 + 55_000);
    assert.ok(!refused.ok && refused.reason === 'rate_limit_tpm');
    assert.equal(refused.retryAfterSeconds, 35);
    admitted(limits.admit(subject(), tokens(200, 0), T0 + 55_000 + 35_000));
  });

  it('a request refused by the concurrency limit takes no place under the rpm', () => {
    const limits = enforcer({ rpm: 2, concurrency: 1, tpm: 1000 }, {});
    const first = admitted(limits.admit(subject(), tokens(1, 0), T0));
    const full = limits.admit(subject(), tokens(1, 0), T0 + 1);
    assert.ok(!full.ok && full.reason === 'concurrency');
    // Its answer tells the rates as they are, without it: one request and one token held.
    assert.equal(full.rates.requests?.limit, 2);
    assert.equal(full.rates.requests?.remaining, 1);
    assert.equal(full.rates.tokens?.limit, 1000);
    assert.equal(full.rates.tokens?.remaining, 999);
    limits.settle(first, { usd: '0', inputTokens: 1, outputTokens: 0 }, T0 + 2);
    // One request was served this minute, of 2: the SDK's retry of the refused one passes.
    admitted(limits.admit(subject(), tokens(1, 0), T0 + 1001));
  });

  it('an rpm refusal tells the tpm too, as it stands: the refused request holds no tokens', () => {
    const limits = enforcer({ rpm: 2, tpm: 1000 }, { tpm: 5000 });
    admitted(limits.admit(subject(), tokens(100, 0), T0));
    admitted(limits.admit(subject(), tokens(100, 0), T0 + 1000));
    const refused = limits.admit(subject(), tokens(300, 0), T0 + 2000);
    assert.ok(!refused.ok && refused.reason === 'rate_limit_rpm');
    assert.deepEqual(
      { limit: refused.rates.requests?.limit, remaining: refused.rates.requests?.remaining },
      { limit: 2, remaining: 0 },
    );
    // The tightest tpm (the key's), 200 of it used: not 500 left, as if the 300 were held.
    assert.deepEqual(
      { limit: refused.rates.tokens?.limit, remaining: refused.rates.tokens?.remaining },
      { limit: 1000, remaining: 800 },
    );
    assert.ok((refused.rates.tokens?.resetMs ?? 0) > 0);
    // Nothing was held for it: the next refusal, as large, finds the same 800 left.
    const again = limits.admit(subject(), tokens(300, 0), T0 + 3000);
    assert.ok(!again.ok && again.reason === 'rate_limit_rpm');
    assert.equal(again.rates.tokens?.remaining, 800);
  });

  it('a tpm refusal tells the rpm too, as it stands: the refused request takes no place under it', () => {
    const limits = enforcer({ rpm: 10, tpm: 1000 }, { rpm: 3 });
    admitted(limits.admit(subject(), tokens(900, 0), T0));
    const refused = limits.admit(subject(), tokens(200, 0), T0 + 1000);
    assert.ok(!refused.ok && refused.reason === 'rate_limit_tpm');
    assert.deepEqual(
      { limit: refused.rates.tokens?.limit, remaining: refused.rates.tokens?.remaining },
      { limit: 1000, remaining: 100 },
    );
    // The tightest rpm (the org's 3), one request counted: 2 left, not 1.
    assert.deepEqual(
      { limit: refused.rates.requests?.limit, remaining: refused.rates.requests?.remaining },
      { limit: 3, remaining: 2 },
    );
    assert.ok((refused.rates.requests?.resetMs ?? 0) > 0);
    // And so it is: two more requests of the minute pass the org's rpm, the third does not.
    admitted(limits.admit(subject(), tokens(40, 0), T0 + 2000));
    admitted(limits.admit(subject(), tokens(40, 0), T0 + 3000));
    const third = limits.admit(subject(), tokens(0, 0), T0 + 4000);
    assert.ok(!third.ok && third.reason === 'rate_limit_rpm');
  });

  it('a model-list refusal tells the rates as they stand; an address refused tells nothing of them', () => {
    const limits = enforcer(
      { rpm: 4, tpm: 1000, models: ['gpt-4o-mini'] },
      { ipAllow: ['10.0.0.0/8'], maxDistinctIps: { count: 1, period: '1d' } },
    );
    admitted(limits.admit(subject(), tokens(100, 0), T0));
    const model = limits.admit(subject({ model: 'gpt-4o' }), tokens(100, 0), T0 + 1000);
    assert.ok(!model.ok && model.reason === 'model_forbidden' && model.status === 403);
    assert.deepEqual(
      { limit: model.rates.requests?.limit, remaining: model.rates.requests?.remaining },
      { limit: 4, remaining: 3 },
    );
    assert.deepEqual(
      { limit: model.rates.tokens?.limit, remaining: model.rates.tokens?.remaining },
      { limit: 1000, remaining: 900 },
    );
    const denied = limits.admit(subject({ clientAddress: parseIp('192.0.2.7') }), tokens(1, 0), T0 + 2000);
    assert.ok(!denied.ok && denied.reason === 'ip_denied');
    assert.deepEqual(denied.rates, {});
    const capped = limits.admit(subject({ clientAddress: parseIp('10.9.9.9') }), tokens(1, 0), T0 + 3000);
    assert.ok(!capped.ok && capped.reason === 'ip_cap');
    assert.deepEqual(capped.rates, {});
    // None of the three was counted: the rates are as the one admitted request left them.
    const next = admitted(limits.admit(subject(), tokens(100, 0), T0 + 4000));
    assert.equal(next.rates.requests?.remaining, 2);
    assert.equal(next.rates.tokens?.remaining, 800);
  });
});
