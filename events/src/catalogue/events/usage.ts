import { z } from 'zod';
import { defineEvent } from '../define.js';
import {
  count,
  currency,
  decimal,
  durationMs,
  endpoint,
  endpointV1,
  failureCode,
  httpStatus,
  id,
  ipAddress,
  modelName,
  policyScope,
  positiveCount,
  providerId,
} from './fields.js';
import { requestCompletedHolds, requestFailedHolds } from './request-fast-checks.js';

/*
 * The outcome of each request, written by the gateway when it settles. Stream:
 * `org:<orgId>:usage`, appended in batches without version checks. One request ends in
 * exactly one of RequestCompleted, RequestRejected, RequestFailed (same `requestId`).
 *
 * `usage` and `cost` are all the request was billed, across its attempts: they include the
 * prompt of each earlier attempt that timed out after its request was written (its provider
 * bills it anyway; counted and priced where a budget or tpm limit holds the request), while
 * `provider` and `providerKeyId` name the last attempt's, so a key's daily budget counts the
 * whole cost against that key. `cost` is null when one of those parts has no price (or they
 * differ in currency).
 */

/**
 * Tokens as the provider reported them (or counted by a tokenizer when it reported none),
 * normalised across dialects: `cachedInputTokens` and `reasoningTokens` are parts of
 * `inputTokens` and `outputTokens`, not additions to them. (RequestCompleted v1-v2 and
 * RequestFailed v1: without the cache writes.)
 */
const usageV1 = z
  .strictObject({
    inputTokens: count,
    outputTokens: count,
    cachedInputTokens: count,
    /** Left out when the provider does not report reasoning separately. */
    reasoningTokens: count.optional(),
  })
  .refine((u) => u.cachedInputTokens <= u.inputTokens, {
    message: 'cachedInputTokens is part of inputTokens',
    path: ['cachedInputTokens'],
  })
  .refine((u) => u.reasoningTokens === undefined || u.reasoningTokens <= u.outputTokens, {
    message: 'reasoningTokens is part of outputTokens',
    path: ['reasoningTokens'],
  });

/**
 * The same, with the prompt tokens written to the provider's cache (Claude bills them above
 * the input price: 1.25x for 5-minute writes, 2x for 1-hour ones); like the cache reads they
 * are parts of `inputTokens`, and each is left out when there were none. (RequestCompleted
 * v3 and RequestFailed v2; the current versions add `webSearches`.)
 */
const cacheUsageFields = {
  inputTokens: count,
  outputTokens: count,
  cachedInputTokens: count,
  reasoningTokens: count.optional(),
  /** Written to a 5-minute prompt cache. */
  cacheWriteInputTokens: count.optional(),
  /** Written to a 1-hour prompt cache. */
  cacheWrite1hInputTokens: count.optional(),
};
interface UsageParts {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  reasoningTokens?: number | undefined;
  cacheWriteInputTokens?: number | undefined;
  cacheWrite1hInputTokens?: number | undefined;
}
/** Cache reads and writes are parts of the prompt. */
const promptPartsFit = (u: UsageParts) =>
  u.cachedInputTokens + (u.cacheWriteInputTokens ?? 0) + (u.cacheWrite1hInputTokens ?? 0) <= u.inputTokens;
const promptPartsRule = {
  message: 'cache reads and writes are parts of inputTokens',
  path: ['cachedInputTokens'],
};
/** Reasoning is a part of the answer. */
const reasoningFits = (u: UsageParts) =>
  u.reasoningTokens === undefined || u.reasoningTokens <= u.outputTokens;
const reasoningRule = { message: 'reasoningTokens is part of outputTokens', path: ['reasoningTokens'] };

const usageV2 = z
  .strictObject(cacheUsageFields)
  .refine(promptPartsFit, promptPartsRule)
  .refine(reasoningFits, reasoningRule);

/**
 * Also the web searches the provider ran for the request (Claude's web search tool), billed
 * apiece on top of the tokens; left out when there were none. (RequestCompleted v4 and
 * RequestFailed v3.)
 */
const usageV3 = z
  .strictObject({ ...cacheUsageFields, webSearches: count.optional() })
  .refine(promptPartsFit, promptPartsRule)
  .refine(reasoningFits, reasoningRule);

