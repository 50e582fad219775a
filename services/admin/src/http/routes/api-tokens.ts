import { newEventId, streams } from '@kordon/events';
import { byOf } from '../../auth/principal.js';
import { newApiToken } from '../../auth/tokens.js';
import { etag, execute } from '../../commands/execute.js';
import { apiTokenDecider } from '../../deciders/api-token.js';
import { notFound } from '../../errors.js';
import type { ApiTokenView } from '../../view/admin-view.js';
import { ceilingOf, metadataOf, orgOf, paginate, principalOf } from '../helpers.js';
import { route } from '../route.js';
import {
  ApiToken,
  entityParams,
  IssueApiTokenBody,
  IssuedApiToken,
  orgParams,
  ProxyKeyActionBody,
  page,
  pageQuery,
} from '../schemas.js';

const ApiTokenPage = page(ApiToken, 'ApiToken');
const tokenParams = entityParams('token');

const tokenBody = (token: ApiTokenView) => ({
  id: token.apiTokenId,
  name: token.name,
  role: token.role,
  prefix: token.prefix,
  revoked: token.revoked,
  expiresAt: token.expiresAt,
  createdBy: token.createdBy,
  createdAt: token.createdAt,
});

export const apiTokenRoutes = [
  route({
    operationId: 'listApiTokens',
    method: 'get',
    path: '/orgs/{org}/api-tokens',
    tag: 'api-tokens',
    summary: "The org's machine tokens (never the tokens themselves)",
    access: 'apiToken.read',
    params: orgParams,
    query: pageQuery,
    responses: { 200: { description: 'A page of API tokens', schema: ApiTokenPage } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const tokens = [...ctx.deps.view().apiTokens.values()].filter((t) => t.orgId === org.orgId);
      const result = paginate(tokens, (t) => t.apiTokenId, ctx.query);
      return { status: 200, body: { items: result.items.map(tokenBody), nextCursor: result.nextCursor } };
    },
  }),
  route({
    operationId: 'issueApiToken',
    method: 'post',
    path: '/orgs/{org}/api-tokens',
    tag: 'api-tokens',
    summary: 'Issue a machine token with a role no stronger than your own; shown this once',
    description:
      'Use it as `Authorization: Bearer kat_...`. It acts with its role in this org until revoked or expired; a token made by a token never outlives it.',
    access: 'apiToken.manage',
    params: orgParams,
    body: IssueApiTokenBody,
    responses: { 201: { description: 'The new token', schema: IssuedApiToken } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const principal = principalOf(ctx);
      const apiTokenId = newEventId();
      const made = newApiToken();
      const { version } = await execute(
        ctx.deps.bus,
        apiTokenDecider,
        streams.apiToken(org.orgId, apiTokenId),
        {
          type: 'IssueApiToken',
          apiTokenId,
          name: ctx.body.name,
          role: ctx.body.role,
          prefix: made.prefix,
          hash: ctx.deps.keys.hash(made.secret),
          expiresAt: ctx.body.expiresAt,
          ceilingExpiresAt: ceilingOf(ctx.deps.view(), principal).expiresAt,
          now: ctx.deps.now(),
          by: byOf(principal),
        },
        metadataOf(ctx, org.orgId),
      );
      const token = ctx.deps.view().apiTokens.get(apiTokenId);
      if (!token) throw notFound('API token');
      return {
        status: 201,
        body: { id: apiTokenId, token: made.secret, role: token.role, expiresAt: token.expiresAt },
        headers: { ETag: etag(version) },
      };
    },
  }),
  route({
    operationId: 'revokeApiToken',
    method: 'post',
    path: '/orgs/{org}/api-tokens/{token}/revoke',
    tag: 'api-tokens',
    summary: 'Revoke a machine token for good',
    access: 'apiToken.manage',
    params: tokenParams,
    body: ProxyKeyActionBody,
    responses: { 200: { description: 'The token', schema: ApiToken } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const token = ctx.deps.view().apiTokens.get(ctx.params.token as string);
      if (!token || token.orgId !== org.orgId) throw notFound('API token');
      const { version } = await execute(
        ctx.deps.bus,
        apiTokenDecider,
        streams.apiToken(org.orgId, token.apiTokenId),
        { type: 'RevokeApiToken', note: ctx.body.note ?? null },
        metadataOf(ctx, org.orgId),
        { ifMatch: ctx.ifMatch },
      );
      return {
        status: 200,
        body: tokenBody(ctx.deps.view().apiTokens.get(token.apiTokenId)!),
        headers: { ETag: etag(version) },
      };
    },
  }),
];
