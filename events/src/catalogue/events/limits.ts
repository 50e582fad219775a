import { v5 as uuidv5 } from 'uuid';
import { z } from 'zod';
import { KordonError } from '../../errors.js';
import { defineEvent } from '../define.js';
import { decimal, id, isoTime, policyScope } from './fields.js';

/*
 * Periodic limits (budgets, distinct-IP caps). Stream: `org:<orgId>:limits`. Windowed limits
 * (rpm, tpm, concurrency) have no periods to reset and are not recorded here.
 */

/** The same names RequestRejected uses for these limits. */
export const periodicLimit = z.enum(['budget_usd', 'budget_tokens', 'ip_cap']);
export type PeriodicLimit = z.infer<typeof periodicLimit>;

const WHOLE = /^\d+$/;
/** Amounts are decimal strings for every kind: USD for `budget_usd`, whole numbers otherwise. */
const wholeUnlessUsd = (limit: PeriodicLimit, amount: string) => limit === 'budget_usd' || WHOLE.test(amount);
const WHOLE_MESSAGE = 'token and IP amounts are whole numbers';

const ordered = (start: string | null, end: string | null) =>
  start === null || end === null || Date.parse(start) < Date.parse(end);
const ORDERED = { message: 'periodEnd must be after periodStart', path: ['periodEnd'] };

/** What a token budget counts (PolicySet's `limits.tokens.kind`). */
export const tokenKind = z.enum(['input', 'output', 'total']);
export type TokenKind = z.infer<typeof tokenKind>;

/** LimitReset's fields up to version 1 (frozen). */
const limitResetV1Fields = {
  scope: policyScope,
  scopeId: id,
  limit: periodicLimit,
  /** The period that begins (inclusive start, exclusive end). */
  periodStart: isoTime,
  periodEnd: isoTime,
  /** Unused allowance carried into this period; "0" without rollover. */
  rolledOver: decimal,
};

const limitResetV1 = z
  .strictObject(limitResetV1Fields)
  .refine((data) => ordered(data.periodStart, data.periodEnd), ORDERED)
  .refine((data) => wholeUnlessUsd(data.limit, data.rolledOver), {
    message: WHOLE_MESSAGE,
    path: ['rolledOver'],
  });

/**
 * A new period began for one limit of one scope. Its event id is `limitResetEventId(...)`,
 * the same on every replica, so the store keeps only the first of concurrent resets.
 */
export const LimitReset = defineEvent({
  type: 'LimitReset',
  version: 2,
  schema: z
    .strictObject({
      ...limitResetV1Fields,
      /**
       * The kind of token budget whose counter the reset renews (a budget switched to another
       * kind is a new one, with its own period and rollover); null for the other limits, and
       * for a token budget's reset written before version 2, which named none.
       */
      tokenKind: tokenKind.nullable(),
    })
    .refine((data) => ordered(data.periodStart, data.periodEnd), ORDERED)
    .refine((data) => wholeUnlessUsd(data.limit, data.rolledOver), {
      message: WHOLE_MESSAGE,
      path: ['rolledOver'],
    })
    .refine((data) => data.tokenKind === null || data.limit === 'budget_tokens', {
      message: 'only a token budget has a token kind',
      path: ['tokenKind'],
    }),
  previous: [
    // Version 2 adds `tokenKind`: a version-1 reset of a token budget does not say which kind.
    {
      version: 1,
      schema: limitResetV1,
      upcast: (data: z.infer<typeof limitResetV1>) => ({ ...data, tokenKind: null }),
    },
  ],
});

/**
 * A scope used up one of its periodic limits; written once per period with the id
 * `limitExceededEventId(...)` (requests refused after it are RequestRejected). Period bounds
 * are null for `lifetime` limits.
 */
export const LimitExceeded = defineEvent({
  type: 'LimitExceeded',
  version: 1,
  schema: z
    .strictObject({
      scope: policyScope,
      scopeId: id,
      limit: periodicLimit,
      periodStart: isoTime.nullable(),
      periodEnd: isoTime.nullable(),
      /** The allowance of the period (with rollover). */
      allowance: decimal,
      /** What was used when it was crossed. */
      used: decimal,
      /** The request that crossed it, if one did. */
      requestId: id.nullable(),
    })
    .refine((data) => ordered(data.periodStart, data.periodEnd), ORDERED)
    .refine((data) => wholeUnlessUsd(data.limit, data.allowance), {
      message: WHOLE_MESSAGE,
      path: ['allowance'],
    })
    .refine((data) => wholeUnlessUsd(data.limit, data.used), { message: WHOLE_MESSAGE, path: ['used'] }),
});

/** Fixed namespace of limit event ids (a random UUID chosen once; never change it). */
const LIMIT_EVENT_NAMESPACE = '0b6f3c8e-5a52-4c57-9a43-3c1f2d7e9b10';

type LimitKey = { scope: z.infer<typeof policyScope>; scopeId: string; limit: PeriodicLimit };

function normalisedTime(value: string | null): string {
  if (value === null) return 'lifetime';
  if (!isoTime.safeParse(value).success) {
    throw new KordonError('event_invalid', `limit event id: ${value} is not an ISO time`);
  }
  // `...00Z` and `...00.000Z` name the same period.
  return new Date(value).toISOString();
}

/**
 * Deterministic event id of a LimitReset: one per org, scope, limit (and token kind) and
 * period. A `total` token budget keeps the id version 1 gave every token budget, so the resets
 * of replicas of both releases during an upgrade are stored once; `input` and `output` have
 * their own, so a budget switched to another kind within a period stores its own reset.
 */
export function limitResetEventId(
  orgId: string,
  key: LimitKey & { tokenKind?: TokenKind | null },
  periodStart: string,
): string {
  const name = ['LimitReset', orgId, key.scope, key.scopeId, key.limit, normalisedTime(periodStart)];
  if (key.limit === 'budget_tokens' && (key.tokenKind === 'input' || key.tokenKind === 'output'))
    name.push(key.tokenKind);
  return uuidv5(name.join('\n'), LIMIT_EVENT_NAMESPACE);
}

/**
 * Deterministic event id of a LimitExceeded: one per org, scope, limit, period and allowance
 * (a raised allowance can be exceeded again in the same period).
 */
export function limitExceededEventId(
  orgId: string,
  key: LimitKey,
  periodStart: string | null,
  allowance: string,
): string {
  const name = [
    'LimitExceeded',
    orgId,
    key.scope,
    key.scopeId,
    key.limit,
    normalisedTime(periodStart),
    allowance,
  ];
  return uuidv5(name.join('\n'), LIMIT_EVENT_NAMESPACE);
}

export const limitEvents = [LimitReset, LimitExceeded] as const;
