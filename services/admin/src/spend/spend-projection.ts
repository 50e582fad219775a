import type { RecordedEvent } from '@kordon/events';
import type { SqlProjection, SqlStatement } from '@kordon/projections';
import { REQUEST_EVENT_TYPES } from '../parked-events.js';

/*
 * Spend: daily totals of the request events (RequestCompleted, RequestFailed, RequestRejected)
 * in `kordon_spend_daily`, one row per org, UTC day, team, user, proxy key, provider, provider
 * key, model, outcome and currency, holding the requests, the tokens and the cost. Costs are
 * decimal strings in the events and are summed as SQL numeric, never as JS numbers, so a
 * report adds up to the cent (and below) what the request events say. A rejected request counts
 * as a request with no spend. The table is not subject to the request log's retention: it holds
 * no text and no per-request row, and it is the org's spend history.
 *
 * As in the request log, a batch sends positions only: the database reads the events' data
 * from the event table (`kordon_spend_add_events`). A dimension an event does not have (no
 * team, no provider for a request refused before routing, no currency for an unpriced one) is
 * stored as '' (never a valid id, slug, model or currency code), so the key is a plain primary
 * key on every PostgreSQL version.
 *
 * Adding is not idempotent the way an insert of a row per event is: an event applied twice
 * would count twice. The runner moves its checkpoint in the batch's transaction, so a crash
 * replays nothing; and since every process serving the admin API builds this model on the
 * shared database (as the audit log), the function also keeps the last position it added
 * (`kordon_spend_progress`), locked for the transaction: a process behind another skips what
 * is already counted, whatever order their transactions come in. A batch that finds request
 * events before it not yet added (the totals were emptied by a rebuild that is replaying the
 * log behind this process, or that stopped part-way) adds them first, up to SPEND_GAP_MAX of
 * them at a time (decision 0020).
 */

/** The projection's name: its checkpoint, and where its parked events are found. */
export const SPEND_PROJECTION = 'spend';
export const SPEND_TABLE = 'kordon_spend_daily';
export const SPEND_PROGRESS_TABLE = 'kordon_spend_progress';
/** Request events a batch adds at most from a gap behind it (what a rebuild's replay left). */
export const SPEND_GAP_MAX = 10_000;

const HANDLED: ReadonlySet<string> = new Set(REQUEST_EVENT_TYPES);

/** A request event as this projection reads it: its position (the database reads the rest). */
export interface SpendRef {
  position: number;
  orgId: string | null;
}

/** Request events are their positions, whether or not the store sent their data. */
export function decodeForSpend(event: RecordedEvent): SpendRef | null {
  if (!HANDLED.has(event.type)) return null;
  return { position: event.position, orgId: event.orgId };
}

const addEvents = (positions: number[]): SqlStatement => ({
  text: 'SELECT kordon_spend_add_events($1::bigint[])',
  params: [positions],
});

