import type { KordonEventData } from '@kordon/events';
import { AdminError } from '../errors.js';
import { type Decided, type Decider, event } from './decider.js';

type KeyedHash = KordonEventData<'SessionStarted'>['refreshTokenHash'];

export interface SessionState {
  exists: boolean;
  sessionId: string;
  userId: string;
  ended: boolean;
  expiresAt: string;
  /** The refresh token hash that may be used now. */
  current: string;
  /** Hashes of refresh tokens already used: presenting one again ends the session. */
  spent: string[];
}

export type SessionCommand =
  | {
      type: 'StartSession';
      sessionId: string;
      userId: string;
      method: 'password' | 'sso';
      refreshTokenHash: KeyedHash;
      expiresAt: string;
    }
  | { type: 'RefreshSession'; presented: string; next: KeyedHash; now: Date }
  | { type: 'EndSession'; reason: KordonEventData<'SessionEnded'>['reason'] };

export const sessionDecider: Decider<SessionState, SessionCommand> = {
  initialState: () => ({
    exists: false,
    sessionId: '',
    userId: '',
    ended: false,
    expiresAt: '',
    current: '',
    spent: [],
  }),
  evolve(state, e: Decided) {
    switch (e.type) {
      case 'SessionStarted':
        return {
          ...state,
          exists: true,
          sessionId: e.data.sessionId,
          userId: e.data.userId,
          expiresAt: e.data.expiresAt,
          current: e.data.refreshTokenHash.value,
        };
      case 'SessionRefreshed':
        return { ...state, spent: [...state.spent, state.current], current: e.data.refreshTokenHash.value };
      case 'SessionEnded':
        return { ...state, ended: true };
      default:
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'StartSession':
        if (state.exists) throw new AdminError('conflict', 'a session with this id exists already');
        return [
          event('SessionStarted', {
            sessionId: command.sessionId,
            userId: command.userId,
            method: command.method,
            refreshTokenHash: command.refreshTokenHash,
            expiresAt: command.expiresAt,
          }),
        ];
      case 'RefreshSession': {
        const invalid = () => new AdminError('unauthenticated', 'the refresh token is not valid');
        if (!state.exists || state.ended) throw invalid();
        if (state.spent.includes(command.presented)) {
          // A spent token again: stolen or replayed. End the session; the caller answers 401.
          return [event('SessionEnded', { sessionId: state.sessionId, reason: 'refresh_reuse' })];
        }
        if (command.presented !== state.current) throw invalid();
        if (Date.parse(state.expiresAt) <= command.now.getTime()) throw invalid();
        return [event('SessionRefreshed', { sessionId: state.sessionId, refreshTokenHash: command.next })];
      }
      case 'EndSession':
        if (!state.exists) throw new AdminError('not_found', 'session not found');
        if (state.ended) return [];
        return [event('SessionEnded', { sessionId: state.sessionId, reason: command.reason })];
      default: {
        const unknown: never = command;
        throw new Error(`unknown command ${JSON.stringify(unknown)}`);
      }
    }
  },
};
