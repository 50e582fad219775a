import { newEventId, streams } from '@kordon/events';
import type { Principal } from '../../auth/principal.js';
import { etag, execute } from '../../commands/execute.js';
import { type ProxyKeyCommand, proxyKeyDecider } from '../../deciders/proxy-key.js';
import { AdminError, notFound } from '../../errors.js';
import type { AdminViewState, ProxyKeyView } from '../../view/admin-view.js';
import { ceilingOf, metadataOf, orgOf, paginate, principalOf, userByEmail } from '../helpers.js';
import { type RouteContext, route } from '../route.js';
import {
  entityParams,
  IssuedProxyKey,
  IssueProxyKeyBody,
  orgParams,
  ProxyKey,
  ProxyKeyActionBody,
  page,
  pageQuery,
  RevokeProxyKeyBody,
} from '../schemas.js';

const ProxyKeyPage = page(ProxyKey, 'ProxyKey');
const keyParams = entityParams('key');

/**
 * The status as the gateway sees it at `now`: no event marks an expiry, so it is computed per
 * answer. A revoked key stays revoked; an expired one cannot come back, so expiry outranks a
 * suspension (the gateway uses the same `<=`).
 */
export function statusAt(key: ProxyKeyView, now: Date): 'active' | 'suspended' | 'revoked' | 'expired' {
  if (key.status === 'revoked') return 'revoked';
  if (key.expiresAt !== null && Date.parse(key.expiresAt) <= now.getTime()) return 'expired';
  return key.status;
}

const keyBody = (key: ProxyKeyView, now: Date) => ({
  id: key.proxyKeyId,
  userId: key.userId,
  teamId: key.teamId,
  name: key.name,
  prefix: key.prefix,
  status: statusAt(key, now),
  expiresAt: key.expiresAt,
  limits: key.limits,
  createdAt: key.createdAt,
});

const isOwn = (principal: Principal, key: { userId: string }) =>
  principal.kind === 'user' && principal.userId === key.userId;

/**
 * A key the principal may see: its own, or any with `proxyKey.readAny`. Others' keys are
 * answered 404 to developers, exactly like keys that do not exist.
 */
function visibleKey(view: AdminViewState, principal: Principal, orgId: string, keyId: string): ProxyKeyView {
  const key = view.proxyKeys.get(keyId);
  if (!key || key.orgId !== orgId) throw notFound('proxy key');
  if (!isOwn(principal, key) && !principal.rights.has('proxyKey.readAny')) throw notFound('proxy key');
  return key;
}

function keyAction(
  operationId: string,
  action: 'suspend' | 'reinstate' | 'revoke',
  summary: string,
  command: (
    body: {
      note?: string | undefined;
      reason?: 'manual' | 'compromised' | undefined;
    },
    byOwner: boolean,
    manageAny: boolean,
  ) => ProxyKeyCommand,
) {
  return route({
    operationId,
    method: 'post',
    path: `/orgs/{org}/proxy-keys/{key}/${action}`,
    tag: 'proxy-keys',
    summary,
    access: 'proxyKey.own',
    params: keyParams,
    body: action === 'revoke' ? RevokeProxyKeyBody : ProxyKeyActionBody,
    responses: { 200: { description: 'The key', schema: ProxyKey } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const principal = principalOf(ctx);
      const key = visibleKey(ctx.deps.view(), principal, org.orgId, ctx.params.key as string);
      if (!isOwn(principal, key) && !principal.rights.has('proxyKey.manageAny')) {
        throw new AdminError('forbidden', "managing others' keys needs the permission proxyKey.manageAny");
      }
      // A suspension is undone by whoever may make it: an owner's own by the owner, an admin's
      // (or the fraud detector's) only with proxyKey.manageAny, or suspending would stop nobody.
      if (
        action === 'reinstate' &&
        key.status === 'suspended' &&
        key.suspendedBy === 'other' &&
        !principal.rights.has('proxyKey.manageAny')
      ) {
        throw new AdminError(
          'forbidden',
          'this key was suspended by an admin or the fraud detector; reinstating it needs the permission proxyKey.manageAny',
        );
      }
      const { version } = await execute(
        ctx.deps.bus,
        proxyKeyDecider,
        streams.proxyKey(org.orgId, key.proxyKeyId),
        command(ctx.body, isOwn(principal, key), principal.rights.has('proxyKey.manageAny')),
        metadataOf(ctx, org.orgId),
        { ifMatch: ctx.ifMatch },
      );
      return {
        status: 200,
        body: keyBody(ctx.deps.view().proxyKeys.get(key.proxyKeyId)!, ctx.deps.now()),
        headers: { ETag: etag(version) },
      };
    },
  });
}

