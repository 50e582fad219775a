import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { z } from 'zod';
import type { EventMetadata, NewEvent, RecordedEvent } from '../envelope.js';
import { isKordonError, KordonError } from '../errors.js';
import { parseStreamId, streams } from '../streams.js';
import { requestCompletedExample, requestFailedExample } from '../testing/request-events.js';
import {
  Catalogue,
  defineEvent,
  EventDecodeError,
  type KordonEventData,
  type KordonEventType,
  kordonCatalogue,
  limitExceededEventId,
  limitResetEventId,
  looksLikeSecret,
} from './index.js';

const ORG = 'org-acme';
const metadata: EventMetadata = {
  orgId: ORG,
  actor: { kind: 'user', id: 'user-ada' },
  time: new Date('2025-03-01T12:00:00.000Z'),
};

const hex64 = 'a3f1'.repeat(16);
const secret = {
  algorithm: 'aes-256-gcm',
  keyId: 'master-2025-01',
  wrappedDataKey: Buffer.alloc(40, 7).toString('base64'),
  iv: Buffer.alloc(12, 1).toString('base64'),
  ciphertext: Buffer.alloc(51, 2).toString('base64'),
  authTag: Buffer.alloc(16, 3).toString('base64'),
} as const;
const publicKeySpki = generateKeyPairSync('ed25519')
  .publicKey.export({ type: 'spki', format: 'der' })
  .toString('base64');
const usage = requestCompletedExample.usage;

/** One valid example of every event type; `satisfies` makes a missing type a compile error. */
const examples = {
  OrgCreated: { orgId: ORG, slug: 'acme', name: 'Acme Corp' },
  TeamCreated: { teamId: 'team-research', name: 'Research' },
  UserInvited: {
    userId: 'user-bob',
    email: 'bob@acme.example',
    role: 'developer',
    teamId: 'team-research',
    tokenHash: { algorithm: 'hmac-sha256', keyId: 'pepper-1', value: hex64 },
    expiresAt: '2025-03-08T12:00:00Z',
  },
  UserJoined: {
    userId: 'user-bob',
    email: 'bob@acme.example',
    displayName: 'Bob Builder',
    method: 'invitation',
  },
  RoleGranted: { userId: 'user-bob', role: 'developer', teamId: 'team-research' },
  RoleRevoked: { userId: 'user-bob', role: 'admin', teamId: null },
  UserDisabled: { userId: 'user-bob', note: 'left the company' },
  UserPasswordSet: {
    userId: 'user-bob',
    passwordHash:
      '$argon2id$v=19$m=19456,t=2,p=1$htb6gelKASdEeg/Dft8+xA$7AyFGX5gEn3A6HvgNbU6kybFGXg04c/0Mg/luSuh7Ew',
  },
  SessionStarted: {
    sessionId: 'ses-1',
    userId: 'user-bob',
    method: 'password',
    refreshTokenHash: { algorithm: 'hmac-sha256', keyId: 'pepper-1', value: hex64 },
    expiresAt: '2025-03-31T12:00:00Z',
  },
  SessionRefreshed: {
    sessionId: 'ses-1',
    refreshTokenHash: { algorithm: 'hmac-sha256', keyId: 'pepper-1', value: hex64 },
  },
  SessionEnded: { sessionId: 'ses-1', reason: 'refresh_reuse' },
  ApiTokenIssued: {
    apiTokenId: 'tok-1',
    name: 'CI deploys',
    role: 'developer',
    prefix: 'kat_7fQa9xPz',
    hash: { algorithm: 'hmac-sha256', keyId: 'pepper-1', value: hex64 },
    expiresAt: null,
  },
  ApiTokenRevoked: { apiTokenId: 'tok-1', note: null },
  ProviderKeyAdded: {
    providerKeyId: 'pk-openai-1',
    provider: 'openai',
    name: 'OpenAI production',
    secret,
    last4: 'x9Qz',
    weight: 10,
    models: ['gpt-4o', 'gpt-4o-mini*'],
    baseUrl: null,
  },
  ProviderKeyRotated: { providerKeyId: 'pk-openai-1', kind: 'replaced', secret, last4: 'AbC1' },
  ProviderKeyWeightChanged: { providerKeyId: 'pk-openai-1', weight: 0 },
  ProviderKeyLimitsChanged: { providerKeyId: 'pk-openai-1', tier: 1, limits: { rpm: 500, dailyUsd: '25' } },
  ProviderKeyModelsChanged: { providerKeyId: 'pk-openai-1', models: ['gpt-4o*'] },
  ProviderKeyDisabled: {
    providerKeyId: 'pk-openai-1',
    reason: 'invalid_credentials',
    upstreamStatus: 401,
    note: null,
  },
  ProviderKeyEnabled: { providerKeyId: 'pk-openai-1' },
  ProviderKeyRemoved: { providerKeyId: 'pk-openai-1' },
  ProviderKeyCooledDown: {
    providerKeyId: 'pk-openai-1',
    until: '2025-03-01T12:00:30.000Z',
    reason: 'rate_limited',
    retryAfterMs: 30_000,
    upstreamStatus: 429,
  },
  ProxyKeyIssued: {
    proxyKeyId: 'key-1',
    userId: 'user-bob',
    teamId: null,
    name: 'laptop',
    prefix: 'kdn_7fQa',
    hash: { algorithm: 'hmac-sha256', keyId: 'pepper-1', value: hex64 },
    expiresAt: '2026-03-01T00:00:00Z',
  },
  ProxyKeyRevoked: { proxyKeyId: 'key-1', reason: 'compromised', note: 'pasted in a public chat' },
  ProxyKeySuspended: {
    proxyKeyId: 'key-1',
    reason: 'fraud_signal',
    byFraudDetector: true,
    fraudSignalId: 'sig-1',
    note: null,
  },
  ProxyKeyReinstated: { proxyKeyId: 'key-1', note: null },
  PolicySet: {
    scope: 'team',
    scopeId: 'team-research',
    limits: {
      rpm: 600,
      tpm: 200_000,
      concurrency: 8,
      budget: { usd: '250.00', period: '1mo' },
      tokens: { kind: 'total', count: 5_000_000, period: '90s' },
      maxDistinctIps: { count: 5, period: '1d' },
      ipAllow: ['10.0.0.0/8', '2001:db8::/32'],
      ipDeny: ['10.66.0.0/16'],
      models: ['gpt-4o*', 'claude-sonnet-4-5'],
    },
    renewal: { rollover: true, rolloverMaxPercent: 50, timeZone: 'Europe/Berlin', monthStartDay: 1 },
  },
  RequestCompleted: requestCompletedExample,
  RequestRejected: {
    requestId: 'req-2',
    reason: 'budget_usd',
    limitScope: { scope: 'team', scopeId: 'team-research' },
    proxyKeyId: 'key-1',
    userId: 'user-bob',
    teamId: 'team-research',
    model: 'claude-sonnet-4-5',
    endpoint: 'messages',
    status: 429,
    clientIp: '2001:db8::1',
  },
  RequestFailed: requestFailedExample,
  ContentFlagged: {
    requestId: 'req-4',
    proxyKeyId: 'key-1',
    userId: 'user-bob',
    teamId: null,
    level: 1,
    direction: 'prompt',
    categories: ['secret'],
    ruleId: null,
    score: null,
    action: 'redacted',
  },
  LimitReset: {
    scope: 'org',
    scopeId: ORG,
    limit: 'budget_usd',
    periodStart: '2025-03-01T00:00:00Z',
    periodEnd: '2025-04-01T00:00:00Z',
    rolledOver: '12.5',
    tokenKind: null,
  },
  LimitExceeded: {
    scope: 'proxy-key',
    scopeId: 'key-1',
    limit: 'budget_tokens',
    periodStart: '2025-03-01T00:00:00Z',
    periodEnd: '2025-04-01T00:00:00Z',
    allowance: '5000000',
    used: '5000114',
    requestId: 'req-5',
  },
  FraudSignalRaised: {
    signalId: 'sig-1',
    kind: 'ip_spread',
    severity: 'high',
    proxyKeyId: 'key-1',
    userId: 'user-bob',
    evidence: {
      summary: '37 distinct IPs in 10 minutes (usual: 2)',
      detail: null,
      windowStart: '2025-03-01T11:50:00Z',
      windowEnd: '2025-03-01T12:00:00Z',
      requestCount: 912,
      distinctIps: 37,
      sampleRequestIds: ['req-2', 'req-3'],
    },
  },
  EgressRegistered: {
    egressId: 'egress-fra-1',
    region: 'eu-central-1',
    url: 'https://egress-fra.kordon.example/v1',
    publicKey: { algorithm: 'ed25519', spki: publicKeySpki },
  },
  EgressHealthChanged: { egressId: 'egress-fra-1', health: 'degraded', note: 'p95 latency above 2s' },
  RouteChanged: { provider: 'openai', via: ['egress-fra-1'] },
  ProviderConfigured: {
    provider: 'openai-main',
    type: 'openai',
    baseUrl: 'https://api.openai.com/v1',
    models: ['gpt-4o-mini', 'text-embedding-3-small'],
    options: {},
  },
  ProviderRemoved: { provider: 'openai-main' },
  ProvidersOrdered: { providers: ['azure-eu', 'openai-main'] },
  PricesSet: {
    prices: [{ model: 'gpt-4o-mini', effectiveFrom: '2026-12-01T00:00:00Z', input: '0.15', output: '0.60' }],
  },
  LoggedTextErased: { before: '2026-12-05T14:30:00.000Z' },
  LoggingPolicySet: {
    bodies: 'redacted',
    retentionDays: 30,
    rules: [
      {
        name: 'employee_id',
        pattern: String.raw`\bEMP-\d{6}\b`,
        action: 'hash',
        caseInsensitive: false,
        group: 0,
        keepLast: 0,
      },
    ],
  },
  OidcConfigured: {
    issuer: 'https://login.acme.example/realms/staff',
    clientId: 'kordon-admin',
    clientSecret: secret,
    allowedDomains: ['acme.example', 'research.acme.example'],
    autoProvision: true,
  },
} satisfies { [T in KordonEventType]: KordonEventData<T> };

