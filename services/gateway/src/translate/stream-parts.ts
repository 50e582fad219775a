/**
 * The dialect-neutral pieces of a streamed answer. A parser turns each upstream event into
 * parts; an emitter turns parts into the caller's events. A stream translator is one of
 * each, so four translation directions need three parsers and two emitters.
 */
import type { NeutralFinishReason } from './finish-reasons.js';
import type { NormalisedUsage } from './usage.js';

/** Why an upstream stream cannot be trusted to be complete. */
export type StreamFailure =
  /**
   * The provider sent an error event (Anthropic `error`, an OpenAI or Gemini `{error}` frame).
   * `status`: the HTTP status the event names (Gemini's `code`), when it names one.
   * `answered`: the model did answer, and the answer failed (Gemini's MALFORMED_FUNCTION_CALL):
   * billed, and no failure of the key's, so no other key is asked for it.
   * `retryAfterMs`: the delay the event gives (Gemini's RetryInfo detail), as a status answer's.
   * `quotaModel`: the model whose own quota a rate limit is about (Gemini's QuotaFailure), as a
   * status answer's `ProviderErrorInfo.quotaModel`: the key rests for that model only.
   */
  | {
      kind: 'upstream_error';
      errorType: string;
      message: string;
      status?: number;
      answered?: true;
      retryAfterMs?: number;
      quotaModel?: string;
    }
  /** An event that does not have its dialect's shape: translating on would produce nonsense. */
  | { kind: 'malformed_event'; message: string };

export type StreamPart =
  /** The answer began; `usage` is what the provider said at that point (input tokens, usually). */
  | { type: 'start'; id: string; model: string; usage?: NormalisedUsage }
  /** An empty `text` (Claude's text block opening) says text began: nothing to show or count yet. */
  | { type: 'text'; choice: number; text: string }
  /** `toolIndex` counts the calls of one choice from 0, as OpenAI's tool_calls[].index does. */
  | { type: 'tool-call-start'; choice: number; toolIndex: number; id: string; name: string }
  | { type: 'tool-call-delta'; choice: number; toolIndex: number; argumentsDelta: string }
  /** `raw`: the provider's own word for it (Claude's `end_turn`), as a plain answer's span records it. */
  | { type: 'finish'; choice: number; reason: NeutralFinishReason; raw?: string }
  /** The provider's terminator arrived: the answer is complete. `usage` is the final count. */
  | { type: 'end'; usage?: NormalisedUsage }
  | { type: 'error'; failure: StreamFailure };

/**
 * The model's reasoning as it streams (Claude's thinking text, an OpenAI-dialect server's
 * `reasoning_content`). Providers bill it as output, so the translator counts it in what a
 * stream cut short is charged. Only the Anthropic emitter shows it, and only an OpenAI-dialect
 * answer's (as thinking blocks: the caller sends them back, DeepSeek needs them); OpenAI chunks
 * have no place for Claude's, and a same-dialect caller gets the provider's frames. An empty one
 * (a thinking block opening) only says the answer began: the OpenAI emitter's role chunk.
 */
export interface ReasoningPart {
  type: 'reasoning';
  choice: number;
  text: string;
}

/** What a parser reads of an event: parts to emit, and reasoning to count. */
export type ParsedPart = StreamPart | ReasoningPart;

export interface StreamParser {
  /** Parts for one upstream event: the parsed JSON of an SSE `data:` (or OpenAI's `[DONE]` string). */
  parse(event: unknown): ParsedPart[];
  /** What the provider has reported so far; undefined while it has reported nothing. */
  readonly usage: NormalisedUsage | undefined;
  /** The service tier the provider named (OpenAI's `service_tier`), for a usage Kordon counts. */
  readonly serviceTier?: string | undefined;
  /** Web searches seen run so far (Claude's results), for a stream cut before its usage counts them. */
  readonly webSearchesSeen?: number;
  /**
   * The provider may report usage after its terminator (Gemini 3 sends it on a chunk of its
   * own after the finishReason chunk): the caller's usage waits for the upstream body's end.
   */
  readonly usageAfterEnd?: boolean;
}

export interface StreamEmitter<Out> {
  emit(part: Exclude<StreamPart, { type: 'error' }>): Out[];
  /** The model's reasoning, for an emitter that shows it (Anthropic thinking blocks); else only counted. */
  emitReasoning?(part: ReasoningPart): Out[];
}

/** The event's `type`, or undefined when the event is not an object with a string type. */
export function eventType(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const type = (event as { type?: unknown }).type;
  return typeof type === 'string' ? type : undefined;
}

export function malformed(message: string): StreamPart {
  return { type: 'error', failure: { kind: 'malformed_event', message } };
}
