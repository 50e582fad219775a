import type { Actor, KordonEventData } from '@kordon/events';
import { AdminError } from '../errors.js';
import { boundExpiry, boundLimits, type Limits } from '../rbac/bounds.js';
import { type Decided, type Decider, event } from './decider.js';

export type ProxyKeyStatus = 'active' | 'suspended' | 'revoked';

export interface ProxyKeyState {
  exists: boolean;
  proxyKeyId: string;
  userId: string;
  status: ProxyKeyStatus;
  /** While suspended: whether by its owner alone (who may undo it), not an admin or the fraud detector. */
  suspendedByOwner: boolean;
  expiresAt: string | null;
  limits: Limits | null;
}

/** What the issuer holds: the new key can have no more. */
export interface Ceiling {
  limits: Limits | undefined;
  /** The issuer's own expiry (an API token's), null when it has none. */
  expiresAt: string | null;
}

export type ProxyKeyCommand =
  | {
      type: 'IssueProxyKey';
      proxyKeyId: string;
      userId: string;
      name: string;
      prefix: string;
      hash: KordonEventData<'ProxyKeyIssued'>['hash'];
      /** The owner's team: its limits apply to the key (null or absent: none). */
      teamId?: string | null;
      expiresAt: string | null | undefined;
      limits: Limits | undefined;
      ceiling: Ceiling;
      now: Date;
    }
  | {
      type: 'SuspendProxyKey';
      note: string | null;
      /** Whether the key's owner is the one suspending it (their suspension is theirs to undo). */
      byOwner: boolean;
    }
  | {
      type: 'ReinstateProxyKey';
      note: string | null;
      /** Whether the caller holds proxyKey.manageAny: needed to undo someone else's suspension. */
      manageAny: boolean;
    }
  | { type: 'RevokeProxyKey'; reason: 'manual' | 'compromised'; note: string | null };

function existing(state: ProxyKeyState): ProxyKeyState {
  if (!state.exists) throw new AdminError('not_found', 'proxy key not found');
  return state;
}

/**
 * Whether a suspension is the key owner's own, theirs to undo: made by the owner, not by
 * someone else (an admin) or the fraud detector. The decider and the admin view read it alike.
 */
export function suspensionIsOwners(
  actor: Actor | undefined,
  ownerId: string,
  byFraudDetector: boolean,
): boolean {
  return actor?.kind === 'user' && actor.id === ownerId && !byFraudDetector;
}

export const proxyKeyDecider: Decider<ProxyKeyState, ProxyKeyCommand> = {
  initialState: () => ({
    exists: false,
    proxyKeyId: '',
    userId: '',
    status: 'active',
    suspendedByOwner: false,
    expiresAt: null,
    limits: null,
  }),
  evolve(state, e: Decided) {
    switch (e.type) {
      case 'ProxyKeyIssued':
        return {
          ...state,
          exists: true,
          proxyKeyId: e.data.proxyKeyId,
          userId: e.data.userId,
          status: 'active',
          expiresAt: e.data.expiresAt,
        };
      case 'ProxyKeySuspended': {
        if (state.status === 'revoked') return state;
        // A stored event names who suspended it (the view's rule); one just decided has no
        // actor yet and counts as someone else's, the suspension only manageAny undoes.
        const actor = (e as { actor?: Actor }).actor;
        const byOwner = suspensionIsOwners(actor, state.userId, e.data.byFraudDetector);
        return { ...state, status: 'suspended', suspendedByOwner: byOwner };
      }
      case 'ProxyKeyReinstated':
        return state.status === 'revoked' ? state : { ...state, status: 'active' };
      case 'ProxyKeyRevoked':
        return { ...state, status: 'revoked' };
      case 'PolicySet':
        return e.data.scope === 'proxy-key' ? { ...state, limits: e.data.limits } : state;
      default:
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'IssueProxyKey': {
        if (state.exists) throw new AdminError('conflict', 'a proxy key with this id exists already');
        const bounded = boundLimits(command.limits, command.ceiling.limits);
        const expiry = boundExpiry(command.expiresAt, command.ceiling.expiresAt, command.now);
        const problems = [...bounded.problems, ...(expiry.problem ? [expiry.problem] : [])];
        if (problems.length > 0) throw new AdminError('not_allowed_for_you', problems.join('; '));
        const events: Decided[] = [
          event('ProxyKeyIssued', {
            proxyKeyId: command.proxyKeyId,
            userId: command.userId,
            teamId: command.teamId ?? null,
            name: command.name,
            prefix: command.prefix,
            hash: command.hash,
            expiresAt: expiry.expiresAt,
          }),
        ];
        if (Object.keys(bounded.limits).length > 0) {
          events.push(
            event('PolicySet', { scope: 'proxy-key', scopeId: command.proxyKeyId, limits: bounded.limits }),
          );
        }
        return events;
      }
      case 'SuspendProxyKey': {
        const key = existing(state);
        if (key.status === 'revoked') throw new AdminError('invalid_state', 'the key is revoked');
        // Suspended by its owner, a suspension by someone else is recorded all the same, or the
        // owner could undo it by reinstating their own.
        const overOwners = key.suspendedByOwner && !command.byOwner;
        if (key.status === 'suspended' && !overOwners) return [];
        return [
          event('ProxyKeySuspended', {
            proxyKeyId: key.proxyKeyId,
            reason: 'manual',
            byFraudDetector: false,
            fraudSignalId: null,
            note: command.note,
          }),
        ];
      }
      case 'ReinstateProxyKey': {
        const key = existing(state);
        if (key.status === 'revoked') throw new AdminError('invalid_state', 'the key is revoked');
        if (key.status === 'active') return [];
        // Checked on the stream too: the route read a view that may not have this suspension
        // yet (another replica's, a request in between), and the owner would undo it.
        if (!key.suspendedByOwner && !command.manageAny) {
          throw new AdminError(
            'forbidden',
            'this key was suspended by an admin or the fraud detector; reinstating it needs the permission proxyKey.manageAny',
          );
        }
        return [event('ProxyKeyReinstated', { proxyKeyId: key.proxyKeyId, note: command.note })];
      }
      case 'RevokeProxyKey': {
        const key = existing(state);
        if (key.status === 'revoked') return [];
        return [
          event('ProxyKeyRevoked', {
            proxyKeyId: key.proxyKeyId,
            reason: command.reason,
            note: command.note,
          }),
        ];
      }
      default: {
        const unknown: never = command;
        throw new Error(`unknown command ${JSON.stringify(unknown)}`);
      }
    }
  },
};
