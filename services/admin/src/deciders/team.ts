import { TEAM_MEMBER_ROLE as CATALOGUE_TEAM_MEMBER_ROLE } from '@kordon/events';
import { AdminError } from '../errors.js';
import { isSubset, type Role, rightsOfRoles } from '../rbac/permissions.js';
import { type By, type Decided, type Decider, event } from './decider.js';

/*
 * Teams. A team is its own stream (`org:<orgId>:team:<teamId>`, TeamCreated, its PolicySet);
 * membership is a fact about the user, on the user's stream: a role granted within the team
 * (RoleGranted with `teamId`), as the event catalogue defines it. A user is in at most one
 * team, because a proxy key carries one team (ProxyKeyIssued.teamId). The role within a team
 * is always `developer` today: it means "member" and grants no rights (rights come from
 * org-level roles only; the view and the user decider ignore team-scoped grants for rights).
 */

/** The role a membership is recorded with (the catalogue's). */
export const TEAM_MEMBER_ROLE: Role = CATALOGUE_TEAM_MEMBER_ROLE;

export type TeamState = { exists: false } | { exists: true; teamId: string; name: string };

export type TeamCommand = { type: 'CreateTeam'; teamId: string; name: string; by: By };

export const teamDecider: Decider<TeamState, TeamCommand> = {
  initialState: () => ({ exists: false }),
  evolve(state, e: Decided) {
    if (e.type === 'TeamCreated') return { exists: true, teamId: e.data.teamId, name: e.data.name };
    return state;
  },
  decide(command, state) {
    switch (command.type) {
      case 'CreateTeam':
        if (!command.by.rights.has('team.manage')) {
          throw new AdminError('forbidden', 'creating teams needs team.manage');
        }
        if (state.exists) throw new AdminError('conflict', `a team named ${command.name} exists already`);
        return [event('TeamCreated', { teamId: command.teamId, name: command.name })];
      default: {
        const unknown: never = command.type;
        throw new Error(`unknown command ${String(unknown)}`);
      }
    }
  },
};

export interface MembershipState {
  exists: boolean;
  userId: string;
  /** Org-level roles: whose rights the caller must hold to move the user. */
  roles: Role[];
  disabled: boolean;
  /** The team the user is in, and the roles held within it (to revoke them all on leaving). */
  teamId: string | null;
  teamRoles: Role[];
}

export type MembershipCommand =
  | { type: 'JoinTeam'; teamId: string; by: By }
  | { type: 'LeaveTeam'; teamId: string; by: By };

/**
 * Putting a user in a team (or moving them from another) and taking them out. Team limits
 * bind the keys of its members, so this is managing the user: it needs `team.manage`, never
 * on oneself (nobody leaves their own team's limits), and never on a user who holds rights
 * the caller lacks (an admin does not move an owner).
 */
export const membershipDecider: Decider<MembershipState, MembershipCommand> = {
  initialState: () => ({
    exists: false,
    userId: '',
    roles: [],
    disabled: false,
    teamId: null,
    teamRoles: [],
  }),
  evolve(state, e: Decided) {
    switch (e.type) {
      case 'UserJoined':
        return { ...state, exists: true, userId: e.data.userId };
      case 'RoleGranted': {
        const { role, teamId } = e.data;
        if (teamId === null)
          return state.roles.includes(role) ? state : { ...state, roles: [...state.roles, role] };
        if (teamId !== state.teamId) return { ...state, teamId, teamRoles: [role] };
        return state.teamRoles.includes(role) ? state : { ...state, teamRoles: [...state.teamRoles, role] };
      }
      case 'RoleRevoked': {
        const { role, teamId } = e.data;
        if (teamId === null) return { ...state, roles: state.roles.filter((r) => r !== role) };
        if (teamId !== state.teamId) return state;
        const teamRoles = state.teamRoles.filter((r) => r !== role);
        return teamRoles.length === 0 ? { ...state, teamId: null, teamRoles } : { ...state, teamRoles };
      }
      case 'UserDisabled':
        return { ...state, disabled: true };
      default:
        return state;
    }
  },
  decide(command, state) {
    if (!command.by.rights.has('team.manage')) {
      throw new AdminError('forbidden', 'managing team members needs team.manage');
    }
    if (!state.exists) throw new AdminError('not_found', 'user not found');
    if (command.by.userId !== null && command.by.userId === state.userId) {
      throw new AdminError('not_allowed_for_you', 'you cannot change your own team');
    }
    if (!isSubset(rightsOfRoles(state.roles), command.by.rights)) {
      throw new AdminError(
        'not_allowed_for_you',
        'this user holds rights you do not have; you cannot change their team',
      );
    }
    const leave = (teamId: string) =>
      state.teamRoles.map((role) => event('RoleRevoked', { userId: state.userId, role, teamId }));
    switch (command.type) {
      case 'JoinTeam': {
        if (state.disabled) throw new AdminError('invalid_state', 'the user is disabled');
        if (state.teamId === command.teamId) return [];
        return [
          ...(state.teamId === null ? [] : leave(state.teamId)),
          event('RoleGranted', { userId: state.userId, role: TEAM_MEMBER_ROLE, teamId: command.teamId }),
        ];
      }
      case 'LeaveTeam':
        if (state.teamId !== command.teamId) {
          throw new AdminError('not_found', 'the user is not a member of this team');
        }
        return leave(command.teamId);
      default: {
        const unknown: never = command;
        throw new Error(`unknown command ${JSON.stringify(unknown)}`);
      }
    }
  },
};
