/** Parses Gemini streamGenerateContent chunks into neutral stream parts. */
import { finishReasonFromGemini, geminiFailedCall } from './finish-reasons.js';
import { geminiToolCallId } from './gemini-tool-call-id.js';
import {
  geminiGenerateContentResponse,
  geminiStreamError,
  googleQuotaModel,
  googleRetryDelayMs,
} from './gemini-types.js';
import { isRecord } from './json-object.js';
import { malformed, type StreamFailure, type StreamParser, type StreamPart } from './stream-parts.js';
import { type NormalisedUsage, usageFromGemini } from './usage.js';

export interface GeminiStreamOptions {
  /** Id of the answer when Gemini gives no responseId (the gateway's request id, say). */
  fallbackId: string;
  /** The model the request was sent to, when Gemini gives no modelVersion. */
  requestedModel: string;
  /** Candidates asked for (candidateCount); the stream is complete when each has finished. Default 1. */
  choices?: number;
}

/**
 * Gemini has no end-of-stream event: the chunk that carries a candidate's finishReason is
 * its last, so the stream is complete once every candidate asked for has one. Usage comes
 * as a running total on every chunk; the last one seen counts, and may come after the end. Function calls arrive whole,
 * so each becomes a call start and one delta with all of its arguments. A candidate that ends
 * with a failed function call (MALFORMED_FUNCTION_CALL...) before any content is a failure:
 * the caller's stream ends with an error event rather than a clean, empty answer.
 */
export class GeminiStreamParser implements StreamParser {
  readonly #options: GeminiStreamOptions;
  #started = false;
  #ended = false;
  /** The answer's id as `start` gave it: the base of the call ids it makes. */
  #id = '';
  #usage: NormalisedUsage | undefined;
  #callPosition = 0;
  readonly #toolCallsByChoice = new Map<number, number>();
  readonly #choicesWithText = new Set<number>();
  readonly #finishedChoices = new Set<number>();
  /**
   * Gemini 3 sends the final usageMetadata on a chunk of its own after the finishReason chunk
   * (docker/docker-agent#2848, googleapis/go-genai#15): the caller's usage waits for the body's end.
   */
  readonly usageAfterEnd = true;

  constructor(options: GeminiStreamOptions) {
    this.#options = options;
  }

  get usage(): NormalisedUsage | undefined {
    return this.#usage;
  }

  parse(event: unknown): StreamPart[] {
    // An error object would pass the chunk schema (every field is optional), so it is told apart first.
    if (isRecord(event) && 'error' in event) {
      const error = geminiStreamError.safeParse(event);
      if (!error.success) return [malformed(`malformed Gemini error: ${error.error.message}`)];
      const { code, status, message, details } = error.data.error;
      // The code is the HTTP status (503 with UNAVAILABLE: overloaded), which the caller's error
      // event names; a 429's RetryInfo says how long the key rests, and its QuotaFailure for
      // which model, as in a status answer.
      const retryAfterMs = googleRetryDelayMs(details);
      const rateLimited = status === 'RESOURCE_EXHAUSTED' || (status === undefined && code === 429);
      const quotaModel = rateLimited ? googleQuotaModel(details) : undefined;
      const failure: StreamFailure = {
        kind: 'upstream_error',
        errorType: status ?? 'error',
        message,
        ...(code !== undefined && { status: code }),
        ...(retryAfterMs !== undefined && { retryAfterMs }),
        ...(quotaModel !== undefined && { quotaModel }),
      };
      return [{ type: 'error', failure }];
    }
    const chunk = geminiGenerateContentResponse.safeParse(event);
    if (!chunk.success) return [malformed(`malformed Gemini chunk: ${chunk.error.message}`)];
    const { candidates, usageMetadata, responseId, modelVersion, promptFeedback } = chunk.data;
    const usage = usageFromGemini(usageMetadata);
    if (usage) this.#usage = usage;
    const parts: StreamPart[] = [];
    if (!this.#started) {
      this.#started = true;
      this.#id = responseId ?? this.#options.fallbackId;
      parts.push({
        type: 'start',
        id: this.#id,
        model: modelVersion ?? this.#options.requestedModel,
        ...(usage ? { usage } : {}),
      });
    }
    (candidates ?? []).forEach((candidate, position) => {
      const choice = candidate.index ?? position;
      for (const part of candidate.content?.parts ?? []) {
        if (part.thought) continue;
        if (part.text) {
          parts.push({ type: 'text', choice, text: part.text });
          this.#choicesWithText.add(choice);
        }
        if (part.functionCall) {
          const toolIndex = this.#toolCallsByChoice.get(choice) ?? 0;
          this.#toolCallsByChoice.set(choice, toolIndex + 1);
          const { id, name, args } = part.functionCall;
          const callId = geminiToolCallId(this.#id, this.#callPosition++, id);
          parts.push({ type: 'tool-call-start', choice, toolIndex, id: callId, name });
          parts.push({
            type: 'tool-call-delta',
            choice,
            toolIndex,
            argumentsDelta: JSON.stringify(args ?? {}),
          });
        }
      }
      if (candidate.finishReason && !this.#finishedChoices.has(choice)) {
        this.#finishedChoices.add(choice);
        const madeToolCalls = (this.#toolCallsByChoice.get(choice) ?? 0) > 0;
        if (!madeToolCalls && !this.#choicesWithText.has(choice)) {
          const failed = geminiFailedCall(candidate.finishReason, candidate.finishMessage);
          if (failed !== undefined) {
            // The usage so far is settled, as for any broken stream; the caller gets an error event.
            parts.push({
              type: 'error',
              failure: {
                kind: 'upstream_error',
                errorType: candidate.finishReason,
                message: failed,
                answered: true,
              },
            });
            return;
          }
        }
        parts.push({
          type: 'finish',
          choice,
          reason: finishReasonFromGemini(candidate.finishReason, madeToolCalls),
          ...(typeof candidate.finishReason === 'string' && { raw: candidate.finishReason }),
        });
      }
    });
    const expected = this.#options.choices ?? 1;
    if (promptFeedback?.blockReason && (candidates ?? []).length === 0) {
      // The prompt itself was blocked: no candidate will come. Each choice ends filtered.
      for (let choice = 0; choice < expected; choice++) {
        if (this.#finishedChoices.has(choice)) continue;
        this.#finishedChoices.add(choice);
        parts.push({ type: 'finish', choice, reason: 'content_filter' });
      }
    }
    if (!this.#ended && this.#finishedChoices.size >= expected) {
      this.#ended = true;
      parts.push({ type: 'end', ...(this.#usage ? { usage: this.#usage } : {}) });
    }
    return parts;
  }
}
