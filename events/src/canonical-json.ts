/**
 * JSON with object keys sorted: two values equal up to key order give the same text, so
 * "unchanged" can be told by comparing texts (a command that would write the same state
 * decides nothing).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}
