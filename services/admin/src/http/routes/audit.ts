import type { SqlQueryable } from '@kordon/events';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import { AUDIT_PROJECTION } from '../../audit/audit-projection.js';
import { type AuditQuery, auditHead, queryAudit } from '../../audit/audit-query.js';
import { auditEntryFor, type ReaderAuditEntry } from '../../audit/audit-redaction.js';
import { AdminError } from '../../errors.js';
import { countParkedEvents } from '../../parked-events.js';
import type { Rights } from '../../rbac/permissions.js';
import { byteOrderMarkAsked, SPREADSHEET_SAFE_CAST } from '../csv-cells.js';
import { DEFAULT_PAGE, orgOf, principalOf } from '../helpers.js';
import { type Reply, route } from '../route.js';
import { AuditEntry, auditQuery, orgParams } from '../schemas.js';
import { unreadEventsHeader, unreadEventsHeaderSpec } from '../unread-events.js';

const AuditPage = z
  .object({
    items: z.array(AuditEntry),
    nextCursor: z.string().nullable(),
    unreadEvents: z
      .int()
      .describe(
        "The org's events in the range (of the action asked) the audit projection could not apply " +
          '(parked): no entry shows them. Whatever the actor filter.',
      ),
  })
  .meta({ id: 'AuditEntryPage' });
/** Entries an export reads and writes at a time: its memory stays that of one page. */
export const CSV_PAGE_ROWS = 2_000;

const CSV_COLUMNS = [
  'time',
  'actor_kind',
  'actor_id',
  'actor_ip',
  'action',
  'subject_type',
  'subject_id',
  'before',
  'after',
  'event_id',
];

/** `bom`: the first piece of a file Excel is to open starts with a UTF-8 byte order mark. */
function csvText(rows: ReaderAuditEntry[], header: boolean, bom = false): string {
  return stringify(
    rows.map((row) => [
      row.time,
      row.actor.kind,
      row.actor.id ?? '',
      row.actor.ip ?? '',
      row.action,
      row.subject.type,
      row.subject.id ?? '',
      row.before === null ? '' : JSON.stringify(row.before),
      row.after === null ? '' : JSON.stringify(row.after),
      row.id,
    ]),
    {
      header,
      bom,
      columns: CSV_COLUMNS,
      cast: SPREADSHEET_SAFE_CAST,
    },
  );
}

/**
 * Every matching entry as CSV, a page at a time, up to the log's head when the export began
 * (a busy org's new entries do not keep a long export running). The first page is read
 * before anything is sent, so a failing query is still a clean error answer.
 */
async function csvExport(
  sql: SqlQueryable,
  query: Omit<AuditQuery, 'limit' | 'upTo'>,
  rights: Rights,
  bom: boolean,
): Promise<AsyncIterable<string>> {
  const upTo = await auditHead(sql, query.orgId);
  const pageAfter = (after: number | undefined) =>
    queryAudit(sql, { ...query, after, upTo, limit: CSV_PAGE_ROWS });
  const first = await pageAfter(query.after);
  return (async function* () {
    let found = first;
    yield csvText(
      found.map((entry) => auditEntryFor(rights, entry)),
      true,
      bom,
    );
    while (found.length === CSV_PAGE_ROWS) {
      found = await pageAfter(found[found.length - 1]!.position);
      if (found.length > 0)
        yield csvText(
          found.map((entry) => auditEntryFor(rights, entry)),
          false,
        );
    }
  })();
}

function decodePosition(cursor: string): number {
  const text = /^[A-Za-z0-9_-]{1,40}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!/^p[1-9]\d{0,15}$/.test(text)) {
    throw new AdminError('validation_failed', 'the cursor is not one this API gave', {
      errors: [{ path: 'query.cursor', message: 'invalid cursor' }],
    });
  }
  return Number(text.slice(1));
}

const encodePosition = (position: number) => Buffer.from(`p${position}`, 'utf8').toString('base64url');

export const auditRoutes = [
  route({
    operationId: 'listAudit',
    method: 'get',
    path: '/orgs/{org}/audit',
    tag: 'audit',
    summary: 'The audit log: who changed what, when, from which IP, with before and after',
    description:
      "Filter by `actor` (id), `action` (event type) and time range (`from` inclusive, `to` exclusive). `format=csv` exports every matching entry as CSV instead of a page, streamed a page at a time (entries written after the export began are left out; a cursor starts it after that entry); `bom=true` starts it with a UTF-8 byte order mark for Excel. `unreadEvents` (and the `X-Kordon-Unread-Events` header, on the CSV export too) counts the org's events in the range, of the action asked, that the audit projection could not apply (parked): no entry shows them. Secrets, hashes and ciphertexts never appear. Entries show no more than you may read elsewhere: without `sso.read` the single sign-on settings are left out of the org's snapshots; without `apiToken.read` a machine token's id (as subject or actor) is null and its entries carry no before and after, and the `actor` filter matches no machine token (a token's id finds nothing, as a made-up one does).",
    access: 'audit.read',
    params: orgParams,
    query: auditQuery,
    responses: {
      200: {
        description: 'A page of audit entries, or CSV',
        schema: AuditPage,
        alsoAs: ['text/csv'],
        headers: unreadEventsHeaderSpec(
          "`unreadEvents`: the org's events in the range the audit projection could not apply.",
        ),
      },
    },
    handler: async (ctx): Promise<Reply> => {
      const org = orgOf(ctx);
      const q = ctx.query;
      if (q.from && q.to && Date.parse(q.from) >= Date.parse(q.to)) {
        throw new AdminError('validation_failed', '`from` must be before `to`', {
          errors: [{ path: 'query.to', message: 'must be after from' }],
        });
      }
      const bom = byteOrderMarkAsked(q);
      await ctx.deps.auditCaughtUp();
      const { rights } = principalOf(ctx);
      const filters = {
        orgId: org.orgId,
        actor: q.actor,
        // Without apiToken.read a token's id is withheld from the entries: not matchable either.
        actorMayBeToken: rights.has('apiToken.read'),
        action: q.action,
        from: q.from,
        to: q.to,
        order: q.sort === '-time' ? ('desc' as const) : ('asc' as const),
        after: q.cursor === undefined ? undefined : decodePosition(q.cursor),
      };
      // Whatever the actor: an unreadable event's actor may be what could not be read.
      const parkedOfRange = () =>
        countParkedEvents(ctx.deps.sql, {
          projection: AUDIT_PROJECTION,
          orgId: org.orgId,
          types: q.action === undefined ? null : [q.action],
          from: q.from,
          to: q.to,
        });
      if (q.format === 'csv') {
        const pieces = await csvExport(ctx.deps.sql, filters, rights, bom);
        // Read after the first page: an event parked since is counted, never one too few.
        const unread = await parkedOfRange();
        return {
          status: 200,
          stream: { contentType: 'text/csv; charset=utf-8', pieces },
          headers: {
            'Content-Disposition': `attachment; filename="audit-${org.slug}.csv"`,
            ...unreadEventsHeader(unread),
          },
        };
      }
      const limit = q.limit ?? DEFAULT_PAGE;
      const found = await queryAudit(ctx.deps.sql, { ...filters, limit: limit + 1 });
      const unread = await parkedOfRange();
      const rows = found.map((entry) => auditEntryFor(rights, entry));
      const items = rows.slice(0, limit);
      const more = rows.length > limit;
      return {
        status: 200,
        headers: unreadEventsHeader(unread),
        body: {
          items,
          nextCursor: more ? encodePosition(items[items.length - 1]!.position) : null,
          unreadEvents: unread,
        },
      };
    },
  }),
];
