import type { KordonEventData } from '@kordon/events';
import { type Decided, type Decider, event } from './decider.js';

export type LoggingPolicy = KordonEventData<'LoggingPolicySet'>;

/** An org that never set one: no text logged, kept until deleted, the built-in detectors only. */
export const DEFAULT_LOGGING_POLICY: LoggingPolicy = { bodies: 'none', retentionDays: null, rules: [] };

export interface LoggingState {
  /** The org's current logging policy; null when none was ever set. */
  current: LoggingPolicy | null;
  /** The latest instant before which the org's logged texts were erased (ms); null: never. */
  erasedBefore: number | null;
}

export type LoggingCommand =
  | { type: 'SetLoggingPolicy'; policy: LoggingPolicy }
  /** Erase the texts of requests before `before` (an instant, exclusive). */
  | { type: 'EraseLoggedText'; before: Date };

/**
 * The org's logging policy, on the org's stream. A policy replaces the previous one whole;
 * setting what is already in force (or the default where none was set) decides nothing.
 * An erasure up to an instant an earlier erasure already covers decides nothing either: the
 * texts before it are gone already (decision 0021).
 */
export const loggingDecider: Decider<LoggingState, LoggingCommand> = {
  initialState: () => ({ current: null, erasedBefore: null }),
  evolve(state, e: Decided) {
    if (e.type === 'LoggingPolicySet') return { ...state, current: e.data };
    if (e.type === 'LoggedTextErased') {
      const before = Date.parse(e.data.before);
      return { ...state, erasedBefore: Math.max(state.erasedBefore ?? before, before) };
    }
    return state;
  },
  decide(command, state) {
    switch (command.type) {
      case 'SetLoggingPolicy': {
        const current = state.current ?? DEFAULT_LOGGING_POLICY;
        if (sameLoggingPolicy(current, command.policy)) return [];
        return [event('LoggingPolicySet', command.policy)];
      }
      case 'EraseLoggedText': {
        if (state.erasedBefore !== null && command.before.getTime() <= state.erasedBefore) return [];
        return [event('LoggedTextErased', { before: command.before.toISOString() })];
      }
      default: {
        const never: never = command;
        return never;
      }
    }
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
