import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type KordonEvent, kordonCatalogue, streams } from '@kordon/events';
import { anthropicErrorInfo } from '../providers/anthropic/anthropic-error.js';
import { geminiErrorInfo } from '../providers/gemini/gemini-error.js';
import { openAIErrorInfo } from '../providers/openai/openai-error.js';
import { type RegistryState, registryProjection } from '../registry/registry.js';
import { encryptSecret, MasterKey, MasterKeyRing } from '../secrets/index.js';
import { UpstreamError } from '../upstream/upstream-error.js';
import { errorBody } from './gateway-error.js';
import { asGatewayError } from './generate.js';
import {
  COUNTING_REST_MS,
  failureKind,
  KeyChoice,
  outOfCredit,
  STORAGE_NOT_READY_REST_MS,
  saysStorageNotReady,
  saysUrlFetchDisabled,
} from './key-choice.js';
import type { Route } from './route-model.js';
import { routeModel } from './route-model.js';

const ORG = 'org_1';
const ring = new MasterKeyRing(MasterKey.generate('test'));

/** `rpm`: each key's own requests-per-minute limit at the provider (none when unset). */
function registry(rpm?: number): RegistryState {
  const state = registryProjection.initialState();
  let position = 0;
  const apply = (type: string, streamId: string, data: unknown) => {
    const event = kordonCatalogue.create(type as never, streamId, data as never, {
      orgId: ORG,
      actor: { kind: 'config', id: 'test' },
    });
    registryProjection.evolve(state, {
      ...event,
      position: ++position,
      streamVersion: 1,
    } as unknown as KordonEvent);
  };
  apply('ProviderConfigured', streams.provider(ORG, 'openai'), {
    provider: 'openai',
    type: 'openai',
    baseUrl: 'https://api.openai.com/v1',
    models: ['gpt-4o-mini'],
    options: { balancer: 'round-robin' },
  });
  for (const [id, dailyUsd] of [
    ['prk_a', '1'],
    ['prk_b', undefined],
  ] as const) {
    apply('ProviderKeyAdded', streams.providerKey(ORG, id), {
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
      models: null,
      baseUrl: null,
      ...((dailyUsd || rpm) && {
        limits: { ...(dailyUsd && { dailyUsd }), ...(rpm !== undefined && { rpm }) },
      }),
    });
  }
  return state;
}

function spent(providerKeyId: string, cost: string, time: Date): KordonEvent {
  const event = kordonCatalogue.create(
    'RequestCompleted',
    streams.usage(ORG),
    {
      requestId: `00000000-0000-7000-8000-${Math.floor(Math.random() * 1e12)
        .toString()
        .padStart(12, '0')}`,
      proxyKeyId: 'pxk_1',
      userId: 'usr_1',
      teamId: null,
      provider: 'openai',
      providerKeyId,
      model: 'gpt-4o-mini',
      endpoint: 'chat.completions',
      stream: false,
      usage: { inputTokens: 1, outputTokens: 1, cachedInputTokens: 0 },
      cost,
      currency: 'USD',
      latencyMs: 1,
      timeToFirstTokenMs: null,
      status: 200,
      clientIp: '10.0.0.1',
      attempts: 1,
      redactedPrompt: null,
      redactedResponse: null,
    },
    { orgId: ORG, actor: { kind: 'proxy-key', id: 'pxk_1' }, time },
  );
  return { ...event, position: 1, streamVersion: 1 } as unknown as KordonEvent;
}

let adminPosition = 100;

/** An admin's event on `prk_a`, applied to the registry as its projection would. */
function adminChange(state: RegistryState, type: KordonEvent['type'], data: unknown): void {
  const event = kordonCatalogue.create(type, streams.providerKey(ORG, 'prk_a'), data as never, {
    orgId: ORG,
    actor: { kind: 'user', id: 'usr_admin' },
  });
  registryProjection.evolve(state, {
    ...event,
    position: ++adminPosition,
    streamVersion: 2,
  } as unknown as KordonEvent);
}

/** The keys that serve `times` choices in a row, sorted. */
function serving(choice: KeyChoice, state: RegistryState, route: Route, times = 20): string[] {
  const seen = new Set<string>();
  for (let i = 0; i < times; i++)
    seen.add(choice.candidates(state, route, undefined).next(Date.now())!.providerKeyId);
  return [...seen].sort();
}

