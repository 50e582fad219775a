/** Parses OpenAI chat.completion.chunk events (and the `[DONE]` terminator) into neutral stream parts. */
import { finishReasonFromOpenAI } from './finish-reasons.js';
import {
  type OpenAIChatChunk,
  openAIChatChunk,
  openAIFinishReason,
  openAIStreamError,
} from './openai-chat-types.js';
import { malformed, type ParsedPart, type StreamParser } from './stream-parts.js';
import { handCheckedOpenAIUsage, type NormalisedUsage, usageFromOpenAI, withServiceTier } from './usage.js';

/** The `data:` of OpenAI's last frame; pass it as is (it is not JSON). */
export const OPENAI_DONE = '[DONE]';

export interface OpenAIStreamParserOptions {
  /**
   * Whether the `service_tier` the chunks name prices the answer: true for OpenAI's own tiers
   * (the default: OpenAI and Azure OpenAI); false for a server whose tiers are priced its own
   * way (Groq's `flex` bills at its on-demand rates), whose answer is priced at standard rates.
   */
  serviceTierPriced?: boolean;
}

export class OpenAIStreamParser implements StreamParser {
  readonly #serviceTierPriced: boolean;
  #started = false;
  #usage: NormalisedUsage | undefined;
  /**
   * `${choice}:${index}` of the tool calls already opened: the neutral tool index and the id of
   * the call that index names now. Ollama streams every call of an answer as index 0, each whole
   * with its own id: a new id at an index is a new call, given the choice's next tool index.
   * Gemini's OpenAI-compatible endpoint gives no index: a call with a new id starts a call, one
   * without an id continues the call before (`${choice}:-`).
   */
  readonly #openedToolCalls = new Map<string, { toolIndex: number; id: string | undefined }>();
  /** The next tool index free in each choice. */
  readonly #nextToolIndex = new Map<number, number>();
  /** Choices that streamed a refusal, and choices that streamed content. */
  readonly #refused = new Set<number>();
  readonly #answered = new Set<number>();
  /** Choices that streamed a tool call: their `stop` (a forced call) reads as tool_calls. */
  readonly #calledTools = new Set<number>();

  #serviceTier: string | undefined;

  constructor(options: OpenAIStreamParserOptions = {}) {
    this.#serviceTierPriced = options.serviceTierPriced ?? true;
  }

