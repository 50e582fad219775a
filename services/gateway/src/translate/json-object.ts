/** Tool arguments travel as JSON text in the OpenAI dialect and as objects elsewhere. */

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

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
