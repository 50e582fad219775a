import { newEventId, streams } from '@kordon/events';
import { Strategy as LocalStrategy } from 'passport-local';
import { burnPasswordCheck, verifyPassword } from '../../auth/passwords.js';
import { authenticate, byOf, unauthenticated } from '../../auth/principal.js';
import {
  ACCESS_TOKEN_SECONDS,
  API_TOKEN_PATTERN,
  newRefreshToken,
  REFRESH_TOKEN_DAYS,
  REFRESH_TOKEN_PATTERN,
} from '../../auth/tokens.js';
import { execute, precheck } from '../../commands/execute.js';
import { sessionDecider } from '../../deciders/session.js';
import { type LiveSession, userDecider } from '../../deciders/user.js';
import { AdminError } from '../../errors.js';
import { ACTIONS } from '../../rbac/permissions.js';
import { displayRole, type UserView } from '../../view/admin-view.js';
import type { AdminDeps } from '../deps.js';
import { metadataOf, principalOf, resolveOrg } from '../helpers.js';
import type { PassportInstance as Passport } from '../passport.js';
import { type RouteContext, route } from '../route.js';
import {
  ChangePasswordBody,
  LoginBody,
  MachineTokenBody,
  MachineTokens,
  Me,
  RefreshBody,
  Tokens,
} from '../schemas.js';
import { executeEndingSessions } from '../user-sessions.js';

const LOGIN_STRATEGY = 'kordon-password';

/**
 * One attempt at the password of the account `email` from `ip`, through the sign-in throttle
 * (shared by every replica): after 5 failures in 15 minutes, per account or per client IP, it is
 * refused with 429 and Retry-After until the oldest failure is 15 minutes old; a client that
 * signed in to the account in the last 30 days is held back by its IP's failures only. The
 * attempt counts as a failure at once (guesses sent together, to any replica, each see the ones
 * before them) and is forgiven by `passed()` once the password matched. Sign-in and the change
 * of one's own password share it.
 */
async function throttledAttempt(
  deps: AdminDeps,
  ip: string,
  email: string,
): Promise<{ passed(): Promise<void> }> {
  const now = deps.now().getTime();
  const accountKey = `account:${email.toLowerCase()}`;
  const ipKey = `ip:${ip}`;
  // A client that signed in to this account lately is held back by its own failures only:
  // failures sent by others cannot keep the owner out.
  const wait = await deps.throttle.attempt(
    [{ key: accountKey, unlessKnown: ip !== '' ? ipKey : undefined }, { key: ipKey }],
    now,
  );
  if (wait > 0) {
    throw new AdminError(
      'too_many_attempts',
      `too many wrong passwords for this account or from this address; try again in ${wait} s`,
      {
        headers: { 'Retry-After': String(wait) },
      },
    );
  }
  return {
    passed: () =>
      deps.throttle.passed(now, {
        clear: [accountKey],
        forgive: [ipKey],
        remember: ip !== '' ? { account: accountKey, client: ipKey } : undefined,
      }),
  };
}

/** Who signed in, and the password hash their password was checked against. */
interface SignIn {
  user: UserView;
  passwordHash: string;
}

/**
 * Checks e-mail and password, throttled per account and per client IP (`throttledAttempt`).
 * An unknown e-mail costs a full argon2id check too (no account enumeration).
 */
async function checkPassword(
  deps: AdminDeps,
  ip: string,
  input: { email: string; password: string; org?: string | undefined },
): Promise<SignIn> {
  const view = deps.view();
  const orgId = input.org === undefined ? undefined : resolveOrg(view, input.org)?.orgId;
  const candidates = [...(view.userIdsByEmail.get(input.email.toLowerCase()) ?? [])]
    .map((id) => view.users.get(id))
    .filter(
      (user): user is UserView =>
        user !== undefined &&
        !user.disabled &&
        user.passwordHash !== null &&
        (input.org === undefined || user.orgId === orgId),
    );
  // Counted as a failure before the slow check, and forgiven if it passes.
  const attempt = await throttledAttempt(deps, ip, input.email);
  const matched: SignIn[] = [];
  for (const user of candidates) {
    const passwordHash = user.passwordHash!;
    if (await verifyPassword(passwordHash, input.password)) matched.push({ user, passwordHash });
  }
  if (candidates.length === 0) await burnPasswordCheck(input.password);
  if (matched.length === 0) throw unauthenticated('wrong e-mail or password');
  await attempt.passed();
  if (matched.length > 1) {
    throw new AdminError('validation_failed', 'this e-mail signs in to several orgs: name one in `org`', {
      errors: [{ path: 'body.org', message: 'required for this e-mail' }],
    });
  }
  return matched[0]!;
}

