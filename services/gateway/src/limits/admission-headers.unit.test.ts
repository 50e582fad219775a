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

type Limits = { tpm?: number; rpm?: number; concurrency?: number };

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
function subject(): AdmissionSubject {
  sequence++;
  return {
    orgId: ORG,
    proxyKeyId: 'pxk_1',
    userId: 'usr_1',
    teamId: null,
    requestId: `00000000-0000-7000-8000-${String(sequence).padStart(12, '0')}`,
    clientAddress: parseIp('10.1.2.3'),
    model: 'gpt-4o-mini',
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
});
