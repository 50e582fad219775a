import { z } from 'zod';
import { defineEvent } from '../define.js';
import {
  durationMs,
  encryptedSecret,
  endpointUrl,
  httpStatus,
  id,
  isoTime,
  label,
  last4,
  modelPattern,
  note,
  providerId,
} from './fields.js';

/*
 * The org's keys at AI providers. Stream: `org:<orgId>:provider-key:<providerKeyId>`.
 * The secret exists only as an envelope-encrypted record plus its last 4 characters.
 */

/** Balancer weight; 0 keeps the key configured but sends it no traffic. */
const weight = z.int().min(0).max(1000);

/** Priority tier: 0 first; a higher tier gets traffic only while every lower one is unusable. */
export const providerKeyTier = z.int().min(0).max(9);

/** The key's own limits at the provider, so the balancer keeps under them. */
export const providerKeyLimits = z.strictObject({
  rpm: z.int().min(1).optional(),
  tpm: z.int().min(1).optional(),
  /** Spend per UTC day on this key, in USD: past it the key rests until midnight UTC. */
  dailyUsd: z
    .string()
    .regex(/^\d{1,9}(\.\d{1,6})?$/, 'must be a USD amount like "50" or "12.5"')
    .optional(),
});

export const ProviderKeyAdded = defineEvent({
  type: 'ProviderKeyAdded',
  version: 1,
  schema: z.strictObject({
    providerKeyId: id,
    provider: providerId,
    name: label(),
    secret: encryptedSecret,
    last4,
    weight,
    /** Models this key may serve (exact or `prefix*`); null: every model of the provider. */
    models: z.array(modelPattern).min(1).max(500).nullable(),
    /** A custom endpoint (Azure, self-hosted, mock); null: the provider's public one. */
    baseUrl: endpointUrl.nullable(),
    /** Absent: tier 0. */
    tier: providerKeyTier.optional(),
    /** Absent: none beyond what the provider's rate-limit headers say. */
    limits: providerKeyLimits.optional(),
  }),
});

/** A new secret (`replaced`), or the same secret re-wrapped under another master key (`rewrapped`). */
export const ProviderKeyRotated = defineEvent({
  type: 'ProviderKeyRotated',
  version: 1,
  schema: z.strictObject({
    providerKeyId: id,
    kind: z.enum(['replaced', 'rewrapped']),
    secret: encryptedSecret,
    last4,
  }),
});

export const ProviderKeyWeightChanged = defineEvent({
  type: 'ProviderKeyWeightChanged',
  version: 1,
  schema: z.strictObject({
    providerKeyId: id,
    weight,
  }),
});

/**
 * The key's priority tier and its own limits at the provider, both replaced (limits null:
 * none beyond what the provider's rate-limit headers say). The balancer uses them from the
 * next request on; counts already made in the current minute or day are kept.
 */
export const ProviderKeyLimitsChanged = defineEvent({
  type: 'ProviderKeyLimitsChanged',
  version: 1,
  schema: z.strictObject({
    providerKeyId: id,
    tier: providerKeyTier,
    limits: providerKeyLimits.nullable(),
  }),
});

/** The models the key may serve, replaced (null: every model of its provider). */
export const ProviderKeyModelsChanged = defineEvent({
  type: 'ProviderKeyModelsChanged',
  version: 1,
  schema: z.strictObject({
    providerKeyId: id,
    models: z.array(modelPattern).min(1).max(500).nullable(),
  }),
});

/**
 * Out of rotation until enabled again: by a person (`manual`) or by the gateway when the
 * provider says the key itself is unusable (401/403, quota gone, persistent errors).
 */
export const ProviderKeyDisabled = defineEvent({
  type: 'ProviderKeyDisabled',
  version: 1,
  schema: z.strictObject({
    providerKeyId: id,
    reason: z.enum(['manual', 'invalid_credentials', 'insufficient_quota', 'upstream_errors']),
    upstreamStatus: httpStatus.nullable(),
    note: note.nullable(),
  }),
});

export const ProviderKeyEnabled = defineEvent({
  type: 'ProviderKeyEnabled',
  version: 1,
  schema: z.strictObject({
    providerKeyId: id,
  }),
});

/** The key is gone for good; its id is never reused. */
export const ProviderKeyRemoved = defineEvent({
  type: 'ProviderKeyRemoved',
  version: 1,
  schema: z.strictObject({
    providerKeyId: id,
  }),
});

/** A short pause after 429/5xx/timeouts; `until` honours Retry-After when the provider sent one. */
export const ProviderKeyCooledDown = defineEvent({
  type: 'ProviderKeyCooledDown',
  version: 1,
  schema: z.strictObject({
    providerKeyId: id,
    until: isoTime,
    reason: z.enum(['rate_limited', 'overloaded', 'server_error', 'timeout', 'connection_failed']),
    /** Retry-After as sent by the provider, in ms; null when absent. */
    retryAfterMs: durationMs.nullable(),
    /** null when no response came back (timeout, connection failure). */
    upstreamStatus: httpStatus.nullable(),
  }),
});

export const providerKeyEvents = [
  ProviderKeyAdded,
  ProviderKeyRotated,
  ProviderKeyWeightChanged,
  ProviderKeyLimitsChanged,
  ProviderKeyModelsChanged,
  ProviderKeyDisabled,
  ProviderKeyEnabled,
  ProviderKeyRemoved,
  ProviderKeyCooledDown,
] as const;