  get usage(): NormalisedUsage | undefined {
    return withServiceTier(this.#usage, this.#serviceTier);
  }

  get serviceTier(): string | undefined {
    return this.#serviceTier;
  }

  parse(event: unknown): ParsedPart[] {
    if (event === OPENAI_DONE) return [{ type: 'end', ...(this.#usage ? { usage: this.#usage } : {}) }];
    // Every chunk names the tier that serves the answer (priority and flex bill at their rates).
    const tier = (event as { service_tier?: unknown } | null)?.service_tier;
    if (typeof tier === 'string' && this.#serviceTierPriced) this.#serviceTier = tier;
    const plain = plainChunk(event);
    // OpenRouter's mid-stream error is a chunk too (finish_reason `error`), with the error beside it.
    const failed = plain === undefined && (event as { error?: unknown } | null)?.error != null;
    const chunk = plain ? { success: true as const, data: plain } : openAIChatChunk.safeParse(event);
    if (failed || !chunk.success) {
      const error = openAIStreamError.safeParse(event);
      if (error.success) {
        const { type, code, message } = error.data.error;
        // A numeric code is the HTTP status the error stands for (vLLM, OpenRouter): a 503 or
        // 529 tells the caller's error event it was an overload.
        if (typeof code === 'number') {
          const failure = { kind: 'upstream_error' as const, errorType: type ?? 'error', message };
          return [{ type: 'error', failure: isHttpStatus(code) ? { ...failure, status: code } : failure }];
        }
        return [
          { type: 'error', failure: { kind: 'upstream_error', errorType: type ?? code ?? 'error', message } },
        ];
      }
      if (!chunk.success) return [malformed(`malformed OpenAI chunk: ${chunk.error.message}`)];
    }
    const { id, model, choices, usage } = chunk.data;
    const parts: ParsedPart[] = [];
    // Azure opens a stream with a chunk of the prompt's content-filter results only (no id, no
    // choices): the answer starts with the first chunk that names it.
    if (!this.#started && (id !== '' || choices.length > 0)) {
      this.#started = true;
      parts.push({ type: 'start', id, model });
    }
    for (const choice of choices) {
      const { delta, index } = choice;
      // Reasoning is counted (a stream cut before its usage is charged it), never shown across dialects.
      const reasoning = textOr(delta?.reasoning_content) || textOr(delta?.reasoning);
      if (reasoning) parts.push({ type: 'reasoning', choice: index, text: reasoning });
      if (delta?.content) {
        this.#answered.add(index);
        parts.push({ type: 'text', choice: index, text: delta.content });
      }
      // A refusal streams like text; the finish reason (content_filter) tells the caller what it was.
      if (delta?.refusal) {
        this.#refused.add(index);
        parts.push({ type: 'text', choice: index, text: delta.refusal });
      }
      for (const call of delta?.tool_calls ?? []) {
        // Nothing of a call (Gemini's thought signature alone, in `extra_content`): opening one
        // on it would take the next call's arguments under no name.
        if (!call.id && !call.function?.name && !call.function?.arguments) continue;
        const key = `${index}:${call.index ?? '-'}`;
        let opened = this.#openedToolCalls.get(key);
        if (opened === undefined || (call.id && opened.id !== undefined && call.id !== opened.id)) {
          const next = this.#nextToolIndex.get(index) ?? 0;
          // A server that numbers its calls gets its own numbers; a reused index the next free one.
          const toolIndex = opened === undefined && call.index != null ? Math.max(call.index, next) : next;
          this.#nextToolIndex.set(index, Math.max(next, toolIndex + 1));
          opened = { toolIndex, id: call.id ?? undefined };
          this.#openedToolCalls.set(key, opened);
          this.#calledTools.add(index);
          parts.push({
            type: 'tool-call-start',
            choice: index,
            toolIndex,
            id: call.id ?? `call_${id}_${toolIndex}`,
            name: call.function?.name ?? '',
          });
        }
        const argumentsDelta = call.function?.arguments;
        if (argumentsDelta)
          parts.push({ type: 'tool-call-delta', choice: index, toolIndex: opened.toolIndex, argumentsDelta });
      }
      if (choice.finish_reason) {
        const refusedOnly = this.#refused.has(index) && !this.#answered.has(index);
        const reason = refusedOnly
          ? 'content_filter'
          : finishReasonFromOpenAI(choice.finish_reason, this.#calledTools.has(index));
        parts.push({ type: 'finish', choice: index, reason, raw: choice.finish_reason });
      }
    }
    if (usage) this.#usage = usageFromOpenAI(usage);
    return parts;
  }
}

/**
 * Most chunks of a stream are text deltas, and each stream ends with a finish reason and a
 * usage chunk. Those are checked here by hand (the schema's work is ~2 µs a chunk, with many
 * chunks an answer): an object that passes is one the schema accepts, read the same way
 * (fast-paths.unit.test.ts). Anything else (tool calls, a refusal, a malformed chunk) goes
 * to the schema.
 */
export function plainChunk(event: unknown): OpenAIChatChunk | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const chunk = event as Record<string, unknown>;
  if (typeof chunk.id !== 'string' || typeof chunk.model !== 'string') return undefined;
  if (chunk.usage != null && handCheckedOpenAIUsage(chunk.usage) === undefined) return undefined;
  const choices = chunk.choices;
  if (!Array.isArray(choices)) return undefined;
  for (const choice of choices as unknown[]) {
    if (typeof choice !== 'object' || choice === null || Array.isArray(choice)) return undefined;
    const { index, delta, finish_reason } = choice as Record<string, unknown>;
    if (!Number.isSafeInteger(index)) return undefined;
    if (finish_reason != null && !FINISH_REASONS.has(finish_reason)) return undefined;
    if (delta == null) continue;
    if (typeof delta !== 'object' || Array.isArray(delta)) return undefined;
    const { content, refusal, tool_calls } = delta as Record<string, unknown>;
    if ((content != null && typeof content !== 'string') || refusal != null || tool_calls != null)
      return undefined;
  }
  return chunk as unknown as OpenAIChatChunk;
}

const FINISH_REASONS: ReadonlySet<unknown> = new Set(openAIFinishReason.options);

function isHttpStatus(code: number): boolean {
  return Number.isInteger(code) && code >= 100 && code <= 599;
}

function textOr(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
