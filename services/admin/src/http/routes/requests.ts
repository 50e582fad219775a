import type { SqlQueryable } from '@kordon/events';
import { z } from 'zod';
import type { Principal } from '../../auth/principal.js';
import { AdminError, notFound } from '../../errors.js';
import { countParkedEvents, REQUEST_EVENT_TYPES } from '../../parked-events.js';
import { REQUEST_LOG_PROJECTION } from '../../request-log/request-log-projection.js';
import {
  findRequest,
  queryRequestLog,
  type RequestLogKey,
  retentionCutoff,
} from '../../request-log/request-log-query.js';
import {
  filtersByWithheldId,
  requestEntryFor,
  requestLogReader,
} from '../../request-log/request-log-redaction.js';
import { DEFAULT_PAGE, orgOf, principalOf } from '../helpers.js';
import { type Reply, route } from '../route.js';
import { entityParams, orgParams, RequestLogDetail, RequestLogEntry, requestQuery } from '../schemas.js';
import { unreadEventsHeader, unreadEventsHeaderSpec } from '../unread-events.js';

const RequestLogPage = z
  .object({
    items: z.array(RequestLogEntry),
    nextCursor: z.string().nullable(),
    unreadEvents: z
      .int()
      .nullable()
      .describe(
        "The org's request events in the range (within its retention) the request log could not add " +
          '(parked): no entry shows them. Whatever the other filters. Null without `request.readAny`.',
      ),
  })
  .meta({ id: 'RequestLogEntryPage' });
const requestParams = entityParams('requestId');

/** The cursor: base64url of the last row's time (epoch ms) and log position. */
const encodeKey = (key: RequestLogKey) =>
  Buffer.from(`t${key.time}p${key.position}`, 'utf8').toString('base64url');

/** 9999-12-31T23:59:59.999Z: the last instant toISOString writes with a 4-digit year. */
const MAX_CURSOR_TIME = 253_402_300_799_999;

function decodeKey(cursor: string): RequestLogKey {
  const text = /^[A-Za-z0-9_-]{1,60}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const match = /^t(\d{1,15})p([1-9]\d{0,15})$/.exec(text);
  // Past year 9999 toISOString writes a +yyyyyy year, which PostgreSQL refuses (a 500).
  if (!match || Number(match[1]) > MAX_CURSOR_TIME) {
    throw new AdminError('validation_failed', 'the cursor is not one this API gave', {
      errors: [{ path: 'query.cursor', message: 'invalid cursor' }],
    });
  }
  return { time: Number(match[1]), position: Number(match[2]) };
}

function statusRange(status: string | undefined): { min: number; max: number } | undefined {
  if (status === undefined) return undefined;
  if (status.endsWith('xx')) {
    const min = Number(status[0]) * 100;
    return { min, max: min + 99 };
  }
  return { min: Number(status), max: Number(status) };
}

/**
 * Whose requests the principal may read: every one of the org with `request.readAny`, else
 * only a person's own. A machine token has no requests of its own.
 */
function ownUserOnly(principal: Principal): string | null {
  if (principal.rights.has('request.readAny')) return null;
  if (principal.kind === 'user') return principal.userId;
  throw new AdminError('forbidden', "reading the org's requests needs the permission request.readAny");
}

/**
 * The request log is read from the shared database, whichever process builds it
 * (KORDON_REQUEST_LOG): only when no process ever did is it missing.
 */
async function requestLogReady(ctx: {
  deps: { sql: { query: (text: string) => Promise<{ rows: unknown[] }> } };
}) {
  const { rows } = await ctx.deps.sql.query("SELECT to_regclass('kordon_request_log') IS NOT NULL AS ready");
  if (!(rows[0] as { ready?: boolean } | undefined)?.ready)
    throw new AdminError(
      'unavailable',
      'no Kordon process builds the request log (KORDON_REQUEST_LOG=in-process)',
    );
}

/**
 * The org's request events in the range the request log parked, within its retention: what
 * the log would show (past the policy's cutoff an entry is gone anyway).
 */
async function parkedRequestsShown(
  sql: SqlQueryable,
  orgId: string,
  from: string | undefined,
  to: string | undefined,
): Promise<number> {
  const cutoff = await retentionCutoff(sql, orgId);
  const notBefore =
    cutoff !== null && (from === undefined || Date.parse(cutoff) > Date.parse(from)) ? cutoff : from;
  return countParkedEvents(sql, {
    projection: REQUEST_LOG_PROJECTION,
    orgId,
    types: REQUEST_EVENT_TYPES,
    from: notBefore,
    to,
  });
}

