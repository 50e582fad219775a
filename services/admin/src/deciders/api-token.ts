import type { KordonEventData } from '@kordon/events';
import { AdminError } from '../errors.js';
import { boundExpiry } from '../rbac/bounds.js';
import { mayGrant, type Role } from '../rbac/permissions.js';
import { type By, type Decided, type Decider, event } from './decider.js';

export interface ApiTokenState {
  exists: boolean;
  apiTokenId: string;
  revoked: boolean;
}

export type ApiTokenCommand =
  | {
      type: 'IssueApiToken';
      apiTokenId: string;
      name: string;
      role: Role;
      prefix: string;
      hash: KordonEventData<'ApiTokenIssued'>['hash'];
      expiresAt: string | null | undefined;
      /** The issuer's own expiry (when the issuer is itself a token). */
      ceilingExpiresAt: string | null;
      now: Date;
      by: By;
    }
  | { type: 'RevokeApiToken'; note: string | null };

export const apiTokenDecider: Decider<ApiTokenState, ApiTokenCommand> = {
  initialState: () => ({ exists: false, apiTokenId: '', revoked: false }),
  evolve(state, e: Decided) {
    switch (e.type) {
      case 'ApiTokenIssued':
        return { exists: true, apiTokenId: e.data.apiTokenId, revoked: false };
      case 'ApiTokenRevoked':
        return { ...state, revoked: true };
      default:
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'IssueApiToken': {
        if (!command.by.rights.has('apiToken.manage')) {
          throw new AdminError('forbidden', 'issuing API tokens needs apiToken.manage');
        }
        if (!mayGrant(command.by.rights, command.role)) {
          throw new AdminError(
            'not_allowed_for_you',
            `you cannot issue a token with the role ${command.role}`,
          );
        }
        if (state.exists) throw new AdminError('conflict', 'an API token with this id exists already');
        const expiry = boundExpiry(command.expiresAt, command.ceilingExpiresAt, command.now);
        if (expiry.problem) throw new AdminError('not_allowed_for_you', expiry.problem);
        return [
          event('ApiTokenIssued', {
            apiTokenId: command.apiTokenId,
            name: command.name,
            role: command.role,
            prefix: command.prefix,
            hash: command.hash,
            expiresAt: expiry.expiresAt,
          }),
        ];
      }
      case 'RevokeApiToken':
        if (!state.exists) throw new AdminError('not_found', 'API token not found');
        if (state.revoked) return [];
        return [event('ApiTokenRevoked', { apiTokenId: state.apiTokenId, note: command.note })];
      default: {
        const unknown: never = command;
        throw new Error(`unknown command ${JSON.stringify(unknown)}`);
      }
    }
  },
};
