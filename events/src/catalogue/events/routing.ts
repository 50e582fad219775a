import { z } from 'zod';
import { defineEvent } from '../define.js';
import { endpointUrl, id, note, providerId, region } from './fields.js';

/*
 * Egress gateways and routes. Stream: `routing`, global (envelope orgId null): egress
 * gateways are run by the operator for every org and consume this stream in their region.
 */

/**
 * An Ed25519 public key as base64 DER SPKI (60 characters). The fixed SPKI prefix means a
 * private key (PKCS#8 DER starts differently) is refused.
 */
const ed25519PublicKey = z
  .string()
  .regex(/^MCowBQYDK2VwAyEA[A-Za-z0-9+/]{43}=$/, 'must be an Ed25519 public key as base64 DER SPKI');

export const EgressRegistered = defineEvent({
  type: 'EgressRegistered',
  version: 1,
  schema: z.strictObject({
    egressId: id,
    region,
    /** Where the core sends requests. */
    url: endpointUrl,
    /** The key that verifies signatures on requests between the core and this egress. */
    publicKey: z.strictObject({ algorithm: z.literal('ed25519'), spki: ed25519PublicKey }),
  }),
});

export const EgressHealthChanged = defineEvent({
  type: 'EgressHealthChanged',
  version: 1,
  schema: z.strictObject({
    egressId: id,
    health: z.enum(['healthy', 'degraded', 'unhealthy']),
    note: note.nullable(),
  }),
});

/** How calls to one provider leave: directly, or through an egress gateway (tried in order). */
export const RouteChanged = defineEvent({
  type: 'RouteChanged',
  version: 1,
  schema: z.strictObject({
    provider: providerId,
    /** Empty: direct. Otherwise these egress gateways in order, the next one when one is unhealthy. */
    via: z.array(id).max(10),
  }),
});

export const routingEvents = [EgressRegistered, EgressHealthChanged, RouteChanged] as const;
