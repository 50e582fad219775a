import { streams } from '@kordon/events';
import { redactionRules } from '@kordon/gateway';
import { compileRules, RedactionConfigError } from '@kordon/redaction';
import { etag, execute } from '../../commands/execute.js';
import {
  DEFAULT_LOGGING_POLICY,
  loggingDecider,
  type LoggingPolicy as Policy,
} from '../../deciders/logging.js';
import { AdminError } from '../../errors.js';
import { metadataOf, orgOf } from '../helpers.js';
import { route } from '../route.js';
import {
  EraseLoggedTextBody,
  LoggedTextErasure,
  LoggingPolicy,
  orgParams,
  SetLoggingPolicyBody,
} from '../schemas.js';

const DAY_MS = 86_400_000;

const policyBody = (policy: Policy, erasedBefore: number | null) => ({
  bodies: policy.bodies,
  retentionDays: policy.retentionDays,
  redact: policy.rules,
  erasedBefore: erasedBefore === null ? null : new Date(erasedBefore).toISOString(),
});

/** The org's rules, refused (400 naming the rule) when the RE2 engine will not run them. */
function checkRules(rules: Policy['rules']): void {
  try {
    compileRules(redactionRules(rules));
  } catch (error) {
    if (!(error instanceof RedactionConfigError)) throw error;
    const index = rules.findIndex((rule) => rule.name === error.ruleId);
    throw new AdminError('validation_failed', error.message, {
      errors: [{ path: index < 0 ? 'body.redact' : `body.redact.${index}.pattern`, message: error.message }],
      cause: error,
    });
  }
}

/**
 * The instant an erasure reaches: the start of the UTC day `before` names (a date or a midnight
 * UTC instant, at most today), or now. Keys seal a UTC day's texts, so a day is the finest
 * bound in the past (decision 0021).
 */
function erasureBound(before: string | undefined, now: Date): Date {
  if (before === undefined) return now;
  const time = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(before) ? `${before}T00:00:00Z` : before);
  const invalid = (message: string) =>
    new AdminError('validation_failed', `\`before\` ${message}`, {
      errors: [{ path: 'body.before', message }],
    });
  if (Number.isNaN(time)) throw invalid('must be a date or an ISO instant');
  if (time % DAY_MS !== 0)
    throw invalid('must be a date (YYYY-MM-DD) or midnight UTC: texts are sealed per UTC day');
  if (time > now.getTime())
    throw invalid('must be today or earlier: only texts already logged can be erased');
  return new Date(time);
}

/** Whether any process ever built the request log (its table exists in the shared database). */
async function requestLogExists(ctx: {
  deps: { sql: { query: (text: string) => Promise<{ rows: unknown[] }> } };
}) {
  const { rows } = await ctx.deps.sql.query("SELECT to_regclass('kordon_request_log') IS NOT NULL AS ready");
  return (rows[0] as { ready?: boolean } | undefined)?.ready === true;
}