const TYPES = Object.keys(examples) as KordonEventType[];

/** Builds what a store would hand back: JSON round trip of the data, plus versions. */
function recorded(event: NewEvent, position: number): RecordedEvent {
  return { ...event, data: JSON.parse(JSON.stringify(event.data)), streamVersion: 1, position };
}

/**
 * `event` as stored at an older `version` of its type: RequestCompleted before v6 had no
 * `storedAnswer` (the other fields the tests use are alike in every version).
 */
function older(event: NewEvent, position: number, version: number): RecordedEvent {
  const stored = { ...recorded(event, position), schemaVersion: version };
  if (event.type !== 'RequestCompleted' || version >= 6) return stored;
  const { storedAnswer: _, ...data } = stored.data as Record<string, unknown>;
  return { ...stored, data };
}

function create(type: KordonEventType, data: unknown): NewEvent {
  // `never` lets tests hand malformed data to `create`, as an untyped caller could.
  return kordonCatalogue.create(type, streams.org(ORG), data as never, metadata);
}

function assertInvalid(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isKordonError(error, 'event_invalid'), `expected event_invalid, got ${String(error)}`);
    if (pattern) assert.match((error as Error).message, pattern);
    return true;
  });
}

function assertDecodeError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof EventDecodeError, `expected EventDecodeError, got ${String(error)}`);
    assert.equal(error.code, 'event_decode_failed');
    assert.equal(error.isRetryable, false);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('kordon catalogue', () => {
  /** Types whose current version is above 1 (each has an upcast test below). */
  const CURRENT_VERSION: Partial<Record<string, number>> = {
    LimitReset: 2,
    PolicySet: 2,
    PricesSet: 2,
    ProviderConfigured: 3,
    RequestCompleted: 7,
    RequestRejected: 4,
    RequestFailed: 5,
    SessionEnded: 2,
  };

  test('has an example for exactly the catalogued types, each at its current version', () => {
    assert.deepEqual([...kordonCatalogue.types()].sort(), [...TYPES].sort());
    assert.equal(TYPES.length, 44);
    for (const definition of kordonCatalogue.definitions)
      assert.equal(definition.version, CURRENT_VERSION[definition.type] ?? 1, definition.type);
  });

  test('ProviderConfigured v1 and v2 are read as v3 unchanged; only v2 on may set a default max_tokens', () => {
    for (const schemaVersion of [1, 2]) {
      const stored = {
        ...recorded(create('ProviderConfigured', examples.ProviderConfigured), 3),
        schemaVersion,
      };
      const decoded = kordonCatalogue.decode(stored);
      assert.equal(decoded.schemaVersion, 3);
      assert.deepEqual(decoded.data, examples.ProviderConfigured);
    }
    const withDefault = create('ProviderConfigured', {
      ...examples.ProviderConfigured,
      options: { defaultMaxTokens: 16_000 },
    });
    assert.deepEqual(kordonCatalogue.decode({ ...recorded(withDefault, 4), schemaVersion: 2 }).data, {
      ...examples.ProviderConfigured,
      options: { defaultMaxTokens: 16_000 },
    });
    assertDecodeError(
      () => kordonCatalogue.decode({ ...recorded(withDefault, 4), schemaVersion: 1 }),
      /defaultMaxTokens/,
    );
    assertInvalid(
      () =>
        create('ProviderConfigured', { ...examples.ProviderConfigured, options: { defaultMaxTokens: 0 } }),
      /defaultMaxTokens/,
    );
  });

  test('ProviderConfigured v3 carries vendor, authScheme, organization, project and a CA; v2 could not', () => {
    const options = {
      vendor: 'mistral',
      authScheme: 'bearer',
      organization: 'org-acme',
      project: 'proj_1',
      caCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    } as const;
    const event = create('ProviderConfigured', { ...examples.ProviderConfigured, options });
    assert.deepEqual(kordonCatalogue.decode(recorded(event, 5)).data, {
      ...examples.ProviderConfigured,
      options,
    });
    for (const field of Object.keys(options)) {
      const only = { [field]: options[field as keyof typeof options] };
      const stored = create('ProviderConfigured', { ...examples.ProviderConfigured, options: only });
      assertDecodeError(
        () => kordonCatalogue.decode({ ...recorded(stored, 6), schemaVersion: 2 }),
        new RegExp(field),
      );
    }
    for (const bad of [
      { vendor: 'mistralai' },
      { authScheme: 'basic' },
      { organization: '' },
      { caCertificate: 'not a certificate' },
      { caCertificate: `-----BEGIN CERTIFICATE-----${'A'.repeat(100_000)}` },
    ]) {
      assertInvalid(
        () => create('ProviderConfigured', { ...examples.ProviderConfigured, options: bad }),
        new RegExp(Object.keys(bad)[0]!),
      );
    }
  });

  test('PolicySet v1 (named periods) is read as v2 (period specs)', () => {
    const v1 = {
      scope: 'user',
      scopeId: 'user-bob',
      limits: {
        rpm: 10,
        budget: { usd: '25', period: 'month' },
        tokens: { kind: 'output', count: 1000, period: 'hour' },
        maxDistinctIps: { count: 3, period: 'lifetime' },
      },
    };
    const stored = { ...recorded(create('PolicySet', examples.PolicySet), 9), schemaVersion: 1, data: v1 };
    const decoded = kordonCatalogue.decode(stored);
    assert.equal(decoded.schemaVersion, 2);
    assert.deepEqual(decoded.data, {
      scope: 'user',
      scopeId: 'user-bob',
      limits: {
        rpm: 10,
        budget: { usd: '25', period: '1mo' },
        tokens: { kind: 'output', count: 1000, period: '1h' },
        maxDistinctIps: { count: 3, period: 'lifetime' },
      },
    });
  });

  test('RequestCompleted v2 and RequestFailed v1 are read unchanged; only the new versions carry cache writes', () => {
    for (const [type, version, current] of [
      ['RequestCompleted', 2, 7],
      ['RequestFailed', 1, 5],
    ] as const) {
      const stored = older(create(type, examples[type]), 6, version);
      const decoded = kordonCatalogue.decode(stored);
      assert.equal(decoded.schemaVersion, current);
      assert.deepEqual(decoded.data, examples[type]);
      const usage = { ...examples[type].usage, cacheWriteInputTokens: 50, cacheWrite1hInputTokens: 100 };
      const withWrites = create(type, { ...examples[type], usage });
      assert.deepEqual((withWrites.data as { usage: unknown }).usage, usage);
      assertDecodeError(() => kordonCatalogue.decode(older(withWrites, 7, version)), /cacheWriteInputTokens/);
      // Reads and writes together are parts of the prompt.
      assertInvalid(
        () =>
          create(type, {
            ...examples[type],
            usage: { ...usage, cacheWrite1hInputTokens: usage.inputTokens },
          }),
        /cache reads and writes are parts of inputTokens/,
      );
    }
  });

  test('RequestCompleted v3 and RequestFailed v2 are read unchanged; only the new versions carry web searches', () => {
    for (const [type, version, current] of [
      ['RequestCompleted', 3, 7],
      ['RequestFailed', 2, 5],
    ] as const) {
      const stored = older(create(type, examples[type]), 6, version);
      const decoded = kordonCatalogue.decode(stored);
      assert.equal(decoded.schemaVersion, current);
      assert.deepEqual(decoded.data, examples[type]);
      const usage = { ...examples[type].usage, webSearches: 2 };
      const withSearches = create(type, { ...examples[type], usage });
      assert.deepEqual((withSearches.data as { usage: unknown }).usage, usage);
      assertDecodeError(() => kordonCatalogue.decode(older(withSearches, 7, version)), /webSearches/);
      assertInvalid(
        () => create(type, { ...examples[type], usage: { ...usage, webSearches: -1 } }),
        /webSearches/,
      );
    }
  });

  test('RequestCompleted v4 and RequestFailed v3 are read unchanged; only the new versions carry a service tier', () => {
    for (const [type, version, current] of [
      ['RequestCompleted', 4, 7],
      ['RequestFailed', 3, 5],
    ] as const) {
      const stored = older(create(type, examples[type]), 6, version);
      const decoded = kordonCatalogue.decode(stored);
      assert.equal(decoded.schemaVersion, current);
      assert.deepEqual(decoded.data, examples[type]);
      const usage = { ...examples[type].usage, serviceTier: 'priority' as const };
      const withTier = create(type, { ...examples[type], usage });
      assert.deepEqual((withTier.data as { usage: unknown }).usage, usage);
      assertDecodeError(() => kordonCatalogue.decode(older(withTier, 7, version)), /serviceTier/);
      assertInvalid(
        () => create(type, { ...examples[type], usage: { ...usage, serviceTier: 'default' as 'flex' } }),
        /serviceTier/,
      );
      const inUs = { ...examples[type].usage, inferenceGeo: 'us' as const };
      assert.deepEqual(
        (create(type, { ...examples[type], usage: inUs }).data as { usage: unknown }).usage,
        inUs,
      );
      assertInvalid(
        () => create(type, { ...examples[type], usage: { ...inUs, inferenceGeo: 'global' as 'us' } }),
        /inferenceGeo/,
      );
      const fast = { ...examples[type].usage, speed: 'fast' as const };
      assert.deepEqual(
        (create(type, { ...examples[type], usage: fast }).data as { usage: unknown }).usage,
        fast,
      );
      assertInvalid(
        () => create(type, { ...examples[type], usage: { ...fast, speed: 'standard' as 'fast' } }),
        /speed/,
      );
    }
  });

  test('LimitReset v1 is read as v2 naming no token kind; only a token budget names one', () => {
    const { tokenKind: _, ...v1 } = { ...examples.LimitReset, limit: 'budget_tokens', rolledOver: '400' };
    const stored = { ...recorded(create('LimitReset', examples.LimitReset), 7), schemaVersion: 1, data: v1 };
    const decoded = kordonCatalogue.decode(stored);
    assert.equal(decoded.schemaVersion, 2);
    assert.deepEqual(decoded.data, { ...v1, tokenKind: null });
    const input = create('LimitReset', { ...v1, tokenKind: 'input' });
    assert.equal((input.data as { tokenKind: string }).tokenKind, 'input');
    assertDecodeError(() => kordonCatalogue.decode({ ...recorded(input, 8), schemaVersion: 1 }), /tokenKind/);
    assertInvalid(
      () => create('LimitReset', { ...examples.LimitReset, tokenKind: 'total' }),
      /tokenKind: only a token budget has a token kind/,
    );
  });

  test('PricesSet v1 is read as v2 unchanged; only v2 carries long-context tiers and peak hours', () => {
    const stored = { ...recorded(create('PricesSet', examples.PricesSet), 5), schemaVersion: 1 };
    const decoded = kordonCatalogue.decode(stored);
    assert.equal(decoded.schemaVersion, 2);
    assert.deepEqual(decoded.data, examples.PricesSet);
    const deepseek = {
      model: 'deepseek-chat',
      effectiveFrom: '2026-12-01T00:00:00Z',
      input: '0.1',
      output: '0.4',
      tiers: [{ aboveInputTokens: 128_000, input: '0.2', cachedInput: '0.02', output: '0.8' }],
      peakHours: {
        utcWindows: [
          { from: '01:00', to: '04:00' },
          { from: '06:00', to: '24:00' },
        ],
        utcWeekdays: [1, 2, 3, 4, 5],
        multiplier: '2',
      },
    };
    const v2 = create('PricesSet', { prices: [deepseek] });
    assert.equal(v2.schemaVersion, 2);
    assert.deepEqual(kordonCatalogue.decode(recorded(v2, 6)).data, { prices: [deepseek] });
    assertDecodeError(
      () => kordonCatalogue.decode({ ...recorded(v2, 6), schemaVersion: 1 }),
      /tiers|peakHours/,
    );
    const refused = (price: object, pattern: RegExp) =>
      assertInvalid(() => create('PricesSet', { prices: [{ ...deepseek, ...price }] } as never), pattern);
    refused(
      { peakHours: { ...deepseek.peakHours, utcWindows: [{ from: '10:00', to: '06:00' }] } },
      /from must be before to/,
    );
    refused(
      { peakHours: { ...deepseek.peakHours, utcWindows: [{ from: '1:00', to: '04:00' }] } },
      /UTC time/,
    );
    refused({ peakHours: { ...deepseek.peakHours, utcWeekdays: [0] } }, /utcWeekdays/);
    refused({ peakHours: { ...deepseek.peakHours, multiplier: 'twice' } }, /multiplier/);
    refused({ peakHours: { ...deepseek.peakHours, timeZone: 'Asia/Shanghai' } }, /timeZone/);
    refused(
      {
        tiers: [
          { aboveInputTokens: 200_000, input: '1', output: '2' },
          { aboveInputTokens: 128_000, input: '1', output: '2' },
        ],
      },
      /ascending order of aboveInputTokens/,
    );
    refused({ tiers: [{ aboveInputTokens: 0, input: '1', output: '2' }] }, /aboveInputTokens/);
    refused({ tiers: [{ aboveInputTokens: 1000, input: '1' }] }, /output/);
  });

  test('RequestRejected v1 is read as v4 unchanged; only v2 on may say overloaded', () => {
    const stored = { ...recorded(create('RequestRejected', examples.RequestRejected), 5), schemaVersion: 1 };
    const decoded = kordonCatalogue.decode(stored);
    assert.equal(decoded.schemaVersion, 4);
    assert.deepEqual(decoded.data, examples.RequestRejected);
    const overloaded = create('RequestRejected', {
      ...examples.RequestRejected,
      reason: 'overloaded',
      status: 503,
    });
    assert.equal((overloaded.data as { reason: string }).reason, 'overloaded');
    assert.throws(
      () =>
        kordonCatalogue.decode({
          ...recorded(overloaded, 6),
          schemaVersion: 1,
        }),
      /reason/,
    );
  });

  test('SessionEnded v1 is read as v2 unchanged; only v2 may say a new password or a disable ended it', () => {
    const stored = { ...recorded(create('SessionEnded', examples.SessionEnded), 5), schemaVersion: 1 };
    const decoded = kordonCatalogue.decode(stored);
    assert.equal(decoded.schemaVersion, 2);
    assert.deepEqual(decoded.data, examples.SessionEnded);
    for (const reason of ['password_changed', 'password_reset', 'user_disabled'] as const) {
      const ended = create('SessionEnded', { sessionId: 'ses-1', reason });
      assert.equal(ended.schemaVersion, 2);
      assert.equal((kordonCatalogue.decode(recorded(ended, 6)).data as { reason: string }).reason, reason);
      assert.throws(() => kordonCatalogue.decode({ ...recorded(ended, 6), schemaVersion: 1 }), /reason/);
    }
  });

  test('RequestRejected v2 is read as v4 unchanged; only v3 on may name an endpoint that is not usage', () => {
    const stored = { ...recorded(create('RequestRejected', examples.RequestRejected), 5), schemaVersion: 2 };
    const decoded = kordonCatalogue.decode(stored);
    assert.equal(decoded.schemaVersion, 4);
    assert.deepEqual(decoded.data, examples.RequestRejected);
    const models = create('RequestRejected', { ...examples.RequestRejected, endpoint: 'models' });
    assert.equal((models.data as { endpoint: string }).endpoint, 'models');
    assert.throws(() => kordonCatalogue.decode({ ...recorded(models, 6), schemaVersion: 2 }), /endpoint/);
    // RequestCompleted and RequestFailed keep the endpoints of usage only.
    assert.throws(
      () => create('RequestCompleted', { ...examples.RequestCompleted, endpoint: 'models' } as never),
      /endpoint/,
    );
  });

  test('RequestRejected v3 is read as v4 unchanged; only v4 may name the Responses input token count', () => {
    const counting = create('RequestRejected', {
      ...examples.RequestRejected,
      endpoint: 'messages.count_tokens',
    });
    const decoded = kordonCatalogue.decode({ ...recorded(counting, 5), schemaVersion: 3 });
    assert.equal(decoded.schemaVersion, 4);
    assert.deepEqual(decoded.data, counting.data);
    const inputTokens = create('RequestRejected', {
      ...examples.RequestRejected,
      endpoint: 'responses.input_tokens',
    });
    assert.equal(inputTokens.schemaVersion, 4);
    const read = kordonCatalogue.decode(recorded(inputTokens, 6)).data as { endpoint: string };
    assert.equal(read.endpoint, 'responses.input_tokens');
    assert.throws(
      () => kordonCatalogue.decode({ ...recorded(inputTokens, 6), schemaVersion: 3 }),
      /endpoint/,
    );
  });

  test('RequestCompleted v1 (logged text in the clear) is read as the current version with no sealed bodies', () => {
    const { sealedBodies: _, storedAnswer: __, ...v1 } = examples.RequestCompleted;
    const stored = {
      ...recorded(create('RequestCompleted', examples.RequestCompleted), 4),
      schemaVersion: 1,
      data: { ...v1, redactedPrompt: 'hello [EMAIL]' },
    };
    const decoded = kordonCatalogue.decode(stored);
    assert.equal(decoded.schemaVersion, 7);
    if (decoded.type !== 'RequestCompleted') assert.fail('wrong type');
    assert.equal(decoded.data.redactedPrompt, 'hello [EMAIL]');
    assert.equal(decoded.data.sealedBodies, null);
    // A v2 event names its key and carries ciphertext only.
    const sealed = { keyId: '0195514f-6d7a-7cc1-9a3e-3d1b2f4e5a6c', prompt: 'AAAA', response: null };
    const v2 = create('RequestCompleted', { ...examples.RequestCompleted, sealedBodies: sealed });
    assert.deepEqual((v2.data as { sealedBodies: unknown }).sealedBodies, sealed);
    assertInvalid(
      () =>
        create('RequestCompleted', {
          ...examples.RequestCompleted,
          sealedBodies: { ...sealed, keyId: 'k1' },
        }),
      /sealedBodies/,
    );
  });

  test('RequestCompleted v5 is read as v7 with no stored answer; only v6 on names the answer a follow-up continues', () => {
    const stored = {
      ...recorded(create('RequestCompleted', examples.RequestCompleted), 6),
      schemaVersion: 5,
    };
    const { storedAnswer: _, ...v5 } = examples.RequestCompleted;
    const decoded = kordonCatalogue.decode({ ...stored, data: v5 });
    assert.equal(decoded.schemaVersion, 7);
    assert.deepEqual(decoded.data, { ...v5, storedAnswer: null });
    for (const answer of [
      { kind: 'response', id: 'resp_68af0c1e9d2c8190a1b2' },
      { kind: 'thread', id: 'msg_01XFDUDYJgAACzvnptvVoYEL' },
    ] as const) {
      const v6 = create('RequestCompleted', { ...examples.RequestCompleted, storedAnswer: answer });
      assert.deepEqual(kordonCatalogue.decode(recorded(v6, 7)).data, {
        ...examples.RequestCompleted,
        storedAnswer: answer,
      });
      assertDecodeError(
        () => kordonCatalogue.decode({ ...recorded(v6, 7), schemaVersion: 5 }),
        /storedAnswer/,
      );
    }
    // Written without it (a writer that has none to name): null.
    const without = create('RequestCompleted', v5);
    assert.equal((without.data as { storedAnswer: unknown }).storedAnswer, null);
    for (const bad of [
      { kind: 'conversation', id: 'conv_1' },
      { kind: 'response', id: 'resp with spaces' },
      { kind: 'response', id: 'x'.repeat(129) },
      { kind: 'thread', id: 'msg_1', text: 'hello' },
    ])
      assertInvalid(
        () => create('RequestCompleted', { ...examples.RequestCompleted, storedAnswer: bad as never }),
        /storedAnswer/,
      );
  });

  test('RequestCompleted v6, RequestFailed v4 and RequestRejected v3 are read unchanged; only the new versions name responses.compact', () => {
    for (const [type, version, current] of [
      ['RequestCompleted', 6, 7],
      ['RequestFailed', 4, 5],
      ['RequestRejected', 3, 4],
    ] as const) {
      const decoded = kordonCatalogue.decode(older(create(type, examples[type]), 6, version));
      assert.equal(decoded.schemaVersion, current);
      assert.deepEqual(decoded.data, examples[type]);
      const compact = create(type, { ...examples[type], endpoint: 'responses.compact' });
      assert.equal((compact.data as { endpoint: string }).endpoint, 'responses.compact');
      assert.equal(compact.schemaVersion, current);
      assertDecodeError(() => kordonCatalogue.decode(older(compact, 7, version)), /endpoint/);
    }
  });

  test('PolicySet refuses a period that is not a spec', () => {
    for (const period of ['month', '0d', '1x', '400d', '1 d', '']) {
      assert.throws(
        () => create('PolicySet', { ...examples.PolicySet, limits: { budget: { usd: '1', period } } }),
        /period/,
        period,
      );
    }
  });

  test('ProvidersOrdered names each provider once, by its slug', () => {
    assertInvalid(
      () => create('ProvidersOrdered', { providers: ['a', 'b', 'a'] }),
      /each provider is named once/,
    );
    assertInvalid(() => create('ProvidersOrdered', { providers: ['Not A Slug'] }));
  });

  test('LoggingPolicySet refuses a pasted key as a pattern, twice-used rule names and bad bounds', () => {
    const rule = examples.LoggingPolicySet.rules[0]!;
    const policy = (patch: object) => create('LoggingPolicySet', { ...examples.LoggingPolicySet, ...patch });
    assertInvalid(
      () => policy({ rules: [{ ...rule, pattern: `sk-proj-${'a'.repeat(40)}` }] }),
      /rules\.0\.pattern: looks like a secret/,
    );
    assertInvalid(() => policy({ rules: [rule, rule] }), /rules: rule names must be unique/);
    assertInvalid(() => policy({ rules: [{ ...rule, name: 'Bad-Name' }] }), /rules\.0\.name/);
    assertInvalid(() => policy({ retentionDays: 0 }), /retentionDays/);
    assertInvalid(() => policy({ bodies: 'everything' }), /bodies/);
    assert.doesNotThrow(() => policy({ bodies: 'none', retentionDays: null, rules: [] }));
  });

  test('OidcConfigured refuses a plaintext client secret, odd domains and an issuer with a query', () => {
    const sso = (patch: object) => create('OidcConfigured', { ...examples.OidcConfigured, ...patch });
    assertInvalid(() => sso({ clientSecret: 'plaintext-client-secret' }), /clientSecret/);
    assertInvalid(() => sso({ allowedDomains: [] }), /allowedDomains/);
    assertInvalid(() => sso({ allowedDomains: ['ACME.example'] }), /allowedDomains/);
    assertInvalid(() => sso({ allowedDomains: ['*.acme.example'] }), /allowedDomains/);
    assertInvalid(() => sso({ allowedDomains: ['acme.example', 'acme.example'] }), /unique/);
    assertInvalid(() => sso({ issuer: 'https://login.acme.example/?tenant=1' }), /issuer/);
    assertInvalid(() => sso({ issuer: 'https://user:pw@login.acme.example' }), /issuer/);
    assertInvalid(() => sso({ clientId: 'has space' }), /clientId/);
  });

  for (const [index, type] of TYPES.entries()) {
    test(`${type} round-trips through create and decode`, () => {
      const data = examples[type];
      const event = create(type, data);
      assert.equal(event.type, type);
      assert.equal(event.schemaVersion, CURRENT_VERSION[type] ?? 1);
      assert.equal(event.orgId, ORG);
      assert.deepEqual(event.actor, metadata.actor);
      assert.deepEqual(event.time, metadata.time);
      const decoded = kordonCatalogue.decode(recorded(event, 100 + index));
      assert.equal(decoded.type, type);
      assert.equal(decoded.position, 100 + index);
      assert.deepEqual(decoded.data, data);
      assert.doesNotThrow(() => kordonCatalogue.validate(event));
    });

    test(`${type} refuses unknown fields (strict)`, () => {
      assertInvalid(() => create(type, { ...examples[type], extra: 1 }), /Unrecognized key/i);
    });
  }

  test('decoded events narrow by type', () => {
    const decoded = kordonCatalogue.decode(
      recorded(create('RequestCompleted', examples.RequestCompleted), 1),
    );
    if (decoded.type !== 'RequestCompleted') assert.fail('wrong type');
    const cost: string | null = decoded.data.cost;
    const teamId: string | null = decoded.data.teamId;
    // @ts-expect-error money is a decimal string, never a number
    const asNumber: number = decoded.data.cost;
    assert.equal(typeof asNumber, 'string');
    assert.equal(cost, '0.0061');
    assert.equal(teamId, 'team-research');
  });

  test('create refuses malformed data with event_invalid naming the type and field', () => {
    assertInvalid(() => create('OrgCreated', { orgId: ORG, slug: 'acme' }), /^OrgCreated: name:/);
    assertInvalid(() => create('TeamCreated', { teamId: 'a:b', name: 'x' }), /teamId/);
    assertInvalid(() => create('RequestCompleted', { ...examples.RequestCompleted, cost: 0.0061 }), /cost/);
    assertInvalid(() => create('RequestCompleted', { ...examples.RequestCompleted, cost: '6.1e-3' }), /cost/);
    assertInvalid(() => create('RequestCompleted', { ...examples.RequestCompleted, cost: '-1' }), /cost/);
    assertInvalid(
      () => create('RequestCompleted', { ...examples.RequestCompleted, currency: 'usd' }),
      /currency/,
    );
    assertInvalid(
      () =>
        create('RequestCompleted', { ...examples.RequestCompleted, usage: { ...usage, outputTokens: -1 } }),
      /usage\.outputTokens/,
    );
    assertInvalid(
      () =>
        create('RequestCompleted', { ...examples.RequestCompleted, usage: { ...usage, inputTokens: 1.5 } }),
      /usage\.inputTokens/,
    );
    assertInvalid(
      () =>
        create('RequestCompleted', {
          ...examples.RequestCompleted,
          usage: { ...usage, cachedInputTokens: 5000 },
        }),
      /cache reads and writes are parts of inputTokens/,
    );
    assertInvalid(
      () => create('RequestCompleted', { ...examples.RequestCompleted, clientIp: 'localhost' }),
      /clientIp/,
    );
    assertInvalid(
      () => create('RequestCompleted', { ...examples.RequestCompleted, endpoint: 'images' }),
      /endpoint/,
    );
    assertInvalid(
      () => create('ProviderKeyCooledDown', { ...examples.ProviderKeyCooledDown, until: '2025-03-01 12:00' }),
      /until/,
    );
    assertInvalid(
      () =>
        create('ProviderKeyCooledDown', {
          ...examples.ProviderKeyCooledDown,
          until: '2025-03-01T14:00:00+02:00',
        }),
      /until/,
    );
    assertInvalid(
      () => create('RequestRejected', { ...examples.RequestRejected, reason: 'bored' }),
      /reason/,
    );
    assertInvalid(
      () =>
        create('PolicySet', {
          ...examples.PolicySet,
          limits: { ipAllow: ['10.0.0.1'], budget: { usd: 50, period: '1mo' } },
        }),
      /limits\.ipAllow\.0.*limits\.budget\.usd|limits\.budget\.usd.*limits\.ipAllow\.0/,
    );
    assertInvalid(
      () => create('LimitReset', { ...examples.LimitReset, periodEnd: '2025-02-01T00:00:00Z' }),
      /periodEnd must be after periodStart/,
    );
    assertInvalid(
      () => create('LimitExceeded', { ...examples.LimitExceeded, used: '5000114.5' }),
      /used: token and IP amounts are whole numbers/,
    );
    assertInvalid(
      () => create('ProxyKeySuspended', { ...examples.ProxyKeySuspended, fraudSignalId: null }),
      /fraudSignalId/,
    );
    assertInvalid(
      () =>
        create('ProviderKeyAdded', { ...examples.ProviderKeyAdded, baseUrl: 'https://u:p@api.example.com' }),
      /baseUrl/,
    );
  });

  test('a policy with no limits is valid (it removes every limit of the scope)', () => {
    assert.doesNotThrow(() => create('PolicySet', { scope: 'user', scopeId: 'user-bob', limits: {} }));
  });

  test('decode refuses malformed data with an EventDecodeError naming the position and type', () => {
    const event = recorded(create('OrgCreated', examples.OrgCreated), 42);
    assertDecodeError(
      () => kordonCatalogue.decode({ ...event, data: { orgId: ORG, slug: 'acme', name: 7 } }),
      /^event OrgCreated v1 at position 42: malformed data: name:/,
    );
    assertDecodeError(() => kordonCatalogue.decode({ ...event, data: null }), /OrgCreated v1 at position 42/);
    const error = (() => {
      try {
        kordonCatalogue.decode({ ...event, data: {} });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    assert.ok(error instanceof EventDecodeError);
    assert.equal(error.position, 42);
    assert.equal(error.eventType, 'OrgCreated');
    assert.ok(error.cause instanceof z.ZodError);
  });

  test('unknown types are refused by create, validate and decode', () => {
    assertInvalid(
      () => kordonCatalogue.create('OrgRenamed' as 'OrgCreated', 'org:x', examples.OrgCreated, metadata),
      /unknown event type OrgRenamed/,
    );
    const event = recorded(create('OrgCreated', examples.OrgCreated), 7);
    assertInvalid(() => kordonCatalogue.validate({ ...event, type: 'OrgRenamed' }), /unknown event type/);
    assertDecodeError(
      () => kordonCatalogue.decode({ ...event, type: 'OrgRenamed' }),
      /^event OrgRenamed v1 at position 7: unknown event type/,
    );
  });

  test('a future version is refused, not guessed at', () => {
    const event = recorded(create('RequestCompleted', examples.RequestCompleted), 9);
    assertDecodeError(
      () => kordonCatalogue.decode({ ...event, schemaVersion: 8 }),
      /^event RequestCompleted v8 at position 9: unknown version \(this build knows up to v7\)/,
    );
    assertDecodeError(() => kordonCatalogue.decode({ ...event, schemaVersion: 0 }), /unknown version/);
    assertInvalid(
      () => kordonCatalogue.validate({ ...event, schemaVersion: 1 }),
      /only version 7 may be written/,
    );
  });

  describe('secrets cannot be represented', () => {
    const proxyKey = `kdn_${'Zx9'.repeat(12)}`;

    test('a key is not a hash', () => {
      const issued = examples.ProxyKeyIssued;
      for (const value of [
        proxyKey,
        proxyKey.slice(0, 64),
        'sk-proj-'.padEnd(64, 'a'),
        hex64.toUpperCase(),
        hex64.slice(1),
      ]) {
        assertInvalid(
          () => create('ProxyKeyIssued', { ...issued, hash: { ...issued.hash, value } }),
          /hash\.value/,
        );
      }
      assertInvalid(() => create('ProxyKeyIssued', { ...issued, hash: proxyKey }), /hash/);
      assertInvalid(
        () => create('ProxyKeyIssued', { ...issued, hash: { ...issued.hash, algorithm: 'plain' } }),
        /hash\.algorithm/,
      );
      assertInvalid(
        () =>
          create('UserInvited', {
            ...examples.UserInvited,
            tokenHash: { ...issued.hash, value: 'invite-token-123' },
          }),
        /tokenHash\.value/,
      );
    });

    test('a password is stored only as an argon2id hash', () => {
      const set = examples.UserPasswordSet;
      for (const passwordHash of [
        'correct horse battery staple',
        set.passwordHash.replace('argon2id', 'argon2i'),
        '$2b$12$abcdefghijklmnopqrstuvCDEFGHIJKLMNOPQRSTUVWXYZ0123456',
        hex64,
      ]) {
        assertInvalid(() => create('UserPasswordSet', { ...set, passwordHash }), /passwordHash/);
      }
      assertInvalid(() => create('UserPasswordSet', { ...set, password: 'hunter2' }), /Unrecognized key/i);
      assertInvalid(
        () => create('ApiTokenIssued', { ...examples.ApiTokenIssued, prefix: `kat_${'a'.repeat(40)}` }),
        /prefix/,
      );
    });

    test('the display prefix is too short to be the key', () => {
      assertInvalid(
        () => create('ProxyKeyIssued', { ...examples.ProxyKeyIssued, prefix: proxyKey }),
        /prefix/,
      );
      assertInvalid(
        () => create('ProxyKeyIssued', { ...examples.ProxyKeyIssued, prefix: 'sk-abcd' }),
        /prefix/,
      );
    });

    test('there is no field for a plaintext key', () => {
      assertInvalid(
        () => create('ProxyKeyIssued', { ...examples.ProxyKeyIssued, key: proxyKey }),
        /Unrecognized key/i,
      );
      assertInvalid(
        () =>
          create('ProviderKeyAdded', {
            ...examples.ProviderKeyAdded,
            apiKey: 'sk-live-0123456789abcdefghij',
          }),
        /Unrecognized key/i,
      );
      assertInvalid(
        () =>
          create('ProviderKeyAdded', {
            ...examples.ProviderKeyAdded,
            secret: 'sk-live-0123456789abcdefghij',
          }),
        /secret/,
      );
      assertInvalid(
        () =>
          create('ProviderKeyAdded', {
            ...examples.ProviderKeyAdded,
            secret: { ...secret, plaintext: 'sk-live-0123456789abcdefghij' },
          }),
        /Unrecognized key/i,
      );
      assertInvalid(
        () =>
          create('ProviderKeyAdded', {
            ...examples.ProviderKeyAdded,
            secret: { ...secret, iv: 'not base64!' },
          }),
        /secret\.iv/,
      );
      assertInvalid(
        () => create('ProviderKeyAdded', { ...examples.ProviderKeyAdded, last4: 'sk-live-0123' }),
        /last4/,
      );
    });

    test('names and notes refuse pasted keys', () => {
      assert.ok(looksLikeSecret(proxyKey));
      assert.ok(looksLikeSecret('sk-ant-api03-abcdefghijklmnopqrstuvwxyz'));
      assert.ok(!looksLikeSecret('key for the sk-team laptop'));
      assertInvalid(
        () => create('ProxyKeyIssued', { ...examples.ProxyKeyIssued, name: `my key ${proxyKey}` }),
        /name: looks like a secret/,
      );
      assertInvalid(
        () =>
          create('ProxyKeyRevoked', {
            ...examples.ProxyKeyRevoked,
            note: `leaked: sk-proj-${'a'.repeat(40)}`,
          }),
        /note: looks like a secret/,
      );
      assertInvalid(
        () =>
          create('FraudSignalRaised', {
            ...examples.FraudSignalRaised,
            evidence: { ...examples.FraudSignalRaised.evidence, summary: `used ${proxyKey}` },
          }),
        /evidence\.summary/,
      );
    });

    test('an egress key must be public: a private key is refused', () => {
      const { privateKey } = generateKeyPairSync('ed25519');
      const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
      assertInvalid(
        () =>
          create('EgressRegistered', {
            ...examples.EgressRegistered,
            publicKey: { algorithm: 'ed25519', spki: pkcs8 },
          }),
        /publicKey\.spki/,
      );
    });
  });

  describe('upcasting', () => {
    // Test-only event with three versions: v1 { name }, v2 { name, by }, v3 { title, by, locale }.
    const v1 = z.strictObject({ name: z.string().min(1) });
    const v2 = z.strictObject({ name: z.string().min(1), by: z.string().nullable() });
    const v3 = z.strictObject({ title: z.string().min(1), by: z.string().nullable(), locale: z.string() });
    const WidgetRenamed = defineEvent({
      type: 'WidgetRenamed',
      version: 3,
      schema: v3,
      previous: [
        {
          version: 1,
          schema: v1,
          upcast: (data: z.infer<typeof v1>): z.infer<typeof v2> => ({ ...data, by: null }),
        },
        {
          version: 2,
          schema: v2,
          upcast: ({ name, by }: z.infer<typeof v2>): z.infer<typeof v3> => ({
            title: name,
            by,
            locale: 'en',
          }),
        },
      ],
    });
    const catalogue = new Catalogue([WidgetRenamed] as const);
    const base = recorded(
      catalogue.create('WidgetRenamed', 'widget:1', { title: 'x', by: null, locale: 'en' }, metadata),
      5,
    );

    test('every older version is lifted through the chain to today', () => {
      const fromV1 = catalogue.decode({ ...base, schemaVersion: 1, data: { name: 'Gizmo' } });
      assert.equal(fromV1.schemaVersion, 3);
      assert.deepEqual(fromV1.data, { title: 'Gizmo', by: null, locale: 'en' });
      const fromV2 = catalogue.decode({ ...base, schemaVersion: 2, data: { name: 'Gizmo', by: 'ada' } });
      assert.deepEqual(fromV2.data, { title: 'Gizmo', by: 'ada', locale: 'en' });
      const fromV3 = catalogue.decode({ ...base, data: { title: 'Gizmo', by: 'ada', locale: 'de' } });
      assert.deepEqual(fromV3.data, { title: 'Gizmo', by: 'ada', locale: 'de' });
    });

    test('old data is checked against its own frozen schema', () => {
      assertDecodeError(
        () => catalogue.decode({ ...base, schemaVersion: 1, data: { name: 'Gizmo', by: 'ada' } }),
        /^event WidgetRenamed v1 at position 5: malformed data: .*by/i,
      );
      assertDecodeError(
        () => catalogue.decode({ ...base, schemaVersion: 2, data: { title: 'Gizmo', by: null } }),
        /WidgetRenamed v2 at position 5: malformed data/,
      );
      assertDecodeError(() => catalogue.decode({ ...base, schemaVersion: 4 }), /unknown version/);
    });

    test("only today's version is written", () => {
      const event = catalogue.create(
        'WidgetRenamed',
        'widget:1',
        { title: 'Gizmo', by: null, locale: 'en' },
        metadata,
      );
      assert.equal(event.schemaVersion, 3);
      assertInvalid(
        () => catalogue.validate({ ...event, schemaVersion: 1, data: { name: 'Gizmo' } }),
        /only version 3/,
      );
    });

    test('a version without a frozen schema and upcaster is a definition error', () => {
      assert.throws(
        () =>
          defineEvent({
            type: 'Broken',
            version: 3,
            schema: v3,
            previous: [{ version: 2, schema: v2, upcast: (d: unknown) => d }],
          }),
        /version 1 has no frozen schema/,
      );
      assert.throws(() => new Catalogue([WidgetRenamed, WidgetRenamed] as const), /defined twice/);
    });
  });
});

describe('limit event ids', () => {
  const key = { scope: 'team', scopeId: 'team-research', limit: 'budget_usd' } as const;

  test('are the same on every replica for the same period, and differ otherwise', () => {
    const a = limitResetEventId(ORG, key, '2025-03-01T00:00:00Z');
    assert.equal(a, limitResetEventId(ORG, key, '2025-03-01T00:00:00.000Z'));
    assert.notEqual(a, limitResetEventId(ORG, key, '2025-04-01T00:00:00Z'));
    assert.notEqual(a, limitResetEventId(ORG, { ...key, limit: 'budget_tokens' }, '2025-03-01T00:00:00Z'));
    assert.notEqual(a, limitResetEventId('org-other', key, '2025-03-01T00:00:00Z'));
    assert.notEqual(a, limitExceededEventId(ORG, key, '2025-03-01T00:00:00Z', '250'));
    assert.notEqual(limitExceededEventId(ORG, key, null, '250'), limitExceededEventId(ORG, key, null, '300'));
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const event = kordonCatalogue.create('LimitReset', streams.limits(ORG), examples.LimitReset, {
      ...metadata,
      id: a,
    });
    assert.equal(event.id, a);
    assert.throws(() => limitResetEventId(ORG, key, '1 March'), KordonError);
  });

  test('a token budget of each kind has its own reset; a total one keeps the id of version 1', () => {
    const tokens = { ...key, limit: 'budget_tokens' } as const;
    const start = '2025-03-01T00:00:00Z';
    const v1 = limitResetEventId(ORG, tokens, start);
    assert.equal(limitResetEventId(ORG, { ...tokens, tokenKind: 'total' }, start), v1);
    const input = limitResetEventId(ORG, { ...tokens, tokenKind: 'input' }, start);
    const output = limitResetEventId(ORG, { ...tokens, tokenKind: 'output' }, start);
    assert.equal(new Set([v1, input, output]).size, 3);
  });
});

describe('streams', () => {
  test('carry the tenant', () => {
    assert.equal(streams.org(ORG), 'org:org-acme');
    assert.equal(streams.team(ORG, 'team-1'), 'org:org-acme:team:team-1');
    assert.equal(streams.user(ORG, 'user-1'), 'org:org-acme:user:user-1');
    assert.equal(streams.proxyKey(ORG, 'key-1'), 'org:org-acme:proxy-key:key-1');
    assert.equal(streams.providerKey(ORG, 'pk-1'), 'org:org-acme:provider-key:pk-1');
    assert.equal(streams.usage(ORG), 'org:org-acme:usage');
    assert.equal(streams.limits(ORG), 'org:org-acme:limits');
    assert.equal(streams.fraud(ORG), 'org:org-acme:fraud');
    assert.equal(streams.routing(), 'routing');
  });

  test('put a policy on the stream of its subject', () => {
    assert.equal(streams.policy(ORG, 'org', ORG), 'org:org-acme');
    assert.equal(streams.policy(ORG, 'team', 't'), 'org:org-acme:team:t');
    assert.equal(streams.policy(ORG, 'user', 'u'), 'org:org-acme:user:u');
    assert.equal(streams.policy(ORG, 'proxy-key', 'k'), 'org:org-acme:proxy-key:k');
    assert.throws(() => streams.policy(ORG, 'org', 'org-other'), KordonError);
  });

  test('refuse ids that could break the format', () => {
    for (const bad of ['', 'a:b', 'org-acme:usage', ' key', 'key 1', 'x'.repeat(129), '-lead', 'ü']) {
      assert.throws(
        () => streams.proxyKey(ORG, bad),
        (error: unknown) =>
          isKordonError(error, 'event_invalid') && /proxyKeyId/.test((error as Error).message),
        JSON.stringify(bad),
      );
      assert.throws(() => streams.org(bad), /orgId/);
    }
    assert.doesNotThrow(() => streams.proxyKey(ORG, '0195514f-6d7a-7cc1-9a3e-3d1b2f4e5a6b'));
    assert.doesNotThrow(() => streams.proxyKey(ORG, 'x'.repeat(128)));
  });

  test('parse back into their parts', () => {
    assert.deepEqual(parseStreamId('routing'), { kind: 'routing' });
    assert.deepEqual(parseStreamId(streams.org(ORG)), {
      kind: 'tenant',
      orgId: ORG,
      category: 'org',
      id: null,
    });
    assert.deepEqual(parseStreamId(streams.usage(ORG)), {
      kind: 'tenant',
      orgId: ORG,
      category: 'usage',
      id: null,
    });
    assert.deepEqual(parseStreamId(streams.proxyKey(ORG, 'k1')), {
      kind: 'tenant',
      orgId: ORG,
      category: 'proxy-key',
      id: 'k1',
    });
    for (const bad of [
      'org',
      'org:',
      'team:t',
      'org:o:usage:x',
      'org:o:proxy-key',
      'org:o:widget:w',
      'org:o:user:a:b',
    ]) {
      assert.equal(parseStreamId(bad), null, bad);
    }
  });
});

describe('catalogue edge cases', () => {
  test('reports a throwing upcaster as a decode error naming position and type', () => {
    const Legacy = defineEvent({
      type: 'TestLegacy',
      version: 2,
      schema: z.strictObject({ value: z.number() }),
      previous: [
        {
          version: 1,
          schema: z.strictObject({ text: z.string() }),
          upcast: (): never => {
            throw new Error('cannot lift');
          },
        },
      ],
    });
    const catalogue = new Catalogue([Legacy] as const);
    assert.throws(
      () =>
        catalogue.decode({
          id: '0190a000-0000-7000-8000-000000000000',
          type: 'TestLegacy',
          schemaVersion: 1,
          streamId: 's',
          streamVersion: 1,
          position: 77,
          time: new Date(),
          orgId: null,
          actor: { kind: 'system', id: 't' },
          causationId: null,
          correlationId: null,
          traceId: null,
          data: { text: 'x' },
        }),
      (error: unknown) =>
        error instanceof EventDecodeError &&
        /TestLegacy v1 at position 77: upcasting from v1 failed/.test(error.message),
    );
  });

  test('refuses an event id that is not a UUID', () => {
    assert.throws(
      () =>
        kordonCatalogue.create(
          'OrgCreated',
          'org:acme',
          { orgId: 'acme', slug: 'acme', name: 'Acme' },
          {
            orgId: 'acme',
            actor: { kind: 'system', id: 't' },
            id: 'not-a-uuid',
          },
        ),
      /event id must be a UUID/,
    );
  });
});
