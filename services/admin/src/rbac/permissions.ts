import type { KordonEventData } from '@kordon/events';

/*
 * The one permission table of the admin API. Every route names the action it needs and the
 * router checks it here before the handler runs; docs/admin-api.md prints this table.
 */

export type Role = KordonEventData<'RoleGranted'>['role'];

export const ROLES = ['owner', 'admin', 'finance', 'developer', 'auditor'] as const satisfies readonly Role[];

export const ACTIONS = [
  /** Create tenants: only the bootstrap owner (KORDON_ADMIN_TOKEN) may. */
  'org.create',
  'org.read',
  /** Grant or revoke the owner role, and manage users who are owners. */
  'owner.manage',
  'user.read',
  /** Add and invite users, disable them, change their role (never to a role with rights the caller lacks). */
  'user.manage',
  /** See the org's teams and who is in them. */
  'team.read',
  /** Create teams and put users in them or take them out. */
  'team.manage',
  /** See and manage one's own proxy keys. */
  'proxyKey.own',
  /** See every proxy key of the org. */
  'proxyKey.readAny',
  /** Issue, suspend, reinstate and revoke anyone's proxy keys. */
  'proxyKey.manageAny',
  'provider.read',
  'provider.manage',
  'providerKey.read',
  'providerKey.manage',
  'apiToken.read',
  'apiToken.manage',
  /** See the limits of the org, its users and proxy keys. */
  'policy.read',
  /** Set limits and their renewal on the org, a user or a proxy key. */
  'policy.manage',
  /** See the org's own prices. */
  'price.read',
  /** Set the org's own prices. */
  'price.manage',
  'audit.read',
  /** See the org's single sign-on settings (never the client secret). */
  'sso.read',
  /** Set the org's single sign-on (OIDC): owners only. */
  'sso.manage',
  /** See one's own requests in the request log. */
  'request.own',
  /** See every request of the org in the request log, with its logged text. */
  'request.readAny',
  /**
   * Read and export the org's spend reports (requests, tokens, cost by day, team, user, key,
   * provider, model). Developers see their own requests' cost in the request log instead.
   */
  'spend.read',
  /** See the org's logging policy (bodies, retention, redaction rules). */
  'logging.read',
  /** Set the org's logging policy. */
  'logging.manage',
] as const;

export type Action = (typeof ACTIONS)[number];

const EVERYTHING_BUT_TENANTS: readonly Action[] = ACTIONS.filter((action) => action !== 'org.create');

export const PERMISSIONS: Readonly<Record<Role, readonly Action[]>> = {
  owner: EVERYTHING_BUT_TENANTS,
  // Who may sign in, and as whom, is the owners' to decide: an admin cannot set single sign-on.
  admin: EVERYTHING_BUT_TENANTS.filter((action) => action !== 'owner.manage' && action !== 'sso.manage'),
  finance: [
    'org.read',
    'user.read',
    'team.read',
    'proxyKey.own',
    'proxyKey.readAny',
    'provider.read',
    'providerKey.read',
    'policy.read',
    'price.read',
    'audit.read',
    'request.own',
    'request.readAny',
    'spend.read',
    'logging.read',
  ],
  developer: ['org.read', 'proxyKey.own', 'provider.read', 'request.own'],
  auditor: [
    'org.read',
    'user.read',
    'team.read',
    'proxyKey.own',
    'proxyKey.readAny',
    'provider.read',
    'providerKey.read',
    'apiToken.read',
    'policy.read',
    'price.read',
    'audit.read',
    'sso.read',
    'request.own',
    'request.readAny',
    'spend.read',
    'logging.read',
  ],
};

/** What a principal may do: a role's actions, or every action for the bootstrap owner. */
export type Rights = ReadonlySet<Action>;

const rightsByRole = new Map<Role, Rights>(ROLES.map((role) => [role, new Set(PERMISSIONS[role])]));
const ALL_RIGHTS: Rights = new Set(ACTIONS);
const NO_RIGHTS: Rights = new Set();

export function rightsOf(role: Role | null | 'bootstrap'): Rights {
  if (role === 'bootstrap') return ALL_RIGHTS;
  if (role === null) return NO_RIGHTS;
  return rightsByRole.get(role) ?? NO_RIGHTS;
}

export function isSubset(inner: Rights, outer: Rights): boolean {
  for (const action of inner) if (!outer.has(action)) return false;
  return true;
}

/**
 * Whether rights `by` may hand out `role` (to a user or an API token), or act on a user who
 * holds it: only when every action of the role is one `by` has itself. So no one grants more
 * than they hold, and an admin can neither make nor touch an owner (`owner.manage`). The
 * caller checks separately that `by` may manage users or tokens at all.
 */
export function mayGrant(by: Rights, role: Role): boolean {
  return isSubset(rightsOf(role), by);
}

/** The rights of a user: the union of the org-level roles held (config-file users may hold several). */
export function rightsOfRoles(roles: Iterable<Role>): Rights {
  const rights = new Set<Action>();
  for (const role of roles) for (const action of rightsOf(role)) rights.add(action);
  return rights;
}
