/*
 * `unreadEvents` on the answers of the reports built by SQL projections (spend, audit, request
 * log): the org's events the projection parked (`countParkedEvents`). A CSV body is rows only,
 * so an export says it in this header, and the JSON answers carry it too. Kordon's own headers
 * are `x-kordon-*` (the gateway's `x-kordon-session-id`).
 */
export const UNREAD_EVENTS_HEADER = 'X-Kordon-Unread-Events';

/** The header in a route's documented 200 answer. */
export const unreadEventsHeaderSpec = (description: string) => ({
  [UNREAD_EVENTS_HEADER]: { description, type: 'integer' as const },
});

/** The header on an answer. */
export const unreadEventsHeader = (count: number) => ({ [UNREAD_EVENTS_HEADER]: String(count) });