/**
 * The processing tiers that bill a request's tokens at other than the standard rates, as the
 * provider's answer names them (OpenAI's `service_tier`): `priority` at its own higher rates,
 * `flex` at half.
 */
export const billedServiceTier = z.enum(['priority', 'flex']);

/**
 * The current usage: also the service tier that billed the tokens, when it was not the
 * standard one, `inferenceGeo: "us"` when Claude ran the request on US-only infrastructure
 * (billed at 1.1x) and `speed: "fast"` when it ran it in fast mode (billed at a multiple);
 * each left out otherwise.
 */
const usage = z
  .strictObject({
    ...cacheUsageFields,
    webSearches: count.optional(),
    serviceTier: billedServiceTier.optional(),
    inferenceGeo: z.literal('us').optional(),
    speed: z.literal('fast').optional(),
  })
  .refine(promptPartsFit, promptPartsRule)
  .refine(reasoningFits, reasoningRule);

/**
 * Prompt or answer text after the org's redaction rules ran, cut to a bounded size; null when
 * the org does not log text. Redaction runs before the event is built.
 */
const redactedText = z.string().max(32_768).nullable();

const requestCompletedFields = <U extends z.ZodType, E extends z.ZodType>(usage: U, endpoint: E) => ({
  requestId: id,
  proxyKeyId: id,
  userId: id,
  teamId: id.nullable(),
  provider: providerId,
  providerKeyId: id,
  /** The model the provider served (priced by this name). */
  model: modelName,
  endpoint,
  stream: z.boolean(),
  usage,
  /**
   * Exact cost from the price book (shipped table or the org's override); null, with
   * currency null, when the model has no price: reported as unpriced, never as zero.
   */
  cost: decimal.nullable(),
  currency: currency.nullable(),
  /** From the request's arrival to the last byte sent. */
  latencyMs: durationMs,
  /** Streams only: arrival to the first content byte sent; null otherwise. */
  timeToFirstTokenMs: durationMs.nullable(),
  /** HTTP status returned to the client. */
  status: httpStatus,
  clientIp: ipAddress,
  /** Provider calls made, including retries on other keys or providers (1 = first try). */
  attempts: positiveCount,
  redactedPrompt: redactedText,
  redactedResponse: redactedText,
});
const requestCompletedV1Fields = requestCompletedFields(usageV1, endpointV1);

/**
 * An org's logged texts, sealed (AES-256-GCM, base64 of iv | ciphertext | tag) under a data
 * key of the org and day kept outside the log: retention deletes the key, and with it every
 * copy of the texts (decision 0011). Null when the org logs no bodies.
 */
const sealedBodies = z
  .strictObject({
    keyId: z.uuid(),
    prompt: z.string().max(65_536).nullable(),
    response: z.string().max(65_536).nullable(),
  })
  .nullable()
  .default(null);

/**
 * The answer the provider keeps for a follow-up to continue, under the id it gave it, and only
 * for the project or account of the key that made it: a stored Responses answer (`response`,
 * continued by `previous_response_id`; not when the request said `store: false`) or a Claude
 * answer to a request with `thread` (`thread`, continued by `thread: {type: "continue",
 * previous_message_id}`). Every replica pins the id, with its org, to `providerKeyId`, and
 * holds a follow-up at the answer's `usage` (input and output tokens), so that a follow-up
 * through any replica reaches that key (docs/balancer.md). An id the provider gave, never a
 * secret nor prompt text; null for any other answer, and for an id that is not an id token.
 */
const storedAnswer = z
  .strictObject({ kind: z.enum(['response', 'thread']), id })
  .nullable()
  .default(null);

