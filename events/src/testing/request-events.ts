import { kordonCatalogue } from '../catalogue/index.js';
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
    },
    {
      orgId,
      actor: { kind: 'proxy-key', id: `pk_${sequence % 50}` },
      correlationId: requestId,
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    },
  );
}
