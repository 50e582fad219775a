import type { SqlQueryable } from '@kordon/events';
import { type KordonEvent, type KordonEventType, kordonCatalogue, type RecordedEvent } from '@kordon/events';
import { BODY_KEY_LOCK_CLASS, type BodyOpener, type SealedBodies } from '@kordon/gateway';
import type { SqlProjection, SqlStatement } from '@kordon/projections';

/*
 * The request log: one row per request event (RequestCompleted, RequestFailed,
 * RequestRejected) in `kordon_request_log`, a table partitioned by month on the event's time
 * (decision 0009). Rows go in through `kordon_request_log_add_events(positions, texts)`: the
database builds them from the event table, then applies the org's
 * logging policy as it stood at that point of the log (`kordon_request_log_policies`, kept from
 * LoggingPolicySet by this projection; an older policy never overwrites a newer one): no text
 * for `bodies: none`, no row for a request older than the org's retention, and the month's
 * partition created when it is missing. `project` stays pure: it only builds the statements.
 */

/** The projection's name: its checkpoint, and where its parked events are found. */
export const REQUEST_LOG_PROJECTION = 'request-log';
export const REQUEST_LOG_TABLE = 'kordon_request_log';
export const REQUEST_LOG_POLICIES_TABLE = 'kordon_request_log_policies';
/** Partitions are named after their month: `kordon_request_log_y2025m03` holds March 2025 (UTC). */
export const PARTITION_PATTERN = /^kordon_request_log_y(\d{4})m(\d{2})$/;
/** Serialises the creation of partitions between processes (advisory lock key, unique to Kordon). */
export const PARTITION_LOCK_KEY = 7_041_212_008;

const REQUEST_LOG_TYPES = [
  'RequestCompleted',
  'RequestFailed',
  'RequestRejected',
  'LoggingPolicySet',
  'LoggedTextErased',
] as const satisfies readonly KordonEventType[];
const HANDLED: ReadonlySet<string> = new Set(REQUEST_LOG_TYPES);

/**
 * A request event read without its data (the projection asks the store for the data of
 * policies only): its position is all a batch sends, the database reads the rest.
 */
export interface RequestRef {
  type: 'RequestRef';
  eventType: 'RequestCompleted' | 'RequestFailed' | 'RequestRejected';
  position: number;
  orgId: string | null;
}

export type RequestLogInput = KordonEvent | RequestRef | null;

/**
 * Only logging policies are decoded; a request event is its position (the database reads the
 * rest), whether or not the store sent its data; everything else is skipped unread.
 */
export function decodeForRequestLog(event: RecordedEvent): RequestLogInput {
  if (!HANDLED.has(event.type)) return null;
  if (event.type === 'LoggingPolicySet' || event.type === 'LoggedTextErased')
    return kordonCatalogue.decode(event);
  return {
    type: 'RequestRef',
    eventType: event.type as RequestRef['eventType'],
    position: event.position,
    orgId: event.orgId,
  };
}

/** jsonb cannot hold U+0000: it is written as U+FFFD, as the event store does. */
const storable = (text: string | null) =>
  text?.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;

type Texts = Record<string, { prompt: string | null; response: string | null }>;

/** What the request log needs to open sealed texts: the opener, and the store's SQL to find them. */
export interface SealedTextReader {
  opener: BodyOpener;
  sql: SqlQueryable;
}

/**
 * The sealed bodies of a batch's completed requests, by position, read from the event table
 * for the requests of orgs that log bodies (only they can have any), then their keys loaded.
 */
async function loadSealed(
  events: RecordedEvent[],
  reader: SealedTextReader,
  logsBodies: (orgId: string) => boolean,
): Promise<Map<number, { orgId: string; requestId: string; sealed: SealedBodies }>> {
  const found = new Map<number, { orgId: string; requestId: string; sealed: SealedBodies }>();
  const times = new Map<number, Date>();
  for (const event of events) {
    if (event.type === 'RequestCompleted' && event.orgId !== null && logsBodies(event.orgId))
      times.set(event.position, event.time);
  }
  if (times.size === 0) return found;
  const { rows } = await reader.sql.query<{
    position: string | number;
    org_id: string;
    request_id: string;
    sealed: string;
  }>(
    `SELECT position, org_id, data->>'requestId' AS request_id, (data->'sealedBodies')::text AS sealed
       FROM kordon_events
      WHERE position = ANY($1::bigint[]) AND json_typeof(data->'sealedBodies') = 'object'`,
    [[...times.keys()]],
  );
  for (const row of rows)
    found.set(Number(row.position), {
      orgId: row.org_id,
      requestId: row.request_id,
      sealed: JSON.parse(row.sealed) as SealedBodies,
    });
  const wanted = [...found].map(([position, { sealed }]) => ({
    keyId: sealed.keyId,
    time: times.get(position) ?? new Date(),
  }));
  if (wanted.length > 0) await reader.opener.prepare(wanted);
  return found;
}