describe('KeyChoice: a provider key daily budget', () => {
  it('rests a key past its daily USD budget until midnight UTC, and remembers it through a snapshot', () => {
    const state = registry();
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const picks = () => serving(choice, state, route, 10);
    assert.deepEqual(picks(), ['prk_a', 'prk_b']);
    const now = new Date();
    choice.observe(spent('prk_a', '0.6', now), state);
    assert.deepEqual(picks(), ['prk_a', 'prk_b'], '$0.60 of $1: still serving');
    choice.observe(spent('prk_a', '0.4', now), state);
    assert.deepEqual(picks(), ['prk_b'], '$1.00 of $1: resting');
    const health = choice.describeOrg(state, ORG, Date.now()).find((k) => k.providerKeyId === 'prk_a')!;
    assert.equal(health.state, 'cooling');
    assert.ok(health.usableAt !== null && health.usableAt % 86_400_000 === 0, 'back at midnight UTC');
    // Yesterday's spend does not count today.
    const other = new KeyChoice();
    other.observe(spent('prk_a', '5', new Date(Date.now() - 86_400_000)), state);
    other.observe(spent('prk_b', '5', now), state); // no budget on b
    const otherRoute = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++)
      seen.add(other.candidates(state, otherRoute, undefined).next(Date.now())!.providerKeyId);
    assert.deepEqual([...seen].sort(), ['prk_a', 'prk_b']);
    // A restart restores today's spend from the snapshot.
    const restored = new KeyChoice();
    restored.restoreSpend(JSON.parse(JSON.stringify(choice.snapshotSpend())), state);
    assert.equal(restored.candidates(state, route, undefined).next(Date.now())!.providerKeyId, 'prk_b');
  });

  it("a key's tier and limits changed in the registry apply from the next choice", () => {
    const state = registry();
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const change = (tier: number, limits: { rpm?: number; dailyUsd?: string } | null) =>
      adminChange(state, 'ProviderKeyLimitsChanged', { providerKeyId: 'prk_a', tier, limits });
    assert.deepEqual(serving(choice, state, route), ['prk_a', 'prk_b']);
    // prk_a to tier 1: only prk_b serves while it is usable.
    change(1, null);
    assert.deepEqual(serving(choice, state, route), ['prk_b']);
    // Back to tier 0 with one request a minute: it serves once, then rests; prk_b takes the rest.
    change(0, { rpm: 1 });
    const served: string[] = [];
    for (let i = 0; i < 20; i++)
      served.push(choice.candidates(state, route, undefined).next(Date.now())!.providerKeyId);
    assert.equal(served.filter((id) => id === 'prk_a').length, 1, served.join());
    assert.equal(
      choice.describeOrg(state, ORG, Date.now()).find((k) => k.providerKeyId === 'prk_a')?.tier,
      0,
    );
  });

  for (const [label, limits] of [
    ["raised above the day's spend", { dailyUsd: '100' }],
    ['removed', null],
  ] as const) {
    it(`a key resting on its daily budget serves again at once when the budget is ${label}`, () => {
      const state = registry();
      const choice = new KeyChoice();
      const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
      choice.observe(spent('prk_a', '1.5', new Date()), state);
      assert.deepEqual(serving(choice, state, route), ['prk_b'], '$1.50 of $1: resting');
      adminChange(state, 'ProviderKeyLimitsChanged', { providerKeyId: 'prk_a', tier: 0, limits });
      assert.deepEqual(serving(choice, state, route), ['prk_a', 'prk_b']);
    });
  }

  it("a daily budget lowered under the day's spend rests the key from the next choice, on the day's count", () => {
    const state = registry();
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const budget = (dailyUsd: string | null) =>
      adminChange(state, 'ProviderKeyLimitsChanged', {
        providerKeyId: 'prk_a',
        tier: 0,
        limits: dailyUsd === null ? null : { dailyUsd },
      });
    choice.observe(spent('prk_a', '0.6', new Date()), state);
    assert.deepEqual(serving(choice, state, route), ['prk_a', 'prk_b'], '$0.60 of $1');
    budget('0.5');
    assert.deepEqual(serving(choice, state, route), ['prk_b'], '$0.60 of $0.50: resting');
    budget(null);
    assert.deepEqual(serving(choice, state, route), ['prk_a', 'prk_b'], 'no budget');
    budget('0.5');
    assert.deepEqual(serving(choice, state, route), ['prk_b'], 'the $0.60 is still counted');
  });

  it('a replay counts only the cost made while the key had a daily budget, as the live process did', () => {
    // Today (UTC), a few seconds in: the key had no budget at t1, got one at t2.
    const today = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    const [t1, t2, t3] = [today + 1000, today + 2000, today + 3000].map((ms) => new Date(ms));
    const setBudget = (state: RegistryState) => {
      const event = kordonCatalogue.create(
        'ProviderKeyLimitsChanged',
        streams.providerKey(ORG, 'prk_b'),
        { providerKeyId: 'prk_b', tier: 0, limits: { dailyUsd: '1' } },
        { orgId: ORG, actor: { kind: 'user', id: 'usr_admin' }, time: t2! },
      );
      registryProjection.evolve(state, {
        ...event,
        position: 50,
        streamVersion: 2,
      } as unknown as KordonEvent);
    };
    const before = spent('prk_b', '5', t1!);
    const after = spent('prk_b', '0.5', t3!);
    // Live: the registry gets the budget between the two requests.
    const live = registry();
    const liveChoice = new KeyChoice();
    liveChoice.observe(before, live);
    setBudget(live);
    liveChoice.observe(after, live);
    const liveRoute = routeModel(live, ORG, 'gpt-4o-mini')[0]!;
    assert.deepEqual(serving(liveChoice, live, liveRoute), ['prk_a', 'prk_b'], '$0.50 of $1 live');
    // A restart: the registry is caught up first, then the request events are replayed.
    const replayed = registry();
    setBudget(replayed);
    const replayChoice = new KeyChoice();
    replayChoice.observe(before, replayed);
    replayChoice.observe(after, replayed);
    const replayRoute = routeModel(replayed, ORG, 'gpt-4o-mini')[0]!;
    assert.deepEqual(serving(replayChoice, replayed, replayRoute), ['prk_a', 'prk_b'], 'replayed');
  });

  it("a late request event of yesterday does not replace today's spend", () => {
    const state = registry();
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    choice.observe(spent('prk_a', '0.6', new Date()), state);
    choice.observe(spent('prk_a', '0.1', new Date(Date.now() - 86_400_000)), state);
    choice.observe(spent('prk_a', '0.4', new Date()), state);
    assert.deepEqual(serving(choice, state, route), ['prk_b'], '$1.00 of $1 today: resting');
  });

  it("a key's models changed in the registry decide which requests it serves from the next choice", () => {
    const state = registry();
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const models = (list: string[] | null) =>
      adminChange(state, 'ProviderKeyModelsChanged', { providerKeyId: 'prk_a', models: list });
    assert.deepEqual(serving(choice, state, route), ['prk_a', 'prk_b']);
    models(['text-embedding-3-small']);
    assert.deepEqual(serving(choice, state, route), ['prk_b'], 'prk_a no longer serves gpt-4o-mini');
    models(null);
    assert.deepEqual(serving(choice, state, route), ['prk_a', 'prk_b']);
  });

  it('a key the balancer disabled (401) comes back when an admin enables it, even if it never saw it disabled', () => {
    const state = registry();
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const now = Date.now();
    assert.ok(choice.candidates(state, route, undefined).next(now));
    choice.balancer.reportFailure('prk_a', { now, kind: 'auth_refused' });
    choice.balancer.reportFailure('prk_b', { now, kind: 'auth_refused' });
    assert.equal(choice.candidates(state, route, undefined).next(now), undefined, 'both disabled');
    // ProviderKeyDisabled and ProviderKeyEnabled both applied before the next request looks.
    adminChange(state, 'ProviderKeyDisabled', {
      providerKeyId: 'prk_a',
      reason: 'invalid_credentials',
      upstreamStatus: 401,
      note: null,
    });
    adminChange(state, 'ProviderKeyEnabled', { providerKeyId: 'prk_a' });
    assert.equal(choice.candidates(state, route, undefined).next(Date.now())?.providerKeyId, 'prk_a');
  });
});

