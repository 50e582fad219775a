/** Emits OpenAI chat.completion.chunk objects from neutral stream parts. */
import { openAIFinishReason } from './finish-reasons.js';
import type { OpenAIChatChunkOut, OpenAIChunkChoiceOut } from './openai-chat-types.js';
import type { StreamEmitter, StreamPart } from './stream-parts.js';
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
 */
export class OpenAIStreamEmitter implements StreamEmitter<OpenAIChatChunkOut> {
  readonly #options: OpenAIStreamOptions;
  #id = '';
  #model = '';
  readonly #roleSent = new Set<number>();

  constructor(options: OpenAIStreamOptions) {
    this.#options = options;
  }

  emit(part: Exclude<StreamPart, { type: 'error' }>): OpenAIChatChunkOut[] {
    switch (part.type) {
      case 'start':
        this.#id = part.id;
        this.#model = this.#options.model ?? part.model;
        return this.#withRole(0, []);
      case 'text':
        return this.#withRole(part.choice, [this.#chunk(part.choice, { content: part.text })]);
      case 'tool-call-start':
        return this.#withRole(part.choice, [
          this.#chunk(part.choice, {
            tool_calls: [
              {
                index: part.toolIndex,
                id: part.id,
                type: 'function',
                function: { name: part.name, arguments: '' },
              },
            ],
          }),
        ]);
      case 'tool-call-delta':
        return [
          this.#chunk(part.choice, {
            tool_calls: [{ index: part.toolIndex, function: { arguments: part.argumentsDelta } }],
          }),
        ];
      case 'finish':
        return this.#withRole(part.choice, [this.#chunk(part.choice, {}, openAIFinishReason(part.reason))]);
      case 'end':
        if (!this.#options.includeUsage || !part.usage) return [];
        return [{ ...this.#envelope([]), usage: openAIUsageOf(part.usage) }];
      default: {
        const unknown: never = part;
        throw new Error(`unhandled stream part ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** Puts the role chunk of a choice before its first other chunk. */
  #withRole(choice: number, chunks: OpenAIChatChunkOut[]): OpenAIChatChunkOut[] {
    if (this.#roleSent.has(choice)) return chunks;
    this.#roleSent.add(choice);
    return [this.#chunk(choice, { role: 'assistant', content: '' }), ...chunks];
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
