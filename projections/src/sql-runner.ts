import {
  type EventStore,
  isKordonError,
  isTransientSqlError,
  type Migration,
  migrate,
  type RecordedEvent,
  type SqlExecutor,
  type SqlQueryable,
  type Subscription,
} from '@kordon/events';
import {
  type Decode,
  describeError,
  type ParkedEvent,
  type SqlProjection,
  type SqlStatement,
} from './projection.js';

const runnerMigrations: Migration[] = [
  {
    scope: 'projection-runner',
    version: 1,
    name: 'checkpoints and parked events',
    sql: `
      CREATE TABLE kordon_projection_checkpoints (
        name       text        PRIMARY KEY,
        version    integer     NOT NULL,
        position   bigint      NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE kordon_projection_parked (
        name       text        NOT NULL,
        position   bigint      NOT NULL,
        event_id   uuid        NOT NULL,
        event_type text        NOT NULL,
        reason     text        NOT NULL,
        parked_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (name, event_id)
      );
    `,
  },
];

export interface SqlRunnerOptions {
  onParked?: (parked: ParkedEvent) => void;
  onError?: (error: unknown) => void;
  batchSize?: number;
  /** Live, at most one read of the log per this many ms (see SubscriptionOptions.minIntervalMs). */
  minIntervalMs?: number;
}

/**
 * Keeps a SQL read model up to date. Each batch of events and the checkpoint move in one
 * transaction, so a crash anywhere leaves the read model and checkpoint consistent and a
 * restart resumes without applying anything twice. A batch that fails for a reason other
 * than an outage is applied again event by event under savepoints, and the events that
 * fail are parked with their reason.
 *
 * Several processes may run the same projection on one database, and share its checkpoint:
 * every event of its types up to the checkpoint is in the read model. A batch locks the
 * checkpoint first, and is applied only over a read model that holds everything before it:
 * one that finds the checkpoint behind where this runner was (a rebuild elsewhere emptied the
 * read model, and its replay is behind or stopped) first applies, in order, the events between
 * them, a batch at a time. The checkpoint only moves forward, save by a reset; a process of
 * another projection version than the one that last reset it leaves it alone (decision 0022).
 */
export class SqlProjectionRunner<E> {
  private subscription: Subscription | undefined;
  /**
   * Where the next batch needs the checkpoint to be, at least: no event of the projection's
   * types lies between it and the batch. The end of this runner's last batch, or its start.
   */
  private from = 0;

  constructor(
    private readonly projection: SqlProjection<E>,
    private readonly decode: Decode<E>,
    private readonly store: EventStore,
    private readonly sql: SqlExecutor,
    private readonly options: SqlRunnerOptions = {},
  ) {}

  get name(): string {
    return this.projection.name;
  }

  get position(): number {
    return this.subscription?.position ?? 0;
  }

  /** Creates the tables, rebuilds if the projection's version changed, then follows the log. */
  async start(): Promise<void> {
    await migrate(this.sql, [...runnerMigrations, ...this.projection.migrations]);
    const checkpoint = await this.readCheckpoint();
    let after = checkpoint?.position ?? 0;
    if (checkpoint && checkpoint.version !== this.projection.version) {
      await this.reset();
      after = 0;
    }
    this.follow(after);
  }

  /** Empties the read model and replays the whole log into it. */
  async rebuild(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
    await this.reset();
    this.follow(0);
  }

  waitFor(position: number, timeoutMs?: number): Promise<void> {
    if (!this.subscription) throw new Error(`projection ${this.projection.name} is not started`);
    return this.subscription.waitFor(position, timeoutMs);
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
  }

  async parked(): Promise<ParkedEvent[]> {
    const { rows } = await this.sql.query<{
      position: string;
      event_id: string;
      event_type: string;
      reason: string;
    }>(
      'SELECT position, event_id, event_type, reason FROM kordon_projection_parked WHERE name = $1 ORDER BY position',
      [this.projection.name],
    );
    return rows.map((row) => ({
      projection: this.projection.name,
      position: Number(row.position),
      eventId: row.event_id,
      eventType: row.event_type,
      reason: row.reason,
    }));
  }

