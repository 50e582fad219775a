/** Emits Anthropic Messages stream events from neutral stream parts. */
import type { AnthropicStopReason, AnthropicStreamEventOut } from './anthropic-messages-types.js';
import { anthropicStopReason } from './finish-reasons.js';
import type { StreamEmitter, StreamPart } from './stream-parts.js';
import { anthropicUsageOf, type NormalisedUsage } from './usage.js';

export interface AnthropicStreamOptions {
  /** The model name to show the caller; default: the one the provider reported. */
  model?: string;
}

const NO_USAGE: NormalisedUsage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

type OpenBlock = { index: number; kind: 'text' } | { index: number; kind: 'tool_use' };

/**
 * Anthropic's event sequence: message_start, then for each content block a start, its
 * deltas and a stop, then message_delta (stop reason and usage) and message_stop. Only the
 * first choice is streamed (the dialect has one). Other providers report the final usage
 * only at the end, so message_start carries what is known then (often zero input tokens)
 * and message_delta the final counts, all four fields, as Anthropic's own message_delta
 * does; the Anthropic SDK takes those over the message_start values.
 */
export class AnthropicStreamEmitter implements StreamEmitter<AnthropicStreamEventOut> {
  readonly #options: AnthropicStreamOptions;
  #started = false;
  #open: OpenBlock | undefined;
  #nextBlockIndex = 0;
  readonly #blockByToolIndex = new Map<number, number>();
  #stopReason: AnthropicStopReason = 'end_turn';

  constructor(options: AnthropicStreamOptions = {}) {
    this.#options = options;
  }

  emit(part: Exclude<StreamPart, { type: 'error' }>): AnthropicStreamEventOut[] {
    if (part.type === 'start') return this.#start(part.id, part.model, part.usage);
    if ('choice' in part && part.choice !== 0) return [];
    switch (part.type) {
      case 'text': {
        const events: AnthropicStreamEventOut[] =
          this.#open?.kind === 'text' ? [] : this.#openBlock({ type: 'text', text: '' });
        const index = this.#open?.index ?? 0;
        events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: part.text } });
        return events;
      }
      case 'tool-call-start': {
        const events = this.#openBlock({ type: 'tool_use', id: part.id, name: part.name, input: {} });
        this.#blockByToolIndex.set(part.toolIndex, this.#open?.index ?? 0);
        return events;
      }
      case 'tool-call-delta': {
        // A delta for a call whose block was closed still names that block: the SDK appends by index.
        const index = this.#blockByToolIndex.get(part.toolIndex);
        if (index === undefined) return [];
        return [
          {
            type: 'content_block_delta',
            index,
            delta: { type: 'input_json_delta', partial_json: part.argumentsDelta },
          },
        ];
      }
      case 'finish':
        this.#stopReason = anthropicStopReason(part.reason);
        return this.#closeBlock();
      case 'end':
        return [
          ...(this.#started ? [] : this.#start('', '', undefined)),
          ...this.#closeBlock(),
          {
            type: 'message_delta',
            delta: { stop_reason: this.#stopReason, stop_sequence: null },
            usage: anthropicUsageOf(part.usage ?? NO_USAGE),
          },
          { type: 'message_stop' },
        ];
      default: {
        const unknown: never = part;
        throw new Error(`unhandled stream part ${JSON.stringify(unknown)}`);
      }
    }
  }

  #start(id: string, model: string, usage: NormalisedUsage | undefined): AnthropicStreamEventOut[] {
    if (this.#started) return [];
    this.#started = true;
    return [
      {
        type: 'message_start',
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model: this.#options.model ?? model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: anthropicUsageOf(usage ?? NO_USAGE),
        },
      },
    ];
  }

  #openBlock(
    block: Extract<AnthropicStreamEventOut, { type: 'content_block_start' }>['content_block'],
  ): AnthropicStreamEventOut[] {
    const events = this.#closeBlock();
    const index = this.#nextBlockIndex++;
    this.#open = { index, kind: block.type };
    events.push({ type: 'content_block_start', index, content_block: block });
    return events;
  }

  #closeBlock(): AnthropicStreamEventOut[] {
    if (!this.#open) return [];
    const { index } = this.#open;
    this.#open = undefined;
    return [{ type: 'content_block_stop', index }];
  }
}
