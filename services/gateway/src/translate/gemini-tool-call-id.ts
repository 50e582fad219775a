/**
 * Gemini usually sends function calls without an id, while OpenAI and Anthropic callers
 * need one to answer the call. The id is made from the answer's id (Gemini's responseId, else
 * the per-request fallback id) and the call's position, so the same response always gives the
 * same ids, ids differ between responses (Anthropic refuses a history whose tool_use ids
 * repeat), and they stay within OpenAI's 40-character limit and Anthropic's `[A-Za-z0-9_-]`
 * pattern (the conversation may later be served by either).
 */
export function geminiToolCallId(answerId: string, position: number, givenId?: string): string {
  if (givenId) return givenId;
  const base = answerId.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 24);
  return `call_${base}_${position}`;
}