  private follow(after: number): void {
    this.from = after;
    const types = this.projection.eventTypes;
    this.subscription = this.store.subscribe({
      after,
      batchSize: this.options.batchSize ?? 1000,
      ...(types ? { types: [...types] } : {}),
      ...(types && this.projection.dataOf ? { dataOf: [...this.projection.dataOf] } : {}),
      ...(this.options.minIntervalMs ? { minIntervalMs: this.options.minIntervalMs } : {}),
      onEvents: (events) => this.applyBatch(events),
      ...(this.options.onError ? { onError: this.options.onError } : {}),
    });
  }

  private async readCheckpoint(): Promise<{ version: number; position: number } | undefined> {
    const { rows } = await this.sql.query<{ version: number; position: string }>(
      'SELECT version, position FROM kordon_projection_checkpoints WHERE name = $1',
      [this.projection.name],
    );
    const row = rows[0];
    return row ? { version: Number(row.version), position: Number(row.position) } : undefined;
  }

  private async reset(): Promise<void> {
    await this.sql.transaction(async (tx) => {
      // The checkpoint first: its lock waits for a batch under way in another process, whose
      // rows are then emptied too, and holds off the next until the reset is committed.
      await tx.query(
        `INSERT INTO kordon_projection_checkpoints (name, version, position, updated_at) VALUES ($1, $2, 0, now())
         ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, position = 0, updated_at = now()`,
        [this.projection.name, this.projection.version],
      );
      for (const table of this.projection.tables) await tx.query(`DELETE FROM ${table}`);
      await tx.query('DELETE FROM kordon_projection_parked WHERE name = $1', [this.projection.name]);
    });
  }

  /**
   * Applies a batch over a read model that holds every event before it. One whose checkpoint
   * is behind `from` was emptied since (a rebuild, in this process or another, that may have
   * stopped part-way): the events between the checkpoint and the batch go in first, in order, a
   * batch at a time, each moving the checkpoint. Left to the rebuild's replay, they would be
   * missing for good once a checkpoint moved past them by this batch let the replay, started
   * again, skip them; and an entry that depends on the ones before it (the audit log's before
   * and after) would be made over a read model that lacks them.
   */
  private async applyBatch(events: RecordedEvent[]): Promise<void> {
    const first = events[0]!.position;
    const last = events[events.length - 1]!.position;
    for (;;) {
      const behind = await this.apply(events, this.from, last);
      if (behind === undefined) {
        this.from = last;
        return;
      }
      await this.catchUp(behind, first);
    }
  }

  /**
   * Applies, from the checkpoint, the next events of the projection's types before `before`
   * (at most a batch of them); or, when there are none, lets the batch start at the checkpoint.
   */
  private async catchUp(checkpoint: number, before: number): Promise<void> {
    const types = this.projection.eventTypes;
    const batchSize = this.options.batchSize ?? 1000;
    const missed = await this.store.readAll({
      after: checkpoint,
      maxCount: batchSize,
      upTo: before - 1,
      ...(types ? { types: [...types] } : {}),
    });
    if (missed.length === 0) {
      this.from = checkpoint; // nothing of the projection's between the checkpoint and the batch
      return;
    }
    const all = missed.length < batchSize;
    const end = all ? before - 1 : missed[missed.length - 1]!.position;
    // Emptied again meanwhile, or more missed after these: the batch's next try finds it.
    if ((await this.apply(missed, checkpoint, end)) === undefined && all) this.from = end;
  }

  /**
   * Applies events and moves the checkpoint to `to` in one transaction, over a read model whose
   * checkpoint is at `from` or past it. Otherwise writes nothing and says where the checkpoint is.
   */
  private async apply(events: RecordedEvent[], from: number, to: number): Promise<number | undefined> {
    await this.projection.prepare?.(events);
    const batched = this.planBatch(events);
    const planned = batched ? [] : events.map((event) => this.plan(event));
    try {
      await this.sql.transaction(async (tx) => {
        const owned = await this.holdCheckpoint(tx, from);
        if (batched) {
          for (const statement of batched) await tx.query(statement.text, statement.params);
        } else {
          for (const step of planned) {
            if ('parked' in step) await this.park(tx, step.parked);
            else for (const statement of step.statements) await tx.query(statement.text, statement.params);
          }
        }
        if (owned) await this.saveCheckpoint(tx, to);
      });
    } catch (error) {
      if (error instanceof CheckpointBehind) return error.checkpoint;
      if (isOutage(error)) throw error; // the subscription offers the same batch again later
      try {
        await this.applyOneByOne(
          events,
          batched ? events.map((event) => this.plan(event)) : planned,
          from,
          to,
        );
      } catch (again) {
        if (again instanceof CheckpointBehind) return again.checkpoint;
        throw again;
      }
    }
    return undefined;
  }

