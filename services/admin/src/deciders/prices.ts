import { canonicalJson, type KordonEventData } from '@kordon/events';
import { type Decided, type Decider, event } from './decider.js';

type Prices = KordonEventData<'PricesSet'>['prices'];

export interface PricesState {
  current: Prices | null;
}

export type PricesCommand = { type: 'SetPrices'; prices: Prices };

/** The org's own prices, replaced as a whole (the org stream); the same list again: nothing. */
export const pricesDecider: Decider<PricesState, PricesCommand> = {
  initialState: () => ({ current: null }),
  evolve(state, e: Decided) {
    if (e.type === 'PricesSet') return { current: e.data.prices };
    return state;
  },
  decide(command, state) {
    if (state.current && canonicalJson(state.current) === canonicalJson(command.prices)) return [];
    if (!state.current && command.prices.length === 0) return [];
    return [event('PricesSet', { prices: command.prices })];
  },
};