describe('KeyChoice: a replaced secret', () => {
  it("starts afresh: the old secret's 401, missing scope, missing model and model rest are forgotten", () => {
    const state = registry();
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const now = Date.now();
    assert.ok(choice.candidates(state, route, undefined).next(now));
    const refused = new UpstreamError('upstream_http_error', 'provider answered 401', {
      phase: 'headers',
      status: 401,
    });
    choice.balancer.reportFailure('prk_a', { now, kind: 'auth_refused' });
    choice.markLacking('prk_a', 'gpt-4o-mini', refused, now);
    choice.markScopeMissing('prk_a', 'chat', refused, now);
    choice.restForModel('prk_a', 'gpt-4o-mini', 60_000, now);
    assert.deepEqual(serving(choice, state, route), ['prk_b']);
    const rotate = (kind: 'replaced' | 'rewrapped') =>
      adminChange(state, 'ProviderKeyRotated', {
        providerKeyId: 'prk_a',
        kind,
        secret: encryptSecret(
          'sk-proj-new-abcdefghijklmnopqrstuvwxyz',
          { orgId: ORG, providerKeyId: 'prk_a' },
          ring,
        ),
        last4: 'wxyz',
      });
    rotate('rewrapped');
    assert.deepEqual(serving(choice, state, route), ['prk_b'], 'the same secret re-wrapped changes nothing');
    assert.ok(choice.lacking('prk_a', 'gpt-4o-mini', now + 1));
    rotate('replaced');
    assert.deepEqual(serving(choice, state, route), ['prk_a', 'prk_b']);
    assert.equal(choice.lacking('prk_a', 'gpt-4o-mini', now + 1), undefined);
    assert.equal(choice.scopeMissing('prk_a', 'chat', now + 1), undefined);
    assert.equal(choice.modelRestUntil('prk_a', 'gpt-4o-mini', now + 1), 0);
  });
});

