import { streams, UserJoined } from '@kordon/events';
import { z } from 'zod';
import { newPassword } from '../../auth/passwords.js';
import { byOf, unauthenticated } from '../../auth/principal.js';
import { INVITATION_TOKEN_PATTERN, newInvitationToken } from '../../auth/tokens.js';
import { execute, precheck } from '../../commands/execute.js';
import { invitationDecider } from '../../deciders/invitation.js';
import { AdminError } from '../../errors.js';
import type { Rights } from '../../rbac/permissions.js';
import type { InvitationView } from '../../view/admin-view.js';
import { metadataOf, orgOf, paginate, principalOf, userByEmail } from '../helpers.js';
import { route } from '../route.js';
import { email, idSchema, label, orgParams, page, pageQuery, role, Tokens } from '../schemas.js';
import { startSession } from './auth.js';
import { teamOfOrg } from './teams.js';

/*
 * Invitations: `POST /orgs/{org}/invitations` answers a one-time token (shown once; the log
 * keeps its keyed hash), valid 7 days; `POST /auth/accept-invitation` trades it and a new
 * password for a user of the org with the invited role, signed in. Nobody invites with a role
 * holding rights they lack.
 */

export const INVITATION_DAYS = 7;

const InviteBody = z.strictObject({
  email,
  role,
  teamId: idSchema.optional().describe('A team of the org the person joins with (needs team.manage).'),
});

const Invitation = z
  .object({
    id: z.string().describe('The id the user will have.'),
    email: z.string(),
    role,
    teamId: z.string().nullable(),
    expiresAt: z.iso.datetime(),
    invitedAt: z.iso.datetime(),
    invitedBy: z.object({
      kind: z.string(),
      id: z.string().nullable().describe('null: a machine token, and you may not see machine tokens'),
    }),
  })
  .meta({ id: 'Invitation' });
const InvitationPage = page(Invitation, 'Invitation');

const IssuedInvitation = Invitation.extend({
  token: z.string().describe('The invitation token: shown this once; send it to the person.'),
}).meta({ id: 'IssuedInvitation' });

const AcceptBody = z.strictObject({
  token: z.string().min(1).max(200),
  password: newPassword,
  displayName: label.optional(),
});

/**
 * An invitation as `rights` may see it: a machine token's id is withheld from those without
 * `apiToken.read` (finance), as the audit log withholds it.
 */
const invitationBody = (invitation: InvitationView, rights: Rights) => ({
  id: invitation.userId,
  email: invitation.email,
  role: invitation.role,
  teamId: invitation.teamId,
  expiresAt: invitation.expiresAt,
  invitedAt: invitation.invitedAt,
  invitedBy:
    invitation.invitedBy.kind === 'api-token' && !rights.has('apiToken.read')
      ? { kind: invitation.invitedBy.kind, id: null }
      : invitation.invitedBy,
});

