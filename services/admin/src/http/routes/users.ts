import { streams } from '@kordon/events';
import { byOf } from '../../auth/principal.js';
import { etag, execute, precheck } from '../../commands/execute.js';
import { type LiveSession, userDecider } from '../../deciders/user.js';
import { AdminError } from '../../errors.js';
import type { AdminViewState } from '../../view/admin-view.js';
import { metadataOf, orgOf, paginate, principalOf, userBody, userByEmail, userOfOrg } from '../helpers.js';
import { route } from '../route.js';
import {
  ChangeRoleBody,
  CreateUserBody,
  DisableUserBody,
  entityParams,
  orgParams,
  page,
  pageQuery,
  SetPasswordBody,
  User,
} from '../schemas.js';
import { executeEndingSessions } from '../user-sessions.js';

const UserPage = page(User, 'User');

/** Enabled owners of the org besides `userId`: the last one is neither demoted nor disabled. */
function otherOwners(view: AdminViewState, orgId: string, userId: string): number {
  let count = 0;
  for (const user of view.users.values()) {
    if (user.orgId === orgId && user.userId !== userId && !user.disabled && user.roles.includes('owner'))
      count += 1;
  }
  return count;
}
const userParams = entityParams('user');

export const userRoutes = [
  route({
    operationId: 'listUsers',
    method: 'get',
    path: '/orgs/{org}/users',
    tag: 'users',
    summary: "The org's users",
    access: 'user.read',
    params: orgParams,
    query: pageQuery,
    responses: { 200: { description: 'A page of users', schema: UserPage } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const users = [...ctx.deps.view().users.values()].filter((user) => user.orgId === org.orgId);
      const result = paginate(users, (user) => user.userId, ctx.query);
      return { status: 200, body: { items: result.items.map(userBody), nextCursor: result.nextCursor } };
    },
  }),
  route({
    operationId: 'createUser',
    method: 'post',
    path: '/orgs/{org}/users',
    tag: 'users',
    summary: 'Add a user with a role (never one with rights you lack)',
    access: 'user.manage',
    params: orgParams,
    body: CreateUserBody,
    responses: { 201: { description: 'The user', schema: User } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const principal = principalOf(ctx);
      const email = ctx.body.email.toLowerCase();
      if (userByEmail(ctx.deps.view(), org.orgId, email)) {
        throw new AdminError('conflict', `a user with e-mail ${email} exists already in this org`);
      }
      // The config file's id for the same person: both doors name one user.
      const userId = ctx.deps.crypto.entityId('user', `${org.slug}/${email}`);
      const stream = streams.user(org.orgId, userId);
      const add = (passwordHash: string | null) => ({
        type: 'AddUser' as const,
        userId,
        email,
        displayName: ctx.body.displayName ?? email.split('@')[0]!,
        role: ctx.body.role,
        passwordHash,
        method: principal.kind === 'bootstrap' ? ('bootstrap' as const) : ('invitation' as const),
        by: byOf(principal),
      });
      let passwordHash: string | null = null;
      if (ctx.body.password !== undefined) {
        // Whatever refuses the user refuses it before the slow hash (execute decides again).
        await precheck(ctx.deps.bus, userDecider, stream, add(null));
        passwordHash = await ctx.deps.hashPassword(ctx.body.password);
      }
      const { version } = await execute(
        ctx.deps.bus,
        userDecider,
        stream,
        add(passwordHash),
        metadataOf(ctx, org.orgId),
      );
      const user = userOfOrg(ctx.deps.view(), org.orgId, userId);
      return { status: 201, body: userBody(user), headers: { ETag: etag(version) } };
    },
  }),
  route({
    operationId: 'getUser',
    method: 'get',
    path: '/orgs/{org}/users/{user}',
    tag: 'users',
    summary: 'One user',
    access: 'user.read',
    params: userParams,
    responses: { 200: { description: 'The user', schema: User } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const view = ctx.deps.view();
      const user = userOfOrg(view, org.orgId, ctx.params.user as string);
      const version = view.versions.get(streams.user(org.orgId, user.userId)) ?? 0;
      return { status: 200, body: userBody(user), headers: { ETag: etag(version) } };
    },
  }),
  route({
    operationId: 'changeUserRole',
    method: 'put',
    path: '/orgs/{org}/users/{user}/role',
    tag: 'users',
    summary: "Change a user's role",
    description:
      'Nobody changes their own role, nobody grants a role with rights they lack, and nobody changes the role of a user who holds rights they lack.',
    access: 'user.manage',
    params: userParams,
    body: ChangeRoleBody,
    responses: { 200: { description: 'The user', schema: User } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const user = userOfOrg(ctx.deps.view(), org.orgId, ctx.params.user as string);
      const { version } = await execute(
        ctx.deps.bus,
        userDecider,
        streams.user(org.orgId, user.userId),
        {
          type: 'ChangeRole',
          role: ctx.body.role,
          by: byOf(principalOf(ctx)),
          otherOwners: otherOwners(ctx.deps.view(), org.orgId, user.userId),
        },
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
    operationId: 'disableUser',
    method: 'post',
    path: '/orgs/{org}/users/{user}/disable',
    tag: 'users',
    summary: 'Disable a user: they cannot sign in, and their sessions and keys stop working',
    access: 'user.manage',
    params: userParams,
    body: DisableUserBody,
    responses: { 200: { description: 'The user', schema: User } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const user = userOfOrg(ctx.deps.view(), org.orgId, ctx.params.user as string);
      const metadata = metadataOf(ctx, org.orgId);
      const { version } = await executeEndingSessions(ctx.deps, user, 'user_disabled', metadata, (sessions) =>
        execute(
          ctx.deps.bus,
          userDecider,
          streams.user(org.orgId, user.userId),
          {
            type: 'DisableUser',
            note: ctx.body.note ?? null,
            by: byOf(principalOf(ctx)),
            otherOwners: otherOwners(ctx.deps.view(), org.orgId, user.userId),
            sessions,
          },
          metadata,
          { ifMatch: ctx.ifMatch },
        ),
      );
      return {
        status: 200,
        body: userBody(userOfOrg(ctx.deps.view(), org.orgId, user.userId)),
        headers: { ETag: etag(version) },
      };
    },
  }),
  route({
    operationId: 'resetUserPassword',
    method: 'put',
    path: '/orgs/{org}/users/{user}/password',
    tag: 'users',
    summary: "Set another user's password (ends all their sessions)",
    description:
      "For a person who lost theirs: the new password (the rules of every new one) is kept as an argon2id hash in UserPasswordSet, and every session of the user ends with it, each with a SessionEnded `password_reset` in the same append. Tell them the password out of band; they change it with POST /auth/password. Never your own (change it with POST /auth/password, which asks for the current one), never a user holding rights you lack (an admin cannot reset an owner's), never a disabled user or one without a password in an org with single sign-on (409). In an org without single sign-on it gives a user without a password (one of the configuration file, or added without one) a first password: they have no other way in. A refused reset costs no hash: every check comes first.",
    access: 'user.manage',
    params: userParams,
    body: SetPasswordBody,
    responses: { 200: { description: 'The user', schema: User } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const view = ctx.deps.view();
      const user = userOfOrg(view, org.orgId, ctx.params.user as string);
      const stream = streams.user(org.orgId, user.userId);
      const by = byOf(principalOf(ctx));
      const singleSignOn = view.sso.has(org.orgId);
      const reset = (passwordHash: string, sessions: LiveSession[]) => ({
        type: 'ResetPassword' as const,
        passwordHash,
        by,
        sessions,
        singleSignOn,
      });
      // Every refusal (rights, one's own, disabled, single sign-on only, If-Match) comes before
      // the slow hash, so a refused reset costs no CPU; execute decides again on the stream.
      await precheck(ctx.deps.bus, userDecider, stream, reset('', []), { ifMatch: ctx.ifMatch });
      const passwordHash = await ctx.deps.hashPassword(ctx.body.password);
      const metadata = metadataOf(ctx, org.orgId);
      const { version } = await executeEndingSessions(
        ctx.deps,
        user,
        'password_reset',
        metadata,
        (sessions) =>
          execute(ctx.deps.bus, userDecider, stream, reset(passwordHash, sessions), metadata, {
            ifMatch: ctx.ifMatch,
          }),
      );
      return {
        status: 200,
        body: userBody(userOfOrg(ctx.deps.view(), org.orgId, user.userId)),
        headers: { ETag: etag(version) },
      };
    },
  }),
];
