import type { EventStore, RecordedEvent, Subscription } from '@kordon/events';
import { type Decode, describeError, type InMemoryProjection, type ParkedEvent } from './projection.js';

export interface InMemoryRunnerOptions {
  /** Called for each event parked (log it loudly). */
  onParked?: (parked: ParkedEvent) => void;
  onError?: (error: unknown) => void;
  batchSize?: number;
  /** Live, at most one read of the log per this many ms (see SubscriptionOptions.minIntervalMs). */
  minIntervalMs?: number;
}

/**
 * Keeps an in-memory projection up to date from the log: catches up from position zero
 * (or a given position and state), then follows live. A poison event is parked with its
 * reason and skipped, so one bad event cannot stop the gateway's view of the world.
 */
export class InMemoryProjectionRunner<State, E> {
  private current: State;
  private subscription: Subscription | undefined;
  private readonly parkedEvents: ParkedEvent[] = [];

  constructor(
    private readonly projection: InMemoryProjection<State, E>,
    private readonly decode: Decode<E>,
    private readonly options: InMemoryRunnerOptions = {},
  ) {
    this.current = projection.initialState();
  }

  get state(): State {
    return this.current;
  }

  get position(): number {
    return this.subscription?.position ?? 0;
  }

  get parked(): readonly ParkedEvent[] {
    return this.parkedEvents;
  }

  /** Applies events directly (used by the subscription, and by tests given/when/then). */
  apply(events: RecordedEvent[]): void {
    const types = this.projection.eventTypes;
    for (const event of events) {
      if (types && !types.has(event.type)) continue;
      try {
        this.current = this.projection.evolve(this.current, this.decode(event));
      } catch (error) {
        const parked: ParkedEvent = {
          projection: this.projection.name,
          position: event.position,
          eventId: event.id,
          eventType: event.type,
          reason: describeError(error),
        };
        this.parkedEvents.push(parked);
        this.options.onParked?.(parked);
      }
    }
  }

  /** Starts following the store; resolves once caught up with the head at start. */
  async start(store: EventStore, from: { position: number; state?: State } = { position: 0 }): Promise<void> {
    if (from.state !== undefined) this.current = from.state;
    const head = await store.headPosition();
    const types = this.projection.eventTypes;
    this.subscription = store.subscribe({
      after: from.position,
      batchSize: this.options.batchSize ?? 2000,
      ...(types ? { types: [...types] } : {}),
      ...(this.options.minIntervalMs ? { minIntervalMs: this.options.minIntervalMs } : {}),
      onEvents: (events) => this.apply(events),
      ...(this.options.onError ? { onError: this.options.onError } : {}),
    });
    await this.subscription.waitFor(head, 120_000);
  }

  waitFor(position: number, timeoutMs?: number): Promise<void> {
    if (!this.subscription) throw new Error(`projection ${this.projection.name} is not started`);
    return this.subscription.waitFor(position, timeoutMs);
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
  }
}
