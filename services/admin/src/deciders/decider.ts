import type { KordonEventData, KordonEventType } from '@kordon/events';
import type { Rights } from '../rbac/permissions.js';

/** An event as a decider returns it: type and data; the envelope is added when it is appended. */
export type Decided = { [T in KordonEventType]: { type: T; data: KordonEventData<T> } }[KordonEventType];

/**
 * A pure decider (emmett style): the state of one stream is folded from its events, and a
 * command is decided on that state into new events or refused with an AdminError. Ids, the
 * clock and the caller's rights come in with the command.
 */
export interface Decider<State, Command> {
  initialState(): State;
  evolve(state: State, event: Decided): State;
  decide(command: Command, state: State): Decided[];
}

/** Who is deciding: their rights and, for a person, their user id (null for tokens and bootstrap). */
export interface By {
  rights: Rights;
  userId: string | null;
}

export const event = <T extends KordonEventType>(type: T, data: KordonEventData<T>): Decided =>
  ({ type, data }) as Decided;
