/**
 * A Responses request naming a `conversation` (OpenAI's Conversations API): the conversation
 * lives in the project that created it, and a key of another project answers 404 "Conversation
 * with id ... not found". generate.ts pins the conversation to the key that served it (as a
 * stored answer is, key-choice.ts) and, before any key served it, asks the keys in turn.
 */
import type { UpstreamError } from '../upstream/upstream-error.js';

/** Longest conversation id remembered: OpenAI's are ~50 characters; longer ones go unpinned. */
const MAX_CONVERSATION_ID_LENGTH = 256;

/** The conversation a Responses body names (`"conv_..."` or `{ "id": "conv_..." }`), if any. */
export function namedConversation(body: Record<string, unknown>): string | undefined {
  const named = body.conversation;
  const id = typeof named === 'object' && named !== null ? (named as { id?: unknown }).id : named;
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_CONVERSATION_ID_LENGTH ? id : undefined;
}

/**
 * The session a conversation's key is pinned under. Keyed by org, as storedResponseSession:
 * another org naming the id (ids are not secret) never finds the pin.
 */
export function conversationSession(orgId: string, conversationId: string): string {
  return `conversation:${orgId}:${conversationId}`;
}

const NOT_FOUND = /\bconversation\b.*\bnot found\b/i;

/**
 * The key's project has no such conversation (OpenAI's 404, `param: "conversation"`): another
 * project's key may. Not any other refusal naming the field (with `previous_response_id` too).
 */
export function conversationNotFound(error: UpstreamError): boolean {
  const provider = error.provider;
  if (provider === undefined || (error.status !== 404 && error.status !== 400)) return false;
  return NOT_FOUND.test(provider.message);
}
