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