describe('KeyChoice: a half-open key skipped before any call', () => {
  it('frees the probe it claimed (its ticket goes with the skip)', () => {
    const state = registry();
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const now = Date.now();
    for (const id of ['prk_a', 'prk_b'])
      for (let i = 0; i < 5; i++) choice.balancer.reportFailure(id, { now, kind: 'timeout' });
    // prk_a rests for the model alone: handed out as its probe, then skipped.
    choice.restForModel('prk_a', 'gpt-4o-mini', 60_000, now);
    const halfOpen = now + 5_000;
    const attempts = choice.candidates(state, route, undefined);
    assert.equal(attempts.next(halfOpen)?.providerKeyId, 'prk_b', 'prk_a was skipped');
    assert.equal(attempts.next(halfOpen), undefined);
    assert.equal(choice.balancer.usableAt('prk_a', halfOpen), 0, "the skipped probe holds prk_a's slot");
  });
});

describe('KeyChoice: peeked keys (token counting)', () => {
  it('a key passed over gives back nothing: it was never handed out, its rpm stays as spent', () => {
    const state = registry(2);
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const now = Date.now();
    // One message on each key: one of the two requests of their minute.
    const message = choice.candidates(state, route, undefined);
    assert.ok(message.next(now));
    assert.ok(choice.candidates(state, route, undefined).next(now));
    // prk_a rests for the model: a count passes it over.
    choice.restForModel('prk_a', 'gpt-4o-mini', 60_000, now);
    const counting = choice.peekCandidates(route, () => state);
    const offered: string[] = [];
    for (let key = counting.next(now); key; key = counting.next(now)) {
      offered.push(key.providerKeyId);
      assert.equal(counting.probe, 0);
    }
    assert.deepEqual(offered, ['prk_b']);
    assert.deepEqual(
      choice.describeOrg(state, ORG, now).map((key) => [key.providerKeyId, key.usage.requestsPerMinute]),
      [
        ['prk_a', 1],
        ['prk_b', 1],
      ],
      'the count spent nothing and gave nothing back',
    );
  });
});

describe('KeyChoice: a key whose project lacks a model', () => {
  const notFound = new UpstreamError('upstream_http_error', 'provider answered 404', {
    phase: 'headers',
    status: 404,
  });

  it('is remembered per key and model for a minute, then asked again', () => {
    const choice = new KeyChoice();
    const now = 1_000_000;
    choice.markLacking('pk_a', 'gpt-4.1', notFound, now);
    assert.equal(choice.lacking('pk_a', 'gpt-4.1', now + 59_000), notFound);
    // The key's other models, and the model on another key (another project), are not.
    assert.equal(choice.lacking('pk_a', 'o3', now), undefined);
    assert.equal(choice.lacking('pk_b', 'gpt-4.1', now), undefined);
    assert.equal(choice.lacking('pk_a', 'gpt-4.1', now + 60_000), undefined);
  });

  it('remembers a bounded number of keys and models, the oldest forgotten first', () => {
    const choice = new KeyChoice();
    const now = 1_000_000;
    for (let i = 0; i <= 4096; i++) choice.markLacking('pk_a', `model-${i}`, notFound, now);
    assert.equal(choice.lacking('pk_a', 'model-0', now), undefined);
    assert.equal(choice.lacking('pk_a', 'model-1', now), notFound);
    assert.equal(choice.lacking('pk_a', 'model-4096', now), notFound);
  });
});

describe("KeyChoice: a key without an endpoint's scope", () => {
  const missingScope = new UpstreamError('upstream_http_error', 'provider answered 401', {
    phase: 'headers',
    status: 401,
  });

  it('is remembered per key and operation for a minute, then asked again', () => {
    const choice = new KeyChoice();
    const now = 1_000_000;
    choice.markScopeMissing('pk_a', 'responses', missingScope, now);
    assert.equal(choice.scopeMissing('pk_a', 'responses', now + 59_000), missingScope);
    // The key's other endpoints, and the endpoint on another key, are not.
    assert.equal(choice.scopeMissing('pk_a', 'chat', now), undefined);
    assert.equal(choice.scopeMissing('pk_b', 'responses', now), undefined);
    assert.equal(choice.scopeMissing('pk_a', 'responses', now + 60_000), undefined);
    // Nor is it a key lacking a model.
    assert.equal(choice.lacking('pk_a', 'responses', now), undefined);
  });
});

