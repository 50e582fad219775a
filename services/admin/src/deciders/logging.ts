import type { KordonEventData } from '@kordon/events';
import { type Decided, type Decider, event } from './decider.js';

export type LoggingPolicy = KordonEventData<'LoggingPolicySet'>;

/** An org that never set one: no text logged, kept until deleted, the built-in detectors only. */
export const DEFAULT_LOGGING_POLICY: LoggingPolicy = { bodies: 'none', retentionDays: null, rules: [] };

export interface LoggingState {
  /** The org's current logging policy; null when none was ever set. */
  current: LoggingPolicy | null;
}

export type LoggingCommand = { type: 'SetLoggingPolicy'; policy: LoggingPolicy };

/**
 * The org's logging policy, on the org's stream. A policy replaces the previous one whole;
 * setting what is already in force (or the default where none was set) decides nothing.
 */
export const loggingDecider: Decider<LoggingState, LoggingCommand> = {
  initialState: () => ({ current: null }),
  evolve(state, e: Decided) {
    if (e.type === 'LoggingPolicySet') return { current: e.data };
    return state;
  },
  decide(command, state) {
    const current = state.current ?? DEFAULT_LOGGING_POLICY;
    if (sameLoggingPolicy(current, command.policy)) return [];
    return [event('LoggingPolicySet', command.policy)];
  },
};

export function sameLoggingPolicy(a: LoggingPolicy, b: LoggingPolicy): boolean {
  return (
    a.bodies === b.bodies &&
    a.retentionDays === b.retentionDays &&
    JSON.stringify(a.rules.map(ruleTuple)) === JSON.stringify(b.rules.map(ruleTuple))
  );
}

const ruleTuple = (r: LoggingPolicy['rules'][number]) => [
  r.name,
  r.pattern,
  r.action,
  r.caseInsensitive,
  r.group,
  r.keepLast,
];