export const invitationRoutes = [
  route({
    operationId: 'listInvitations',
    method: 'get',
    path: '/orgs/{org}/invitations',
    tag: 'users',
    summary: 'Invitations not accepted yet (expired ones too, until accepted or replaced)',
    access: 'user.read',
    params: orgParams,
    query: pageQuery,
    responses: { 200: { description: 'A page of invitations (never their tokens)', schema: InvitationPage } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const invitations = [...ctx.deps.view().invitations.values()].filter((i) => i.orgId === org.orgId);
      const result = paginate(invitations, (i) => i.userId, ctx.query);
      return {
        status: 200,
        body: {
          items: result.items.map((i) => invitationBody(i, principalOf(ctx).rights)),
          nextCursor: result.nextCursor,
        },
      };
    },
  }),
  route({
    operationId: 'inviteUser',
    method: 'post',
    path: '/orgs/{org}/invitations',
    tag: 'users',
    summary: 'Invite a person with a role (never one with rights you lack); the answer holds the token once',
    description: `The token is valid ${INVITATION_DAYS} days and works once. Inviting the same e-mail again replaces the earlier token. An e-mail that is a user of the org already is 409.`,
    access: 'user.manage',
    params: orgParams,
    body: InviteBody,
    responses: { 201: { description: 'The invitation with its token', schema: IssuedInvitation } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const principal = principalOf(ctx);
      const view = ctx.deps.view();
      const address = ctx.body.email.toLowerCase();
      if (userByEmail(view, org.orgId, address)) {
        throw new AdminError('conflict', `a user with e-mail ${address} exists already in this org`);
      }
      const teamId =
        ctx.body.teamId === undefined ? null : teamOfOrg(view, org.orgId, ctx.body.teamId).teamId;
      // The id every door gives this e-mail in this org: joining by any of them spends the invitation.
      const userId = ctx.deps.crypto.entityId('user', `${org.slug}/${address}`);
      const token = newInvitationToken();
      const expiresAt = new Date(ctx.deps.now().getTime() + INVITATION_DAYS * 86_400_000).toISOString();
      await execute(
        ctx.deps.bus,
        invitationDecider,
        streams.user(org.orgId, userId),
        {
          type: 'InviteUser',
          userId,
          email: address,
          role: ctx.body.role,
          teamId,
          tokenHash: ctx.deps.keys.hash(token),
          expiresAt,
          by: byOf(principal),
        },
        metadataOf(ctx, org.orgId),
      );
      const invitation = ctx.deps.view().invitations.get(userId);
      if (!invitation)
        throw new AdminError('concurrent_change', 'the invitation changed meanwhile; read it again');
      return { status: 201, body: { ...invitationBody(invitation, principal.rights), token } };
    },
  }),
  route({
    operationId: 'acceptInvitation',
    method: 'post',
    path: '/auth/accept-invitation',
    tag: 'auth',
    summary: 'Accept an invitation: become a user of the org with a password, signed in',
    description:
      'A used, replaced or expired token is 401, the same for each. Failures count in the sign-in throttle: after 5 in 15 minutes from the client IP (sign-in failures included) or on the invitation, 429 with Retry-After.',
    access: 'public',
    body: AcceptBody,
    responses: { 200: { description: 'Joined and signed in', schema: Tokens } },
    handler: async (ctx) => {
      const now = ctx.deps.now();
      const { throttle } = ctx.deps;
      const ipKey = `ip:${ctx.ip}`;
      const tooMany = (wait: number) =>
        new AdminError(
          'too_many_attempts',
          `too many invalid invitation tokens from this address or for this invitation; try again in ${wait} s`,
          { headers: { 'Retry-After': String(wait) } },
        );
      const invalid = () => unauthenticated('the invitation is not valid (used, replaced or expired)');
      const presented = INVITATION_TOKEN_PATTERN.test(ctx.body.token)
        ? ctx.deps.keys.hash(ctx.body.token).value
        : undefined;
      const view = ctx.deps.view();
      const invitation =
        presented === undefined
          ? undefined
          : view.invitations.get(view.invitationIdByTokenHash.get(presented) ?? '');
      if (presented === undefined || !invitation || !view.orgs.has(invitation.orgId)) {
        const wait = await throttle.attempt([{ key: ipKey }], now.getTime());
        throw wait > 0 ? tooMany(wait) : invalid();
      }
      // Per address and per invitation, counted before the slow hash and taken back once joined:
      // attempts sent together, to any replica, each see the ones before them.
      const invitationKey = `invitation:${presented}`;
      const wait = await throttle.attempt([{ key: ipKey }, { key: invitationKey }], now.getTime());
      if (wait > 0) throw tooMany(wait);
      const local = invitation.email.split('@')[0]!;
      const displayName =
        ctx.body.displayName ??
        (UserJoined.schema.shape.displayName.safeParse(local).success ? local : invitation.email);
      const stream = streams.user(invitation.orgId, invitation.userId);
      const accept = (passwordHash: string) => ({
        type: 'AcceptInvitation' as const,
        userId: invitation.userId,
        presented,
        displayName,
        passwordHash,
        now,
      });
      try {
        // An expired or used invitation is refused before the slow hash (execute decides again).
        await precheck(ctx.deps.bus, invitationDecider, stream, accept(''));
        const passwordHash = await ctx.deps.hashPassword(ctx.body.password);
        await execute(ctx.deps.bus, invitationDecider, stream, accept(passwordHash), {
          orgId: invitation.orgId,
          actor: { kind: 'user', id: invitation.userId, ...(ctx.ip ? { ip: ctx.ip } : {}) },
          time: now,
          correlationId: ctx.requestId,
        });
      } catch (error) {
        // Two accepts at once: the loser finds the token spent, like any reuse.
        if (
          error instanceof AdminError &&
          ['unauthenticated', 'conflict', 'concurrent_change'].includes(error.code)
        )
          throw invalid();
        throw error;
      }
      await throttle.passed(now.getTime(), { clear: [invitationKey], forgive: [ipKey] });
      const user = ctx.deps.view().users.get(invitation.userId);
      if (!user) throw new AdminError('unavailable', 'joined; sign in with your e-mail and password');
      return { status: 200, body: await startSession(ctx, user, 'password') };
    },
  }),
];