export const requestRoutes = [
  route({
    operationId: 'listRequests',
    method: 'get',
    path: '/orgs/{org}/requests',
    tag: 'requests',
    summary: 'The request log: one entry per request, newest first, filtered and paged',
    description:
      'Filter by `team`, `user`, `proxyKey`, `provider`, `providerKey`, `model`, `status` (`429` or a class like `4xx`), `outcome` (`completed`, `failed`, `rejected`) and time range (`from` inclusive, `to` exclusive). Without `request.readAny` only your own requests are listed. `unreadEvents` (and the `X-Kordon-Unread-Events` header) counts the request events of the org in the range that the request log could not add (parked), for readers of every request. Pages follow `nextCursor` (keyset: stable while requests keep coming in). Logged text is on the single request only. Entries show no more than you may read elsewhere: without `providerKey.read` (developers) `providerKeyId` is null, without `team.read` (developers) `teamId` is null and so is the `scopeId` of a `limitScope` on a team; for such a reader the `providerKey` or `team` filter matches nothing (an id of the org finds no entry, as a made-up one does).',
    access: 'request.own',
    params: orgParams,
    query: requestQuery,
    responses: {
      200: {
        description: 'A page of requests',
        schema: RequestLogPage,
        headers: unreadEventsHeaderSpec(
          "`unreadEvents` (with `request.readAny`): the org's request events in the range the request log could not add.",
        ),
      },
    },
    handler: async (ctx): Promise<Reply> => {
      const org = orgOf(ctx);
      const q = ctx.query;
      await requestLogReady(ctx);
      const principal = principalOf(ctx);
      const own = ownUserOnly(principal);
      const reader = requestLogReader(principal.rights);
      if (own !== null && q.user !== undefined && q.user !== own) {
        throw new AdminError('forbidden', "reading others' requests needs the permission request.readAny");
      }
      if (q.from && q.to && Date.parse(q.from) >= Date.parse(q.to)) {
        throw new AdminError('validation_failed', '`from` must be before `to`', {
          errors: [{ path: 'query.to', message: 'must be after from' }],
        });
      }
      const limit = q.limit ?? DEFAULT_PAGE;
      const filter = {
        orgId: org.orgId,
        teamId: q.team,
        userId: own ?? q.user,
        proxyKeyId: q.proxyKey,
        provider: q.provider,
        providerKeyId: q.providerKey,
        model: q.model,
        status: statusRange(q.status),
        outcome: q.outcome,
        from: q.from,
        to: q.to,
      };
      const after = q.cursor === undefined ? undefined : decodeKey(q.cursor);
      // An id the entries withhold from the reader is not matchable either: no entry, as for a
      // made-up id (the cursor is still checked, so the answers are the same).
      const rows = filtersByWithheldId(reader, filter)
        ? []
        : await queryRequestLog(ctx.deps.sql, {
            ...filter,
            order: q.sort === 'time' ? 'asc' : 'desc',
            after,
            limit: limit + 1,
          });
      // Read after the page: an event parked since is counted, never one too few. Only for
      // readers of every request: whose an unreadable event was may be what could not be read.
      const unread = own === null ? await parkedRequestsShown(ctx.deps.sql, org.orgId, q.from, q.to) : null;
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return {
        status: 200,
        ...(unread === null ? {} : { headers: unreadEventsHeader(unread) }),
        body: {
          items: items.map((entry) => requestEntryFor(reader, entry)),
          nextCursor:
            rows.length > limit && last
              ? encodeKey({ time: Date.parse(last.time), position: last.position })
              : null,
          unreadEvents: unread,
        },
      };
    },
  }),
  route({
    operationId: 'getRequest',
    method: 'get',
    path: '/orgs/{org}/requests/{requestId}',
    tag: 'requests',
    summary: 'One request, with its logged (redacted) prompt and response when the org logs them',
    description:
      "Without `request.readAny` only your own requests are found (another person's is a 404, as a missing one is). As in the list, without `providerKey.read` `providerKeyId` is null, and without `team.read` `teamId` is null and so is the `scopeId` of a `limitScope` on a team.",
    access: 'request.own',
    params: requestParams,
    responses: { 200: { description: 'The request', schema: RequestLogDetail } },
    handler: async (ctx) => {
      const org = orgOf(ctx);
      await requestLogReady(ctx);
      const principal = principalOf(ctx);
      const own = ownUserOnly(principal);
      const found = await findRequest(ctx.deps.sql, org.orgId, ctx.params.requestId as string);
      // Another person's request is as absent to a developer as one that does not exist.
      if (!found || (own !== null && found.userId !== own)) throw notFound('request');
      return { status: 200, body: requestEntryFor(requestLogReader(principal.rights), found) };
    },
  }),
];
