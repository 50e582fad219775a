import { type KordonEventData, kordonCatalogue } from '../catalogue/index.js';
import type { NewEvent } from '../envelope.js';
import { newEventId } from '../ids.js';
import { streams } from '../streams.js';

/**
 * A realistic `RequestCompleted` (the event the gateway writes most), for load tests and
 * benchmarks: about 700 bytes of JSON, like a real one without logged text.
 */
export function requestCompletedEvent(orgId: string, sequence: number): NewEvent {
  const requestId = newEventId();
  return kordonCatalogue.create(
    'RequestCompleted',
    streams.usage(orgId),
    {
      requestId,
      proxyKeyId: `pk_${sequence % 50}`,
      userId: `usr_${sequence % 20}`,
      teamId: 'team_core',
      provider: 'openai',
      providerKeyId: `prk_${sequence % 4}`,
      model: 'gpt-4o-mini',
      endpoint: 'chat.completions',
      stream: sequence % 2 === 0,
      usage: { inputTokens: 1200 + (sequence % 300), outputTokens: 350, cachedInputTokens: 1024 },
      cost: '0.000462',
      currency: 'USD',
      latencyMs: 840,
      timeToFirstTokenMs: sequence % 2 === 0 ? 210 : null,
      status: 200,
      clientIp: '203.0.113.7',
      attempts: 1,
      redactedPrompt: null,
      redactedResponse: null,
      sealedBodies: null,
      storedAnswer: null,
    },
    {
      orgId,
      actor: { kind: 'proxy-key', id: `pk_${sequence % 50}` },
      correlationId: requestId,
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    },
  );
}

/**
 * Valid data of the two request events, for tests that start from one and change it (the
 * catalogue's schema tests, the request events' hand checks).
 */
export const requestCompletedExample = {
  requestId: '0195514f-6d7a-7cc1-9a3e-3d1b2f4e5a6b',
  proxyKeyId: 'key-1',
  userId: 'user-bob',
  teamId: 'team-research',
  provider: 'openai',
  providerKeyId: 'pk-openai-1',
  model: 'gpt-4o-2024-08-06',
  endpoint: 'chat.completions',
  stream: true,
  usage: { inputTokens: 1200, outputTokens: 340, cachedInputTokens: 1024, reasoningTokens: 128 },
  cost: '0.0061',
  currency: 'USD',
  latencyMs: 2310,
  timeToFirstTokenMs: 412,
  status: 200,
  clientIp: '203.0.113.7',
  attempts: 2,
  redactedPrompt: 'My email is [EMAIL]',
  redactedResponse: null,
  sealedBodies: null,
  storedAnswer: null,
} satisfies KordonEventData<'RequestCompleted'>;

export const requestFailedExample = {
  requestId: 'req-3',
  errorCode: 'stream_interrupted',
  proxyKeyId: 'key-1',
  userId: 'user-bob',
  teamId: null,
  provider: 'anthropic',
  providerKeyId: 'pk-anthropic-1',
  model: 'claude-sonnet-4-5',
  endpoint: 'messages',
  stream: true,
  usage: { inputTokens: 500, outputTokens: 73, cachedInputTokens: 0 },
  cost: '0.002595',
  currency: 'USD',
  latencyMs: 8000,
  status: null,
  upstreamStatus: 200,
  clientIp: '198.51.100.20',
  attempts: 1,
} satisfies KordonEventData<'RequestFailed'>;
