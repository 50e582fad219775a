import { type KordonEventData, kordonCatalogue, type NewEvent, newEventId, streams } from '@kordon/events';

/*
 * Request events as the gateway writes them (one per request), with the time and the fields a
 * test cares about; the rest is filled in with plausible values.
 */

type Completed = KordonEventData<'RequestCompleted'>;
type Failed = KordonEventData<'RequestFailed'>;
type Rejected = KordonEventData<'RequestRejected'>;

const meta = (orgId: string, time: Date) => ({
  orgId,
  actor: { kind: 'proxy-key' as const, id: 'pxk_test' },
  time,
});

export function completedEvent(orgId: string, time: Date, data: Partial<Completed> = {}): NewEvent {
  return kordonCatalogue.create(
    'RequestCompleted',
    streams.usage(orgId),
    {
      requestId: newEventId(),
      proxyKeyId: 'pxk_test',
      userId: 'usr_test',
      teamId: null,
      provider: 'openai',
      providerKeyId: 'prk_test',
      model: 'gpt-4o-mini',
      endpoint: 'chat.completions',
      stream: false,
      usage: { inputTokens: 120, outputTokens: 30, cachedInputTokens: 0 },
      cost: '0.000036',
      currency: 'USD',
      latencyMs: 640,
      timeToFirstTokenMs: null,
      status: 200,
      clientIp: '203.0.113.7',
      attempts: 1,
      redactedPrompt: null,
      redactedResponse: null,
      ...data,
    },
    meta(orgId, time),
  );
}

export function failedEvent(orgId: string, time: Date, data: Partial<Failed> = {}): NewEvent {
  return kordonCatalogue.create(
    'RequestFailed',
    streams.usage(orgId),
    {
      requestId: newEventId(),
      errorCode: 'upstream_unavailable',
      proxyKeyId: 'pxk_test',
      userId: 'usr_test',
      teamId: null,
      provider: 'anthropic',
      providerKeyId: 'prk_anthropic',
      model: 'claude-sonnet-4-5',
      endpoint: 'messages',
      stream: true,
      usage: { inputTokens: 80, outputTokens: 0, cachedInputTokens: 0 },
      cost: '0',
      currency: 'USD',
      latencyMs: 3100,
      status: 502,
      upstreamStatus: 503,
      clientIp: '198.51.100.20',
      attempts: 2,
      ...data,
    },
    meta(orgId, time),
  );
}

export function rejectedEvent(orgId: string, time: Date, data: Partial<Rejected> = {}): NewEvent {
  return kordonCatalogue.create(
    'RequestRejected',
    streams.usage(orgId),
    {
      requestId: newEventId(),
      reason: 'rate_limit_rpm',
      limitScope: { scope: 'user', scopeId: 'usr_test' },
      proxyKeyId: 'pxk_test',
      userId: 'usr_test',
      teamId: null,
      model: 'gpt-4o-mini',
      endpoint: 'chat.completions',
      status: 429,
      clientIp: '2001:db8::1',
      ...data,
    },
    meta(orgId, time),
  );
}

export function loggingPolicyEvent(
  orgId: string,
  policy: Partial<KordonEventData<'LoggingPolicySet'>>,
  time = new Date(),
): NewEvent {
  return kordonCatalogue.create(
    'LoggingPolicySet',
    streams.org(orgId),
    { bodies: 'none', retentionDays: null, rules: [], ...policy },
    { orgId, actor: { kind: 'config', id: 'config-file' }, time },
  );
}

/** An admin's erasure of the org's logged texts before `before`. */
export function loggedTextErasedEvent(orgId: string, before: Date, time = new Date()): NewEvent {
  return kordonCatalogue.create(
    'LoggedTextErased',
    streams.org(orgId),
    { before: before.toISOString() },
    { orgId, actor: { kind: 'user', id: 'usr_admin' }, time },
  );
}
