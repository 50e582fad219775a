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

/** The shape of the ids `geminiToolCallId` makes up: `call_`, up to 24 of the answer id's characters, `_`, a position. */
const MADE_UP_ID = /^call_[A-Za-z0-9_-]{0,24}_\d+$/;

/**
 * The id a call of the history goes back to Gemini with: the caller's id as given (Gemini's
 * own, or another provider's when the conversation began elsewhere), but not one Kordon made up
 * for a call Gemini sent without an id, which Gemini never issued. The API reference has the
 * client populate FunctionResponse.id with its call's id; the same id goes on both.
 */
export function geminiCallIdToSend(id: string): string | undefined {
  return MADE_UP_ID.test(id) ? undefined : id;
}
