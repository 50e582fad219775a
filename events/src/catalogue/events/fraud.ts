import { z } from 'zod';
import { defineEvent } from '../define.js';
import { count, id, isoTime, label, note } from './fields.js';

/*
 * What the fraud detector noticed. Stream: `org:<orgId>:fraud`. A ProxyKeySuspended may
 * follow (naming `signalId`) when the org's policy says so.
 */

export const fraudSignalKind = z.enum([
  /** One key used from more distinct IPs than usual. */
  'ip_spread',
  /** Uses from places too far apart for the time between them. */
  'impossible_travel',
  /** Spend or tokens far above the key's usual rate. */
  'usage_spike',
  /** Many failed authentications from one source. */
  'auth_failures',
  /** A key found where it should not be (public repository, paste). */
  'leaked_key',
  /** Moderation flags repeating for one key. */
  'repeated_moderation',
]);

export const FraudSignalRaised = defineEvent({
  type: 'FraudSignalRaised',
  version: 1,
  schema: z.strictObject({
    signalId: id,
    kind: fraudSignalKind,
    severity: z.enum(['low', 'medium', 'high', 'critical']),
    /** What the signal is about; null when not tied to one key or user. */
    proxyKeyId: id.nullable(),
    userId: id.nullable(),
    /** Evidence for people: counts and a summary, never secrets or request text. */
    evidence: z.strictObject({
      /** One line for lists, e.g. "37 distinct IPs in 10 minutes (usual: 2)". */
      summary: label(300),
      detail: note.nullable(),
      windowStart: isoTime,
      windowEnd: isoTime,
      requestCount: count.nullable(),
      distinctIps: count.nullable(),
      /** A few requests to look at in the request log. */
      sampleRequestIds: z.array(id).max(20),
    }),
  }),
});

export const fraudEvents = [FraudSignalRaised] as const;
