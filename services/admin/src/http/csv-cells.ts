import { AdminError } from '../errors.js';

/**
 * csv-stringify's `cast` for the admin API's CSV exports (audit, spend): a cell starting with
 * = + - @, a tab or a carriage return is written as text (a leading `'`), never a formula, when
 * a spreadsheet opens the file (CSV injection).
 */
export const SPREADSHEET_SAFE_CAST = {
  string: (value: string) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value),
};

/**
 * `bom=true` asks for a UTF-8 byte order mark before a CSV export (Excel wants one to read
 * UTF-8); it means nothing without `format=csv`, so it is refused there rather than ignored.
 */
export function byteOrderMarkAsked(query: { format?: 'json' | 'csv'; bom?: 'true' | 'false' }): boolean {
  if (query.bom !== undefined && query.format !== 'csv') {
    throw new AdminError('validation_failed', '`bom` applies to a CSV export only (format=csv)', {
      errors: [{ path: 'query.bom', message: 'only with format=csv' }],
    });
  }
  return query.bom === 'true';
}

/**
 * On a report's answers (spend, audit), the events of the org its projection could not read
 * (`unreadEvents`): a CSV body is rows only, so an export says it here. Kordon's own headers
 * are `x-kordon-*` (the gateway's `x-kordon-session-id`).
 */
export const UNREAD_EVENTS_HEADER = 'X-Kordon-Unread-Events';