describe('failureKind: how a failed attempt counts for its key', () => {
  /** A provider's error answer as its adapter reads it. */
  const answered = (status: number, info: ReturnType<typeof anthropicErrorInfo>) =>
    new UpstreamError('upstream_http_error', `provider answered ${status}`, {
      phase: 'headers',
      status,
      provider: info,
    });
  const claude = (status: number, type: string, message: string) =>
    answered(
      status,
      anthropicErrorInfo({
        status,
        headers: {},
        json: { type: 'error', error: { type, message } },
        text: '',
      }),
    );
  const openai = (status: number, error: { type: string; code: string; message: string }) =>
    answered(status, openAIErrorInfo({ status, headers: {}, json: { error }, text: '' }));

  it("an account out of credit rests its key (the next key serves), whatever the provider's status", () => {
    const spent = [
      claude(400, 'invalid_request_error', 'Your credit balance is too low to access the Anthropic API.'),
      claude(400, 'invalid_request_error', 'You have reached your specified API usage limits.'),
      openai(429, {
        type: 'insufficient_quota',
        code: 'insufficient_quota',
        message: 'You exceeded your current quota, please check your plan and billing details.',
      }),
      answered(402, {
        status: 402,
        type: 'quota_exceeded',
        message: 'Insufficient Balance',
        retryable: false,
      }),
    ];
    for (const error of spent) {
      assert.equal(outOfCredit(error), true, error.provider?.message);
      assert.equal(failureKind(error, false), 'rate_limited', error.provider?.message);
    }
  });

  it("a refusal of the request itself is not the key's: a 400, a 404, a 413", () => {
    for (const error of [
      claude(400, 'invalid_request_error', 'max_tokens: Field required'),
      claude(404, 'not_found_error', 'model: claude-nope'),
      claude(413, 'request_too_large', 'Request exceeds the maximum allowed number of bytes.'),
    ]) {
      assert.equal(outOfCredit(error), false);
      assert.equal(failureKind(error, false), 'not_the_key', error.provider?.message);
    }
    const rateLimited = openai(429, {
      type: 'requests',
      code: 'rate_limit_exceeded',
      message: 'Rate limit reached',
    });
    assert.equal(outOfCredit(rateLimited), false);
    assert.equal(failureKind(rateLimited, false), 'rate_limited');
    // Larger than the key's whole tokens-per-minute limit: the request's fault, the key's budget is untouched.
    const tooLarge = openai(429, {
      type: 'tokens',
      code: 'rate_limit_exceeded',
      message:
        'Request too large for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Requested 36278. The input or output tokens must be reduced in order to run successfully.',
    });
    assert.equal(failureKind(tooLarge, false), 'not_the_key');
  });

  it("a project without access to the model (OpenAI's 403 model_not_found) is not the key's: it serves its other models", () => {
    const noAccess = openai(403, {
      type: 'invalid_request_error',
      code: 'model_not_found',
      message: 'Project `proj_QRf115YMnQwMUdTI9cu2sWQ8` does not have access to model `gpt-4.1`',
    });
    assert.equal(failureKind(noAccess, false), 'not_the_key');
    // A 403 that says nothing of the model is still the key refused.
    const refused = openai(403, {
      type: 'invalid_request_error',
      code: 'unsupported_country_region_territory',
      message: 'Country, region, or territory not supported',
    });
    assert.equal(failureKind(refused, false), 'auth_refused');
  });

  it("a restricted key without an endpoint's scope (OpenAI's 401 Missing scopes) is not the key's: it serves its other endpoints", () => {
    const scopeless = answered(
      401,
      openAIErrorInfo({
        status: 401,
        headers: {},
        json: {
          error: {
            message:
              "You have insufficient permissions for this operation. Missing scopes: api.responses.write. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.",
            type: 'invalid_request_error',
            param: null,
            code: null,
          },
        },
        text: '',
      }),
    );
    assert.equal(failureKind(scopeless, false), 'not_the_key');
    const wrongKey = openai(401, {
      type: 'invalid_request_error',
      code: 'invalid_api_key',
      message: 'Incorrect API key provided: sk-proj-****abcd.',
    });
    assert.equal(failureKind(wrongKey, false), 'auth_refused');
  });

  it("an input OpenRouter's moderation flagged (its 403 with metadata.reasons) is not the key's", () => {
    const flagged = answered(
      403,
      openAIErrorInfo({
        status: 403,
        headers: {},
        json: {
          error: {
            code: 403,
            message: 'openai/gpt-4o requires moderation on OpenAI. Your input was flagged for "harassment".',
            metadata: { reasons: ['harassment'], flagged_input: 'you are...', provider_name: 'OpenAI' },
          },
        },
        text: '',
      }),
    );
    assert.equal(failureKind(flagged, false), 'not_the_key');
    // OpenRouter's 403 without them is still the key refused.
    const refused = answered(
      403,
      openAIErrorInfo({
        status: 403,
        headers: {},
        json: { error: { code: 403, message: 'Key disabled' } },
        text: '',
      }),
    );
    assert.equal(failureKind(refused, false), 'auth_refused');
  });

  it('a provider\'s 408 (OpenRouter: "Your request timed out") is a timeout, not the caller\'s bad request', () => {
    const timedOut = answered(
      408,
      openAIErrorInfo({
        status: 408,
        headers: {},
        json: { error: { code: 408, message: 'Your request timed out' } },
        text: '',
      }),
    );
    // The next key or provider is asked, as for Kordon's own timeout.
    assert.equal(failureKind(timedOut, false), 'timeout');
    const answer = asGatewayError(timedOut);
    assert.equal(answer.kind, 'upstream_timeout');
  });

  it("a Gemini key refused with a 400 (API_KEY_INVALID) is refused, not the request's", () => {
    const gemini = (status: number, error: Record<string, unknown>) =>
      answered(status, geminiErrorInfo({ status, headers: {}, json: { error }, text: '' }));
    const wrongKey = gemini(400, {
      code: 400,
      message: 'API key not valid. Please pass a valid API key.',
      status: 'INVALID_ARGUMENT',
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'API_KEY_INVALID',
          domain: 'googleapis.com',
        },
      ],
    });
    assert.equal(failureKind(wrongKey, false), 'auth_refused');
    // The caller is not told its request was bad (nor that its own key is "not valid").
    assert.equal(asGatewayError(wrongKey).kind, 'upstream_auth');
    // Another INVALID_ARGUMENT is the request's.
    const badRequest = gemini(400, {
      code: 400,
      message: '* GenerateContentRequest.contents: contents is not specified',
      status: 'INVALID_ARGUMENT',
    });
    assert.equal(failureKind(badRequest, false), 'not_the_key');
    assert.equal(asGatewayError(badRequest).kind, 'invalid_request');
  });
});