async function issue(
  ctx: RouteContext<Record<string, string>, unknown, (typeof IssueProxyKeyBody)['_output']>,
) {
  const org = orgOf(ctx);
  const principal = principalOf(ctx);
  const view = ctx.deps.view();
  const owner = userByEmail(view, org.orgId, ctx.body.userEmail);
  const forSelf = owner !== undefined && isOwn(principal, owner);
  if (!forSelf && !principal.rights.has('proxyKey.manageAny')) {
    // A developer naming someone else learns nothing about whether that person exists.
    throw new AdminError('forbidden', 'you may only issue keys for yourself');
  }
  if (!owner) throw notFound('user');
  if (owner.disabled) throw new AdminError('invalid_state', 'the user is disabled');
  const proxyKeyId = newEventId();
  const made = ctx.deps.crypto.issueProxyKey();
  const { state, version } = await execute(
    ctx.deps.bus,
    proxyKeyDecider,
    streams.proxyKey(org.orgId, proxyKeyId),
    {
      type: 'IssueProxyKey',
      proxyKeyId,
      userId: owner.userId,
      teamId: owner.teamId,
      name: ctx.body.name,
      prefix: made.prefix,
      hash: made.hash,
      expiresAt: ctx.body.expiresAt,
      limits: ctx.body.limits,
      ceiling: ceilingOf(view, principal),
      now: ctx.deps.now(),
    },
    metadataOf(ctx, org.orgId),
  );
  return {
    status: 201,
    body: {
      id: proxyKeyId,
      secret: made.secret,
      prefix: made.prefix,
      expiresAt: state.expiresAt,
      limits: state.limits,
    },
    headers: { ETag: etag(version), Location: `/admin/v1/orgs/${org.orgId}/proxy-keys/${proxyKeyId}` },
  };
}

export const proxyKeyRoutes = [
  route({
    operationId: 'listProxyKeys',
    method: 'get',
    path: '/orgs/{org}/proxy-keys',
    tag: 'proxy-keys',
    summary: 'Proxy keys: your own, or every key of the org with proxyKey.readAny',
    access: 'proxyKey.own',
    params: orgParams,
    query: pageQuery,
    responses: { 200: { description: 'A page of keys (never their secrets)', schema: ProxyKeyPage } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const principal = principalOf(ctx);
      const keys = [...ctx.deps.view().proxyKeys.values()].filter(
        (key) =>
          key.orgId === org.orgId && (isOwn(principal, key) || principal.rights.has('proxyKey.readAny')),
      );
      const result = paginate(keys, (key) => key.proxyKeyId, ctx.query);
      const now = ctx.deps.now();
      const items = result.items.map((key) => keyBody(key, now));
      return { status: 200, body: { items, nextCursor: result.nextCursor } };
    },
  }),
  route({
    operationId: 'issueProxyKey',
    method: 'post',
    path: '/orgs/{org}/proxy-keys',
    tag: 'proxy-keys',
    summary: 'Issue a proxy key; the answer holds its secret, shown this once',
    description:
      'Developers issue keys for themselves only. The key never has looser limits, more models or a later expiry than the caller: limits the caller has and the request leaves out are copied onto the key, looser ones are refused (403 not_allowed_for_you).',
    access: 'proxyKey.own',
    params: orgParams,
    body: IssueProxyKeyBody,
    responses: { 201: { description: 'The new key with its secret', schema: IssuedProxyKey } },
    handler: (ctx) => issue(ctx as never),
  }),
  route({
    operationId: 'getProxyKey',
    method: 'get',
    path: '/orgs/{org}/proxy-keys/{key}',
    tag: 'proxy-keys',
    summary: 'One proxy key',
    access: 'proxyKey.own',
    params: keyParams,
    responses: { 200: { description: 'The key', schema: ProxyKey } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const view = ctx.deps.view();
      const key = visibleKey(view, principalOf(ctx), org.orgId, ctx.params.key as string);
      const version = view.versions.get(streams.proxyKey(org.orgId, key.proxyKeyId)) ?? 0;
      return { status: 200, body: keyBody(key, ctx.deps.now()), headers: { ETag: etag(version) } };
    },
  }),
  keyAction('suspendProxyKey', 'suspend', 'Suspend a key until it is reinstated', (body, byOwner) => ({
    type: 'SuspendProxyKey',
    note: body.note ?? null,
    byOwner,
  })),
  keyAction('reinstateProxyKey', 'reinstate', 'Reinstate a suspended key', (body, _byOwner, manageAny) => ({
    type: 'ReinstateProxyKey',
    note: body.note ?? null,
    manageAny,
  })),
  keyAction('revokeProxyKey', 'revoke', 'Revoke a key for good', (body) => ({
    type: 'RevokeProxyKey',
    reason: body.reason ?? 'manual',
    note: body.note ?? null,
  })),
];
