import { streams } from '@kordon/events';
import { execute } from '../../commands/execute.js';
import { orgDecider } from '../../deciders/org.js';
import { notFound } from '../../errors.js';
import type { OrgView } from '../../view/admin-view.js';
import { metadataOf, orgOf, paginate, principalOf } from '../helpers.js';
import { route } from '../route.js';
import { CreateOrgBody, Org, orgParams, page, pageQuery } from '../schemas.js';

const OrgPage = page(Org, 'Org');

const orgBody = (org: OrgView) => ({
  id: org.orgId,
  slug: org.slug,
  name: org.name,
  createdAt: org.createdAt,
});

export const orgRoutes = [
  route({
    operationId: 'listOrgs',
    method: 'get',
    path: '/orgs',
    tag: 'orgs',
    summary: 'List orgs: every org for the bootstrap owner, your own org for everyone else',
    access: 'org.read',
    query: pageQuery,
    responses: { 200: { description: 'A page of orgs', schema: OrgPage } },
    handler: async (ctx) => {
      const principal = principalOf(ctx);
      const orgs = [...ctx.deps.view().orgs.values()].filter(
        (org) => principal.kind === 'bootstrap' || org.orgId === principal.orgId,
      );
      const result = paginate(orgs, (org) => org.orgId, ctx.query);
      return { status: 200, body: { items: result.items.map(orgBody), nextCursor: result.nextCursor } };
    },
  }),
  route({
    operationId: 'createOrg',
    method: 'post',
    path: '/orgs',
    tag: 'orgs',
    summary: 'Create an org (bootstrap owner only)',
    description:
      'The id is derived from the slug exactly as the configuration file derives it, so the file and the API name the same org; a taken slug is 409.',
    access: 'org.create',
    body: CreateOrgBody,
    responses: { 201: { description: 'The org', schema: Org } },
    handler: async (ctx) => {
      const orgId = ctx.deps.crypto.entityId('org', ctx.body.slug);
      await execute(
        ctx.deps.bus,
        orgDecider,
        streams.org(orgId),
        { type: 'CreateOrg', orgId, slug: ctx.body.slug, name: ctx.body.name },
        metadataOf(ctx, orgId),
      );
      const org = ctx.deps.view().orgs.get(orgId);
      if (!org) throw notFound('org');
      return { status: 201, body: orgBody(org), headers: { Location: `/admin/v1/orgs/${org.orgId}` } };
    },
  }),
  route({
    operationId: 'getOrg',
    method: 'get',
    path: '/orgs/{org}',
    tag: 'orgs',
    summary: 'One org, by slug or id',
    access: 'org.read',
    params: orgParams,
    responses: { 200: { description: 'The org', schema: Org } },
    handler: async (ctx) => ({ status: 200, body: orgBody(orgOf(ctx)) }),
  }),
];