describe('KeyChoice: keys an admin changes during a request', () => {
  it("a key disabled or removed while a request fails over is not that request's next key", () => {
    for (const change of ['disabled', 'removed'] as const) {
      const state = registry();
      const choice = new KeyChoice();
      const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
      const now = Date.now();
      // Round-robin: find a request whose first key is prk_b, so prk_a is its failover.
      let keys = choice.candidates(state, route, undefined, () => state);
      if (keys.next(now)?.providerKeyId !== 'prk_b') {
        keys = choice.candidates(state, route, undefined, () => state);
        assert.equal(keys.next(now)?.providerKeyId, 'prk_b');
      }
      if (change === 'disabled')
        adminChange(state, 'ProviderKeyDisabled', {
          providerKeyId: 'prk_a',
          reason: 'manual',
          upstreamStatus: null,
          note: null,
        });
      else adminChange(state, 'ProviderKeyRemoved', { providerKeyId: 'prk_a' });
      assert.equal(keys.next(now), undefined, `prk_a was ${change} during the request`);
    }
  });
});

describe('KeyChoice: a key whose quota of one model is spent', () => {
  it('is not handed out for that model until its rest ends, serves the others, and the wait counts it', () => {
    const state = registry();
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const other = { ...route, model: 'gpt-4.1' };
    const now = Date.now();
    choice.restForModel('prk_a', route.model, 50_000, now);
    choice.restForModel('prk_b', route.model, 30_000, now);
    assert.equal(choice.candidates(state, route, undefined).next(now), undefined);
    assert.ok(choice.candidates(state, other, undefined).next(now), 'the key serves its other models');
    // The caller's wait: the first key back for the model, as its rest says.
    assert.equal(choice.nextUsableAt(state, route, now), now + 30_000);
    assert.equal(choice.nextUsableAt(state, other, now), now);
    assert.equal(choice.candidates(state, route, undefined).next(now + 30_000)?.providerKeyId, 'prk_b');
    assert.equal(choice.modelRestUntil('prk_a', route.model, now + 50_000), 0);
  });

  it("is passed over without spending its own rpm: its other models keep the key's minute", () => {
    const state = registry();
    adminChange(state, 'ProviderKeyLimitsChanged', { providerKeyId: 'prk_a', tier: 0, limits: { rpm: 3 } });
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const other = { ...route, model: 'gpt-4.1' };
    const now = Date.now();
    choice.restForModel('prk_a', route.model, 50_000, now);
    // Round-robin hands prk_a out to every other request for the model; none is sent to it.
    for (let i = 0; i < 10; i++)
      assert.equal(choice.candidates(state, route, undefined).next(now)?.providerKeyId, 'prk_b');
    const usage = (id: string) =>
      choice.describeOrg(state, ORG, now).find((k) => k.providerKeyId === id)?.usage.requestsPerMinute;
    assert.equal(usage('prk_a'), 0, 'no request went to prk_a');
    const served = new Set<string>();
    for (let i = 0; i < 4; i++)
      served.add(choice.candidates(state, other, undefined).next(now)?.providerKeyId ?? 'none');
    assert.deepEqual([...served].sort(), ['prk_a', 'prk_b'], 'prk_a still serves its other models');
  });
});