export const spendProjection: SqlProjection<SpendRef | null> = {
  name: SPEND_PROJECTION,
  version: 1,
  eventTypes: HANDLED,
  // No event's data travels to Node: the database reads it from the event table.
  dataOf: new Set(),
  tables: [SPEND_TABLE, SPEND_PROGRESS_TABLE],
  migrations: [
    {
      scope: 'spend',
      version: 1,
      name: 'daily spend',
      sql: `
        CREATE TABLE kordon_spend_daily (
          org_id              text    NOT NULL,
          day                 date    NOT NULL,
          team_id             text    NOT NULL,
          user_id             text    NOT NULL,
          proxy_key_id        text    NOT NULL,
          provider            text    NOT NULL,
          provider_key_id     text    NOT NULL,
          model               text    NOT NULL,
          outcome             text    NOT NULL,
          currency            text    NOT NULL,
          requests            bigint  NOT NULL,
          unpriced_requests   bigint  NOT NULL,
          input_tokens        bigint  NOT NULL,
          output_tokens       bigint  NOT NULL,
          cached_input_tokens bigint  NOT NULL,
          cost                numeric NOT NULL,
          PRIMARY KEY (org_id, day, team_id, user_id, proxy_key_id, provider, provider_key_id, model,
                       outcome, currency)
        );
        CREATE TABLE kordon_spend_progress (
          id       boolean PRIMARY KEY DEFAULT true CHECK (id),
          position bigint  NOT NULL
        );
        -- Adds the request events at these positions to the daily totals, skipping any at or
        -- before the last position added (another process did, or a batch is offered again).
        -- A value the catalogue would not have let in counts as none rather than failing: a
        -- statement that failed on one event would stop every later one (see the gap below).
        CREATE FUNCTION kordon_spend_add_events(positions bigint[]) RETURNS void
        LANGUAGE plpgsql AS $fn$
        DECLARE
          done bigint;
          first bigint := (SELECT min(p) FROM unnest(positions) p);
        BEGIN
          INSERT INTO kordon_spend_progress (id, position) VALUES (true, 0) ON CONFLICT (id) DO NOTHING;
          SELECT g.position INTO done FROM kordon_spend_progress g WHERE g.id FOR UPDATE;
          -- A request event between the last one added and this batch, and not in it, was not
          -- added: the totals were emptied (a rebuild) and the process rebuilding them is
          -- replaying the log behind this one. Adding this batch now would move the progress
          -- past what the replay has still to add: it is left to the replay. (An event the
          -- runner parked is no such gap: nobody will add it.)
          IF first > done + 1 AND EXISTS (
               SELECT 1 FROM kordon_events e
                WHERE e.position > done AND e.position < first AND e.org_id IS NOT NULL
                  AND e.type IN ('RequestCompleted', 'RequestFailed', 'RequestRejected')
                  AND NOT EXISTS (SELECT 1 FROM kordon_projection_parked k
                                   WHERE k.name = '${SPEND_PROJECTION}' AND k.position = e.position)) THEN
            RETURN;
          END IF;
          INSERT INTO kordon_spend_daily AS s
            SELECT e.org_id, (e.occurred_at AT TIME ZONE 'UTC')::date,
                   coalesce(d->>'teamId', ''), coalesce(d->>'userId', ''),
                   coalesce(d->>'proxyKeyId', ''), coalesce(d->>'provider', ''),
                   coalesce(d->>'providerKeyId', ''), coalesce(d->>'model', ''),
                   CASE e.type WHEN 'RequestCompleted' THEN 'completed'
                               WHEN 'RequestFailed' THEN 'failed' ELSE 'rejected' END,
                   CASE WHEN cost IS NULL THEN '' ELSE coalesce(d->>'currency', '') END,
                   count(*),
                   count(*) FILTER (WHERE e.type <> 'RequestRejected' AND cost IS NULL),
                   coalesce(sum(tokens.input), 0),
                   coalesce(sum(tokens.output), 0),
                   coalesce(sum(tokens.cached), 0),
                   coalesce(sum(cost), 0)
              FROM kordon_events e,
                   LATERAL (SELECT e.data::jsonb AS d) data,
                   LATERAL (SELECT CASE WHEN d->>'cost' ~ '^[0-9]{1,15}(\\.[0-9]{1,12})?$'
                                        THEN (d->>'cost')::numeric END AS cost) priced,
                   LATERAL (SELECT
                     CASE WHEN d->'usage'->>'inputTokens' ~ '^[0-9]{1,15}$'
                          THEN (d->'usage'->>'inputTokens')::bigint ELSE 0 END AS input,
                     CASE WHEN d->'usage'->>'outputTokens' ~ '^[0-9]{1,15}$'
                          THEN (d->'usage'->>'outputTokens')::bigint ELSE 0 END AS output,
                     CASE WHEN d->'usage'->>'cachedInputTokens' ~ '^[0-9]{1,15}$'
                          THEN (d->'usage'->>'cachedInputTokens')::bigint ELSE 0 END AS cached) tokens
             WHERE e.position = ANY (positions)
               AND e.position > done
               AND e.org_id IS NOT NULL
               AND e.type IN ('RequestCompleted', 'RequestFailed', 'RequestRejected')
             GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
          ON CONFLICT (org_id, day, team_id, user_id, proxy_key_id, provider, provider_key_id, model,
                       outcome, currency)
          DO UPDATE SET requests = s.requests + EXCLUDED.requests,
                        unpriced_requests = s.unpriced_requests + EXCLUDED.unpriced_requests,
                        input_tokens = s.input_tokens + EXCLUDED.input_tokens,
                        output_tokens = s.output_tokens + EXCLUDED.output_tokens,
                        cached_input_tokens = s.cached_input_tokens + EXCLUDED.cached_input_tokens,
                        cost = s.cost + EXCLUDED.cost;
          UPDATE kordon_spend_progress SET position = greatest(position, (SELECT max(p) FROM unnest(positions) p))
           WHERE id;
        END
        $fn$
      `,
    },
    {
      scope: 'spend',
      version: 2,
      name: 'a cost without a currency is unpriced',
      sql: `
        -- A cost counts only with its currency: the catalogue takes either without the other
        -- (the gateway writes both or neither), and a cost of no currency, kept under the empty
        -- currency, was in no cost of any report and not counted as unpriced either. It is now
        -- unpriced, as a cost that is not a decimal is. Only the function changes: the gateway
        -- never wrote such an event, so the totals already added stay right.
        CREATE OR REPLACE FUNCTION kordon_spend_add_events(positions bigint[]) RETURNS void
        LANGUAGE plpgsql AS $fn$
        DECLARE
          done bigint;
          first bigint := (SELECT min(p) FROM unnest(positions) p);
        BEGIN
          INSERT INTO kordon_spend_progress (id, position) VALUES (true, 0) ON CONFLICT (id) DO NOTHING;
          SELECT g.position INTO done FROM kordon_spend_progress g WHERE g.id FOR UPDATE;
          -- A request event between the last one added and this batch, and not in it, was not
          -- added: the totals were emptied (a rebuild) and the process rebuilding them is
          -- replaying the log behind this one. Adding this batch now would move the progress
          -- past what the replay has still to add: it is left to the replay. (An event the
          -- runner parked is no such gap: nobody will add it.)
          IF first > done + 1 AND EXISTS (
               SELECT 1 FROM kordon_events e
                WHERE e.position > done AND e.position < first AND e.org_id IS NOT NULL
                  AND e.type IN ('RequestCompleted', 'RequestFailed', 'RequestRejected')
                  AND NOT EXISTS (SELECT 1 FROM kordon_projection_parked k
                                   WHERE k.name = '${SPEND_PROJECTION}' AND k.position = e.position)) THEN
            RETURN;
          END IF;
          INSERT INTO kordon_spend_daily AS s
            SELECT e.org_id, (e.occurred_at AT TIME ZONE 'UTC')::date,
                   coalesce(d->>'teamId', ''), coalesce(d->>'userId', ''),
                   coalesce(d->>'proxyKeyId', ''), coalesce(d->>'provider', ''),
                   coalesce(d->>'providerKeyId', ''), coalesce(d->>'model', ''),
                   CASE e.type WHEN 'RequestCompleted' THEN 'completed'
                               WHEN 'RequestFailed' THEN 'failed' ELSE 'rejected' END,
                   CASE WHEN cost IS NULL THEN '' ELSE d->>'currency' END,
                   count(*),
                   count(*) FILTER (WHERE e.type <> 'RequestRejected' AND cost IS NULL),
                   coalesce(sum(tokens.input), 0),
                   coalesce(sum(tokens.output), 0),
                   coalesce(sum(tokens.cached), 0),
                   coalesce(sum(cost), 0)
              FROM kordon_events e,
                   LATERAL (SELECT e.data::jsonb AS d) data,
                   LATERAL (SELECT CASE WHEN d->>'cost' ~ '^[0-9]{1,15}(\\.[0-9]{1,12})?$'
                                         AND d->>'currency' ~ '^[A-Z]{3}$'
                                        THEN (d->>'cost')::numeric END AS cost) priced,
                   LATERAL (SELECT
                     CASE WHEN d->'usage'->>'inputTokens' ~ '^[0-9]{1,15}$'
                          THEN (d->'usage'->>'inputTokens')::bigint ELSE 0 END AS input,
                     CASE WHEN d->'usage'->>'outputTokens' ~ '^[0-9]{1,15}$'
                          THEN (d->'usage'->>'outputTokens')::bigint ELSE 0 END AS output,
                     CASE WHEN d->'usage'->>'cachedInputTokens' ~ '^[0-9]{1,15}$'
                          THEN (d->'usage'->>'cachedInputTokens')::bigint ELSE 0 END AS cached) tokens
             WHERE e.position = ANY (positions)
               AND e.position > done
               AND e.org_id IS NOT NULL
               AND e.type IN ('RequestCompleted', 'RequestFailed', 'RequestRejected')
             GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
          ON CONFLICT (org_id, day, team_id, user_id, proxy_key_id, provider, provider_key_id, model,
                       outcome, currency)
          DO UPDATE SET requests = s.requests + EXCLUDED.requests,
                        unpriced_requests = s.unpriced_requests + EXCLUDED.unpriced_requests,
                        input_tokens = s.input_tokens + EXCLUDED.input_tokens,
                        output_tokens = s.output_tokens + EXCLUDED.output_tokens,
                        cached_input_tokens = s.cached_input_tokens + EXCLUDED.cached_input_tokens,
                        cost = s.cost + EXCLUDED.cost;
          UPDATE kordon_spend_progress SET position = greatest(position, (SELECT max(p) FROM unnest(positions) p))
           WHERE id;
        END
        $fn$
      `,
    },
    {
      scope: 'spend',
      version: 3,
      name: 'a batch adds the request events a rebuild left behind it',
      sql: `
        -- Adds the request events after lo, up to hi, of these positions (all of them when null):
        -- the sums of migration 2, in one place for the two uses below.
        CREATE FUNCTION kordon_spend_add_range(lo bigint, hi bigint, positions bigint[]) RETURNS void
        LANGUAGE sql AS $fn$
          INSERT INTO kordon_spend_daily AS s
            SELECT e.org_id, (e.occurred_at AT TIME ZONE 'UTC')::date,
                   coalesce(d->>'teamId', ''), coalesce(d->>'userId', ''),
                   coalesce(d->>'proxyKeyId', ''), coalesce(d->>'provider', ''),
                   coalesce(d->>'providerKeyId', ''), coalesce(d->>'model', ''),
                   CASE e.type WHEN 'RequestCompleted' THEN 'completed'
                               WHEN 'RequestFailed' THEN 'failed' ELSE 'rejected' END,
                   CASE WHEN cost IS NULL THEN '' ELSE d->>'currency' END,
                   count(*),
                   count(*) FILTER (WHERE e.type <> 'RequestRejected' AND cost IS NULL),
                   coalesce(sum(tokens.input), 0),
                   coalesce(sum(tokens.output), 0),
                   coalesce(sum(tokens.cached), 0),
                   coalesce(sum(cost), 0)
              FROM kordon_events e,
                   LATERAL (SELECT e.data::jsonb AS d) data,
                   LATERAL (SELECT CASE WHEN d->>'cost' ~ '^[0-9]{1,15}(\\.[0-9]{1,12})?$'
                                         AND d->>'currency' ~ '^[A-Z]{3}$'
                                        THEN (d->>'cost')::numeric END AS cost) priced,
                   LATERAL (SELECT
                     CASE WHEN d->'usage'->>'inputTokens' ~ '^[0-9]{1,15}$'
                          THEN (d->'usage'->>'inputTokens')::bigint ELSE 0 END AS input,
                     CASE WHEN d->'usage'->>'outputTokens' ~ '^[0-9]{1,15}$'
                          THEN (d->'usage'->>'outputTokens')::bigint ELSE 0 END AS output,
                     CASE WHEN d->'usage'->>'cachedInputTokens' ~ '^[0-9]{1,15}$'
                          THEN (d->'usage'->>'cachedInputTokens')::bigint ELSE 0 END AS cached) tokens
             WHERE e.position > lo AND e.position <= hi
               AND (positions IS NULL OR e.position = ANY (positions))
               AND e.org_id IS NOT NULL
               AND e.type IN ('RequestCompleted', 'RequestFailed', 'RequestRejected')
               AND NOT EXISTS (SELECT 1 FROM kordon_projection_parked k
                                WHERE k.name = '${SPEND_PROJECTION}' AND k.position = e.position)
             GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
          ON CONFLICT (org_id, day, team_id, user_id, proxy_key_id, provider, provider_key_id, model,
                       outcome, currency)
          DO UPDATE SET requests = s.requests + EXCLUDED.requests,
                        unpriced_requests = s.unpriced_requests + EXCLUDED.unpriced_requests,
                        input_tokens = s.input_tokens + EXCLUDED.input_tokens,
                        output_tokens = s.output_tokens + EXCLUDED.output_tokens,
                        cached_input_tokens = s.cached_input_tokens + EXCLUDED.cached_input_tokens,
                        cost = s.cost + EXCLUDED.cost
        $fn$;
        CREATE OR REPLACE FUNCTION kordon_spend_add_events(positions bigint[]) RETURNS void
        LANGUAGE plpgsql AS $fn$
        DECLARE
          done bigint;
          first bigint := (SELECT min(p) FROM unnest(positions) p);
          last bigint := (SELECT max(p) FROM unnest(positions) p);
          gap bigint[];
        BEGIN
          INSERT INTO kordon_spend_progress (id, position) VALUES (true, 0) ON CONFLICT (id) DO NOTHING;
          SELECT g.position INTO done FROM kordon_spend_progress g WHERE g.id FOR UPDATE;
          -- Request events between the last one added and this batch, not in it, were not added:
          -- a rebuild emptied the totals and its replay is behind this process. Left to the
          -- replay, they stayed out for good when it stopped before reaching them: it resumes
          -- from the runners' shared checkpoint, which this process had moved past them. So they
          -- are added here, the first ${SPEND_GAP_MAX} at a time (a later batch adds the rest,
          -- and this one with them). An event the runner parked is no gap: nobody adds it.
          IF first > done + 1 THEN
            gap := ARRAY(
              SELECT e.position FROM kordon_events e
               WHERE e.position > done AND e.position < first AND e.org_id IS NOT NULL
                 AND e.type IN ('RequestCompleted', 'RequestFailed', 'RequestRejected')
                 AND NOT EXISTS (SELECT 1 FROM kordon_projection_parked k
                                  WHERE k.name = '${SPEND_PROJECTION}' AND k.position = e.position)
               ORDER BY e.position LIMIT ${SPEND_GAP_MAX});
            IF cardinality(gap) > 0 THEN
              BEGIN
                PERFORM kordon_spend_add_range(done, gap[cardinality(gap)], gap);
              EXCEPTION WHEN OTHERS THEN
                -- Not this batch's fault: it is left to the replay, as it was before.
                RETURN;
              END;
              done := gap[cardinality(gap)];
              UPDATE kordon_spend_progress SET position = done WHERE id;
              IF cardinality(gap) = ${SPEND_GAP_MAX} THEN RETURN; END IF;
            END IF;
          END IF;
          PERFORM kordon_spend_add_range(done, last, positions);
          UPDATE kordon_spend_progress SET position = greatest(position, last) WHERE id;
        END
        $fn$
      `,
    },
  ],
  project(event) {
    if (event === null || event.orgId === null) return [];
    return [addEvents([event.position])];
  },
  /** A batch's request events in one statement naming their positions. */
  projectBatch(events) {
    const positions: number[] = [];
    for (const event of events) if (event !== null && event.orgId !== null) positions.push(event.position);
    return positions.length === 0 ? [] : [addEvents(positions)];
  },
};