export const RequestCompleted = defineEvent({
  type: 'RequestCompleted',
  version: 7,
  fastCheck: requestCompletedHolds,
  schema: z.strictObject({
    /** Their redactedPrompt/redactedResponse held logged text in the clear; now null, sealed below. */
    ...requestCompletedFields(usage, endpoint),
    sealedBodies,
    storedAnswer,
  }),
  previous: [
    {
      // Version 7 adds the endpoint `responses.compact`.
      version: 6,
      schema: z.strictObject({ ...requestCompletedFields(usage, endpointV1), sealedBodies, storedAnswer }),
      upcast: (data: object) => data,
    },
    {
      // Version 6 adds the answer the provider stored for a follow-up (`storedAnswer`).
      version: 5,
      schema: z.strictObject({ ...requestCompletedFields(usage, endpointV1), sealedBodies }),
      upcast: (data: object) => ({ ...data, storedAnswer: null }),
    },
    {
      // Version 5 adds the service tier, the inference geography and the speed to `usage`.
      version: 4,
      schema: z.strictObject({ ...requestCompletedFields(usageV3, endpointV1), sealedBodies }),
      upcast: (data: object) => data,
    },
    {
      // Version 4 adds the web searches to `usage`.
      version: 3,
      schema: z.strictObject({ ...requestCompletedFields(usageV2, endpointV1), sealedBodies }),
      upcast: (data: object) => data,
    },
    {
      // Version 3 adds the cache writes to `usage`.
      version: 2,
      schema: z.strictObject({ ...requestCompletedV1Fields, sealedBodies }),
      upcast: (data: object) => data,
    },
    {
      version: 1,
      schema: z.strictObject(requestCompletedV1Fields),
      upcast: (data: object) => ({ ...data, sealedBodies: null }),
    },
  ],
});

/** Why a request was refused before (or instead of) reaching a provider (version 1's list). */
const rejectionReasonV1 = z.enum([
  'auth_failed',
  'invalid_request',
  'key_suspended',
  'key_revoked',
  'key_expired',
  'user_disabled',
  'ip_denied',
  'ip_cap',
  'model_forbidden',
  'moderation',
  'rate_limit_rpm',
  'rate_limit_tpm',
  'concurrency',
  'budget_usd',
  'budget_tokens',
]);

/**
 * Why a request was refused. Version 2 adds `overloaded`: the gateway held as many request
 * bodies in memory as it may (KORDON_MAX_BODY_BYTES_IN_FLIGHT), so it answered 503 unread.
 */
export const rejectionReason = z.enum([...rejectionReasonV1.options, 'overloaded']);

/**
 * The endpoints a RequestRejected may name from version 3: those of the requests that are
 * usage, and the calls that are not (listing models, counting tokens, stored answers), which
 * record only a refusal of their key or its address or model rules.
 */
const NOT_USAGE = ['models', 'messages.count_tokens', 'responses.stored', 'chat.completions.stored'] as const;
/** RequestRejected v3's endpoints (frozen). */
const rejectedEndpointV3 = z.enum([...endpointV1.options, ...NOT_USAGE]);
/**
 * Version 4 adds the usage endpoint `responses.compact` and `responses.input_tokens` (OpenAI's
 * Responses input token count, not usage either).
 */
export const rejectedEndpoint = z.enum([...endpoint.options, ...NOT_USAGE, 'responses.input_tokens']);

/** RequestRejected's fields after `requestId` and `reason` up to version 2 (frozen). */
const requestRejectedFields = {
  /** For limit reasons: whose limit was reached (a team's budget, the key's RPM...). */
  limitScope: z.strictObject({ scope: policyScope, scopeId: id }).nullable(),
  proxyKeyId: id.nullable(),
  userId: id.nullable(),
  teamId: id.nullable(),
  model: modelName.nullable(),
  endpoint: endpointV1,
  /** HTTP status returned to the client (401, 403, 429...). */
  status: z.int().min(400).max(599),
  clientIp: ipAddress,
};

const requestRejectedV3Fields = { ...requestRejectedFields, endpoint: rejectedEndpointV3 };
const requestRejectedV4Fields = { ...requestRejectedFields, endpoint: rejectedEndpoint };

/**
 * Refused by the gateway itself; nothing was charged. Who made it is null when unknown
 * (for `auth_failed` there is no valid key); `model` is null when none was readable.
 */
