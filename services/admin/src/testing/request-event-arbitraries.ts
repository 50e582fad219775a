import { kordonCatalogue, type NewEvent, newEventId, type RecordedEvent, streams } from '@kordon/events';
import fc from 'fast-check';

/*
 * Random request events for property tests of the request-event projections (spend, request
 * log): every version of RequestCompleted, RequestFailed and RequestRejected the catalogue
 * reads, stored as that version wrote them, over a few orgs, teams, users, keys, providers,
 * models and currencies, costs of up to 15 + 12 digits, and times that bunch on day, month
 * and year boundaries (many equal). `storedAs` checks each against the catalogue's own
 * schema for its version, so a generator mistake fails loudly instead of testing nothing.
 */

const TYPES = { RequestCompleted: 7, RequestFailed: 5, RequestRejected: 4 } as const;
type RequestType = keyof typeof TYPES;

/** Instants either side of UTC day, month and year ends (and a leap day). */
const BOUNDARIES = [
  '2024-02-28T23:59:59.999Z',
  '2024-02-29T00:00:00.000Z',
  '2024-02-29T23:59:59.999Z',
  '2026-01-31T23:59:59.999Z',
  '2026-02-01T00:00:00.000Z',
  '2026-03-31T23:30:00.000Z',
  '2026-12-31T23:59:59.999Z',
  '2027-01-01T00:00:00.000Z',
].map((iso) => Date.parse(iso));

/** A time near a boundary: often exactly on it (equal times), else up to 90 minutes off. */
export const requestTime = fc
  .tuple(
    fc.constantFrom(...BOUNDARIES),
    fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, fc.integer({ min: -5_400_000, max: 5_400_000 })),
  )
  .map(([base, offset]) => new Date(base + offset));

/** A non-negative decimal the catalogue takes: `0|[1-9]\d{0,14}`, then 1 to 12 decimals. */
export const decimalCost = fc
  .tuple(
    fc.oneof(
      fc.constant(0n),
      fc.bigInt({ min: 1n, max: 999n }),
      fc.bigInt({ min: 1n, max: 999_999_999_999_999n }),
    ),
    fc.option(fc.stringMatching(/^\d{1,12}$/), { nil: undefined }),
  )
  .map(([whole, fraction]) => (fraction === undefined ? whole.toString() : `${whole}.${fraction}`));

const pick = <T>(values: readonly T[]) => fc.constantFrom(...values);
const orNull = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: null });

/** Model names may hold any printable ASCII after the first character: commas, quotes, = + - @. */
const MODELS = ['gpt-4o-mini', 'claude-sonnet-4-5', 'a,b"c', 'x=1+2', 'm@-@', "q'uote", 'semi;colon'];

interface Dimensions {
  orgId: string;
  teamId: string | null;
  userId: string;
  proxyKeyId: string;
  provider: string;
  providerKeyId: string;
  model: string;
}

export const dimensions = (orgs: readonly string[]): fc.Arbitrary<Dimensions> =>
  fc.record({
    orgId: pick(orgs),
    teamId: orNull(pick(['tm_core', 'tm_data', 'tm-9'])),
    userId: pick(['usr_ana', 'usr_bo', 'usr_cy']),
    proxyKeyId: pick(['pxk_1', 'pxk_2', 'pxk.3']),
    provider: pick(['openai', 'anthropic', 'yandex']),
    providerKeyId: pick(['prk_a', 'prk_b']),
    model: pick(MODELS),
  });

/** A count, usually small; parts (cached, cache writes, reasoning) fitted under it. */
const tokens = fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 0, max: 2_000_000_000 }));

export interface RequestEventSpec {
  type: RequestType;
  version: number;
  time: Date;
  dims: Dimensions;
  /** Of completed and failed requests: null is unpriced. */
  cost: string | null;
  currency: string | null;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  /** Of failed requests: no attempt made (no provider, no provider key). */
  noAttempt: boolean;
  rejectedWhoUnknown: boolean;
}

