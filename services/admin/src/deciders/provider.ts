import type { KordonEventData } from '@kordon/events';
import { type Decided, type Decider, event } from './decider.js';

export interface ProviderState {
  configured: KordonEventData<'ProviderConfigured'> | null;
}

export type ProviderCommand = { type: 'ConfigureProvider'; provider: KordonEventData<'ProviderConfigured'> };

export const providerDecider: Decider<ProviderState, ProviderCommand> = {
  initialState: () => ({ configured: null }),
  evolve(state, e: Decided) {
    if (e.type === 'ProviderConfigured') return { configured: e.data };
    if (e.type === 'ProviderRemoved') return { configured: null };
    return state;
  },
  decide(command, state) {
    // Unchanged settings decide nothing, as the config file plans nothing for an unchanged file.
    if (state.configured && JSON.stringify(state.configured) === JSON.stringify(command.provider)) return [];
    return [event('ProviderConfigured', command.provider)];
  },
};
