/** Emits OpenAI chat.completion.chunk objects from neutral stream parts. */
import { openAIFinishReason } from './finish-reasons.js';
import type { OpenAIChatChunkOut, OpenAIChunkChoiceOut } from './openai-chat-types.js';
import type { ReasoningPart, StreamEmitter, StreamPart } from './stream-parts.js';
import { openAIUsageOf } from './usage.js';

export interface OpenAIStreamOptions {
  /** The caller's `stream_options.include_usage`: a last chunk with usage and no choices. */
  includeUsage: boolean;
  /** Unix seconds for every chunk's `created`. */
  created: number;
  /** The model name to show the caller; default: the one the provider reported. */
  model?: string;
}

/**
 * OpenAI's chunk sequence: a role chunk first (per choice), content or tool-call deltas,
 * a chunk with the finish reason, then (only when asked) a usage chunk with no choices.
 * With include_usage every other chunk carries `usage: null`, as OpenAI's do.
 *
 * The role chunk waits for the choice's first content, as OpenAI's own does, since its
 * `content` says which kind of answer it is: `''` before text, `null` (in the chunk of the first
 * tool call) when the answer opens with a call. The SDKs keep that value: an answer of tool
 * calls only opened with `content: ''` is `content: ''` to the `openai` SDK's
 * `finalChatCompletion()`, where the plain answer (and OpenAI) say `null`. Reasoning, which
 * these chunks do not show, opens the choice with `content: null` (text after it still reads
 * as text): the caller's stream begins when the model does, not after a long think.
 */
export class OpenAIStreamEmitter implements StreamEmitter<OpenAIChatChunkOut> {
  readonly #options: OpenAIStreamOptions;
  #id = '';
  #model = '';
  /**
   * By choice, what its role chunk said: `''` (text began), `null` (a tool call or reasoning
   * came first); no entry until the choice's first content.
   */
  readonly #opened = new Map<number, '' | null>();

  constructor(options: OpenAIStreamOptions) {
    this.#options = options;
  }

  emit(part: Exclude<StreamPart, { type: 'error' }>): OpenAIChatChunkOut[] {
    switch (part.type) {
      case 'start':
        this.#id = part.id;
        this.#model = this.#options.model ?? part.model;
        return [];
      case 'text':
        return this.#text(part.choice, part.text);
      case 'tool-call-start': {
        const call = {
          index: part.toolIndex,
          id: part.id,
          type: 'function' as const,
          function: { name: part.name, arguments: '' },
        };
        if (this.#opened.has(part.choice)) return [this.#chunk(part.choice, { tool_calls: [call] })];
        // OpenAI's first chunk of an answer that opens with a call: the role, no text, the call.
        this.#opened.set(part.choice, null);
        return [this.#chunk(part.choice, { role: 'assistant', content: null, tool_calls: [call] })];
      }
      case 'tool-call-delta':
        return [
          this.#chunk(part.choice, {
            tool_calls: [{ index: part.toolIndex, function: { arguments: part.argumentsDelta } }],
          }),
        ];
      case 'finish':
        // A choice that ends with no content (a blocked prompt): `null`, as its plain answer says.
        return [
          ...this.#open(part.choice, null),
          this.#chunk(part.choice, {}, openAIFinishReason(part.reason)),
        ];
      case 'end':
        if (!this.#options.includeUsage || !part.usage) return [];
        return [{ ...this.#envelope([]), usage: openAIUsageOf(part.usage) }];
      default: {
        const unknown: never = part;
        throw new Error(`unhandled stream part ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** Reasoning is not shown in OpenAI chunks, but it opens the choice: the caller's stream begins. */
  emitReasoning(part: ReasoningPart): OpenAIChatChunkOut[] {
    return this.#open(part.choice, null);
  }

  /**
   * Text, after the role chunk with `content: ''` when it is the choice's first content. An empty
   * text (Claude's text block opening) goes out only where it changes the caller's content: after
   * a role chunk that said `null`, the text is `''` from here on (as the plain answer's).
   */
  #text(choice: number, text: string): OpenAIChatChunkOut[] {
    const opened = this.#opened.get(choice);
    if (opened === undefined) {
      const role = this.#open(choice, '');
      return text === '' ? role : [...role, this.#chunk(choice, { content: text })];
    }
    if (text === '' && opened === '') return [];
    this.#opened.set(choice, '');
    return [this.#chunk(choice, { content: text })];
  }

  /** The role chunk of a choice, when nothing of it has gone out yet. */
  #open(choice: number, content: '' | null): OpenAIChatChunkOut[] {
    if (this.#opened.has(choice)) return [];
    this.#opened.set(choice, content);
    return [this.#chunk(choice, { role: 'assistant', content })];
  }

  #chunk(
    index: number,
    delta: OpenAIChunkChoiceOut['delta'],
    finishReason: OpenAIChunkChoiceOut['finish_reason'] = null,
  ): OpenAIChatChunkOut {
    return this.#envelope([{ index, delta, logprobs: null, finish_reason: finishReason }]);
  }

  #envelope(choices: OpenAIChunkChoiceOut[]): OpenAIChatChunkOut {
    const chunk: OpenAIChatChunkOut = {
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.#options.created,
      model: this.#model,
      choices,
    };
    if (this.#options.includeUsage) chunk.usage = null;
    return chunk;
  }
}
