/**
 * Why a model stopped, in each dialect, through one neutral set:
 * - `stop`: the model ended its answer (Anthropic end_turn, pause_turn; Gemini STOP).
 * - `stop_sequence`: a stop sequence matched (only Anthropic says so; OpenAI folds it into stop).
 * - `length`: the output limit or the context window was reached; also a Gemini answer left
 *   without content by a failed function call (see `geminiFailedCall`).
 * - `tool_calls`: the model wants tool results before it continues.
 * - `content_filter`: a safety system or the model itself refused or cut the answer.
 */
import type { AnthropicStopReason } from './anthropic-messages-types.js';
import type { OpenAIFinishReason, UpstreamFinishReason } from './openai-chat-types.js';

export type NeutralFinishReason = 'stop' | 'stop_sequence' | 'length' | 'tool_calls' | 'content_filter';

/** Unknown or missing reasons (added later by Anthropic) read as a normal end. */
export function finishReasonFromAnthropic(reason: string | null | undefined): NeutralFinishReason {
  switch (reason) {
    case 'stop_sequence':
      return 'stop_sequence';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop';
  }
}

/**
 * OpenAI says `stop` for an answer that made tool calls when the call was forced (a named
 * `tool_choice`), so, as for Gemini, whether calls were made decides between stop and
 * tool_calls: Claude says tool_use there, and an Anthropic caller's agent loop reads it. A
 * same-dialect OpenAI answer is forwarded as OpenAI sent it; this is read only to translate.
 * A vendor's answer cut short on its side (DeepSeek's `insufficient_system_resource`,
 * OpenRouter's `error`) is `length`, as a Gemini failed call is: the one standard reason that
 * claims neither a clean end nor a refusal; its text and usage (billed) stand. So is Mistral's
 * `model_length` (the context window reached, Anthropic's `model_context_window_exceeded`, which
 * Kordon also reads as `length`); Together's `eos` (end-of-sequence token) is a clean end.
 */
export function finishReasonFromOpenAI(
  reason: UpstreamFinishReason | null | undefined,
  madeToolCalls = false,
): NeutralFinishReason {
  switch (reason) {
    case 'length':
    case 'model_length':
    case 'insufficient_system_resource':
    case 'error':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    case 'stop':
    case 'eos':
      return madeToolCalls ? 'tool_calls' : 'stop';
    default:
      return 'stop';
  }
}

/**
 * Gemini finish reasons that mean a safety or policy system stopped the answer; LANGUAGE too
 * ("The response candidate content was flagged for using an unsupported language"): flagged,
 * not a natural end, and usually with no content left.
 */
const GEMINI_FILTERED = new Set([
  'SAFETY',
  'RECITATION',
  'LANGUAGE',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/** Gemini finish reasons that mean the model's function call failed (the docs' "invalid" call). */
const GEMINI_FAILED_CALL = new Set([
  'MALFORMED_FUNCTION_CALL',
  'UNEXPECTED_TOOL_CALL',
  'TOO_MANY_TOOL_CALLS',
]);

/**
 * The caller's message for a Gemini candidate that ended with a failed function call and no
 * content (Gemini says why in `finishMessage`); undefined for any other end. Read as a plain
 * stop, such an answer would look complete and empty, and an agent loop would end on it.
 */
export function geminiFailedCall(
  reason: string | undefined,
  finishMessage: string | undefined,
): string | undefined {
  if (reason === undefined || !GEMINI_FAILED_CALL.has(reason)) return undefined;
  return `Gemini ended the answer with ${reason}${finishMessage ? `: ${finishMessage}` : '.'}`;
}

/**
 * Gemini says STOP also when the answer is a function call, so whether calls were made
 * decides between stop and tool_calls. OTHER, unknown reasons, and a failed call after some
 * content, read as a normal end with whatever content came (a failed call with no content is
 * the translators' case, `geminiFailedCall`).
 */
export function finishReasonFromGemini(
  reason: string | undefined,
  madeToolCalls: boolean,
): NeutralFinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (reason !== undefined && GEMINI_FILTERED.has(reason)) return 'content_filter';
  return madeToolCalls ? 'tool_calls' : 'stop';
}

export function openAIFinishReason(reason: NeutralFinishReason): OpenAIFinishReason {
  return reason === 'stop_sequence' ? 'stop' : reason;
}

export function anthropicStopReason(reason: NeutralFinishReason): AnthropicStopReason {
  switch (reason) {
    case 'stop':
      return 'end_turn';
    case 'stop_sequence':
      return 'stop_sequence';
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default: {
      const unknown: never = reason;
      throw new Error(`unhandled finish reason ${String(unknown)}`);
    }
  }
}
