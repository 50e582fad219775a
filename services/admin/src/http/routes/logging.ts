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
import { LoggingPolicy, orgParams, SetLoggingPolicyBody } from '../schemas.js';

const policyBody = (policy: Policy) => ({
  bodies: policy.bodies,
  retentionDays: policy.retentionDays,
  redact: policy.rules,
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

export const loggingRoutes = [
  route({
    operationId: 'getLoggingPolicy',
    method: 'get',
    path: '/orgs/{org}/logging',
    tag: 'logging',
    summary: "The org's logging policy: request text logged, retention, custom redaction rules",
    access: 'logging.read',
    params: orgParams,
    responses: { 200: { description: 'The policy (the default when none was set)', schema: LoggingPolicy } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const view = ctx.deps.view();
      const policy = view.loggingPolicies.get(org.orgId) ?? DEFAULT_LOGGING_POLICY;
      const version = view.versions.get(streams.org(org.orgId)) ?? 0;
      return { status: 200, body: policyBody(policy), headers: { ETag: etag(version) } };
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
        body: policyBody(state.current ?? DEFAULT_LOGGING_POLICY),
        headers: { ETag: etag(version) },
      };
    },
  }),
];
