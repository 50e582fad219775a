import { z } from 'zod';
import { defineEvent } from '../define.js';
import {
  cidr,
  decimal,
  id,
  isoTime,
  keyedHash,
  label,
  modelPattern,
  note,
  period,
  periodSpec,
  policyScope,
  positiveCount,
} from './fields.js';

/*
 * Personal proxy keys (`kdn_...`) and the policies that limit them. Key events go to
 * `org:<orgId>:proxy-key:<proxyKeyId>`; PolicySet goes to the stream of its scope's subject.
 */

/**
 * The key is shown once and stored as a keyed hash only. `prefix` is `kdn_` plus at most 8
 * characters of the key: enough to recognise it in a list, far too short to use.
 */
export const ProxyKeyIssued = defineEvent({
  type: 'ProxyKeyIssued',
  version: 1,
  schema: z.strictObject({
    proxyKeyId: id,
    /** The owner: requests made with the key count as theirs. */
    userId: id,
    /** The team the key's usage is billed to; null: the owner's own usage only. */
    teamId: id.nullable(),
    name: label(),
    prefix: z.string().regex(/^kdn_[A-Za-z0-9]{4,8}$/, 'must be "kdn_" and 4 to 8 characters'),
    hash: keyedHash,
    /** null: never expires. */
    expiresAt: isoTime.nullable(),
  }),
});

/** Final: a revoked key never works again. */
export const ProxyKeyRevoked = defineEvent({
  type: 'ProxyKeyRevoked',
  version: 1,
  schema: z.strictObject({
    proxyKeyId: id,
    reason: z.enum(['manual', 'compromised', 'owner_disabled']),
    note: note.nullable(),
  }),
});

/**
 * Temporary: reinstated by a person. `reason` says why (a person may act on a fraud signal);
 * `byFraudDetector` says whether the detector suspended it on its own, and then names the signal.
 */
export const ProxyKeySuspended = defineEvent({
  type: 'ProxyKeySuspended',
  version: 1,
  schema: z
    .strictObject({
      proxyKeyId: id,
      reason: z.enum(['manual', 'fraud_signal']),
      byFraudDetector: z.boolean(),
      /** The FraudSignalRaised that led to it, if any. */
      fraudSignalId: id.nullable(),
      note: note.nullable(),
    })
    .refine(
      (data) => !data.byFraudDetector || (data.reason === 'fraud_signal' && data.fraudSignalId !== null),
      {
        message: 'a suspension by the fraud detector has reason fraud_signal and names the signal',
        path: ['fraudSignalId'],
      },
    ),
});

export const ProxyKeyReinstated = defineEvent({
  type: 'ProxyKeyReinstated',
  version: 1,
  schema: z.strictObject({
    proxyKeyId: id,
    note: note.nullable(),
  }),
});

const listOf = <T extends z.ZodType>(item: T, max: number) => z.array(item).max(max);

/** PolicySet v1's limits (frozen): periods were `hour`, `day`, `week`, `month`, `lifetime`. */
/**
 * All limits are optional: an absent limit is no limit at this scope. Limits of every scope
 * a request belongs to (key, user, team, org) apply together; the tightest wins.
 */
const limitsV1 = z.strictObject({
  /** Requests per minute (sliding window). */
  rpm: positiveCount.optional(),
  /** Tokens (input + output) per minute (sliding window). */
  tpm: positiveCount.optional(),
  /** Requests in flight at once. */
  concurrency: positiveCount.optional(),
  /** Spend per period, in USD. */
  budget: z.strictObject({ usd: decimal, period }).optional(),
  /** Tokens per period; `kind` says which tokens count. */
  tokens: z
    .strictObject({ kind: z.enum(['input', 'output', 'total']), count: positiveCount, period })
    .optional(),
  /** Distinct client IPs per period; one more is refused (`ip_cap`). */
  maxDistinctIps: z.strictObject({ count: positiveCount.max(100_000), period }).optional(),
  /** When set, only these ranges may call; `ipDeny` wins over `ipAllow`. */
  ipAllow: listOf(cidr, 1000).optional(),
  ipDeny: listOf(cidr, 1000).optional(),
  /** When set, only these models (exact or `prefix*`). */
  models: listOf(modelPattern, 500).optional(),
});