/** passport-local, for the password check (sessions are our own: stateless JWT plus refresh token). */
export function usePasswordStrategy(passport: Passport, deps: AdminDeps): void {
  passport.use(
    LOGIN_STRATEGY,
    new LocalStrategy(
      { usernameField: 'email', passwordField: 'password', session: false, passReqToCallback: true },
      (req, email, password, done) => {
        const org = typeof req.body?.org === 'string' ? req.body.org : undefined;
        checkPassword(deps, deps.clientIp(req), { email, password, org }).then(
          (signIn) => done(null, signIn),
          (error: unknown) => done(error),
        );
      },
    ),
  );
}

/**
 * Starts a session of `user` (SessionStarted with the refresh token's keyed hash) and answers
 * the tokens: the same for every way of signing in (password, invitation, single sign-on).
 * `checkedHash`: the password hash a sign-in checked. A new password ends the sessions started
 * before it, so one whose password changed between the check and the start is ended at once.
 */
export async function startSession(
  ctx: RouteContext<unknown, unknown, unknown>,
  user: UserView,
  method: 'password' | 'sso',
  checkedHash?: string,
) {
  const sessionId = newEventId();
  const refreshToken = newRefreshToken();
  const now = ctx.deps.now();
  const stream = streams.session(user.orgId, sessionId);
  const metadata = {
    orgId: user.orgId,
    actor: { kind: 'user' as const, id: user.userId, ...(ctx.ip ? { ip: ctx.ip } : {}) },
    time: now,
    correlationId: ctx.requestId,
  };
  await execute(
    ctx.deps.bus,
    sessionDecider,
    stream,
    {
      type: 'StartSession',
      sessionId,
      userId: user.userId,
      method,
      refreshTokenHash: ctx.deps.keys.hash(refreshToken),
      expiresAt: new Date(now.getTime() + REFRESH_TOKEN_DAYS * 86_400_000).toISOString(),
    },
    metadata,
  );
  // The view has applied the log up to SessionStarted: a password set before it is seen here,
  // one set after it ends the session in the view.
  if (checkedHash !== undefined && ctx.deps.view().users.get(user.userId)?.passwordHash !== checkedHash) {
    await execute(ctx.deps.bus, sessionDecider, stream, { type: 'EndSession', reason: 'revoked' }, metadata);
    throw unauthenticated('the password changed while signing in: sign in again');
  }
  return tokensFor(ctx.deps, user, sessionId, refreshToken);
}

async function tokensFor(deps: AdminDeps, user: UserView, sessionId: string, refreshToken: string) {
  return {
    accessToken: await deps.keys.signAccessToken({ sub: user.userId, org: user.orgId, sid: sessionId }),
    tokenType: 'Bearer' as const,
    expiresIn: ACCESS_TOKEN_SECONDS,
    refreshToken,
    user: { id: user.userId, orgId: user.orgId, email: user.email, role: displayRole(user) },
  };
}

