import { PolicySet, streams } from '@kordon/events';
import { isKnownTimeZone } from '@kordon/gateway';
import { z } from 'zod';
import { byOf } from '../../auth/principal.js';
import { etag, execute } from '../../commands/execute.js';
import { policyDecider } from '../../deciders/policy.js';
import { notFound } from '../../errors.js';
import { type AdminViewState, policyKey } from '../../view/admin-view.js';
import { metadataOf, orgOf, principalOf } from '../helpers.js';
import { route } from '../route.js';
import { limits, orgParams } from '../schemas.js';

/** Scopes the API sets limits on. */
const scope = z.enum(['org', 'team', 'user', 'proxy-key']).meta({ id: 'PolicyScope' });
const policyParams = z.strictObject({
  org: orgParams.shape.org,
  scope,
  id: z.string().min(1).max(128),
});
/** As stored, and a time zone the gateway can compute periods in (as the config file checks). */
const renewal = PolicySet.schema.shape.renewal.unwrap();
const renewalBody = renewal.refine(
  (value) => value.timeZone === undefined || isKnownTimeZone(value.timeZone),
  {
    message: 'an unknown time zone (an IANA name such as Europe/Moscow)',
    path: ['timeZone'],
  },
);

const SetPolicyBody = z
  .strictObject({ limits, renewal: renewalBody.optional() })
  .meta({ id: 'SetPolicyBody', description: 'The whole policy of the scope; it replaces the previous one.' });
const Policy = z
  .object({ scope, id: z.string(), limits, renewal: renewal.nullable() })
  .meta({ id: 'Policy' });

/** The scope's id must be an entity of this org: another org's id is a 404 like a made-up one. */
function checkScope(view: AdminViewState, orgId: string, kind: z.infer<typeof scope>, id: string): void {
  const found =
    kind === 'org'
      ? id === orgId
      : kind === 'team'
        ? view.teams.get(id)?.orgId === orgId
        : kind === 'user'
          ? view.users.get(id)?.orgId === orgId
          : view.proxyKeys.get(id)?.orgId === orgId;
  if (!found) throw notFound(kind === 'proxy-key' ? 'proxy key' : kind);
}

export const policyRoutes = [
  route({
    operationId: 'listPolicies',
    method: 'get',
    path: '/orgs/{org}/policies',
    tag: 'limits',
    summary: 'Every policy (limits and renewal) of the org, its teams, users and proxy keys',
    access: 'policy.read',
    params: orgParams,
    responses: {
      200: {
        description: 'The policies',
        schema: z.object({ items: z.array(Policy) }).meta({ id: 'PolicyList' }),
      },
    },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const prefix = `${org.orgId}/`;
      const view = ctx.deps.view();
      const items = [...view.policies.entries()]
        .filter(([key, value]) => key.startsWith(prefix) && Object.keys(value).length > 0)
        .flatMap(([key, value]) => {
          const [, kind, id] = key.split('/') as [string, string, string];
          const parsed = scope.safeParse(kind);
          const renewalSet = view.policyRenewals.get(key) ?? null;
          return parsed.success ? [{ scope: parsed.data, id, limits: value, renewal: renewalSet }] : [];
        });
      return { status: 200, body: { items } };
    },
  }),
  route({
    operationId: 'setPolicy',
    method: 'put',
    path: '/orgs/{org}/policies/{scope}/{id}',
    tag: 'limits',
    summary: 'Set the limits of the org, a team, a user or a proxy key (an empty `limits` removes them)',
    description:
      "A user's limits decide whether they can call at all: nobody sets their own, nor those of a user who holds rights they lack (403 not_allowed_for_you; an admin does not limit an owner).",
    access: 'policy.manage',
    params: policyParams,
    body: SetPolicyBody,
    responses: { 200: { description: 'The policy as set', schema: Policy } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const kind = ctx.params.scope as z.infer<typeof scope>;
      const id = ctx.params.id as string;
      checkScope(ctx.deps.view(), org.orgId, kind, id);
      const policy = { scope: kind, scopeId: id, limits: ctx.body.limits, renewal: ctx.body.renewal ?? {} };
      const { version } = await execute(
        ctx.deps.bus,
        policyDecider,
        streams.policy(org.orgId, kind, id),
        { type: 'SetPolicy', policy, by: byOf(principalOf(ctx)) },
        metadataOf(ctx, org.orgId),
        { ifMatch: ctx.ifMatch },
      );
      return {
        status: 200,
        body: { scope: kind, id, limits: policy.limits, renewal: policy.renewal },
        headers: { ETag: etag(version) },
      };
    },
  }),
  route({
    operationId: 'getPolicy',
    method: 'get',
    path: '/orgs/{org}/policies/{scope}/{id}',
    tag: 'limits',
    summary: 'The limits of the org, a team, a user or a proxy key',
    access: 'policy.read',
    params: policyParams,
    responses: { 200: { description: 'The policy (empty limits: none)', schema: Policy } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const kind = ctx.params.scope as z.infer<typeof scope>;
      const id = ctx.params.id as string;
      const view = ctx.deps.view();
      checkScope(view, org.orgId, kind, id);
      const key = policyKey(org.orgId, kind, id);
      const current = view.policies.get(key) ?? {};
      // The ETag a PUT's If-Match takes, so that a read-edit-write loses no one else's change.
      return {
        status: 200,
        body: { scope: kind, id, limits: current, renewal: view.policyRenewals.get(key) ?? null },
        headers: { ETag: etag(view.versions.get(streams.policy(org.orgId, kind, id)) ?? 0) },
      };
    },
  }),
];
