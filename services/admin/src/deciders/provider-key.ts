import { canonicalJson, type KordonEventData } from '@kordon/events';
import { AdminError } from '../errors.js';
import { type Decided, type Decider, event } from './decider.js';

type Secret = KordonEventData<'ProviderKeyAdded'>['secret'];
type Limits = KordonEventData<'ProviderKeyLimitsChanged'>['limits'];

export interface ProviderKeyState {
  exists: boolean;
  removed: boolean;
  providerKeyId: string;
  disabled: boolean;
  /** Why it is disabled (ProviderKeyDisabled's reason), null while it is not. */
  disabledFor: KordonEventData<'ProviderKeyDisabled'>['reason'] | null;
  weight: number;
  tier: number;
  limits: Limits;
  models: string[] | null;
}

export type ProviderKeyCommand =
  | {
      type: 'AddProviderKey';
      providerKeyId: string;
      provider: string;
      name: string;
      secret: Secret;
      last4: string;
      weight: number;
      models: string[] | null;
      tier: number;
      limits: Limits;
    }
  | { type: 'RotateProviderKey'; secret: Secret; last4: string }
  | {
      type: 'UpdateProviderKey';
      weight?: number | undefined;
      /** Each left out stays as it is; limits null removes them, models null allows every model. */
      tier?: number | undefined;
      limits?: Limits | undefined;
      models?: string[] | null | undefined;
      disabled?: boolean | undefined;
      note: string | null;
    }
  | { type: 'RemoveProviderKey' };

function live(state: ProviderKeyState): ProviderKeyState {
  if (!state.exists || state.removed) throw new AdminError('not_found', 'provider key not found');
  return state;
}

export const providerKeyDecider: Decider<ProviderKeyState, ProviderKeyCommand> = {
  initialState: () => ({
    exists: false,
    removed: false,
    providerKeyId: '',
    disabled: false,
    disabledFor: null,
    weight: 0,
    tier: 0,
    limits: null,
    models: null,
  }),
  evolve(state, e: Decided) {
    switch (e.type) {
      case 'ProviderKeyAdded':
        return {
          ...state,
          exists: true,
          providerKeyId: e.data.providerKeyId,
          weight: e.data.weight,
          tier: e.data.tier ?? 0,
          limits: e.data.limits ?? null,
          models: e.data.models,
          disabled: false,
          disabledFor: null,
          // Added again on its old stream (the config file re-declares a removed key by name).
          removed: false,
        };
      case 'ProviderKeyWeightChanged':
        return { ...state, weight: e.data.weight };
      case 'ProviderKeyLimitsChanged':
        return { ...state, tier: e.data.tier, limits: e.data.limits };
      case 'ProviderKeyModelsChanged':
        return { ...state, models: e.data.models };
      case 'ProviderKeyDisabled':
        return { ...state, disabled: true, disabledFor: e.data.reason };
      case 'ProviderKeyEnabled':
        return { ...state, disabled: false, disabledFor: null };
      case 'ProviderKeyRemoved':
        return { ...state, removed: true };
      default:
        return state;
    }
  },
  decide(command, state) {
    switch (command.type) {
      case 'AddProviderKey':
        if (state.exists && !state.removed)
          throw new AdminError('conflict', 'a provider key with this id exists already');
        return [
          event('ProviderKeyAdded', {
            providerKeyId: command.providerKeyId,
            provider: command.provider,
            name: command.name,
            secret: command.secret,
            last4: command.last4,
            weight: command.weight,
            models: command.models,
            baseUrl: null,
            ...(command.tier !== 0 && { tier: command.tier }),
            ...(command.limits && { limits: command.limits }),
          }),
        ];
      case 'RotateProviderKey': {
        const key = live(state);
        return [
          event('ProviderKeyRotated', {
            providerKeyId: key.providerKeyId,
            kind: 'replaced',
            secret: command.secret,
            last4: command.last4,
          }),
          // The provider refused the old secret and the gateway disabled the key for it: the
          // new secret is the fix, so the key serves again. A person's disable stays.
          ...(key.disabled && key.disabledFor === 'invalid_credentials'
            ? [event('ProviderKeyEnabled', { providerKeyId: key.providerKeyId })]
            : []),
        ];
      }
      case 'UpdateProviderKey': {
        const key = live(state);
        const events: Decided[] = [];
        if (command.weight !== undefined && command.weight !== key.weight)
          events.push(
            event('ProviderKeyWeightChanged', { providerKeyId: key.providerKeyId, weight: command.weight }),
          );
        const tier = command.tier ?? key.tier;
        const limits = command.limits === undefined ? key.limits : command.limits;
        if (tier !== key.tier || canonicalJson(limits) !== canonicalJson(key.limits))
          events.push(event('ProviderKeyLimitsChanged', { providerKeyId: key.providerKeyId, tier, limits }));
        if (command.models !== undefined && canonicalJson(command.models) !== canonicalJson(key.models))
          events.push(
            event('ProviderKeyModelsChanged', { providerKeyId: key.providerKeyId, models: command.models }),
          );
        if (command.disabled === true && !key.disabled)
          events.push(
            event('ProviderKeyDisabled', {
              providerKeyId: key.providerKeyId,
              reason: 'manual',
              upstreamStatus: null,
              note: command.note,
            }),
          );
        if (command.disabled === false && key.disabled)
          events.push(event('ProviderKeyEnabled', { providerKeyId: key.providerKeyId }));
        return events;
      }
      case 'RemoveProviderKey': {
        const key = live(state);
        return [event('ProviderKeyRemoved', { providerKeyId: key.providerKeyId })];
      }
      default: {
        const unknown: never = command;
        throw new Error(`unknown command ${JSON.stringify(unknown)}`);
      }
    }
  },
};
