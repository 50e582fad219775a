import type { SqlQueryable } from '@kordon/events';
import type { CountersSnapshot } from './admission.js';

/**
 * Snapshots of the limit counters in the event store's own database: a restart restores the
 * latest and replays only the log after its position, instead of every request event ever.
 * One row per replica name would let replicas differ; the counters are the same on every
 * replica (all learn from the same log), so one row is shared, and the newest position wins.
 */
export class CountersStore {
  constructor(
    private readonly sql: SqlQueryable,
    private readonly name = 'gateway-limits',
  ) {}

  async migrate(): Promise<void> {
    await this.sql.query(
      `CREATE TABLE IF NOT EXISTS kordon_limit_counters (
         name text PRIMARY KEY,
         position bigint NOT NULL,
         taken_at timestamptz NOT NULL,
         data text NOT NULL
       )`,
    );
  }

  async load(): Promise<{ position: number; snapshot: CountersSnapshot } | undefined> {
    const { rows } = await this.sql.query<{ position: string | number; data: string }>(
      'SELECT position, data FROM kordon_limit_counters WHERE name = $1',
      [this.name],
    );
    const row = rows[0];
    if (!row) return undefined;
    return { position: Number(row.position), snapshot: JSON.parse(row.data) as CountersSnapshot };
  }

  /** Keeps the snapshot with the highest position (two replicas saving at once: either is right). */
  async save(position: number, snapshot: CountersSnapshot, at: Date): Promise<void> {
    await this.sql.query(
      `INSERT INTO kordon_limit_counters (name, position, taken_at, data) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, taken_at = EXCLUDED.taken_at, data = EXCLUDED.data
       WHERE kordon_limit_counters.position < EXCLUDED.position`,
      [this.name, position, at.toISOString(), JSON.stringify(snapshot)],
    );
  }
}