/**
 * All limits are optional: an absent limit is no limit at this scope. Limits of every scope
 * a request belongs to (key, user, team, org) apply together; the tightest wins.
 */
const limits = z.strictObject({
  /** Requests per minute (sliding window). */
  rpm: positiveCount.optional(),
  /** Tokens (input + output) per minute (sliding window). */
  tpm: positiveCount.optional(),
  /** Requests in flight at once. */
  concurrency: positiveCount.optional(),
  /** Spend per period, in USD. */
  budget: z.strictObject({ usd: decimal, period: periodSpec }).optional(),
  /** Tokens per period; `kind` says which tokens count. */
  tokens: z
    .strictObject({ kind: z.enum(['input', 'output', 'total']), count: positiveCount, period: periodSpec })
    .optional(),
  /** Distinct client IPs per period; one more is refused (`ip_cap`). */
  maxDistinctIps: z.strictObject({ count: positiveCount.max(100_000), period: periodSpec }).optional(),
  /** When set, only these ranges may call; `ipDeny` wins over `ipAllow`. */
  ipAllow: listOf(cidr, 1000).optional(),
  ipDeny: listOf(cidr, 1000).optional(),
  /** When set, only these models (exact or `prefix*`). */
  models: listOf(modelPattern, 500).optional(),
});

/** How periodic budgets renew. */
const renewal = z.strictObject({
  /** Carry the unused part of a budget into the next period. */
  rollover: z.boolean().optional(),
  /** Cap on what rolls over, in percent of one period's allowance. */
  rolloverMaxPercent: z.int().min(0).max(1000).optional(),
  /** IANA time zone the periods are counted in; UTC when absent. */
  timeZone: z
    .string()
    .max(64)
    .regex(/^[A-Za-z][A-Za-z0-9_+\-/]*$/, 'must be an IANA time zone name')
    .optional(),
  /** Day of the month a monthly period starts (28 at most, so every month has it). */
  monthStartDay: z.int().min(1).max(28).optional(),
});

const policySetV1 = z.strictObject({
  scope: policyScope,
  scopeId: id,
  limits: limitsV1,
  renewal: renewal.optional(),
});

const V1_PERIOD = { hour: '1h', day: '1d', week: '1w', month: '1mo', lifetime: 'lifetime' } as const;
type V1Period = keyof typeof V1_PERIOD;
function liftPeriod<T extends { period: V1Period }>(limit: T): Omit<T, 'period'> & { period: string } {
  return { ...limit, period: V1_PERIOD[limit.period] };
}

/** The complete policy of one scope; it replaces the previous one (unset limits are removed). */
export const PolicySet = defineEvent({
  type: 'PolicySet',
  version: 2,
  schema: z.strictObject({
    scope: policyScope,
    scopeId: id,
    limits,
    renewal: renewal.optional(),
  }),
  previous: [
    {
      version: 1,
      schema: policySetV1,
      // v1 periods name the same calendar units (`hour` became the epoch-aligned `1h`).
      upcast: (data: z.infer<typeof policySetV1>) => {
        const { budget, tokens, maxDistinctIps, ...rest } = data.limits;
        return {
          ...data,
          limits: {
            ...rest,
            ...(budget && { budget: liftPeriod(budget) }),
            ...(tokens && { tokens: liftPeriod(tokens) }),
            ...(maxDistinctIps && { maxDistinctIps: liftPeriod(maxDistinctIps) }),
          },
        };
      },
    },
  ],
});

export const proxyKeyEvents = [
  ProxyKeyIssued,
  ProxyKeyRevoked,
  ProxyKeySuspended,
  ProxyKeyReinstated,
  PolicySet,
] as const;
