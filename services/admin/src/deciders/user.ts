import { AdminError } from '../errors.js';
import { isSubset, mayGrant, type Role, rightsOfRoles } from '../rbac/permissions.js';
import { type By, type Decided, type Decider, event, eventOn } from './decider.js';

export interface UserState {
  exists: boolean;
  userId: string;
  email: string;
  /** Org-level roles held. */
  roles: Role[];
  disabled: boolean;
  hasPassword: boolean;
}

/** A live session of the user (from the admin view) and its stream. */
export interface LiveSession {
  sessionId: string;
  streamId: string;
}

export type UserCommand =
  | {
      type: 'AddUser';
      userId: string;
      email: string;
      displayName: string;
      role: Role;
      /** argon2id hash, made before deciding (hashing is not pure). */
      passwordHash: string | null;
      method: 'invitation' | 'bootstrap';
      by: By;
    }
  /** `otherOwners`: enabled users of the org, other than this one, holding the owner role. */
  | { type: 'ChangeRole'; role: Role; by: By; otherOwners: number }
  /** `sessions`, here and below: the user's live sessions, each ended by a SessionEnded. */
  | { type: 'DisableUser'; note: string | null; by: By; otherOwners: number; sessions: LiveSession[] }
  /**
   * A person sets their own new password; the route has checked the current one (argon2id,
   * throttled), which is not pure. `passwordHash` is the new one's argon2id hash.
   */
  | { type: 'ChangePassword'; passwordHash: string; by: By; sessions: LiveSession[] }
  /**
   * Someone with user.manage sets another user's password (never their own: ChangePassword).
   * `singleSignOn`: whether the user's org has single sign-on set up (from the admin view).
   */
  | {
      type: 'ResetPassword';
      passwordHash: string;
      by: By;
      sessions: LiveSession[];
      singleSignOn: boolean;
    };

/**
 * One SessionEnded per live session, on the session's stream, appended with the user's event:
 * the log says each ended, and why. The admin view ends them with the user's event anyway
 * (a session it does not list, started while the command ran, included: 0019).
 */
const endSessions = (sessions: LiveSession[], reason: SessionEndReason): Decided[] =>
  sessions.map((s) => eventOn(s.streamId, 'SessionEnded', { sessionId: s.sessionId, reason }));

type SessionEndReason = 'password_changed' | 'password_reset' | 'user_disabled';

/** Whether `by` may act on a user holding `roles`: only on users whose rights are all its own. */
function checkMayManage(by: By, state: UserState, what: string): void {
  if (!by.rights.has('user.manage')) throw new AdminError('forbidden', 'managing users needs user.manage');
  if (by.userId !== null && by.userId === state.userId) {
    throw new AdminError('not_allowed_for_you', `you cannot ${what} yourself`);
  }
  if (!isSubset(rightsOfRoles(state.roles), by.rights)) {
    throw new AdminError(
      'not_allowed_for_you',
      `this user holds rights you do not have; you cannot ${what} them`,
    );
  }
}

/** An org keeps a person who can manage owners: an owner token could otherwise remove the last. */
function checkNotLastOwner(state: UserState, otherOwners: number): void {
  if (state.roles.includes('owner') && otherOwners === 0) {
    throw new AdminError('invalid_state', "this is the org's last owner: make someone else owner first");
  }
}

/**
 * A password is set only on an enabled user who signs in with one. A user without a password
 * in an org with single sign-on signs in through it only: giving them one would open a door
 * around the identity provider's own checks (MFA, offboarding). In an org without it, such a
 * user (added by the configuration file or without a password) has no way in but a reset.
 */
function checkMaySetPassword(state: UserState, singleSignOn = true): void {
  if (state.disabled) throw new AdminError('invalid_state', 'the user is disabled');
  if (!state.hasPassword && singleSignOn) {
    throw new AdminError(
      'invalid_state',
      'this user signs in through single sign-on only and has no password to change',
    );
  }
}

