/** Parses OpenAI chat.completion.chunk events (and the `[DONE]` terminator) into neutral stream parts. */
import { finishReasonFromOpenAI } from './finish-reasons.js';
import { openAIChatChunk, openAIStreamError } from './openai-chat-types.js';
import { malformed, type StreamParser, type StreamPart } from './stream-parts.js';
import { type NormalisedUsage, usageFromOpenAI } from './usage.js';

/** The `data:` of OpenAI's last frame; pass it as is (it is not JSON). */
export const OPENAI_DONE = '[DONE]';

export class OpenAIStreamParser implements StreamParser {
  #started = false;
  #usage: NormalisedUsage | undefined;
  /** `${choice}:${index}` of the tool calls already opened. */
  readonly #openedToolCalls = new Set<string>();
  /** Choices that streamed a refusal, and choices that streamed content. */
  readonly #refused = new Set<number>();
  readonly #answered = new Set<number>();

  get usage(): NormalisedUsage | undefined {
    return this.#usage;
  }

  parse(event: unknown): StreamPart[] {
    if (event === OPENAI_DONE) return [{ type: 'end', ...(this.#usage ? { usage: this.#usage } : {}) }];
    const chunk = openAIChatChunk.safeParse(event);
    if (!chunk.success) {
      const error = openAIStreamError.safeParse(event);
      if (error.success) {
        const { type, code, message } = error.data.error;
        return [
          { type: 'error', failure: { kind: 'upstream_error', errorType: type ?? code ?? 'error', message } },
        ];
      }
      return [malformed(`malformed OpenAI chunk: ${chunk.error.message}`)];
    }
    const { id, model, choices, usage } = chunk.data;
    const parts: StreamPart[] = [];
    if (!this.#started) {
      this.#started = true;
      parts.push({ type: 'start', id, model });
    }
    for (const choice of choices) {
      const { delta, index } = choice;
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
        const key = `${index}:${call.index}`;
        if (!this.#openedToolCalls.has(key)) {
          this.#openedToolCalls.add(key);
          parts.push({
            type: 'tool-call-start',
            choice: index,
            toolIndex: call.index,
            id: call.id ?? `call_${id}_${call.index}`,
            name: call.function?.name ?? '',
          });
        }
        const argumentsDelta = call.function?.arguments;
        if (argumentsDelta)
          parts.push({ type: 'tool-call-delta', choice: index, toolIndex: call.index, argumentsDelta });
      }
      if (choice.finish_reason) {
        const refusedOnly = this.#refused.has(index) && !this.#answered.has(index);
        const reason = refusedOnly ? 'content_filter' : finishReasonFromOpenAI(choice.finish_reason);
        parts.push({ type: 'finish', choice: index, reason });
      }
    }
    if (usage) this.#usage = usageFromOpenAI(usage);
    return parts;
  }
}