/**
 * The request log's projection. With a sealed-text reader it opens the texts of sealed bodies
 * (the server passes one built on the master keys); without one those texts stay null.
 */
export function createRequestLogProjection(reader?: SealedTextReader): SqlProjection<RequestLogInput> {
  const opener = reader?.opener;
  /** The batch being applied: its opened texts by position (set by `prepare`). */
  let texts: Texts = {};
  /**
   * Orgs whose policy keeps text, as of the log read so far: loaded from the policies table
   * at the first batch, then followed from the policies in each batch (read with their data).
   */
  let loggingOrgs: Set<string> | undefined;
  /** Orgs whose texts the last batch erased: their keys in memory are dropped by the next. */
  let forgetAfter = new Set<string>();
  const textsOf = (positions: number[]): Texts => {
    const of: Texts = {};
    for (const position of positions) {
      const entry = texts[String(position)];
      if (entry) of[String(position)] = entry;
    }
    return of;
  };
  const addEvents = (positions: number[]): SqlStatement => ({
    text: 'SELECT kordon_request_log_add_events($1::bigint[], $2::jsonb)',
    params: [positions, JSON.stringify(textsOf(positions))],
  });
  return {
    name: REQUEST_LOG_PROJECTION,
    version: 1,
    eventTypes: HANDLED,
    // Request events come as positions; only policies are read with their data.
    dataOf: new Set(['LoggingPolicySet', 'LoggedTextErased']),
    // The policies are not emptied by a rebuild: replayed requests meet the latest policy, so a
    // rebuild neither brings back rows retention deleted nor text the org no longer logs.
    tables: [REQUEST_LOG_TABLE],
    migrations: [
      {
        scope: 'request-log',
        version: 1,
        name: 'request log partitioned by month',
        sql: `
        CREATE TABLE kordon_request_log (
          occurred_at         timestamptz NOT NULL,
          position            bigint      NOT NULL,
          org_id              text        NOT NULL,
          request_id          text        NOT NULL,
          outcome             text        NOT NULL,
          team_id             text,
          user_id             text,
          proxy_key_id        text,
          provider            text,
          provider_key_id     text,
          model               text,
          endpoint            text        NOT NULL,
          stream              boolean,
          status              smallint,
          upstream_status     smallint,
          reason              text,
          limit_scope         text,
          limit_scope_id      text,
          input_tokens        integer,
          output_tokens       integer,
          cached_input_tokens integer,
          reasoning_tokens    integer,
          cost                numeric,
          currency            text,
          latency_ms          integer,
          ttfb_ms             integer,
          client_ip           text,
          attempts            smallint    NOT NULL,
          prompt              text,
          response            text,
          PRIMARY KEY (position, occurred_at)
        ) PARTITION BY RANGE (occurred_at);
        CREATE INDEX kordon_request_log_org_time ON kordon_request_log (org_id, occurred_at, position);
        CREATE INDEX kordon_request_log_org_user ON kordon_request_log (org_id, user_id, occurred_at, position);
        CREATE INDEX kordon_request_log_org_key ON kordon_request_log (org_id, proxy_key_id, occurred_at, position);
        CREATE INDEX kordon_request_log_org_model ON kordon_request_log (org_id, model, occurred_at, position);
        CREATE INDEX kordon_request_log_org_status ON kordon_request_log (org_id, status, occurred_at, position);
        CREATE INDEX kordon_request_log_org_request ON kordon_request_log (org_id, request_id);
        CREATE TABLE kordon_request_log_policies (
          org_id         text    PRIMARY KEY,
          bodies         text    NOT NULL,
          retention_days integer,
          position       bigint  NOT NULL
        );
        CREATE FUNCTION kordon_request_log_partition(t timestamptz) RETURNS text
        LANGUAGE plpgsql AS $fn$
        DECLARE
          month_start timestamp := date_trunc('month', t AT TIME ZONE 'UTC');
          part_name text := 'kordon_request_log_y' || to_char(month_start, 'YYYY"m"MM');
        BEGIN
          IF to_regclass(part_name) IS NOT NULL THEN RETURN part_name; END IF;
          PERFORM pg_advisory_xact_lock(${PARTITION_LOCK_KEY});
          IF to_regclass(part_name) IS NOT NULL THEN RETURN part_name; END IF;
          EXECUTE format(
            'CREATE TABLE %I PARTITION OF kordon_request_log FOR VALUES FROM (%L) TO (%L)',
            part_name,
            month_start AT TIME ZONE 'UTC',
            (month_start + interval '1 month') AT TIME ZONE 'UTC');
          RETURN part_name;
        END
        $fn$;
        CREATE FUNCTION kordon_request_log_add(r jsonb) RETURNS void
        LANGUAGE plpgsql AS $fn$
        DECLARE
          t timestamptz := (r->>'occurred_at')::timestamptz;
          keep_days integer;
          logged text;
        BEGIN
          SELECT retention_days, bodies INTO keep_days, logged
            FROM kordon_request_log_policies WHERE org_id = r->>'org_id';
          IF keep_days IS NOT NULL AND t < now() - make_interval(days => keep_days) THEN RETURN; END IF;
          IF coalesce(logged, 'none') = 'none' THEN r := r - 'prompt' - 'response'; END IF;
          PERFORM kordon_request_log_partition(t);
          INSERT INTO kordon_request_log
            SELECT * FROM jsonb_populate_record(NULL::kordon_request_log, r)
            ON CONFLICT DO NOTHING;
        END
        $fn$
      `,
      },
      {
        scope: 'request-log',
        version: 2,
        name: 'batched inserts',
        sql: `
        CREATE FUNCTION kordon_request_log_add_many(rs jsonb) RETURNS void
        LANGUAGE plpgsql AS $fn$
        DECLARE
          month timestamptz;
        BEGIN
          -- The months of the rows kept have their partitions first (usually one, found at once);
          -- rows already past their org's retention make none.
          FOR month IN
            SELECT DISTINCT date_trunc('month', (r->>'occurred_at')::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
              FROM jsonb_array_elements(rs) r
              LEFT JOIN kordon_request_log_policies p ON p.org_id = r->>'org_id'
             WHERE p.retention_days IS NULL
                OR (r->>'occurred_at')::timestamptz >= now() - make_interval(days => p.retention_days)
          LOOP
            PERFORM kordon_request_log_partition(month);
          END LOOP;
          -- One set-based insert, each row under its org's policy (as kordon_request_log_add).
          INSERT INTO kordon_request_log
            SELECT (jsonb_populate_record(
                      NULL::kordon_request_log,
                      CASE WHEN coalesce(p.bodies, 'none') = 'none' THEN r - 'prompt' - 'response' ELSE r END
                    )).*
              FROM jsonb_array_elements(rs) r
              LEFT JOIN kordon_request_log_policies p ON p.org_id = r->>'org_id'
             WHERE p.retention_days IS NULL
                OR (r->>'occurred_at')::timestamptz >= now() - make_interval(days => p.retention_days)
            ON CONFLICT DO NOTHING;
        END
        $fn$
      `,
      },
      {
        scope: 'request-log',
        version: 3,
        name: 'rows built from the event table',
        sql: `
        -- The rows of these request events, read from the event table itself: a batch sends
        -- positions, not the data of the events back as JSON (decision 0009). The same columns
        -- as expectedRow in request-log-rows.int.test.ts, which holds the two equal. texts maps a
        -- position to the prompt and response of its sealed bodies, opened by Node.
        CREATE FUNCTION kordon_request_log_rows(positions bigint[], texts jsonb) RETURNS jsonb
        LANGUAGE sql STABLE AS $fn$
          SELECT coalesce(jsonb_agg(
                   jsonb_build_object(
                     'occurred_at', e.occurred_at, 'position', e.position, 'org_id', e.org_id,
                     'request_id', d->'requestId',
                     'outcome', CASE e.type WHEN 'RequestCompleted' THEN 'completed'
                                            WHEN 'RequestFailed' THEN 'failed' ELSE 'rejected' END,
                     'team_id', d->'teamId', 'user_id', d->'userId', 'proxy_key_id', d->'proxyKeyId',
                     'provider', d->'provider', 'provider_key_id', d->'providerKeyId',
                     'model', d->'model', 'endpoint', d->'endpoint', 'stream', d->'stream',
                     'status', d->'status', 'upstream_status', d->'upstreamStatus',
                     'reason', CASE e.type WHEN 'RequestFailed' THEN d->'errorCode'
                                           WHEN 'RequestRejected' THEN d->'reason' END,
                     'limit_scope', d->'limitScope'->'scope', 'limit_scope_id', d->'limitScope'->'scopeId'
                   ) || jsonb_build_object(
                     'input_tokens', d->'usage'->'inputTokens', 'output_tokens', d->'usage'->'outputTokens',
                     'cached_input_tokens', d->'usage'->'cachedInputTokens',
                     'reasoning_tokens', d->'usage'->'reasoningTokens',
                     'cost', d->'cost', 'currency', d->'currency', 'latency_ms', d->'latencyMs',
                     'ttfb_ms', CASE WHEN e.type = 'RequestCompleted' THEN d->'timeToFirstTokenMs' END,
                     'client_ip', d->'clientIp',
                     'attempts', CASE WHEN e.type = 'RequestRejected' THEN '0'::jsonb ELSE d->'attempts' END,
                     'prompt', CASE WHEN e.type = 'RequestCompleted' THEN coalesce(
                       nullif(d->'redactedPrompt', 'null'::jsonb), texts->(e.position::text)->'prompt') END,
                     'response', CASE WHEN e.type = 'RequestCompleted' THEN coalesce(
                       nullif(d->'redactedResponse', 'null'::jsonb), texts->(e.position::text)->'response') END
                   )
                   ORDER BY e.position), '[]'::jsonb)
            FROM kordon_events e, LATERAL (SELECT e.data::jsonb AS d) data
           WHERE e.position = ANY (positions)
             AND e.org_id IS NOT NULL
             AND e.type IN ('RequestCompleted', 'RequestFailed', 'RequestRejected')
        $fn$;
        CREATE FUNCTION kordon_request_log_add_events(positions bigint[], texts jsonb) RETURNS void
        LANGUAGE sql AS $fn$
          SELECT kordon_request_log_add_many(kordon_request_log_rows(positions, texts))
        $fn$
      `,
      },
      {
        scope: 'request-log',
        version: 4,
        name: 'prompt-cache writes',
        sql: `
        -- RequestCompleted v3 and RequestFailed v2 say which input tokens were cache writes.
        ALTER TABLE kordon_request_log
          ADD COLUMN cache_write_input_tokens integer,
          ADD COLUMN cache_write_1h_input_tokens integer;
        CREATE OR REPLACE FUNCTION kordon_request_log_rows(positions bigint[], texts jsonb) RETURNS jsonb
        LANGUAGE sql STABLE AS $fn$
          SELECT coalesce(jsonb_agg(
                   jsonb_build_object(
                     'occurred_at', e.occurred_at, 'position', e.position, 'org_id', e.org_id,
                     'request_id', d->'requestId',
                     'outcome', CASE e.type WHEN 'RequestCompleted' THEN 'completed'
                                            WHEN 'RequestFailed' THEN 'failed' ELSE 'rejected' END,
                     'team_id', d->'teamId', 'user_id', d->'userId', 'proxy_key_id', d->'proxyKeyId',
                     'provider', d->'provider', 'provider_key_id', d->'providerKeyId',
                     'model', d->'model', 'endpoint', d->'endpoint', 'stream', d->'stream',
                     'status', d->'status', 'upstream_status', d->'upstreamStatus',
                     'reason', CASE e.type WHEN 'RequestFailed' THEN d->'errorCode'
                                           WHEN 'RequestRejected' THEN d->'reason' END,
                     'limit_scope', d->'limitScope'->'scope', 'limit_scope_id', d->'limitScope'->'scopeId'
                   ) || jsonb_build_object(
                     'input_tokens', d->'usage'->'inputTokens', 'output_tokens', d->'usage'->'outputTokens',
                     'cached_input_tokens', d->'usage'->'cachedInputTokens',
                     'reasoning_tokens', d->'usage'->'reasoningTokens',
                     'cache_write_input_tokens', d->'usage'->'cacheWriteInputTokens',
                     'cache_write_1h_input_tokens', d->'usage'->'cacheWrite1hInputTokens',
                     'cost', d->'cost', 'currency', d->'currency', 'latency_ms', d->'latencyMs',
                     'ttfb_ms', CASE WHEN e.type = 'RequestCompleted' THEN d->'timeToFirstTokenMs' END,
                     'client_ip', d->'clientIp',
                     'attempts', CASE WHEN e.type = 'RequestRejected' THEN '0'::jsonb ELSE d->'attempts' END,
                     'prompt', CASE WHEN e.type = 'RequestCompleted' THEN coalesce(
                       nullif(d->'redactedPrompt', 'null'::jsonb), texts->(e.position::text)->'prompt') END,
                     'response', CASE WHEN e.type = 'RequestCompleted' THEN coalesce(
                       nullif(d->'redactedResponse', 'null'::jsonb), texts->(e.position::text)->'response') END
                   )
                   ORDER BY e.position), '[]'::jsonb)
            FROM kordon_events e, LATERAL (SELECT e.data::jsonb AS d) data
           WHERE e.position = ANY (positions)
             AND e.org_id IS NOT NULL
             AND e.type IN ('RequestCompleted', 'RequestFailed', 'RequestRejected')
        $fn$;
      `,
      },
      {
        scope: 'request-log',
        version: 5,
        name: 'web searches',
        sql: `
        -- RequestCompleted v4 and RequestFailed v3 say how many web searches the provider ran.
        ALTER TABLE kordon_request_log ADD COLUMN web_searches integer;
        CREATE OR REPLACE FUNCTION kordon_request_log_rows(positions bigint[], texts jsonb) RETURNS jsonb
        LANGUAGE sql STABLE AS $fn$
          SELECT coalesce(jsonb_agg(
                   jsonb_build_object(
                     'occurred_at', e.occurred_at, 'position', e.position, 'org_id', e.org_id,
                     'request_id', d->'requestId',
                     'outcome', CASE e.type WHEN 'RequestCompleted' THEN 'completed'
                                            WHEN 'RequestFailed' THEN 'failed' ELSE 'rejected' END,
                     'team_id', d->'teamId', 'user_id', d->'userId', 'proxy_key_id', d->'proxyKeyId',
                     'provider', d->'provider', 'provider_key_id', d->'providerKeyId',
                     'model', d->'model', 'endpoint', d->'endpoint', 'stream', d->'stream',
                     'status', d->'status', 'upstream_status', d->'upstreamStatus',
                     'reason', CASE e.type WHEN 'RequestFailed' THEN d->'errorCode'
                                           WHEN 'RequestRejected' THEN d->'reason' END,
                     'limit_scope', d->'limitScope'->'scope', 'limit_scope_id', d->'limitScope'->'scopeId'
                   ) || jsonb_build_object(
                     'input_tokens', d->'usage'->'inputTokens', 'output_tokens', d->'usage'->'outputTokens',
                     'cached_input_tokens', d->'usage'->'cachedInputTokens',
                     'reasoning_tokens', d->'usage'->'reasoningTokens',
                     'cache_write_input_tokens', d->'usage'->'cacheWriteInputTokens',
                     'cache_write_1h_input_tokens', d->'usage'->'cacheWrite1hInputTokens',
                     'web_searches', d->'usage'->'webSearches',
                     'cost', d->'cost', 'currency', d->'currency', 'latency_ms', d->'latencyMs',
                     'ttfb_ms', CASE WHEN e.type = 'RequestCompleted' THEN d->'timeToFirstTokenMs' END,
                     'client_ip', d->'clientIp',
                     'attempts', CASE WHEN e.type = 'RequestRejected' THEN '0'::jsonb ELSE d->'attempts' END,
                     'prompt', CASE WHEN e.type = 'RequestCompleted' THEN coalesce(
                       nullif(d->'redactedPrompt', 'null'::jsonb), texts->(e.position::text)->'prompt') END,
                     'response', CASE WHEN e.type = 'RequestCompleted' THEN coalesce(
                       nullif(d->'redactedResponse', 'null'::jsonb), texts->(e.position::text)->'response') END
                   )
                   ORDER BY e.position), '[]'::jsonb)
            FROM kordon_events e, LATERAL (SELECT e.data::jsonb AS d) data
           WHERE e.position = ANY (positions)
             AND e.org_id IS NOT NULL
             AND e.type IN ('RequestCompleted', 'RequestFailed', 'RequestRejected')
        $fn$;
      `,
      },
      {
        scope: 'request-log',
        version: 6,
        name: 'service tier, inference geography and speed',
        sql: `
        -- RequestCompleted v5 and RequestFailed v4 name the service tier that billed the tokens
        -- and whether Claude ran the request on US-only infrastructure, or in fast mode.
        ALTER TABLE kordon_request_log ADD COLUMN service_tier text, ADD COLUMN inference_geo text,
          ADD COLUMN speed text;
        CREATE OR REPLACE FUNCTION kordon_request_log_rows(positions bigint[], texts jsonb) RETURNS jsonb
        LANGUAGE sql STABLE AS $fn$
          SELECT coalesce(jsonb_agg(
                   jsonb_build_object(
                     'occurred_at', e.occurred_at, 'position', e.position, 'org_id', e.org_id,
                     'request_id', d->'requestId',
                     'outcome', CASE e.type WHEN 'RequestCompleted' THEN 'completed'
                                            WHEN 'RequestFailed' THEN 'failed' ELSE 'rejected' END,
                     'team_id', d->'teamId', 'user_id', d->'userId', 'proxy_key_id', d->'proxyKeyId',
                     'provider', d->'provider', 'provider_key_id', d->'providerKeyId',
                     'model', d->'model', 'endpoint', d->'endpoint', 'stream', d->'stream',
                     'status', d->'status', 'upstream_status', d->'upstreamStatus',
                     'reason', CASE e.type WHEN 'RequestFailed' THEN d->'errorCode'
                                           WHEN 'RequestRejected' THEN d->'reason' END,
                     'limit_scope', d->'limitScope'->'scope', 'limit_scope_id', d->'limitScope'->'scopeId'
                   ) || jsonb_build_object(
                     'input_tokens', d->'usage'->'inputTokens', 'output_tokens', d->'usage'->'outputTokens',
                     'cached_input_tokens', d->'usage'->'cachedInputTokens',
                     'reasoning_tokens', d->'usage'->'reasoningTokens',
                     'cache_write_input_tokens', d->'usage'->'cacheWriteInputTokens',
                     'cache_write_1h_input_tokens', d->'usage'->'cacheWrite1hInputTokens',
                     'web_searches', d->'usage'->'webSearches',
                     'service_tier', d->'usage'->'serviceTier',
                     'inference_geo', d->'usage'->'inferenceGeo', 'speed', d->'usage'->'speed',
                     'cost', d->'cost', 'currency', d->'currency', 'latency_ms', d->'latencyMs',
                     'ttfb_ms', CASE WHEN e.type = 'RequestCompleted' THEN d->'timeToFirstTokenMs' END,
                     'client_ip', d->'clientIp',
                     'attempts', CASE WHEN e.type = 'RequestRejected' THEN '0'::jsonb ELSE d->'attempts' END,
                     'prompt', CASE WHEN e.type = 'RequestCompleted' THEN coalesce(
                       nullif(d->'redactedPrompt', 'null'::jsonb), texts->(e.position::text)->'prompt') END,
                     'response', CASE WHEN e.type = 'RequestCompleted' THEN coalesce(
                       nullif(d->'redactedResponse', 'null'::jsonb), texts->(e.position::text)->'response') END
                   )
                   ORDER BY e.position), '[]'::jsonb)
            FROM kordon_events e, LATERAL (SELECT e.data::jsonb AS d) data
           WHERE e.position = ANY (positions)
             AND e.org_id IS NOT NULL
             AND e.type IN ('RequestCompleted', 'RequestFailed', 'RequestRejected')
        $fn$;
      `,
      },
      {
        scope: 'request-log',
        version: 7,
        name: 'what retention deleted stays deleted',
        sql: `
        -- The instant before which a retention pass deleted an org's requests: a rebuild replays
        -- them under today's policy, which may keep longer, and must not bring them back.
        ALTER TABLE kordon_request_log_policies ADD COLUMN purged_before timestamptz;
        CREATE OR REPLACE FUNCTION kordon_request_log_add_many(rs jsonb) RETURNS void
        LANGUAGE plpgsql AS $fn$
        DECLARE
          month timestamptz;
        BEGIN
          -- The months of the rows kept have their partitions first (usually one, found at once);
          -- rows already past their org's retention, or deleted by it, make none.
          FOR month IN
            SELECT DISTINCT date_trunc('month', (r->>'occurred_at')::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
              FROM jsonb_array_elements(rs) r
              LEFT JOIN kordon_request_log_policies p ON p.org_id = r->>'org_id'
             WHERE (p.retention_days IS NULL
                    OR (r->>'occurred_at')::timestamptz >= now() - make_interval(days => p.retention_days))
               AND (p.purged_before IS NULL OR (r->>'occurred_at')::timestamptz >= p.purged_before)
          LOOP
            PERFORM kordon_request_log_partition(month);
          END LOOP;
          -- One set-based insert, each row under its org's policy (as kordon_request_log_add).
          INSERT INTO kordon_request_log
            SELECT (jsonb_populate_record(
                      NULL::kordon_request_log,
                      CASE WHEN coalesce(p.bodies, 'none') = 'none' THEN r - 'prompt' - 'response' ELSE r END
                    )).*
              FROM jsonb_array_elements(rs) r
              LEFT JOIN kordon_request_log_policies p ON p.org_id = r->>'org_id'
             WHERE (p.retention_days IS NULL
                    OR (r->>'occurred_at')::timestamptz >= now() - make_interval(days => p.retention_days))
               AND (p.purged_before IS NULL OR (r->>'occurred_at')::timestamptz >= p.purged_before)
            ON CONFLICT DO NOTHING;
        END
        $fn$
      `,
      },
      {
        scope: 'request-log',
        version: 8,
        name: 'erasure of logged texts',
        sql: `
        -- The instant before which the logged texts of the org were erased (LoggedTextErased,
        -- decision 0021): a row before it gets no text, even one added later (a spooled event)
        -- or by a rebuild.
        ALTER TABLE kordon_request_log_policies ADD COLUMN erased_before timestamptz;
        CREATE OR REPLACE FUNCTION kordon_request_log_add_many(rs jsonb) RETURNS void
        LANGUAGE plpgsql AS $fn$
        DECLARE
          month timestamptz;
        BEGIN
          -- The months of the rows kept have their partitions first (usually one, found at once);
          -- rows already past their org's retention, or deleted by it, make none.
          FOR month IN
            SELECT DISTINCT date_trunc('month', (r->>'occurred_at')::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
              FROM jsonb_array_elements(rs) r
              LEFT JOIN kordon_request_log_policies p ON p.org_id = r->>'org_id'
             WHERE (p.retention_days IS NULL
                    OR (r->>'occurred_at')::timestamptz >= now() - make_interval(days => p.retention_days))
               AND (p.purged_before IS NULL OR (r->>'occurred_at')::timestamptz >= p.purged_before)
          LOOP
            PERFORM kordon_request_log_partition(month);
          END LOOP;
          -- One set-based insert, each row under its org's policy (as kordon_request_log_add).
          INSERT INTO kordon_request_log
            SELECT (jsonb_populate_record(
                      NULL::kordon_request_log,
                      CASE WHEN coalesce(p.bodies, 'none') = 'none'
                             OR (r->>'occurred_at')::timestamptz < p.erased_before
                           THEN r - 'prompt' - 'response' ELSE r END
                    )).*
              FROM jsonb_array_elements(rs) r
              LEFT JOIN kordon_request_log_policies p ON p.org_id = r->>'org_id'
             WHERE (p.retention_days IS NULL
                    OR (r->>'occurred_at')::timestamptz >= now() - make_interval(days => p.retention_days))
               AND (p.purged_before IS NULL OR (r->>'occurred_at')::timestamptz >= p.purged_before)
            ON CONFLICT DO NOTHING;
        END
        $fn$;
        -- Erases the texts of the org before the instant: those of its rows, and the keys that sealed
        -- them in the event log (crypto-shredding). The erasure is recorded beside the keys, under
        -- the lock a replica storing a key takes, so a key made before it is never stored after.
        -- Idempotent: an erasure again deletes nothing more.
        CREATE FUNCTION kordon_request_log_erase(org text, erase_before timestamptz) RETURNS void
        LANGUAGE plpgsql AS $fn$
        BEGIN
          INSERT INTO kordon_request_log_policies (org_id, bodies, retention_days, position, erased_before)
            VALUES (org, 'none', NULL, 0, erase_before)
            ON CONFLICT (org_id) DO UPDATE SET erased_before = EXCLUDED.erased_before
            WHERE kordon_request_log_policies.erased_before IS NULL
               OR kordon_request_log_policies.erased_before < EXCLUDED.erased_before;
          UPDATE kordon_request_log SET prompt = NULL, response = NULL
           WHERE org_id = org AND occurred_at < erase_before
             AND (prompt IS NOT NULL OR response IS NOT NULL);
          -- The tables of the keys belong to the gateway (body-keys migrations): absent where no gateway
          -- with a database ever ran, and then there are no keys.
          IF to_regclass('kordon_body_key_erasures') IS NOT NULL THEN
            PERFORM pg_advisory_xact_lock(${BODY_KEY_LOCK_CLASS}, hashtext(org));
            INSERT INTO kordon_body_key_erasures (org_id, erased_before) VALUES (org, erase_before)
              ON CONFLICT (org_id) DO UPDATE SET erased_before = EXCLUDED.erased_before
              WHERE kordon_body_key_erasures.erased_before < EXCLUDED.erased_before;
            DELETE FROM kordon_body_keys
             WHERE org_id = org
               AND (day < (erase_before AT TIME ZONE 'UTC')::date
                    OR coalesce(made_at, created_at) < erase_before);
          END IF;
        END
        $fn$
      `,
      },
    ],
    async prepare(events) {
      texts = {};
      // After an erasure, keys of the org held in memory are dropped (now and after this batch,
      // whose own requests still need them: the erasure clears their rows in the same commit).
      for (const orgId of forgetAfter) opener?.forget(orgId);
      forgetAfter = new Set();
      for (const event of events)
        if (event.type === 'LoggedTextErased' && event.orgId) forgetAfter.add(event.orgId);
      if (!reader || !opener) return;
      if (!loggingOrgs) {
        const { rows } = await reader.sql.query<{ org_id: string }>(
          "SELECT org_id FROM kordon_request_log_policies WHERE bodies <> 'none'",
        );
        loggingOrgs = new Set(rows.map((row) => row.org_id));
      }
      const orgs = loggingOrgs;
      // A policy in this batch counts for the requests after it, and for any in the batch: a
      // text read needlessly is dropped by the database when the policy says none.
      for (const event of events) {
        if (event.type !== 'LoggingPolicySet' || event.orgId === null) continue;
        if ((event.data as { bodies?: string } | null)?.bodies === 'none') continue;
        orgs.add(event.orgId);
      }
      const logsBodies = (orgId: string) => orgs.has(orgId);
      for (const [position, { orgId, requestId, sealed }] of await loadSealed(events, reader, logsBodies)) {
        texts[String(position)] = {
          prompt: storable(opener.open(sealed, orgId, requestId, 'prompt')),
          response: storable(opener.open(sealed, orgId, requestId, 'response')),
        };
      }
    },
    project(event) {
      if (event === null || event.orgId === null) return [];
      if (event.type === 'LoggingPolicySet') {
        return [
          {
            text: `INSERT INTO kordon_request_log_policies (org_id, bodies, retention_days, position)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (org_id) DO UPDATE SET bodies = EXCLUDED.bodies,
                   retention_days = EXCLUDED.retention_days, position = EXCLUDED.position
                 WHERE kordon_request_log_policies.position < EXCLUDED.position`,
            params: [event.orgId, event.data.bodies, event.data.retentionDays, event.position],
          },
        ];
      }
      if (event.type === 'LoggedTextErased') {
        return [
          {
            text: 'SELECT kordon_request_log_erase($1, $2::timestamptz)',
            params: [event.orgId, event.data.before],
          },
        ];
      }
      return event.type === 'RequestRef' ? [addEvents([event.position])] : [];
    },
    /**
     * Runs of request events go in as one statement naming their positions: the database builds
     * their rows from the event table (`kordon_request_log_rows`), so the events' data does not
     * travel back as JSON. Only texts opened here (sealed bodies) are sent.
     */
    projectBatch(events) {
      const statements: SqlStatement[] = [];
      let positions: number[] = [];
      const flush = () => {
        if (positions.length === 0) return;
        statements.push(addEvents(positions));
        positions = [];
      };
      for (const event of events) {
        if (event === null || event.orgId === null) continue;
        if (event.type === 'LoggingPolicySet' || event.type === 'LoggedTextErased') {
          flush(); // the policy applies to the requests after it in the log; an erasure to those before
          statements.push(...this.project(event));
          continue;
        }
        if (event.type === 'RequestRef') positions.push(event.position);
      }
      flush();
      return statements;
    },
  };
}

/** The projection without a sealed-text reader: sealed texts stay null (tests, tools that hold no master key). */
export const requestLogProjection = createRequestLogProjection();
