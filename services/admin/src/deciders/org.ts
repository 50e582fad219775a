import { AdminError } from '../errors.js';
import { type Decided, type Decider, event } from './decider.js';

export type OrgState = { exists: false } | { exists: true; slug: string; name: string };

export type OrgCommand = { type: 'CreateOrg'; orgId: string; slug: string; name: string };

export const orgDecider: Decider<OrgState, OrgCommand> = {
  initialState: () => ({ exists: false }),
  evolve(state, e: Decided) {
    if (e.type === 'OrgCreated') return { exists: true, slug: e.data.slug, name: e.data.name };
    return state;
  },
  decide(command, state) {
    switch (command.type) {
      case 'CreateOrg':
        if (state.exists) throw new AdminError('conflict', `an org with slug ${command.slug} exists already`);
        return [event('OrgCreated', { orgId: command.orgId, slug: command.slug, name: command.name })];
      default: {
        const unknown: never = command.type;
        throw new Error(`unknown command ${String(unknown)}`);
      }
    }
  },
};