export function authRoutes(passport: Passport) {
  return [
    route({
      operationId: 'login',
      method: 'post',
      path: '/auth/login',
      tag: 'auth',
      summary: 'Sign in with e-mail and password',
      description:
        'Answers a 15-minute access token (JWT) and a single-use refresh token. Five failures in 15 minutes, per account or per IP, answer 429 with Retry-After.',
      access: 'public',
      body: LoginBody,
      responses: { 200: { description: 'Signed in', schema: Tokens } },
      handler: async (ctx) => {
        const signIn = await new Promise<SignIn>((resolve, reject) => {
          passport.authenticate(
            LOGIN_STRATEGY,
            { session: false },
            (error: unknown, found: SignIn | false) => {
              if (error) reject(error);
              else if (!found) reject(unauthenticated('wrong e-mail or password'));
              else resolve(found);
            },
          )(ctx.req, ctx.req.res, () => {});
        });
        return {
          status: 200,
          body: await startSession(ctx, signIn.user, 'password', signIn.passwordHash),
        };
      },
    }),
    route({
      operationId: 'refresh',
      method: 'post',
      path: '/auth/refresh',
      tag: 'auth',
      summary: 'Trade a refresh token for new tokens',
      description:
        'Each refresh token works once and is replaced by a new one. Presenting a used one again ends the whole session (it was copied).',
      access: 'public',
      body: RefreshBody,
      responses: { 200: { description: 'New tokens', schema: Tokens } },
      handler: async (ctx) => {
        const invalid = () => unauthenticated('the refresh token is not valid');
        if (!REFRESH_TOKEN_PATTERN.test(ctx.body.refreshToken)) throw invalid();
        const presented = ctx.deps.keys.hash(ctx.body.refreshToken).value;
        const view = ctx.deps.view();
        const session = view.sessions.get(view.sessionIdByRefreshHash.get(presented) ?? '');
        const user = session ? view.users.get(session.userId) : undefined;
        if (!session || !user || user.disabled) throw invalid();
        const next = newRefreshToken();
        const stream = streams.session(session.orgId, session.sessionId);
        const metadata = {
          orgId: session.orgId,
          actor: { kind: 'user' as const, id: user.userId, ...(ctx.ip ? { ip: ctx.ip } : {}) },
          time: ctx.deps.now(),
          correlationId: ctx.requestId,
        };
        const command = {
          type: 'RefreshSession' as const,
          presented,
          next: ctx.deps.keys.hash(next),
          now: ctx.deps.now(),
        };
        let result: Awaited<ReturnType<typeof execute>>;
        try {
          result = await execute(ctx.deps.bus, sessionDecider, stream, command, metadata);
        } catch (error) {
          // Two refreshes with one token at once: the loser sees it spent, which is a reuse.
          if (!(error instanceof AdminError && error.code === 'concurrent_change')) throw error;
          result = await execute(ctx.deps.bus, sessionDecider, stream, command, metadata);
        }
        if (result.events.some((e) => e.type === 'SessionEnded')) {
          throw unauthenticated('this refresh token was used before: the session is ended, sign in again');
        }
        return { status: 200, body: await tokensFor(ctx.deps, user, session.sessionId, next) };
      },
    }),
    route({
      operationId: 'machineToken',
      method: 'post',
      path: '/auth/token',
      tag: 'auth',
      summary: 'Trade a machine token for a short-lived access token (JWT)',
      description:
        'For machines: the `kat_` token (long-lived, revocable) is the credential; the answer is a 15-minute access token (JWT) with the same role in the same org. Ask again before it expires. Revoking the machine token ends its access tokens at once.',
      access: 'public',
      body: MachineTokenBody,
      responses: { 200: { description: 'An access token', schema: MachineTokens } },
      handler: async (ctx) => {
        // Only the machine token itself: an access token cannot be traded for a fresh one.
        if (!API_TOKEN_PATTERN.test(ctx.body.apiToken)) throw unauthenticated('the API token is not valid');
        const principal = await authenticate(`Bearer ${ctx.body.apiToken}`, ctx.ip ?? '', ctx.deps).catch(
          () => {
            throw unauthenticated('the API token is not valid');
          },
        );
        if (principal.kind !== 'api-token') throw unauthenticated('the API token is not valid');
        return {
          status: 200,
          body: {
            accessToken: await ctx.deps.keys.signAccessToken({
              sub: principal.apiTokenId,
              org: principal.orgId,
              sid: 'api-token',
              kind: 'api-token',
            }),
            tokenType: 'Bearer' as const,
            expiresIn: ACCESS_TOKEN_SECONDS,
          },
        };
      },
    }),
    route({
      operationId: 'logout',
      method: 'post',
      path: '/auth/logout',
      tag: 'auth',
      summary: 'End the session of this access token (its refresh token stops working too)',
      access: 'signed-in',
      responses: { 204: { description: 'Signed out' } },
      handler: async (ctx) => {
        const principal = principalOf(ctx);
        if (principal.kind !== 'user') {
          throw new AdminError(
            'invalid_state',
            'only a signed-in person has a session; revoke tokens instead',
          );
        }
        await execute(
          ctx.deps.bus,
          sessionDecider,
          streams.session(principal.orgId, principal.sessionId),
          { type: 'EndSession', reason: 'logout' },
          {
            orgId: principal.orgId,
            actor: { kind: 'user', id: principal.userId, ...(ctx.ip ? { ip: ctx.ip } : {}) },
            time: ctx.deps.now(),
            correlationId: ctx.requestId,
          },
        );
        return { status: 204 };
      },
    }),
    route({
      operationId: 'changePassword',
      method: 'post',
      path: '/auth/password',
      tag: 'auth',
      summary: 'Change your own password (ends all your sessions: sign in again)',
      description:
        'For a person signed in: the current password is checked (failures count in the sign-in throttle, per account and per IP: 429 with Retry-After), the new one must meet the rules of every new password. UserPasswordSet keeps its argon2id hash; every session of yours, this one too, ends with it, each with a SessionEnded `password_changed` in the same append, so a stolen session does not outlive the change. A user who signs in only through single sign-on has no password here (409).',
      access: 'signed-in',
      body: ChangePasswordBody,
      responses: { 204: { description: 'Changed; sign in again with the new password' } },
      handler: async (ctx) => {
        const principal = principalOf(ctx);
        if (principal.kind !== 'user') {
          throw new AdminError(
            'invalid_state',
            'only a person has a password; machine tokens are revoked instead',
          );
        }
        const user = ctx.deps.view().users.get(principal.userId);
        if (!user || user.passwordHash === null) {
          throw new AdminError(
            'invalid_state',
            'you sign in through single sign-on only and have no password to change',
          );
        }
        const attempt = await throttledAttempt(ctx.deps, ctx.ip ?? '', user.email);
        if (!(await verifyPassword(user.passwordHash, ctx.body.currentPassword))) {
          throw new AdminError('validation_failed', 'the current password is not right', {
            errors: [{ path: 'body.currentPassword', message: 'is not your current password' }],
          });
        }
        await attempt.passed();
        if (ctx.body.newPassword === ctx.body.currentPassword) {
          throw new AdminError('validation_failed', 'the new password is the current one', {
            errors: [{ path: 'body.newPassword', message: 'must differ from the current password' }],
          });
        }
        const stream = streams.user(principal.orgId, principal.userId);
        const change = (passwordHash: string, sessions: LiveSession[]) => ({
          type: 'ChangePassword' as const,
          passwordHash,
          by: byOf(principal),
          sessions,
        });
        // What refuses the change refuses it before the slow hash (execute decides again).
        await precheck(ctx.deps.bus, userDecider, stream, change('', []));
        const passwordHash = await ctx.deps.hashPassword(ctx.body.newPassword);
        const metadata = metadataOf(ctx, principal.orgId);
        // Every session of the user ends, this one too: the answer carries no new token.
        await executeEndingSessions(ctx.deps, user, 'password_changed', metadata, (sessions) =>
          execute(ctx.deps.bus, userDecider, stream, change(passwordHash, sessions), metadata),
        );
        return { status: 204 };
      },
    }),
    route({
      operationId: 'me',
      method: 'get',
      path: '/me',
      tag: 'auth',
      summary: 'Who you are and what you may do',
      access: 'signed-in',
      responses: { 200: { description: 'You', schema: Me } },
      handler: async (ctx) => {
        const principal = principalOf(ctx);
        const actions = ACTIONS.filter((action) => principal.rights.has(action));
        switch (principal.kind) {
          case 'bootstrap':
            return {
              status: 200,
              body: { kind: 'bootstrap', id: 'admin-token', orgId: null, email: null, roles: [], actions },
            };
          case 'user':
            return {
              status: 200,
              body: {
                kind: 'user',
                id: principal.userId,
                orgId: principal.orgId,
                email: principal.email,
                roles: principal.roles,
                actions,
              },
            };
          case 'api-token':
            return {
              status: 200,
              body: {
                kind: 'api-token',
                id: principal.apiTokenId,
                orgId: principal.orgId,
                email: null,
                roles: [principal.role],
                actions,
              },
            };
        }
      },
    }),
  ];
}
