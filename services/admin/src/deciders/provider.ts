import { canonicalJson, type KordonEventData } from '@kordon/events';
import { providerConfigProblems } from '@kordon/gateway';
import { AdminError } from '../errors.js';
import { type Decided, type Decider, event } from './decider.js';

export interface ProviderState {
  configured: KordonEventData<'ProviderConfigured'> | null;
}

export type ProviderCommand = {
  type: 'ConfigureProvider';
  /** `options` absent: the provider's current options stay (none for a new provider). */
  provider: Omit<KordonEventData<'ProviderConfigured'>, 'options'> & {
    options?: KordonEventData<'ProviderConfigured'>['options'] | undefined;
  };
};

export const providerDecider: Decider<ProviderState, ProviderCommand> = {
  initialState: () => ({ configured: null }),
  evolve(state, e: Decided) {
    if (e.type === 'ProviderConfigured') return { configured: e.data };
    if (e.type === 'ProviderRemoved') return { configured: null };
    return state;
  },
  decide(command, state) {
    // A change of models or address must not drop what only some clients send (an Azure
    // deployment map, a folder id, timeouts): options left out are kept.
    const { options, ...rest } = command.provider;
    const wanted: KordonEventData<'ProviderConfigured'> = {
      ...rest,
      options: options ?? state.configured?.options ?? {},
    };
    // Unchanged settings (in any key order) decide nothing, as the config file plans nothing for an unchanged file.
    if (state.configured && canonicalJson(state.configured) === canonicalJson(wanted)) return [];
    // The rules the config file applies at start: what the adapter would refuse at the first
    // call, or silently ignore (a vendor on Claude), is refused now. Kept options count too.
    const problems = providerConfigProblems(wanted);
    if (problems.length > 0) {
      throw new AdminError('validation_failed', `invalid provider settings: ${problems.join('; ')}`, {
        errors: problems.map((message) => ({
          path: message.startsWith('baseUrl') ? 'body.baseUrl' : 'body.options',
          message,
        })),
      });
    }
    return [event('ProviderConfigured', wanted)];
  },
};