export const userDecider: Decider<UserState, UserCommand> = {
  initialState: () => ({
    exists: false,
    userId: '',
    email: '',
    roles: [],
    disabled: false,
    hasPassword: false,
  }),
  evolve(state, e: Decided) {
    switch (e.type) {
      case 'UserJoined':
        return { ...state, exists: true, userId: e.data.userId, email: e.data.email };
      case 'RoleGranted':
        if (e.data.teamId !== null || state.roles.includes(e.data.role)) return state;
        return { ...state, roles: [...state.roles, e.data.role] };
      case 'RoleRevoked':
        if (e.data.teamId !== null) return state;
        return { ...state, roles: state.roles.filter((role) => role !== e.data.role) };
      case 'UserDisabled':
        return { ...state, disabled: true };
      case 'UserPasswordSet':
        return { ...state, hasPassword: true };
      default:
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'AddUser': {
        if (!command.by.rights.has('user.manage')) {
          throw new AdminError('forbidden', 'adding users needs user.manage');
        }
        if (!mayGrant(command.by.rights, command.role)) {
          throw new AdminError('not_allowed_for_you', `you cannot grant the role ${command.role}`);
        }
        if (state.exists) {
          throw new AdminError('conflict', `a user with e-mail ${command.email} exists already in this org`);
        }
        const { userId } = command;
        const events: Decided[] = [
          event('UserJoined', {
            userId,
            email: command.email,
            displayName: command.displayName,
            method: command.method,
          }),
          event('RoleGranted', { userId, role: command.role, teamId: null }),
        ];
        if (command.passwordHash !== null)
          events.push(event('UserPasswordSet', { userId, passwordHash: command.passwordHash }));
        return events;
      }
      case 'ChangeRole': {
        if (!state.exists) throw new AdminError('not_found', 'user not found');
        if (state.disabled) throw new AdminError('invalid_state', 'the user is disabled');
        checkMayManage(command.by, state, 'change the role of');
        if (!mayGrant(command.by.rights, command.role)) {
          throw new AdminError('not_allowed_for_you', `you cannot grant the role ${command.role}`);
        }
        if (command.role !== 'owner') checkNotLastOwner(state, command.otherOwners);
        const events: Decided[] = state.roles
          .filter((role) => role !== command.role)
          .map((role) => event('RoleRevoked', { userId: state.userId, role, teamId: null }));
        if (!state.roles.includes(command.role))
          events.push(event('RoleGranted', { userId: state.userId, role: command.role, teamId: null }));
        return events;
      }
      case 'DisableUser':
        if (!state.exists) throw new AdminError('not_found', 'user not found');
        checkMayManage(command.by, state, 'disable');
        if (state.disabled) return [];
        checkNotLastOwner(state, command.otherOwners);
        return [
          event('UserDisabled', { userId: state.userId, note: command.note }),
          ...endSessions(command.sessions, 'user_disabled'),
        ];
      case 'ChangePassword':
        if (!state.exists) throw new AdminError('not_found', 'user not found');
        if (command.by.userId === null || command.by.userId !== state.userId) {
          throw new AdminError('forbidden', 'only the user themselves changes their password this way');
        }
        checkMaySetPassword(state);
        return [
          event('UserPasswordSet', { userId: state.userId, passwordHash: command.passwordHash }),
          ...endSessions(command.sessions, 'password_changed'),
        ];
      case 'ResetPassword':
        if (!state.exists) throw new AdminError('not_found', 'user not found');
        // Also refuses one's own: changing it needs the current password (ChangePassword).
        checkMayManage(command.by, state, 'reset the password of');
        checkMaySetPassword(state, command.singleSignOn);
        return [
          event('UserPasswordSet', { userId: state.userId, passwordHash: command.passwordHash }),
          ...endSessions(command.sessions, 'password_reset'),
        ];
      default: {
        const unknown: never = command;
        throw new Error(`unknown command ${JSON.stringify(unknown)}`);
      }
    }
  },
};
