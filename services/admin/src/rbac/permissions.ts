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
  /** Add users, disable them, change their role (never to a role with rights the caller lacks). */
  'user.manage',
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
  'audit.read',
] as const;

export type Action = (typeof ACTIONS)[number];

const EVERYTHING_BUT_TENANTS: readonly Action[] = ACTIONS.filter((action) => action !== 'org.create');

export const PERMISSIONS: Readonly<Record<Role, readonly Action[]>> = {
  owner: EVERYTHING_BUT_TENANTS,
  admin: EVERYTHING_BUT_TENANTS.filter((action) => action !== 'owner.manage'),
  finance: [
    'org.read',
    'user.read',
    'proxyKey.own',
    'proxyKey.readAny',
    'provider.read',
    'providerKey.read',
    'policy.read',
    'audit.read',
  ],
  developer: ['org.read', 'proxyKey.own', 'provider.read'],
  auditor: [
    'org.read',
    'user.read',
    'proxyKey.own',
    'proxyKey.readAny',
    'provider.read',
    'providerKey.read',
    'apiToken.read',
    'policy.read',
    'audit.read',
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