export const requestEventSpec = (orgs: readonly string[]): fc.Arbitrary<RequestEventSpec> =>
  fc
    .record({
      type: pick(Object.keys(TYPES) as RequestType[]),
      versionPick: fc.nat(),
      time: requestTime,
      dims: dimensions(orgs),
      priced: fc.oneof(
        { weight: 8, arbitrary: fc.tuple(decimalCost, pick<string | null>(['USD', 'EUR', 'RUB'])) },
        { weight: 2, arbitrary: fc.tuple(fc.constant(null), fc.constant(null)) },
        // The catalogue takes either without the other (the gateway writes both or neither).
        { weight: 1, arbitrary: fc.tuple(decimalCost, fc.constant(null)) },
        { weight: 1, arbitrary: fc.tuple(fc.constant(null), pick(['USD', 'EUR'])) },
      ),
      inputTokens: tokens,
      outputTokens: tokens,
      cachedShare: fc.double({ min: 0, max: 1, noNaN: true }),
      noAttempt: fc.boolean(),
      rejectedWhoUnknown: fc.boolean(),
    })
    .map((r) => ({
      type: r.type,
      version: 1 + (r.versionPick % TYPES[r.type]),
      time: r.time,
      dims: r.dims,
      cost: r.priced[0],
      currency: r.priced[1],
      inputTokens: r.inputTokens,
      outputTokens: r.outputTokens,
      cachedInputTokens: Math.floor(r.inputTokens * r.cachedShare),
      noAttempt: r.noAttempt,
      rejectedWhoUnknown: r.rejectedWhoUnknown,
    }));

/** The event as its version wrote it. */
export function storedAs(spec: RequestEventSpec): NewEvent {
  const { dims } = spec;
  const meta = {
    id: newEventId(),
    type: spec.type,
    schemaVersion: spec.version,
    streamId: streams.usage(dims.orgId),
    time: spec.time,
    orgId: dims.orgId,
    actor: { kind: 'proxy-key' as const, id: dims.proxyKeyId },
    causationId: null,
    correlationId: null,
    traceId: null,
  };
  const usage = {
    inputTokens: spec.inputTokens,
    outputTokens: spec.outputTokens,
    cachedInputTokens: spec.cachedInputTokens,
  };
  let data: Record<string, unknown>;
  if (spec.type === 'RequestRejected') {
    data = {
      requestId: newEventId(),
      reason: spec.version >= 2 ? 'overloaded' : 'rate_limit_rpm',
      limitScope: null,
      proxyKeyId: spec.rejectedWhoUnknown ? null : dims.proxyKeyId,
      userId: spec.rejectedWhoUnknown ? null : dims.userId,
      teamId: spec.rejectedWhoUnknown ? null : dims.teamId,
      model: spec.rejectedWhoUnknown ? null : dims.model,
      endpoint: spec.version >= 4 ? 'responses.compact' : spec.version === 3 ? 'models' : 'messages',
      status: 429,
      clientIp: '2001:db8::1',
    };
  } else if (spec.type === 'RequestCompleted') {
    data = {
      requestId: newEventId(),
      proxyKeyId: dims.proxyKeyId,
      userId: dims.userId,
      teamId: dims.teamId,
      provider: dims.provider,
      providerKeyId: dims.providerKeyId,
      model: dims.model,
      endpoint: spec.version >= 7 ? 'responses.compact' : 'chat.completions',
      stream: false,
      usage: {
        ...usage,
        ...(spec.version >= 3 ? { cacheWriteInputTokens: spec.inputTokens - spec.cachedInputTokens } : {}),
        ...(spec.version >= 4 ? { webSearches: 2 } : {}),
        ...(spec.version >= 5 ? { serviceTier: 'flex' } : {}),
      },
      cost: spec.cost,
      currency: spec.currency,
      latencyMs: 640,
      timeToFirstTokenMs: null,
      status: 200,
      clientIp: '203.0.113.7',
      attempts: 1,
      redactedPrompt: null,
      redactedResponse: null,
      ...(spec.version >= 2 ? { sealedBodies: null } : {}),
      ...(spec.version >= 6 ? { storedAnswer: null } : {}),
    };
  } else {
    data = {
      requestId: newEventId(),
      errorCode: spec.noAttempt ? 'no_provider_key' : 'stream_interrupted',
      proxyKeyId: dims.proxyKeyId,
      userId: dims.userId,
      teamId: dims.teamId,
      provider: spec.noAttempt ? null : dims.provider,
      providerKeyId: spec.noAttempt ? null : dims.providerKeyId,
      model: dims.model,
      endpoint: spec.version >= 5 ? 'responses.compact' : 'messages',
      stream: true,
      usage: {
        ...usage,
        ...(spec.version >= 2 ? { cacheWrite1hInputTokens: 0 } : {}),
        ...(spec.version >= 3 ? { webSearches: 1 } : {}),
        ...(spec.version >= 4 ? { inferenceGeo: 'us' } : {}),
      },
      cost: spec.cost,
      currency: spec.currency,
      latencyMs: 3100,
      status: null,
      upstreamStatus: null,
      clientIp: '198.51.100.20',
      attempts: spec.noAttempt ? 0 : 2,
    };
  }
  const event = { ...meta, data };
  // Read back through the catalogue as a stored event of its version: it must be one it reads.
  const recorded: RecordedEvent = { ...event, streamVersion: 1, position: 1 };
  kordonCatalogue.decode(recorded);
  return event;
}
