import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type KordonEvent, kordonCatalogue, streams } from '@kordon/events';
import { registryProjection } from '../registry/registry.js';
import { type AdmissionEstimate, type AdmissionSubject, LimitsEnforcer, type Ticket } from './admission.js';
import { parseIp } from './ip-address.js';

/*
 * Tokens per minute hold each request's estimate from admission until it ends, like a budget's
 * reservation: concurrent requests are counted while in flight, not only once they finished.
 */

const ORG = 'org_1';
// A whole minute: windows are aligned to the epoch, so T0 starts one.
const T0 = Date.parse('2026-11-10T10:00:00Z');

function tpmEnforcer(tpm: number) {
  const state = registryProjection.initialState();
  state.policies.set(`${ORG}/proxy-key/pxk_1`, {
    orgId: ORG,
    scope: 'proxy-key',
    scopeId: 'pxk_1',
    limits: { tpm },
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

const used = (input: number, output: number) => ({ usd: '0', inputTokens: input, outputTokens: output });

function admitted(result: ReturnType<LimitsEnforcer['admit']>): Ticket {
  assert.ok(result.ok, result.ok ? '' : result.message);
  return result;
}

function completedEvent(requestId: string, input: number, output: number, at: number): KordonEvent {
  const event = kordonCatalogue.create(
    'RequestCompleted',
    streams.usage(ORG),
    {
      requestId,
      proxyKeyId: 'pxk_1',
      userId: 'usr_1',
      teamId: null,
      provider: 'openai',
      providerKeyId: 'prk_1',
      model: 'gpt-4o-mini',
      endpoint: 'chat.completions',
      stream: false,
      usage: { inputTokens: input, outputTokens: output, cachedInputTokens: 0 },
      cost: '0',
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
  return { ...event, position: 1, streamVersion: 1 } as unknown as KordonEvent;
}

describe('tokens per minute', () => {
  it('holds requests in flight: of 50 concurrent requests of 600 tokens under tpm 1000, one passes', () => {
    const limits = tpmEnforcer(1000);
    const results = Array.from({ length: 50 }, (_, i) => limits.admit(subject(), tokens(300, 300), T0 + i));
    const passed = results.filter((r) => r.ok);
    assert.equal(passed.length, 1);
    const refused = results[1]!;
    assert.ok(!refused.ok && refused.reason === 'rate_limit_tpm');
    assert.equal(refused.rates.tokens?.remaining, 400);
  });

  it('settles to the real count: what the estimate held and the answer did not use is free again', () => {
    const limits = tpmEnforcer(1000);
    const first = admitted(limits.admit(subject(), tokens(300, 300), T0));
    assert.equal(limits.admit(subject(), tokens(300, 300), T0 + 1).ok, false, '600 held, 400 left');
    limits.settle(first, used(50, 50), T0 + 2000);
    admitted(limits.admit(subject(), tokens(300, 300), T0 + 2001)); // 100 + 600 <= 1000
    assert.equal(limits.admit(subject(), tokens(300, 300), T0 + 2002).ok, false, '700 counted');
  });

  it('a request that ends without usage gives its hold back', () => {
    const limits = tpmEnforcer(1000);
    const first = admitted(limits.admit(subject(), tokens(300, 300), T0));
    limits.release(first);
    admitted(limits.admit(subject(), tokens(300, 300), T0 + 1));
  });

  it('a request that ends in the next minute takes its hold out of the minute it was admitted in', () => {
    const limits = tpmEnforcer(1000);
    const first = admitted(limits.admit(subject(), tokens(300, 300), T0 + 50_000));
    admitted(limits.admit(subject(), tokens(50, 50), T0 + 65_000)); // the window has turned
    // 10 s into the next minute, the first minute weighs 50/60: 600 held would count as 500.
    limits.settle(first, used(50, 50), T0 + 70_000);
    // The hold left the first minute; the 100 used count in this one: 100 + 100 + 600 <= 1000.
    admitted(limits.admit(subject(), tokens(300, 300), T0 + 70_001));
  });

  it('a cheap bound past the whole tpm is counted exactly: it neither slips into what is left nor holds the bound', () => {
    // The body's size bounds its prompt (a token per byte): a long JSON body's bound can pass the
    // whole limit while its real count is well under it. Only an exact count past the limit is
    // the request that could never fit, admitted while anything is left.
    const bounded = (bound: number, exact: number) => (precision: 'bound' | 'exact') =>
      precision === 'bound'
        ? { bound: true, usd: 0n, inputTokens: bound, outputTokens: 0 }
        : { bound: false, usd: 0n, inputTokens: exact, outputTokens: 0 };
    const limits = tpmEnforcer(1000);
    admitted(limits.admit(subject(), tokens(900, 0), T0)); // 100 left
    const refused = limits.admit(subject(), bounded(1500, 600), T0 + 1);
    assert.ok(!refused.ok && refused.reason === 'rate_limit_tpm', '600 tokens admitted where 100 were left');

    const fresh = tpmEnforcer(1000);
    admitted(fresh.admit(subject(), bounded(1500, 600), T0));
    // Held at its 600, not at the bound of 1,500: 400 are left for the next.
    admitted(fresh.admit(subject(), tokens(400, 0), T0 + 1));
    // An exact count past the limit is still admitted while anything is left (it could never fit).
    const oversize = tpmEnforcer(1000);
    admitted(oversize.admit(subject(), bounded(3000, 1200), T0));
  });

  it('Retry-After is when the request fits, and an admitted answer`s headers count its own hold', () => {
    const limits = tpmEnforcer(1000);
    const first = admitted(limits.admit(subject(), tokens(300, 300), T0));
    // docs: x-ratelimit-remaining is the limit less the usage after this request.
    assert.equal(first.rates.tokens?.remaining, 400);
    limits.settle(first, used(450, 450), T0);
    // 900 in this minute, 100 left: 600 more fit once the minute weighs 400 / 900 of itself in
    // the next, 33.334 s into it: 34.334 s from now (not the 61 s until the usage is all gone).
    const refused = limits.admit(subject(), tokens(300, 300), T0 + 59_000);
    assert.ok(!refused.ok && refused.reason === 'rate_limit_tpm');
    assert.equal(refused.retryAfterSeconds, 35);
    assert.equal(limits.admit(subject(), tokens(300, 300), T0 + 59_000 + 34_333).ok, false);
    admitted(limits.admit(subject(), tokens(300, 300), T0 + 59_000 + 34_334));
  });

  it('counts another replica`s request at its event, and this replica`s own requests once', () => {
    const limits = tpmEnforcer(1000);
    limits.observe(completedEvent('00000000-0000-7000-8000-999999999999', 300, 300, T0));
    assert.equal(limits.admit(subject(), tokens(300, 300), T0 + 1).ok, false, '600 used elsewhere');
    admitted(limits.admit(subject(), tokens(200, 200), T0 + 2));

    const own = tpmEnforcer(1000);
    const mine = subject();
    own.settle(admitted(own.admit(mine, tokens(300, 300), T0)), used(100, 100), T0 + 10);
    own.observe(completedEvent(mine.requestId, 100, 100, T0 + 10)); // its own event, back from the log
    admitted(own.admit(subject(), tokens(400, 400), T0 + 20)); // 200 + 800 <= 1000
  });
});