export const loggingRoutes = [
  route({
    operationId: 'getLoggingPolicy',
    method: 'get',
    path: '/orgs/{org}/logging',
    tag: 'logging',
    summary:
      "The org's logging policy: request text logged, retention, custom redaction rules; up to when its logged texts were erased",
    access: 'logging.read',
    params: orgParams,
    responses: { 200: { description: 'The policy (the default when none was set)', schema: LoggingPolicy } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const view = ctx.deps.view();
      const policy = view.loggingPolicies.get(org.orgId) ?? DEFAULT_LOGGING_POLICY;
      const erasedBefore = view.loggedTextErasedBefore.get(org.orgId) ?? null;
      const version = view.versions.get(streams.org(org.orgId)) ?? 0;
      return { status: 200, body: policyBody(policy, erasedBefore), headers: { ETag: etag(version) } };
    },
  }),
  route({
    operationId: 'setLoggingPolicy',
    method: 'put',
    path: '/orgs/{org}/logging',
    tag: 'logging',
    summary: "Set the org's logging policy (replaces the previous one)",
    description:
      '`bodies`: `none` (default: no text), `redacted` (prompt and answer text) or `full` (whole request and response bodies); every level is redacted first by the built-in detectors and the `redact` rules. `retentionDays`: requests older than this are deleted from the request log for good (absent or null: kept). `redact`: custom RE2 rules, each `mask`, `hash` (keyed) or `drop`.',
    access: 'logging.manage',
    params: orgParams,
    body: SetLoggingPolicyBody,
    responses: { 200: { description: 'The policy now in force', schema: LoggingPolicy } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const policy: Policy = {
        bodies: ctx.body.bodies,
        retentionDays: ctx.body.retentionDays ?? null,
        rules: (ctx.body.redact ?? []).map((rule) => ({
          name: rule.name,
          pattern: rule.pattern,
          action: rule.action,
          caseInsensitive: rule.caseInsensitive ?? false,
          group: rule.group ?? 0,
          keepLast: rule.keepLast ?? 0,
        })),
      };
      checkRules(policy.rules);
      const { state, version } = await execute(
        ctx.deps.bus,
        loggingDecider,
        streams.org(org.orgId),
        { type: 'SetLoggingPolicy', policy },
        metadataOf(ctx, org.orgId),
        { ifMatch: ctx.ifMatch },
      );
      return {
        status: 200,
        body: policyBody(state.current ?? DEFAULT_LOGGING_POLICY, state.erasedBefore),
        headers: { ETag: etag(version) },
      };
    },
  }),
  route({
    operationId: 'eraseLoggedText',
    method: 'post',
    path: '/orgs/{org}/logging/erase',
    tag: 'logging',
    summary: "Erase the org's logged request texts up to now, or up to a UTC day",
    description:
      "Erases the prompt and response texts the request log kept of the org's requests before `before` (a UTC day, exclusive; absent: now), whatever the policy in force: the keys that sealed them in the event log are deleted (crypto-shredding: every copy, in the log, its backups and the spool, becomes unreadable), and the request log's entries keep their facts (tokens, cost, status) with no text (`hasText: false`). Texts logged after it stay readable. Recorded as `LoggedTextErased` on the org's stream (in the audit log). Erasing a range an earlier erasure covered appends nothing (`recorded: false`). 200 once the request log of this process has applied it; 202 when another process builds the request log (it applies it as it reads the event). 503 when no process builds the request log.",
    access: 'logging.manage',
    params: orgParams,
    body: EraseLoggedTextBody,
    responses: {
      200: { description: 'Erased', schema: LoggedTextErasure },
      202: {
        description: 'Recorded; the process that builds the request log applies it',
        schema: LoggedTextErasure,
      },
    },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const metadata = metadataOf(ctx, org.orgId);
      const before = erasureBound(ctx.body.before, metadata.time);
      // The request log applies the erasure (its keys and its rows, in one transaction with its
      // checkpoint): without one, nothing would, so nothing is recorded.
      if (!(await requestLogExists(ctx)))
        throw new AdminError(
          'unavailable',
          'no Kordon process builds the request log (KORDON_REQUEST_LOG=in-process): nothing would erase the texts',
        );
      const { state, version, position } = await execute(
        ctx.deps.bus,
        loggingDecider,
        streams.org(org.orgId),
        { type: 'EraseLoggedText', before },
        metadata,
        { ifMatch: ctx.ifMatch },
      );
      const requestLog = ctx.deps.requestLog;
      if (position !== 0 && requestLog) await requestLog.waitFor(position);
      const body = {
        erasedBefore: new Date(state.erasedBefore ?? before.getTime()).toISOString(),
        recorded: position !== 0,
      };
      return {
        status: position === 0 || requestLog ? 200 : 202,
        body,
        headers: { ETag: etag(version) },
      };
    },
  }),
];
