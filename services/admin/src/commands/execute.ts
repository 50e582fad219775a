import {
  type Actor,
  type EventStore,
  isKordonError,
  type KordonEvent,
  kordonCatalogue,
  type NewEvent,
} from '@kordon/events';
import type { Decided, Decider } from '../deciders/decider.js';
import { AdminError } from '../errors.js';

export interface CommandMetadata {
  orgId: string;
  actor: Actor;
  time: Date;
  /** The request id: every event of one command shares it. */
  correlationId: string;
}

export interface CommandBus {
  store: EventStore;
  /** Resolves once the read side has seen `position` (read-your-writes for the next request). */
  caughtUp(position: number): Promise<void>;
}

export interface Executed<State> {
  state: State;
  events: Decided[];
  /** The stream's version after the command (unchanged when it decided nothing). */
  version: number;
  /** Global position of the last event written; 0 when it decided nothing. */
  position: number;
}

/**
 * Runs one command: folds the stream's events into the decider's state, decides, and appends
 * the events with the version it read as the expected version. A change in between makes the
 * append fail: 409 (`concurrent_change`), never a lost update. `ifMatch` (from If-Match) must
 * equal the version read, else 412. Events a decider sends to other streams (`Decided`'s
 * `streamId`) are appended in the same transaction, all or none, under the same check.
 */
export async function execute<State, Command>(
  bus: CommandBus,
  decider: Decider<State, Command>,
  streamId: string,
  command: Command,
  metadata: CommandMetadata,
  options: { ifMatch?: number | undefined } = {},
): Promise<Executed<State>> {
  const loaded = await load(bus, decider, streamId, options);
  const { version } = loaded;
  let { state } = loaded;
  const decided = decider.decide(command, state);
  if (decided.length === 0) return { state, events: [], version, position: 0 };

  let events: NewEvent[];
  try {
    events = decided.map((d) =>
      kordonCatalogue.create(d.type, d.streamId ?? streamId, d.data as never, {
        orgId: metadata.orgId,
        actor: metadata.actor,
        time: metadata.time,
        correlationId: metadata.correlationId,
      }),
    );
  } catch (error) {
    if (isKordonError(error, 'event_invalid')) {
      throw new AdminError('validation_failed', error.message.replace(/^\w+: /, ''), { cause: error });
    }
    throw error;
  }
  try {
    const expected = version === 0 ? 'no-stream' : version;
    const own = decided.filter((d) => (d.streamId ?? streamId) === streamId);
    const across = own.length < decided.length;
    const result = across
      ? await bus.store.appendAcross(streamId, events, expected)
      : await bus.store.append(streamId, events, expected);
    await bus.caughtUp(result.lastPosition);
    for (const d of own) state = decider.evolve(state, d);
    return {
      state,
      events: decided,
      version: across ? version + own.length : result.nextExpectedVersion,
      position: result.lastPosition,
    };
  } catch (error) {
    if (isKordonError(error, 'wrong_expected_version')) {
      throw version === 0
        ? new AdminError('conflict', 'it was created concurrently', { cause: error })
        : new AdminError('concurrent_change', 'it changed while this request was decided', { cause: error });
    }
    if (isKordonError(error, 'event_store_unavailable')) {
      throw new AdminError('unavailable', 'the event store is unreachable; retry later', { cause: error });
    }
    throw error;
  }
}

/**
 * Decides `command` on the stream as it is now and writes nothing: it throws what `execute`
 * would (If-Match included). For a command whose input is slow to make (an argon2id hash of a
 * new password): pre-check with a stand-in, make the input, then `execute`, which decides
 * again on the stream as it is then. A refused request then costs no hash.
 */
export async function precheck<State, Command>(
  bus: CommandBus,
  decider: Decider<State, Command>,
  streamId: string,
  command: Command,
  options: { ifMatch?: number | undefined } = {},
): Promise<void> {
  const { state } = await load(bus, decider, streamId, options);
  decider.decide(command, state);
}

/** The stream folded into the decider's state, and its version (412 unless it is `ifMatch`). */
async function load<State, Command>(
  bus: CommandBus,
  decider: Decider<State, Command>,
  streamId: string,
  options: { ifMatch?: number | undefined },
): Promise<{ state: State; version: number }> {
  const recorded = await bus.store.readStream(streamId);
  let state = decider.initialState();
  for (const stored of recorded) state = decider.evolve(state, kordonCatalogue.decode(stored) as KordonEvent);
  const version = recorded.at(-1)?.streamVersion ?? 0;
  if (options.ifMatch !== undefined && options.ifMatch !== version) {
    throw new AdminError('precondition_failed', `it is at version ${version}, not ${options.ifMatch}`, {
      headers: { ETag: etag(version) },
    });
  }
  return { state, version };
}

export const etag = (version: number) => `"${version}"`;

/** The version named by If-Match (`"3"` or `W/"3"`); undefined when absent, 412 when malformed. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"(\d{1,15})"\s*$/.exec(header);
  if (!match) throw new AdminError('precondition_failed', 'If-Match must be an ETag this API gave, like "3"');
  return Number(match[1]);
}
