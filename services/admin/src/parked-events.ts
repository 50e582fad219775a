import type { KordonEventType, SqlQueryable } from '@kordon/events';

/** The request events: what the spend report and the request log are built from. */
export const REQUEST_EVENT_TYPES = [
  'RequestCompleted',
  'RequestFailed',
  'RequestRejected',
] as const satisfies readonly KordonEventType[];

export interface ParkedEventsFilter {
  /** The SQL projection whose parked events are counted (its runner's name). */
  projection: string;
  orgId: string;
  /** Event types counted; null: every type. */
  types: readonly string[] | null;
  /** Inclusive start and exclusive end of the events' time (ISO instants); absent: unbounded. */
  from?: string | undefined;
  to?: string | undefined;
}

/**
 * How many of an org's events a SQL projection could not apply: its runner parked them (and
 * logged each), so no row of its read model shows them, and a report that left them out would
 * look complete. The count ignores filters on the events' data (a parked event's data may be
 * what could not be read), so it may be too high for a filtered report, never too low. Parked
 * rows are rare; each is found by its event's position.
 */
export async function countParkedEvents(sql: SqlQueryable, filter: ParkedEventsFilter): Promise<number> {
  const { rows } = await sql.query<{ parked: string }>(
    `SELECT count(*)::text AS parked
       FROM kordon_projection_parked k JOIN kordon_events e ON e.position = k.position
      WHERE k.name = $1 AND e.org_id = $2
        AND ($3::text[] IS NULL OR e.type = ANY($3::text[]))
        AND ($4::timestamptz IS NULL OR e.occurred_at >= $4::timestamptz)
        AND ($5::timestamptz IS NULL OR e.occurred_at < $5::timestamptz)`,
    [filter.projection, filter.orgId, filter.types, filter.from ?? null, filter.to ?? null],
  );
  return Number(rows[0]?.parked ?? 0);
}
