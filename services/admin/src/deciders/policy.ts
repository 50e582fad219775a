import { canonicalJson, type KordonEventData } from '@kordon/events';
import { AdminError } from '../errors.js';
import { isSubset, type Role, rightsOfRoles } from '../rbac/permissions.js';
import { type By, type Decided, type Decider, event } from './decider.js';

type PolicySet = KordonEventData<'PolicySet'>;

export interface PolicyState {
  /** The scope's current policy on this stream; null when none was ever set. */
  current: PolicySet | null;
  /** On a user's stream, the org-level roles the user holds (empty on other scopes' streams). */
  roles: Role[];
}

export type PolicyCommand = { type: 'SetPolicy'; policy: PolicySet; by: By };

/**
 * The limits of one scope (org, team, user, proxy key), on that scope's own stream. A policy
 * replaces the previous one whole; an empty `limits` removes them. Unchanged: nothing. A
 * user's limits decide whether they can call at all, so setting them is managing the user:
 * never on oneself (a limited admin would lift their own limits), never on a user who holds
 * rights the caller lacks (an admin does not limit an owner).
 */
export const policyDecider: Decider<PolicyState, PolicyCommand> = {
  initialState: () => ({ current: null, roles: [] }),
  evolve(state, e: Decided) {
    switch (e.type) {
      case 'PolicySet':
        return { ...state, current: e.data };
      case 'RoleGranted':
        if (e.data.teamId !== null || state.roles.includes(e.data.role)) return state;
        return { ...state, roles: [...state.roles, e.data.role] };
      case 'RoleRevoked':
        if (e.data.teamId !== null) return state;
        return { ...state, roles: state.roles.filter((role) => role !== e.data.role) };
      default:
        return state;
    }
  },
  decide(command, state) {
    const wanted = command.policy;
    if (wanted.scope === 'user' && command.by.userId !== null && command.by.userId === wanted.scopeId) {
      throw new AdminError('not_allowed_for_you', 'you cannot set your own limits');
    }
    if (wanted.scope === 'user' && !isSubset(rightsOfRoles(state.roles), command.by.rights)) {
      throw new AdminError(
        'not_allowed_for_you',
        'this user holds rights you do not have; you cannot set their limits',
      );
    }
    const current = state.current;
    if (current && canonicalJson(current) === canonicalJson(wanted)) return [];
    if (!current && Object.keys(wanted.limits).length === 0) return [];
    return [event('PolicySet', wanted)];
  },
};
