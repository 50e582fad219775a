import type { SqlQueryable } from '@kordon/events';

export type RequestOutcome = 'completed' | 'failed' | 'rejected';

export interface RequestLogFilter {
  orgId: string;
  teamId?: string | undefined;
  userId?: string | undefined;
  proxyKeyId?: string | undefined;
  provider?: string | undefined;
  providerKeyId?: string | undefined;
  model?: string | undefined;
  /** HTTP status returned to the client, inclusive bounds (`4xx` is 400..499). */
  status?: { min: number; max: number } | undefined;
  outcome?: RequestOutcome | undefined;
  /** Inclusive start, exclusive end (ISO instants). */
  from?: string | undefined;
  to?: string | undefined;
}

/** Where the previous page ended: its last row's time (epoch ms) and position. */
export interface RequestLogKey {
  time: number;
  position: number;
}

export interface RequestLogQuery extends RequestLogFilter {
  order: 'asc' | 'desc';
  after?: RequestLogKey | undefined;
  limit: number;
}

export interface RequestLogEntry {
  id: string;
  position: number;
  time: string;
  outcome: RequestOutcome;
  status: number | null;
  upstreamStatus: number | null;
  /** RequestFailed's code. */
  errorCode: string | null;
  /** RequestRejected's reason, and whose limit it was for limit reasons. */
  rejectionReason: string | null;
  limitScope: { scope: string; scopeId: string } | null;
  teamId: string | null;
  userId: string | null;
  proxyKeyId: string | null;
  provider: string | null;
  providerKeyId: string | null;
  model: string | null;
  endpoint: string;
  stream: boolean | null;
  usage: {
    inputTokens: number;
    outputTokens: number;
    cachedInputTokens: number;
    reasoningTokens: number | null;
    /** Parts of inputTokens written to the provider's prompt cache (5-minute, 1-hour). */
    cacheWriteInputTokens: number;
    cacheWrite1hInputTokens: number;
    /** Web searches the provider ran for the request (priced apiece). */
    webSearches: number;
    /** The service tier that billed the tokens when not the standard one (OpenAI's priority, flex). */
    serviceTier: 'priority' | 'flex' | null;
    /** `us` when Claude ran the request on US-only infrastructure (billed at 1.1x). */
    inferenceGeo: 'us' | null;
    /** `fast` when Claude ran the request in fast mode (billed at a multiple). */
    speed: 'fast' | null;
  } | null;
  cost: string | null;
  currency: string | null;
  latencyMs: number | null;
  timeToFirstTokenMs: number | null;
  clientIp: string | null;
  attempts: number;
  /** Whether the row holds prompt or response text (shown by the single-request route). */
  hasText: boolean;
}

export interface RequestLogDetail extends RequestLogEntry {
  prompt: string | null;
  response: string | null;
}

interface Row {
  occurred_at: Date | string;
  position: string | number;
  request_id: string;
  outcome: RequestOutcome;
  team_id: string | null;
  user_id: string | null;
  proxy_key_id: string | null;
  provider: string | null;
  provider_key_id: string | null;
  model: string | null;
  endpoint: string;
  stream: boolean | null;
  status: number | null;
  upstream_status: number | null;
  reason: string | null;
  limit_scope: string | null;
  limit_scope_id: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cached_input_tokens: number | null;
  reasoning_tokens: number | null;
  cache_write_input_tokens: number | null;
  cache_write_1h_input_tokens: number | null;
  web_searches: number | null;
  service_tier: 'priority' | 'flex' | null;
  inference_geo: 'us' | null;
  speed: 'fast' | null;
  cost: string | null;
  currency: string | null;
  latency_ms: number | null;
  ttfb_ms: number | null;
  client_ip: string | null;
  attempts: number;
  has_text: boolean;
  prompt?: string | null;
  response?: string | null;
}

const COLUMNS = `occurred_at, position, request_id, outcome, team_id, user_id, proxy_key_id, provider,
  provider_key_id, model, endpoint, stream, status, upstream_status, reason, limit_scope, limit_scope_id,
  input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cache_write_input_tokens,
  cache_write_1h_input_tokens, web_searches, service_tier, inference_geo, speed, cost::text AS cost, currency,
  latency_ms, ttfb_ms, client_ip, attempts, (prompt IS NOT NULL OR response IS NOT NULL) AS has_text`;

/*
 * Rows past the org's retention are not shown, also before the next retention pass deletes
 * them (KORDON_RETENTION_INTERVAL_MS apart): the org's policy says they are gone. The same
 * cutoff as the pass (retention.ts): now less whole 24-hour days.
 */
const WITHIN_RETENTION = `occurred_at >= COALESCE(
    (SELECT now() - retention_days * interval '24 hours' FROM kordon_request_log_policies WHERE org_id = $1),
    '-infinity'::timestamptz)`;

/*
 * Each filter is a bound parameter that is either null (no filter) or compared: the text of
 * the two statements below is fixed, nothing a caller sends becomes SQL. PostgreSQL plans an
 * unnamed statement with its parameters' values, so `$n IS NULL OR col = $n` folds to the
 * comparison and the (org, user|key|model|status, time, position) indexes and partition
 * pruning on `occurred_at` apply.
 */
