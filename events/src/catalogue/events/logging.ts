import { z } from 'zod';
import { defineEvent } from '../define.js';
import { isoTime, looksLikeSecret } from './fields.js';

/*
 * What the request log of an org keeps, and for how long. Stream: `org:<orgId>`; the latest
 * event wins, and an org without one logs no bodies and keeps its requests until deleted.
 */

/**
 * Which request text the log keeps. Redaction always runs first (built-in detectors plus the
 * org's rules): no level stores a secret or personal data the detectors find.
 * - `none`: no text, only the request's facts (who, which model, tokens, cost, status...).
 * - `redacted`: the prompt's and the answer's text (message contents).
 * - `full`: the whole request and response bodies (system prompt, tools, every field).
 */
export const loggedBodies = z.enum(['none', 'redacted', 'full']);

/**
 * An org's own redaction rule: a linear-time (RE2 syntax) regular expression. The engine that
 * runs it checks the pattern again when the rule is set (config file, admin API); the event
 * only bounds its shape.
 */
export const loggingRule = z.strictObject({
  /** Names the rule in markers (`[REDACTED:<name>]`) and in errors. */
  name: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be 1 to 64 characters of a-z, 0-9 and _, starting with a letter'),
  pattern: z
    .string()
    .min(1)
    .max(4096)
    .refine((pattern) => !looksLikeSecret(pattern), {
      message: 'looks like a secret key; write a pattern that matches it instead',
    }),
  /** `mask` replaces the match, `hash` writes a keyed hash of it, `drop` removes the field. */
  action: z.enum(['mask', 'hash', 'drop']),
  caseInsensitive: z.boolean(),
  /** The capture group that is the sensitive part; 0: the whole match. */
  group: z.int().min(0).max(99),
  /** Characters `mask` keeps at the end of values of 16 or more characters. */
  keepLast: z.int().min(0).max(4),
});

/** Stream: `org:<orgId>`. Replaces the org's previous logging policy as a whole. */
export const LoggingPolicySet = defineEvent({
  type: 'LoggingPolicySet',
  version: 1,
  schema: z.strictObject({
    bodies: loggedBodies,
    /** Days a request stays in the request log; null: until the policy says otherwise. */
    retentionDays: z.int().min(1).max(36_500).nullable(),
    /** Applied after the built-in detectors, in this order. */
    rules: z
      .array(loggingRule)
      .max(100)
      .refine((rules) => new Set(rules.map((rule) => rule.name)).size === rules.length, {
        message: 'rule names must be unique',
      }),
  }),
});

/**
 * Stream: `org:<orgId>`. The org's logged request texts from before `before` were erased on an
 * admin's command (a data-protection request, a secret pasted into a prompt): the keys that
 * sealed them are deleted (crypto-shredding, decisions 0011 and 0021) and the request log's rows
 * before it keep no text. The requests' facts (tokens, cost, status) stay. Texts logged after it
 * are kept: a replica seals them under a new key of the day.
 */
export const LoggedTextErased = defineEvent({
  type: 'LoggedTextErased',
  version: 1,
  schema: z.strictObject({
    /** Texts of requests before this instant are erased (exclusive): a UTC midnight or the command's time. */
    before: isoTime,
  }),
});

export const loggingEvents = [LoggingPolicySet, LoggedTextErased] as const;
