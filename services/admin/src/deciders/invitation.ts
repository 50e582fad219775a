import type { KordonEventData } from '@kordon/events';
import { AdminError } from '../errors.js';
import { mayGrant, type Role } from '../rbac/permissions.js';
import { type By, type Decided, type Decider, event } from './decider.js';
import { TEAM_MEMBER_ROLE } from './team.js';

type KeyedHash = KordonEventData<'UserInvited'>['tokenHash'];

/*
 * Invitations, on the invited user's stream (`org:<orgId>:user:<userId>`, the same id every
 * door gives that e-mail in that org). UserInvited keeps the one-time token as a keyed hash
 * only; accepting it (with a password) is UserJoined, RoleGranted (the invited role, and the
 * team's membership when one was named) and UserPasswordSet in one append. A later invitation
 * replaces the earlier one's token; once the person joined, by any door, no token works.
 */

export interface InvitationState {
  joined: boolean;
  invitation: {
    email: string;
    role: Role;
    teamId: string | null;
    tokenHash: string;
    expiresAt: string;
  } | null;
}

export type InvitationCommand =
  | {
      type: 'InviteUser';
      userId: string;
      email: string;
      role: Role;
      teamId: string | null;
      tokenHash: KeyedHash;
      expiresAt: string;
      by: By;
    }
  | {
      type: 'AcceptInvitation';
      userId: string;
      /** Keyed hash value of the token presented. */
      presented: string;
      displayName: string;
      /** argon2id hash, made before deciding (hashing is not pure). */
      passwordHash: string;
      now: Date;
    };

export const invitationDecider: Decider<InvitationState, InvitationCommand> = {
  initialState: () => ({ joined: false, invitation: null }),
  evolve(state, e: Decided) {
    switch (e.type) {
      case 'UserInvited': {
        const { email, role, teamId, tokenHash, expiresAt } = e.data;
        return { ...state, invitation: { email, role, teamId, tokenHash: tokenHash.value, expiresAt } };
      }
      case 'UserJoined':
        return { joined: true, invitation: null };
      default:
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'InviteUser': {
        if (!command.by.rights.has('user.manage')) {
          throw new AdminError('forbidden', 'inviting users needs user.manage');
        }
        // No one invites to more than they hold (the same rule as granting a role).
        if (!mayGrant(command.by.rights, command.role)) {
          throw new AdminError('not_allowed_for_you', `you cannot invite with the role ${command.role}`);
        }
        if (command.teamId !== null && !command.by.rights.has('team.manage')) {
          throw new AdminError('forbidden', 'inviting into a team needs team.manage');
        }
        if (state.joined) {
          throw new AdminError('conflict', `a user with e-mail ${command.email} exists already in this org`);
        }
        return [
          event('UserInvited', {
            userId: command.userId,
            email: command.email,
            role: command.role,
            teamId: command.teamId,
            tokenHash: command.tokenHash,
            expiresAt: command.expiresAt,
          }),
        ];
      }
      case 'AcceptInvitation': {
        // One answer for every refusal: the token says nothing about why it does not work.
        const invalid = () =>
          new AdminError('unauthenticated', 'the invitation is not valid (used, replaced or expired)');
        const invitation = state.invitation;
        if (state.joined || !invitation || invitation.tokenHash !== command.presented) throw invalid();
        if (Date.parse(invitation.expiresAt) <= command.now.getTime()) throw invalid();
        const { userId } = command;
        return [
          event('UserJoined', {
            userId,
            email: invitation.email,
            displayName: command.displayName,
            method: 'invitation',
          }),
          event('RoleGranted', { userId, role: invitation.role, teamId: null }),
          ...(invitation.teamId === null
            ? []
            : [event('RoleGranted', { userId, role: TEAM_MEMBER_ROLE, teamId: invitation.teamId })]),
          event('UserPasswordSet', { userId, passwordHash: command.passwordHash }),
        ];
      }
      default: {
        const unknown: never = command;
        throw new Error(`unknown command ${JSON.stringify(unknown)}`);
      }
    }
  },
};
