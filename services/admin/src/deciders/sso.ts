import type { KordonEventData } from '@kordon/events';
import { AdminError } from '../errors.js';
import type { Role } from '../rbac/permissions.js';
import { type By, type Decided, type Decider, event } from './decider.js';

/*
 * Single sign-on. The org's OIDC settings live on the org stream (OidcConfigured, the latest
 * wins); a person signing in for the first time with auto-provisioning on becomes a user on
 * their own stream, with the role `developer`: a constant here, never a setting, so no
 * identity provider can make anyone more.
 */

/** The one role an auto-provisioned user gets. */
export const SSO_PROVISIONED_ROLE: Role = 'developer';

export interface SsoSettingsState {
  orgExists: boolean;
}

export type SsoSettingsCommand = {
  type: 'ConfigureOidc';
  settings: KordonEventData<'OidcConfigured'>;
  by: By;
};

export const ssoSettingsDecider: Decider<SsoSettingsState, SsoSettingsCommand> = {
  initialState: () => ({ orgExists: false }),
  evolve(state, e: Decided) {
    return e.type === 'OrgCreated' ? { orgExists: true } : state;
  },
  decide(command, state) {
    switch (command.type) {
      case 'ConfigureOidc':
        if (!command.by.rights.has('sso.manage')) {
          throw new AdminError('forbidden', 'setting single sign-on needs sso.manage (owners)');
        }
        if (!state.orgExists) throw new AdminError('not_found', 'org not found');
        // The client secret is encrypted anew each time, so every command is a change.
        return [event('OidcConfigured', command.settings)];
      default: {
        const unknown: never = command.type;
        throw new Error(`unknown command ${String(unknown)}`);
      }
    }
  },
};

export interface SsoUserState {
  joined: boolean;
}

export type SsoUserCommand = {
  type: 'ProvisionSsoUser';
  userId: string;
  email: string;
  displayName: string;
};

export const ssoUserDecider: Decider<SsoUserState, SsoUserCommand> = {
  initialState: () => ({ joined: false }),
  evolve(state, e: Decided) {
    return e.type === 'UserJoined' ? { joined: true } : state;
  },
  decide(command, state) {
    switch (command.type) {
      case 'ProvisionSsoUser':
        if (state.joined) throw new AdminError('conflict', 'the user joined meanwhile; sign in again');
        return [
          event('UserJoined', {
            userId: command.userId,
            email: command.email,
            displayName: command.displayName,
            method: 'sso',
          }),
          event('RoleGranted', { userId: command.userId, role: SSO_PROVISIONED_ROLE, teamId: null }),
        ];
      default: {
        const unknown: never = command.type;
        throw new Error(`unknown command ${String(unknown)}`);
      }
    }
  },
};
