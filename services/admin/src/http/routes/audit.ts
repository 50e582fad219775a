import { stringify } from 'csv-stringify/sync';
import { queryAudit } from '../../audit/audit-query.js';
import { auditEntryFor } from '../../audit/audit-redaction.js';
import { AdminError } from '../../errors.js';
import { DEFAULT_PAGE, orgOf, principalOf } from '../helpers.js';
import { route } from '../route.js';
import { AuditEntry, auditQuery, orgParams, page } from '../schemas.js';

const AuditPage = page(AuditEntry, 'AuditEntry');
const CSV_MAX_ROWS = 100_000;

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
      "Filter by `actor` (id), `action` (event type) and time range (`from` inclusive, `to` exclusive). `format=csv` exports every matching entry (up to 100,000) as CSV instead of a page. Secrets, hashes and ciphertexts never appear. Entries show no more than you may read elsewhere: without `sso.read` the single sign-on settings are left out of the org's snapshots; without `apiToken.read` a machine token's id (as subject or actor) is null and its entries carry no before and after.",
    access: 'audit.read',
    params: orgParams,
    query: auditQuery,
    responses: {
      200: { description: 'A page of audit entries, or CSV', schema: AuditPage, alsoAs: ['text/csv'] },
    },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      const q = ctx.query;
      if (q.from && q.to && Date.parse(q.from) >= Date.parse(q.to)) {
        throw new AdminError('validation_failed', '`from` must be before `to`', {
          errors: [{ path: 'query.to', message: 'must be after from' }],
        });
      }
      await ctx.deps.auditCaughtUp();
      const csv = q.format === 'csv';
      const limit = csv ? CSV_MAX_ROWS : (q.limit ?? DEFAULT_PAGE);
      const { rights } = principalOf(ctx);
      const found = await queryAudit(ctx.deps.sql, {
        orgId: org.orgId,
        actor: q.actor,
        action: q.action,
        from: q.from,
        to: q.to,
        order: q.sort === '-time' ? 'desc' : 'asc',
        after: q.cursor === undefined ? undefined : decodePosition(q.cursor),
        limit: csv ? limit : limit + 1,
      });
      const rows = found.map((entry) => auditEntryFor(rights, entry));
      if (csv) {
        const text = stringify(
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
            header: true,
            columns: [
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
            ],
            // A cell starting with = + - @ is text, never a formula, when opened in a spreadsheet.
            cast: { string: (value) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value) },
          },
        );
        return {
          status: 200,
          text: { contentType: 'text/csv; charset=utf-8', body: text },
          headers: { 'Content-Disposition': `attachment; filename="audit-${org.slug}.csv"` },
        };
      }
      const items = rows.slice(0, limit);
      const more = rows.length > limit;
      return {
        status: 200,
        body: {
          items,
          nextCursor: more ? encodePosition(items[items.length - 1]!.position) : null,
        },
      };
    },
  }),
];
