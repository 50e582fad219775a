import { streams, TeamCreated } from '@kordon/events';
import { z } from 'zod';
import { byOf } from '../../auth/principal.js';
import { etag, execute } from '../../commands/execute.js';
import { membershipDecider, teamDecider } from '../../deciders/team.js';
import { notFound } from '../../errors.js';
import type { AdminViewState, TeamView } from '../../view/admin-view.js';
import { metadataOf, orgOf, paginate, principalOf, userBody, userOfOrg } from '../helpers.js';
import { route } from '../route.js';
import { entityParams, orgParams, page, pageQuery, User } from '../schemas.js';

/*
 * Teams: `POST/GET /orgs/{org}/teams`, `GET …/teams/{team}`, and membership
 * `PUT/DELETE …/teams/{team}/members/{user}`. A user is in at most one team; putting them in
 * another moves them. Proxy keys issued to a member afterwards carry the team, so its limits
 * (`PUT /orgs/{org}/policies/team/{team}`) apply to them; keys issued earlier keep theirs.
 */

const CreateTeamBody = z.strictObject({ name: TeamCreated.schema.shape.name });

const Team = z
  .object({
    id: z.string(),
    name: z.string(),
    members: z.array(z.string()).describe('Ids of the users in the team.'),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Team' });
const TeamPage = page(Team, 'Team');

const teamParams = entityParams('team');
const memberParams = z.strictObject({
  org: orgParams.shape.org,
  team: z.string().min(1).max(128),
  user: z.string().min(1).max(128),
});

/** The team named in the path: another org's is 404, like one that does not exist. */
export function teamOfOrg(view: AdminViewState, orgId: string, teamId: string): TeamView {
  const team = view.teams.get(teamId);
  if (!team || team.orgId !== orgId) throw notFound('team');
  return team;
}

function teamBody(view: AdminViewState, team: TeamView) {
  const members = [...view.users.values()]
    .filter((user) => user.orgId === team.orgId && user.teamId === team.teamId)
    .map((user) => user.userId)
    .sort();
  return { id: team.teamId, name: team.name, members, createdAt: team.createdAt };
}

export const teamRoutes = [
  route({
    operationId: 'listTeams',
    method: 'get',
    path: '/orgs/{org}/teams',
    tag: 'teams',
    summary: "The org's teams and their members",
    access: 'team.read',
    params: orgParams,
    query: pageQuery,
    responses: { 200: { description: 'A page of teams', schema: TeamPage } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const view = ctx.deps.view();
      const teams = [...view.teams.values()].filter((team) => team.orgId === org.orgId);
      const result = paginate(teams, (team) => team.teamId, ctx.query);
      return {
        status: 200,
        body: { items: result.items.map((team) => teamBody(view, team)), nextCursor: result.nextCursor },
      };
    },
  }),
  route({
    operationId: 'createTeam',
    method: 'post',
    path: '/orgs/{org}/teams',
    tag: 'teams',
    summary: 'Create a team (names are unique in the org)',
    description:
      "The team's id is the one the configuration file gives the same name in the same org, so the two doors cannot make it twice (409).",
    access: 'team.manage',
    params: orgParams,
    body: CreateTeamBody,
    responses: { 201: { description: 'The team', schema: Team } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const name = ctx.body.name;
      const teamId = ctx.deps.crypto.entityId('team', `${org.slug}/${name}`);
      const { version } = await execute(
        ctx.deps.bus,
        teamDecider,
        streams.team(org.orgId, teamId),
        { type: 'CreateTeam', teamId, name, by: byOf(principalOf(ctx)) },
        metadataOf(ctx, org.orgId),
      );
      const view = ctx.deps.view();
      return {
        status: 201,
        body: teamBody(view, teamOfOrg(view, org.orgId, teamId)),
        headers: { ETag: etag(version), Location: `/admin/v1/orgs/${org.orgId}/teams/${teamId}` },
      };
    },
  }),
  route({
    operationId: 'getTeam',
    method: 'get',
    path: '/orgs/{org}/teams/{team}',
    tag: 'teams',
    summary: 'One team and its members',
    access: 'team.read',
    params: teamParams,
    responses: { 200: { description: 'The team', schema: Team } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const view = ctx.deps.view();
      const team = teamOfOrg(view, org.orgId, ctx.params.team as string);
      return { status: 200, body: teamBody(view, team) };
    },
  }),
  route({
    operationId: 'addTeamMember',
    method: 'put',
    path: '/orgs/{org}/teams/{team}/members/{user}',
    tag: 'teams',
    summary: 'Put a user in the team (moving them from their team, if any); their new proxy keys carry it',
    description:
      "Nobody changes their own team (a team's limits bind its members), and nobody moves a user who holds rights they lack.",
    access: 'team.manage',
    params: memberParams,
    responses: { 200: { description: 'The user', schema: User } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const view = ctx.deps.view();
      const team = teamOfOrg(view, org.orgId, ctx.params.team as string);
      const user = userOfOrg(view, org.orgId, ctx.params.user as string);
      const { version } = await execute(
        ctx.deps.bus,
        membershipDecider,
        streams.user(org.orgId, user.userId),
        { type: 'JoinTeam', teamId: team.teamId, by: byOf(principalOf(ctx)) },
        metadataOf(ctx, org.orgId),
        { ifMatch: ctx.ifMatch },
      );
      return {
        status: 200,
        body: userBody(userOfOrg(ctx.deps.view(), org.orgId, user.userId)),
        headers: { ETag: etag(version) },
      };
    },
  }),
  route({
    operationId: 'removeTeamMember',
    method: 'delete',
    path: '/orgs/{org}/teams/{team}/members/{user}',
    tag: 'teams',
    summary: 'Take a user out of the team (keys issued while they were in it keep it)',
    access: 'team.manage',
    params: memberParams,
    responses: { 204: { description: 'Taken out' } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const view = ctx.deps.view();
      const team = teamOfOrg(view, org.orgId, ctx.params.team as string);
      const user = userOfOrg(view, org.orgId, ctx.params.user as string);
      await execute(
        ctx.deps.bus,
        membershipDecider,
        streams.user(org.orgId, user.userId),
        { type: 'LeaveTeam', teamId: team.teamId, by: byOf(principalOf(ctx)) },
        metadataOf(ctx, org.orgId),
        { ifMatch: ctx.ifMatch },
      );
      return { status: 204 };
    },
  }),
];
