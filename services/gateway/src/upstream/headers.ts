/** Response headers as undici gives them: lower-case names, repeated headers as arrays. */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>;

/** The first value of a header, trimmed; undefined when absent or empty. */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const raw = headers[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** A header holding a non-negative number; undefined when absent or not a number. */
export function headerNumber(headers: HeaderBag, name: string): number | undefined {
  const value = headerValue(headers, name);
  if (value === undefined || !/^\d+(\.\d+)?$/.test(value)) return undefined;
  return Number(value);
}
