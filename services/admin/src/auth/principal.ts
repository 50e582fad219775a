import { createHash, timingSafeEqual } from 'node:crypto';
import type { Actor } from '@kordon/events';
import type { By } from '../deciders/decider.js';
import { AdminError } from '../errors.js';
import { type Rights, type Role, rightsOf, rightsOfRoles } from '../rbac/permissions.js';
import type { AdminViewState } from '../view/admin-view.js';
import { type AdminKeys, API_TOKEN_PATTERN } from './tokens.js';

/** Who is calling, resolved on every request from the current view (a disabled user stops at once). */
export type Principal =
  | { kind: 'bootstrap'; rights: Rights; ip: string }
  | {
      kind: 'user';
      orgId: string;
      userId: string;
      email: string;
      sessionId: string;
      roles: Role[];
      rights: Rights;
      ip: string;
    }
  | {
      kind: 'api-token';
      orgId: string;
      apiTokenId: string;
      role: Role;
      expiresAt: string | null;
      rights: Rights;
      ip: string;
    };

export const BOOTSTRAP_ACTOR_ID = 'admin-token';

export function actorOf(principal: Principal): Actor {
  const ip = principal.ip === '' ? {} : { ip: principal.ip };
  switch (principal.kind) {
    case 'bootstrap':
      return { kind: 'system', id: BOOTSTRAP_ACTOR_ID, ...ip };
    case 'user':
      return { kind: 'user', id: principal.userId, ...ip };
    case 'api-token':
      return { kind: 'api-token', id: principal.apiTokenId, ...ip };
  }
}

export function byOf(principal: Principal): By {
  return { rights: principal.rights, userId: principal.kind === 'user' ? principal.userId : null };
}

/** The bootstrap token, kept only as a SHA-256 digest compared in constant time. */
export class BootstrapToken {
  readonly #digest: Buffer;
  constructor(token: string) {
    this.#digest = createHash('sha256').update(token, 'utf8').digest();
  }
  matches(candidate: string): boolean {
    return timingSafeEqual(createHash('sha256').update(candidate, 'utf8').digest(), this.#digest);
  }
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="kordon-admin"' };

export function unauthenticated(
  detail = 'send Authorization: Bearer <access token or API token>',
): AdminError {
  return new AdminError('unauthenticated', detail, { headers: CHALLENGE });
}

const MAX_TOKEN_LENGTH = 4096;

/**
 * Resolves `Authorization: Bearer <token>`: the bootstrap token, an API token (`kat_`,
 * looked up by keyed hash) or an access token (JWT) of a live session of an enabled user.
 */
export async function authenticate(
  header: string | undefined,
  ip: string,
  deps: { view: () => AdminViewState; keys: AdminKeys; bootstrap: BootstrapToken | null; now: () => Date },
): Promise<Principal> {
  if (header === undefined) throw unauthenticated();
  const match = /^Bearer ([\x21-\x7e]+)$/i.exec(header);
  if (!match || match[1]!.length > MAX_TOKEN_LENGTH) throw unauthenticated('malformed Authorization header');
  const token = match[1]!;
  if (deps.bootstrap?.matches(token)) return { kind: 'bootstrap', rights: rightsOf('bootstrap'), ip };

  const view = deps.view();
  const now = deps.now().getTime();
  if (API_TOKEN_PATTERN.test(token)) {
    const id = view.apiTokenIdByHash.get(deps.keys.hash(token).value);
    const principal = apiTokenPrincipal(view, id, null, now, ip);
    if (!principal) throw unauthenticated('the API token is not valid');
    return principal;
  }

  const claims = await deps.keys.verifyAccessToken(token);
  if (!claims) throw unauthenticated('the access token is not valid (expired?): refresh it or sign in');
  if (claims.kind === 'api-token') {
    // A machine's short-lived access token: the machine token behind it must still be valid,
    // so revoking it ends its access tokens at once.
    const principal = apiTokenPrincipal(view, claims.sub, claims.org, now, ip);
    if (!principal) throw unauthenticated('the API token behind this access token is not valid');
    return principal;
  }
  const user = view.users.get(claims.sub);
  const session = view.sessions.get(claims.sid);
  if (
    !user ||
    user.orgId !== claims.org ||
    user.disabled ||
    !session || // ended (the view keeps only live sessions)
    session.userId !== user.userId ||
    Date.parse(session.expiresAt) <= now
  ) {
    throw unauthenticated('the session has ended: sign in again');
  }
  return {
    kind: 'user',
    orgId: user.orgId,
    userId: user.userId,
    email: user.email,
    sessionId: session.sessionId,
    roles: user.roles,
    rights: rightsOfRoles(user.roles),
    ip,
  };
}

/**
 * The principal of a machine token that is still valid (not revoked, not expired, its org
 * there, and of `orgId` when one is required), or undefined.
 */
function apiTokenPrincipal(
  view: AdminViewState,
  apiTokenId: string | undefined,
  orgId: string | null,
  now: number,
  ip: string,
): Principal | undefined {
  const apiToken = apiTokenId === undefined ? undefined : view.apiTokens.get(apiTokenId);
  if (
    !apiToken ||
    (orgId !== null && apiToken.orgId !== orgId) ||
    apiToken.revoked ||
    (apiToken.expiresAt !== null && Date.parse(apiToken.expiresAt) <= now) ||
    !view.orgs.has(apiToken.orgId)
  )
    return undefined;
  return {
    kind: 'api-token',
    orgId: apiToken.orgId,
    apiTokenId: apiToken.apiTokenId,
    role: apiToken.role,
    expiresAt: apiToken.expiresAt,
    rights: rightsOf(apiToken.role),
    ip,
  };
}