export const RequestRejected = defineEvent({
  type: 'RequestRejected',
  version: 4,
  schema: z.strictObject({ requestId: id, reason: rejectionReason, ...requestRejectedV4Fields }),
  previous: [
    {
      // Version 4 adds the endpoints `responses.compact` and `responses.input_tokens`.
      version: 3,
      schema: z.strictObject({ requestId: id, reason: rejectionReason, ...requestRejectedV3Fields }),
      upcast: (data: object) => data,
    },
    {
      // Version 3 adds the endpoints that are not usage (`rejectedEndpoint`).
      version: 2,
      schema: z.strictObject({ requestId: id, reason: rejectionReason, ...requestRejectedFields }),
      upcast: (data: object) => data,
    },
    {
      version: 1,
      schema: z.strictObject({ requestId: id, reason: rejectionReasonV1, ...requestRejectedFields }),
      upcast: (data: object) => data,
    },
  ],
});

export { failureCode };

/**
 * Admitted but not completed. Tokens already produced (streamed before a break) are counted
 * and charged: `usage` and `cost` are partial, and zero when nothing was produced. Provider
 * and key are those of the last attempt, null when no attempt was made.
 */
const requestFailedFields = <U extends z.ZodType, E extends z.ZodType>(usage: U, endpoint: E) => ({
  requestId: id,
  errorCode: failureCode,
  proxyKeyId: id,
  userId: id,
  teamId: id.nullable(),
  provider: providerId.nullable(),
  providerKeyId: id.nullable(),
  /**
   * The model the last attempt asked its provider for, as RequestCompleted names it (a
   * `provider/` prefix left out); with no attempt, the name the caller sent (`unknown` when
   * there was none to record).
   */
  model: modelName,
  endpoint,
  stream: z.boolean(),
  usage,
  cost: decimal.nullable(),
  currency: currency.nullable(),
  latencyMs: durationMs,
  /** HTTP status returned to the client; null when the client was already gone or the stream had begun. */
  status: httpStatus.nullable(),
  /** Status of the last provider response; null when none came back. */
  upstreamStatus: httpStatus.nullable(),
  clientIp: ipAddress,
  /** Provider calls made; 0 when none could be (no key available). */
  attempts: count,
});

export const RequestFailed = defineEvent({
  type: 'RequestFailed',
  version: 5,
  fastCheck: requestFailedHolds,
  schema: z.strictObject(requestFailedFields(usage, endpoint)),
  previous: [
    // Version 5 adds the endpoint `responses.compact`.
    {
      version: 4,
      schema: z.strictObject(requestFailedFields(usage, endpointV1)),
      upcast: (data: object) => data,
    },
    // Version 4 adds the service tier, the inference geography and the speed to `usage`.
    {
      version: 3,
      schema: z.strictObject(requestFailedFields(usageV3, endpointV1)),
      upcast: (data: object) => data,
    },
    // Version 3 adds the web searches to `usage`.
    {
      version: 2,
      schema: z.strictObject(requestFailedFields(usageV2, endpointV1)),
      upcast: (data: object) => data,
    },
    // Version 2 adds the cache writes to `usage`.
    {
      version: 1,
      schema: z.strictObject(requestFailedFields(usageV1, endpointV1)),
      upcast: (data: object) => data,
    },
  ],
});

/**
 * A moderation level matched. `blocked` also ends the request with RequestRejected
 * (`moderation`); the matched text itself is never stored.
 */
export const ContentFlagged = defineEvent({
  type: 'ContentFlagged',
  version: 1,
  schema: z.strictObject({
    requestId: id,
    proxyKeyId: id,
    userId: id,
    teamId: id.nullable(),
    /** 1: regex rules, 2: local model, 3: moderation API. */
    level: z.union([z.literal(1), z.literal(2), z.literal(3)]),
    direction: z.enum(['prompt', 'response']),
    /** Category slugs (`pii`, `secret`, `self_harm`, or a custom rule's category). */
    categories: z
      .array(
        z
          .string()
          .max(64)
          .regex(/^[a-z0-9][a-z0-9_./-]*$/, 'must be a category slug'),
      )
      .min(1)
      .max(32),
    /** The org's custom rule that matched; null for built-in detectors and levels 2 and 3. */
    ruleId: id.nullable(),
    /** Classifier score in [0, 1] for levels 2 and 3; null for rules. */
    score: z.number().min(0).max(1).nullable(),
    action: z.enum(['blocked', 'redacted', 'logged']),
  }),
});

export const usageEvents = [RequestCompleted, RequestRejected, RequestFailed, ContentFlagged] as const;
