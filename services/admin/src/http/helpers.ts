import { isValidId } from '@kordon/events';
import type { Principal } from '../auth/principal.js';
import { actorOf } from '../auth/principal.js';
import type { CommandMetadata } from '../commands/execute.js';
import type { Ceiling } from '../deciders/proxy-key.js';
import { AdminError, notFound } from '../errors.js';
import { type Limits, tightest } from '../rbac/bounds.js';
import {
  type AdminViewState,
  displayRole,
  type OrgView,
  policyKey,
  type UserView,
} from '../view/admin-view.js';
import type { RouteContext } from './route.js';

export function resolveOrg(view: AdminViewState, ref: string): OrgView | undefined {
  return view.orgs.get(ref) ?? view.orgs.get(view.orgIdBySlug.get(ref) ?? '');
}

// --- cursors: base64url of the last id of the page ---

export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const invalid = () =>
    new AdminError('validation_failed', 'the cursor is not one this API gave', {
      errors: [{ path: 'query.cursor', message: 'invalid cursor' }],
    });
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) throw invalid();
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isValidId(id) || encodeCursor(id) !== cursor) throw invalid();
  return id;
}

export const DEFAULT_PAGE = 50;

/** A page of `items` (any order): sorted by id, after the cursor's id. */
export function paginate<T>(
  items: Iterable<T>,
  idOf: (item: T) => string,
  query: { limit?: number | undefined; cursor?: string | undefined },
): { items: T[]; nextCursor: string | null } {
  const limit = query.limit ?? DEFAULT_PAGE;
  const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
  const sorted = [...items]
    .filter((item) => after === null || idOf(item) > after)
    .sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
  const pageItems = sorted.slice(0, limit);
  const more = sorted.length > limit;
  return { items: pageItems, nextCursor: more ? encodeCursor(idOf(pageItems[pageItems.length - 1]!)) : null };
}

// --- context helpers ---

export function principalOf(ctx: RouteContext<unknown, unknown, unknown>): Principal {
  if (!ctx.principal) throw new AdminError('unauthenticated', 'sign in first');
  return ctx.principal;
}

export function orgOf(ctx: RouteContext<unknown, unknown, unknown>): OrgView {
  if (!ctx.org) throw notFound('org');
  return ctx.org;
}

export function metadataOf(ctx: RouteContext<unknown, unknown, unknown>, orgId: string): CommandMetadata {
  return { orgId, actor: actorOf(principalOf(ctx)), time: ctx.deps.now(), correlationId: ctx.requestId };
}

export function userOfOrg(view: AdminViewState, orgId: string, userId: string): UserView {
  const user = view.users.get(userId);
  if (!user || user.orgId !== orgId) throw notFound('user');
  return user;
}

export function userByEmail(view: AdminViewState, orgId: string, email: string): UserView | undefined {
  for (const id of view.userIdsByEmail.get(email.toLowerCase()) ?? []) {
    const user = view.users.get(id);
    if (user?.orgId === orgId) return user;
  }
  return undefined;
}

/**
 * What the principal holds: its own limits (org and, for a person, their team's and their
 * own policy at their tightest) and its own expiry (an API token's).
 */
export function ceilingOf(view: AdminViewState, principal: Principal): Ceiling {
  if (principal.kind === 'bootstrap') return { limits: undefined, expiresAt: null };
  const org: Limits | undefined = view.policies.get(policyKey(principal.orgId, 'org', principal.orgId));
  if (principal.kind === 'api-token') return { limits: org, expiresAt: principal.expiresAt };
  const user = view.policies.get(policyKey(principal.orgId, 'user', principal.userId));
  const teamId = view.users.get(principal.userId)?.teamId ?? null;
  const team = teamId === null ? undefined : view.policies.get(policyKey(principal.orgId, 'team', teamId));
  return { limits: tightest(tightest(org, team), user), expiresAt: null };
}

export function userBody(user: UserView) {
  return {
    id: user.userId,
    email: user.email,
    displayName: user.displayName,
    role: displayRole(user),
    roles: user.roles,
    teamId: user.teamId,
    disabled: user.disabled,
    hasPassword: user.passwordHash !== null,
    createdAt: user.createdAt,
  };
}
