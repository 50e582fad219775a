import type { KordonEventData, KordonEventType } from '@kordon/events';
import type { Rights } from '../rbac/permissions.js';

/**
 * An event as a decider returns it: type and data; the envelope is added when it is appended.
 * `streamId`: another stream it goes to (the sessions a new password ends), appended in the same
 * transaction as the command's own events; absent, it goes to the command's stream.
 */
export type Decided = {
  [T in KordonEventType]: { type: T; data: KordonEventData<T>; streamId?: string };
}[KordonEventType];

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

/** An event for another stream than the command's, appended with the command's own (`Decided`). */
export const eventOn = <T extends KordonEventType>(
  streamId: string,
  type: T,
  data: KordonEventData<T>,
): Decided => ({ type, data, streamId }) as Decided;