const FILTERS = `org_id = $1 AND ${WITHIN_RETENTION}
  AND ($2::text IS NULL OR team_id = $2::text)
  AND ($3::text IS NULL OR user_id = $3::text)
  AND ($4::text IS NULL OR proxy_key_id = $4::text)
  AND ($5::text IS NULL OR provider = $5::text)
  AND ($6::text IS NULL OR provider_key_id = $6::text)
  AND ($7::text IS NULL OR model = $7::text)
  AND ($8::int IS NULL OR status BETWEEN $8::int AND $9::int)
  AND ($10::text IS NULL OR outcome = $10::text)
  AND ($11::timestamptz IS NULL OR occurred_at >= $11::timestamptz)
  AND ($12::timestamptz IS NULL OR occurred_at < $12::timestamptz)`;

/** Keyset pagination on (occurred_at, position): stable under inserts, no OFFSET scans. */
const STATEMENTS = {
  desc: `SELECT ${COLUMNS} FROM kordon_request_log WHERE ${FILTERS}
           AND ($13::timestamptz IS NULL OR (occurred_at, position) < ($13::timestamptz, $14::bigint))
         ORDER BY occurred_at DESC, position DESC LIMIT $15`,
  asc: `SELECT ${COLUMNS} FROM kordon_request_log WHERE ${FILTERS}
          AND ($13::timestamptz IS NULL OR (occurred_at, position) > ($13::timestamptz, $14::bigint))
        ORDER BY occurred_at ASC, position ASC LIMIT $15`,
} as const;

const ONE = `SELECT ${COLUMNS}, prompt, response FROM kordon_request_log
  WHERE org_id = $1 AND request_id = $2 AND ${WITHIN_RETENTION} ORDER BY occurred_at DESC, position DESC LIMIT 1`;

export async function queryRequestLog(sql: SqlQueryable, query: RequestLogQuery): Promise<RequestLogEntry[]> {
  const { rows } = await sql.query<Row>(STATEMENTS[query.order], [
    query.orgId,
    query.teamId ?? null,
    query.userId ?? null,
    query.proxyKeyId ?? null,
    query.provider ?? null,
    query.providerKeyId ?? null,
    query.model ?? null,
    query.status?.min ?? null,
    query.status?.max ?? null,
    query.outcome ?? null,
    query.from ?? null,
    query.to ?? null,
    query.after === undefined ? null : new Date(query.after.time).toISOString(),
    query.after?.position ?? null,
    query.limit,
  ]);
  return rows.map(entryOf);
}

/** One request of the org by its id; undefined when the log has none (or no longer has it). */
export async function findRequest(
  sql: SqlQueryable,
  orgId: string,
  requestId: string,
): Promise<RequestLogDetail | undefined> {
  const { rows } = await sql.query<Row>(ONE, [orgId, requestId]);
  const row = rows[0];
  if (!row) return undefined;
  return { ...entryOf(row), prompt: row.prompt ?? null, response: row.response ?? null };
}

function entryOf(row: Row): RequestLogEntry {
  const time = row.occurred_at instanceof Date ? row.occurred_at : new Date(row.occurred_at);
  const int = (value: number | string | null) => (value === null ? null : Number(value));
  return {
    id: row.request_id,
    position: Number(row.position),
    time: time.toISOString(),
    outcome: row.outcome,
    status: int(row.status),
    upstreamStatus: int(row.upstream_status),
    errorCode: row.outcome === 'failed' ? row.reason : null,
    rejectionReason: row.outcome === 'rejected' ? row.reason : null,
    limitScope:
      row.limit_scope !== null && row.limit_scope_id !== null
        ? { scope: row.limit_scope, scopeId: row.limit_scope_id }
        : null,
    teamId: row.team_id,
    userId: row.user_id,
    proxyKeyId: row.proxy_key_id,
    provider: row.provider,
    providerKeyId: row.provider_key_id,
    model: row.model,
    endpoint: row.endpoint,
    stream: row.stream,
    usage:
      row.input_tokens === null
        ? null
        : {
            inputTokens: Number(row.input_tokens),
            outputTokens: Number(row.output_tokens ?? 0),
            cachedInputTokens: Number(row.cached_input_tokens ?? 0),
            reasoningTokens: int(row.reasoning_tokens),
            cacheWriteInputTokens: Number(row.cache_write_input_tokens ?? 0),
            cacheWrite1hInputTokens: Number(row.cache_write_1h_input_tokens ?? 0),
            webSearches: Number(row.web_searches ?? 0),
            serviceTier: row.service_tier ?? null,
            inferenceGeo: row.inference_geo ?? null,
            speed: row.speed ?? null,
          },
    cost: row.cost,
    currency: row.currency,
    latencyMs: int(row.latency_ms),
    timeToFirstTokenMs: int(row.ttfb_ms),
    clientIp: row.client_ip,
    attempts: Number(row.attempts),
    hasText: row.has_text,
  };
}

/**
 * The instant before which the org's logging policy says its requests are gone (null: kept for
 * good): the cutoff of `WITHIN_RETENTION` and the hourly pass, for a count of what the log
 * would have shown.
 */
export async function retentionCutoff(sql: SqlQueryable, orgId: string): Promise<string | null> {
  const { rows } = await sql.query<{ cutoff: Date | string | null }>(
    `SELECT now() - retention_days * interval '24 hours' AS cutoff
       FROM kordon_request_log_policies WHERE org_id = $1`,
    [orgId],
  );
  const cutoff = rows[0]?.cutoff;
  return cutoff === null || cutoff === undefined ? null : new Date(cutoff).toISOString();
}
