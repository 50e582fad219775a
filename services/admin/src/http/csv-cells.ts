/**
 * csv-stringify's `cast` for the admin API's CSV exports (audit, spend): a cell starting with
 * = + - @, a tab or a carriage return is written as text (a leading `'`), never a formula, when
 * a spreadsheet opens the file (CSV injection).
 */
export const SPREADSHEET_SAFE_CAST = {
  string: (value: string) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value),
};