/** Claude's refusal with `error.details.error_code`, as its adapter reads it. */
function claudeRefusal(
  status: number,
  type: string,
  code: string,
  retryAfterSeconds?: number,
): UpstreamError {
  const json = { type: 'error', error: { type, message: `refused: ${code}`, details: { error_code: code } } };
  return new UpstreamError('upstream_http_error', `provider answered ${status}`, {
    phase: 'headers',
    status,
    provider: anthropicErrorInfo({ status, headers: {}, json, text: JSON.stringify(json) }),
    ...(retryAfterSeconds !== undefined && { retryAfterMs: retryAfterSeconds * 1000 }),
  });
}

describe('KeyChoice: a Claude workspace not ready (503 storage_not_ready)', () => {
  const notReady = (retryAfterSeconds?: number) =>
    claudeRefusal(503, 'api_error', 'storage_not_ready', retryAfterSeconds);

  it('is told apart from an overload, and rests the key a minute (or its Retry-After) without faulting it', () => {
    assert.ok(saysStorageNotReady(notReady()));
    assert.ok(!saysStorageNotReady(claudeRefusal(503, 'api_error', 'cmek_key_unreachable')));
    assert.ok(!saysStorageNotReady(claudeRefusal(529, 'overloaded_error', 'storage_not_ready')));
    const state = registry();
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const now = Date.now();
    choice.markNotReady('prk_a', notReady(), now);
    assert.ok(choice.notReady('prk_a', now + STORAGE_NOT_READY_REST_MS - 1));
    assert.equal(choice.notReady('prk_b', now), undefined, 'per key');
    // The other key serves: the wait is none; with both resting, the first one back.
    assert.equal(choice.nextUsableAt(state, route, now), now);
    choice.markNotReady('prk_b', notReady(20), now);
    assert.equal(choice.nextUsableAt(state, route, now), now + 20_000);
    assert.equal(choice.notReady('prk_b', now + 20_000), undefined);
    assert.equal(choice.notReady('prk_a', now + STORAGE_NOT_READY_REST_MS), undefined);
    // Not counted against the key's health: no error sample, the circuit untouched.
    const [health] = choice.describeOrg(state, ORG, now).filter((key) => key.providerKeyId === 'prk_a');
    assert.equal(health?.errorRate, 0);
    assert.equal(health?.state, 'ok');
  });

  it("reaches an Anthropic caller as Claude's 503 with its type and details; an OpenAI caller as a 503", () => {
    const refused = asGatewayError(notReady(7));
    const anthropic = errorBody(refused, 'anthropic') as { error: Record<string, unknown> };
    assert.equal(refused.statusIn('anthropic'), 503);
    assert.deepEqual(anthropic.error.type, 'api_error');
    assert.deepEqual(anthropic.error.details, { error_code: 'storage_not_ready' });
    assert.equal(refused.options.retryAfterSeconds, 7);
    assert.equal(refused.statusIn('openai'), 503);
    const openai = errorBody(refused, 'openai') as { error: { type: string; message: string } };
    assert.equal(openai.error.type, 'server_error');
    assert.match(openai.error.message, /not ready/);
    // A plain 503 or 529 stays an overload, 529 overloaded_error to Anthropic callers.
    const overloaded = asGatewayError(claudeRefusal(529, 'overloaded_error', 'whatever'));
    assert.equal(overloaded.statusIn('anthropic'), 529);
    assert.equal(
      (errorBody(overloaded, 'anthropic') as { error: { type: string } }).error.type,
      'overloaded_error',
    );
  });
});

