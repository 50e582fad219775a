import { canonicalJson, type KordonEventData } from '@kordon/events';
import { type Decided, type Decider, event } from './decider.js';

type PolicySet = KordonEventData<'PolicySet'>;

export interface PolicyState {
  /** The scope's current policy on this stream; null when none was ever set. */
  current: PolicySet | null;
}

export type PolicyCommand = { type: 'SetPolicy'; policy: PolicySet };

/**
 * The limits of one scope (org, team, user, proxy key), on that scope's own stream. A policy
 * replaces the previous one whole; an empty `limits` removes them. Unchanged: nothing.
 */
export const policyDecider: Decider<PolicyState, PolicyCommand> = {
  initialState: () => ({ current: null }),
  evolve(state, e: Decided) {
    if (e.type === 'PolicySet') return { current: e.data };
    return state;
  },
  decide(command, state) {
    const wanted = command.policy;
    const current = state.current;
    if (current && canonicalJson(current) === canonicalJson(wanted)) return [];
    if (!current && Object.keys(wanted.limits).length === 0) return [];
    return [event('PolicySet', wanted)];
  },
};
