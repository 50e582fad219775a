/**
 * Pieces of JSON's grammar for the anchored expressions that read common stream frames
 * without `JSON.parse` (openai-chunk-skim.ts, anthropic-event-skim.ts).
 */

/** A JSON string (RFC 8259 §7): no raw control character, only JSON's escapes. */
export const JSON_STRING = String.raw`"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"`;

/** A matched JSON string's value: escapes (rare in these fields) are decoded by JSON.parse itself. */
export function jsonStringValue(literal: string): string {
  return literal.includes('\\') ? (JSON.parse(literal) as string) : literal.slice(1, -1);
}