describe('KeyChoice: a Claude organization with URL fetching off (400 organization_url_fetch_disabled)', () => {
  const urlOff = () => claudeRefusal(400, 'invalid_request_error', 'organization_url_fetch_disabled');

  it('is remembered per key for requests that fetch a URL, and forgotten with a new secret', () => {
    assert.ok(saysUrlFetchDisabled(urlOff()));
    assert.ok(!saysUrlFetchDisabled(claudeRefusal(400, 'invalid_request_error', 'thread_already_continued')));
    // Counted as the provider refusing the request (not the key): generate.ts moves on.
    assert.equal(failureKind(urlOff(), false), 'not_the_key');
    const state = registry();
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const now = Date.now();
    choice.groupOf(state, route);
    choice.markUrlFetchDisabled('prk_a', urlOff(), now);
    assert.ok(choice.urlFetchDisabled('prk_a', now + 60_000));
    assert.equal(choice.urlFetchDisabled('prk_b', now), undefined);
    assert.equal(choice.urlFetchDisabled('prk_a', now + 5 * 60_000), undefined, 'for five minutes');
    // The key still serves: it is handed out as before.
    assert.ok(choice.candidates(state, route, undefined).next(now));
    choice.markUrlFetchDisabled('prk_a', urlOff(), now);
    adminChange(state, 'ProviderKeyRotated', {
      providerKeyId: 'prk_a',
      kind: 'replaced',
      secret: encryptSecret(
        'sk-proj-new-abcdefghijklmnopqrstuvwxyz',
        { orgId: ORG, providerKeyId: 'prk_a' },
        ring,
      ),
      last4: 'wxyz',
    });
    choice.groupOf(state, route);
    assert.equal(
      choice.urlFetchDisabled('prk_a', now),
      undefined,
      "another secret, maybe another organization's",
    );
  });

  it("reaches an Anthropic caller as Claude's 400, an OpenAI caller as a 400 saying what happened", () => {
    const refused = asGatewayError(urlOff());
    assert.equal(refused.statusIn('anthropic'), 400);
    const anthropic = errorBody(refused, 'anthropic') as { error: Record<string, unknown> };
    assert.deepEqual(anthropic.error, {
      type: 'invalid_request_error',
      message: 'refused: organization_url_fetch_disabled',
      details: { error_code: 'organization_url_fetch_disabled' },
    });
    const openai = errorBody(refused, 'openai') as { error: { type: string; code: string; message: string } };
    assert.equal(refused.statusIn('openai'), 400);
    assert.equal(openai.error.type, 'invalid_request_error');
    assert.equal(openai.error.code, 'organization_url_fetch_disabled');
    assert.match(openai.error.message, /URL fetching turned off/);
    assert.match(openai.error.message, /refused: organization_url_fetch_disabled$/);
  });
});

describe('KeyChoice: a key that answered a count with a 429', () => {
  const limited = (retryAfterSeconds?: number) =>
    claudeRefusal(429, 'rate_limit_error', 'whatever', retryAfterSeconds);

  it('rests for counting alone, for its Retry-After (else a few seconds), and is forgotten with a new secret', () => {
    const state = registry();
    const choice = new KeyChoice();
    const route = routeModel(state, ORG, 'gpt-4o-mini')[0]!;
    const now = Date.now();
    choice.groupOf(state, route);
    const rest = choice.markCountingRefused('prk_a', limited(7), now);
    assert.equal(rest.until, now + 7_000);
    assert.equal(choice.countingRefused('prk_a', now + 6_999)?.until, now + 7_000);
    assert.equal(choice.countingRefused('prk_a', now + 7_000), undefined, 'back at its Retry-After');
    assert.equal(choice.countingRefused('prk_b', now), undefined, 'per key');
    choice.markCountingRefused('prk_b', limited(), now);
    assert.ok(choice.countingRefused('prk_b', now + COUNTING_REST_MS - 1), 'no Retry-After: a default');
    assert.equal(choice.countingRefused('prk_b', now + COUNTING_REST_MS), undefined);
    // Its requests and its health are untouched: handed out as before, no error sample.
    choice.markCountingRefused('prk_a', limited(60), now);
    assert.deepEqual(serving(choice, state, route), ['prk_a', 'prk_b']);
    const [health] = choice.describeOrg(state, ORG, now).filter((key) => key.providerKeyId === 'prk_a');
    assert.equal(health?.errorRate, 0);
    assert.equal(health?.state, 'ok');
    adminChange(state, 'ProviderKeyRotated', {
      providerKeyId: 'prk_a',
      kind: 'replaced',
      secret: encryptSecret(
        'sk-proj-new-abcdefghijklmnopqrstuvwxyz',
        { orgId: ORG, providerKeyId: 'prk_a' },
        ring,
      ),
      last4: 'wxyz',
    });
    choice.groupOf(state, route);
    assert.equal(
      choice.countingRefused('prk_a', now + 1),
      undefined,
      "another secret, maybe another account's",
    );
  });
});