  /**
   * Locks the checkpoint for the transaction, before anything is written: a reset (which takes
   * it first too) comes wholly before or after. Throws CheckpointBehind if it is before `from`.
   * False when another version of the projection rebuilt the read model (a rolling upgrade, or
   * its rollback): this process then applies its batch as it comes, without looking back, and
   * leaves the checkpoint to that version. It would otherwise add what that version's replay
   * has not by its own rules, and take the version back, so that every process of that version
   * starting after it would rebuild again. Once restarted, it rebuilds to its own version.
   */
  private async holdCheckpoint(tx: SqlQueryable, from: number): Promise<boolean> {
    const { rows } = await tx.query<{ version: number; position: string }>(
      'SELECT version, position FROM kordon_projection_checkpoints WHERE name = $1 FOR UPDATE',
      [this.projection.name],
    );
    const row = rows[0];
    if (row && Number(row.version) !== this.projection.version) return false;
    const checkpoint = Number(row?.position ?? 0);
    if (checkpoint < from) throw new CheckpointBehind(checkpoint);
    return true;
  }

  /** The slow path after a failed batch: each event under a savepoint, failures parked. */
  private async applyOneByOne(
    events: RecordedEvent[],
    planned: Array<Planned>,
    from: number,
    to: number,
  ): Promise<void> {
    await this.sql.transaction(async (tx) => {
      const owned = await this.holdCheckpoint(tx, from);
      for (let i = 0; i < events.length; i++) {
        const step = planned[i]!;
        if ('parked' in step) {
          await this.park(tx, step.parked);
          continue;
        }
        await tx.query('SAVEPOINT kordon_event');
        try {
          for (const statement of step.statements) await tx.query(statement.text, statement.params);
          await tx.query('RELEASE SAVEPOINT kordon_event');
        } catch (error) {
          if (isOutage(error)) throw error;
          await tx.query('ROLLBACK TO SAVEPOINT kordon_event');
          await this.park(tx, this.parkedOf(events[i]!, error));
        }
      }
      if (owned) await this.saveCheckpoint(tx, to);
    });
  }

  /** The batch's statements from `projectBatch`, or undefined (none, or an event would not decode). */
  private planBatch(events: RecordedEvent[]): SqlStatement[] | undefined {
    if (!this.projection.projectBatch) return undefined;
    try {
      return this.projection.projectBatch(events.map((event) => this.decode(event)));
    } catch {
      return undefined; // one by one, so the event at fault is parked with its reason
    }
  }

  private plan(event: RecordedEvent): Planned {
    try {
      return { statements: this.projection.project(this.decode(event)) };
    } catch (error) {
      return { parked: this.parkedOf(event, error) };
    }
  }

  private parkedOf(event: RecordedEvent, error: unknown): ParkedEvent {
    return {
      projection: this.projection.name,
      position: event.position,
      eventId: event.id,
      eventType: event.type,
      reason: describeError(error).slice(0, 2000),
    };
  }

  private async park(tx: SqlQueryable, parked: ParkedEvent): Promise<void> {
    await tx.query(
      `INSERT INTO kordon_projection_parked (name, position, event_id, event_type, reason)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name, event_id) DO NOTHING`,
      [parked.projection, parked.position, parked.eventId, parked.eventType, parked.reason],
    );
    this.options.onParked?.(parked);
  }

  /** Moves the checkpoint forward: a process behind another never takes it back. */
  private async saveCheckpoint(tx: SqlQueryable, position: number): Promise<void> {
    await tx.query(
      `INSERT INTO kordon_projection_checkpoints (name, version, position, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version,
         position = greatest(kordon_projection_checkpoints.position, EXCLUDED.position), updated_at = now()`,
      [this.projection.name, this.projection.version, position],
    );
  }
}

type Planned = { statements: SqlStatement[] } | { parked: ParkedEvent };

/** The checkpoint is behind where a batch starts: the read model was emptied since. */
class CheckpointBehind extends Error {
  constructor(readonly checkpoint: number) {
    super(`the checkpoint is at ${checkpoint}, behind the batch`);
  }
}

/** Connection-level failures are retried; anything else is about the event itself. */
function isOutage(error: unknown): boolean {
  return isKordonError(error) ? error.isRetryable : isTransientSqlError(error);
}
