import type { SqlQueryable } from '@kordon/events';

export interface AuditQuery {
  orgId: string;
  actor?: string | undefined;
  /**
   * Whether `actor` may match a machine token's entries: only for a reader who may see tokens
   * (`apiToken.read`). For anyone else the entries show no token id, so a filter by one finds
   * nothing, whether the token exists or not: it is no way to tell a token's id.
   */
  actorMayBeToken: boolean;
  action?: string | undefined;
  /** Inclusive start, exclusive end (ISO instants). */
  from?: string | undefined;
  to?: string | undefined;
  order: 'asc' | 'desc';
  /** Position of the last row of the previous page. */
  after?: number | undefined;
  /** No entry past this position (an export holds to the log as it was when it began). */
  upTo?: number | undefined;
  limit: number;
}

export interface AuditEntry {
  id: string;
  position: number;
  time: string;
  actor: { kind: string; id: string; ip: string | null };
  action: string;
  subject: { type: string; id: string };
  before: unknown;
  after: unknown;
}

interface Row {
  position: string | number;
  event_id: string;
  occurred_at: Date | string;
  actor_kind: string;
  actor_id: string;
  actor_ip: string | null;
  action: string;
  subject_type: string;
  subject_id: string;
  before: unknown;
  after: unknown;
}

const FILTERS = `org_id = $1
  AND ($2::text IS NULL OR (actor_id = $2::text AND ($9::boolean OR actor_kind <> 'api-token')))
  AND ($3::text IS NULL OR action = $3::text)
  AND ($4::timestamptz IS NULL OR occurred_at >= $4::timestamptz)
  AND ($5::timestamptz IS NULL OR occurred_at < $5::timestamptz)
  AND ($8::bigint IS NULL OR position <= $8::bigint)`;

/** Fixed statements, one per order: nothing a caller sends is ever part of the SQL text. */
const STATEMENTS = {
  asc: `SELECT * FROM kordon_admin_audit WHERE ${FILTERS}
          AND ($6::bigint IS NULL OR position > $6::bigint) ORDER BY position ASC LIMIT $7`,
  desc: `SELECT * FROM kordon_admin_audit WHERE ${FILTERS}
          AND ($6::bigint IS NULL OR position < $6::bigint) ORDER BY position DESC LIMIT $7`,
} as const;

/** The position of the org's newest audit entry (0 when it has none). */
export async function auditHead(sql: SqlQueryable, orgId: string): Promise<number> {
  const { rows } = await sql.query<{ head: string | number | null }>(
    'SELECT max(position) AS head FROM kordon_admin_audit WHERE org_id = $1',
    [orgId],
  );
  return Number(rows[0]?.head ?? 0);
}

export async function queryAudit(sql: SqlQueryable, query: AuditQuery): Promise<AuditEntry[]> {
  const { rows } = await sql.query<Row>(STATEMENTS[query.order], [
    query.orgId,
    query.actor ?? null,
    query.action ?? null,
    query.from ?? null,
    query.to ?? null,
    query.after ?? null,
    query.limit,
    query.upTo ?? null,
    query.actorMayBeToken,
  ]);
  return rows.map((row) => ({
    id: row.event_id,
    position: Number(row.position),
    time: (row.occurred_at instanceof Date ? row.occurred_at : new Date(row.occurred_at)).toISOString(),
    actor: { kind: row.actor_kind, id: row.actor_id, ip: row.actor_ip },
    action: row.action,
    subject: { type: row.subject_type, id: row.subject_id },
    before: typeof row.before === 'string' ? JSON.parse(row.before) : row.before,
    after: typeof row.after === 'string' ? JSON.parse(row.after) : row.after,
  }));
}
