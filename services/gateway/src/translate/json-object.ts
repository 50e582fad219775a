/** Tool arguments travel as JSON text in the OpenAI dialect and as objects elsewhere. */

import { TranslationError } from './translation-error.js';

/**
 * How deep a caller's JSON may nest: the request body (the edge refuses a deeper one) and the
 * JSON text inside it (an OpenAI tool call's arguments, parsed only when translated). A value
 * thousands of levels deep would overflow the stack of the JSON.stringify that sends it
 * upstream; real requests, tool schemas and arguments included, nest far less.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Parses tool-call arguments into the object Anthropic and Gemini expect. An empty string
 * (sent by some OpenAI-compatible servers for a call without arguments) is `{}`; anything
 * that is not a JSON object gives undefined, for the caller to report.
 */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isRecord(value) ? value : undefined;
}

/**
 * A caller's tool-call arguments (JSON text at `path` of its request), parsed as
 * parseJsonObject does. Arguments nested deeper than MAX_JSON_DEPTH are refused naming `path`,
 * as the edge refuses such a body: its depth check sees the text, not what it holds.
 */
export function parseToolCallArguments(text: string, path: string): Record<string, unknown> | undefined {
  const value = parseJsonObject(text);
  if (value !== undefined && nestsDeeperThan(value, MAX_JSON_DEPTH))
    throw new TranslationError(
      'invalid_value',
      path,
      `Tool call arguments must not be nested deeper than ${MAX_JSON_DEPTH} levels.`,
    );
  return value;
}

/**
 * Whether `value` (level 1; objects and arrays each add one) nests deeper than `limit`. The walk
 * stops at the limit, so it never overflows the stack itself.
 */
export function nestsDeeperThan(value: object, limit: number, depth = 1): boolean {
  if (depth > limit) return true;
  const items = value as Record<string, unknown>;
  for (const key in items) {
    const item = items[key];
    if (item !== null && typeof item === 'object' && nestsDeeperThan(item, limit, depth + 1)) return true;
  }
  return false;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
