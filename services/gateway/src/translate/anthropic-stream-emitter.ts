/** Emits Anthropic Messages stream events from neutral stream parts. */
import {
  type AnthropicStopReason,
  type AnthropicStreamEventOut,
  FOREIGN_REASONING_SIGNATURE,
} from './anthropic-messages-types.js';
import { anthropicStopReason } from './finish-reasons.js';
import type { ReasoningPart, StreamEmitter, StreamPart } from './stream-parts.js';
import { anthropicUsageOf, type NormalisedUsage } from './usage.js';

export interface AnthropicStreamOptions {
  /** The model name to show the caller; default: the one the provider reported. */
  model?: string;
  /** Tool names the provider was sent in place of the caller's (too long for it), to the caller's. */
  toolNames?: ReadonlyMap<string, string>;
  /**
   * Show the model's reasoning as thinking blocks, signed FOREIGN_REASONING_SIGNATURE (an
   * OpenAI-dialect answer's `reasoning_content`, which the caller sends back with its history).
   */
  thinkingBlocks?: boolean;
}

const NO_USAGE: NormalisedUsage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

type OpenBlock =
  | { index: number; kind: 'text' | 'thinking' }
  | { index: number; kind: 'tool_use'; toolIndex: number };

/**
 * A streamed call's argument JSON, judged by its first character that is not whitespace: `{`
 * streams live; anything else cannot be an object (a weaker model's `[1,2]`, `null`, prose),
 * which Anthropic's `input` must be, and is held, to be sent as `{}` when its block closes, as
 * the plain answer gives it (`neutralFromOpenAIResponse`). Whitespace alone is held undecided.
 */
interface StreamedArguments {
  verdict: 'undecided' | 'object' | 'not-object';
  held: string[];
}

/** A tool call that started while another call's block was open: sent whole once that one closes. */
interface HeldCall {
  id: string;
  name: string;
  argumentsDeltas: string[];
}

/**
 * Anthropic's event sequence: message_start, then for each content block a start, its
 * deltas and a stop, then message_delta (stop reason and usage) and message_stop. Only the
 * first choice is streamed (the dialect has one). Other providers report the final usage
 * only at the end, so message_start carries what is known then (often zero input tokens)
 * and message_delta the final counts, all four fields, as Anthropic's own message_delta
 * does; the Anthropic SDK takes those over the message_start values.
 *
 * OpenAI may interleave the argument deltas of parallel calls (index 0, 1, 0...), while an
 * Anthropic block takes no delta once the next one started. So the first call of a run streams
 * live, and calls that start while its block is open are held and sent whole after it closes
 * (at the finish, usually). OpenAI streams calls one after the other in practice: what the
 * later ones cost is arriving at once instead of fragment by fragment, not time to the end.
 */
export class AnthropicStreamEmitter implements StreamEmitter<AnthropicStreamEventOut> {
  readonly #options: AnthropicStreamOptions;
  #started = false;
  #open: OpenBlock | undefined;
  #nextBlockIndex = 0;
  readonly #blockByToolIndex = new Map<number, number>();
  /** By tool index: how its arguments stream (kept after its block closed, for a late delta). */
  readonly #arguments = new Map<number, StreamedArguments>();
  /** By tool index, in the order the calls started. */
  readonly #held = new Map<number, HeldCall>();
  #stopReason: AnthropicStopReason = 'end_turn';

  constructor(options: AnthropicStreamOptions = {}) {
    this.#options = options;
  }

  emitReasoning(part: ReasoningPart): AnthropicStreamEventOut[] {
    if (!this.#options.thinkingBlocks || part.choice !== 0) return [];
    const events = this.#started ? [] : this.#start('', '', undefined);
    if (this.#open?.kind !== 'thinking')
      events.push(...this.#openBlock({ type: 'thinking', thinking: '', signature: '' }));
    const index = this.#open?.index ?? 0;
    events.push({
      type: 'content_block_delta',
      index,
      delta: { type: 'thinking_delta', thinking: part.text },
    });
    return events;
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
        const name = this.#options.toolNames?.get(part.name) ?? part.name;
        if (this.#open?.kind === 'tool_use') {
          this.#held.set(part.toolIndex, { id: part.id, name, argumentsDeltas: [] });
          return [];
        }
        return this.#openToolBlock(part.toolIndex, part.id, name);
      }
      case 'tool-call-delta': {
        const open = this.#open;
        if (open?.kind !== 'tool_use' || open.toolIndex !== part.toolIndex) {
          const held = this.#held.get(part.toolIndex);
          if (held) {
            held.argumentsDeltas.push(part.argumentsDelta);
            return [];
          }
        }
        // A delta for a call whose block was closed (text came between) still names that block:
        // out of Anthropic's order, but the SDK appends by index, and dropping it would lose arguments.
        const index = this.#blockByToolIndex.get(part.toolIndex);
        const streamed = this.#arguments.get(part.toolIndex);
        if (index === undefined || streamed === undefined) return [];
        const json = this.#judged(streamed, part.argumentsDelta);
        return json === undefined ? [] : [jsonDelta(index, json)];
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
    block: { type: 'text'; text: '' } | { type: 'thinking'; thinking: ''; signature: '' },
  ): AnthropicStreamEventOut[] {
    const events = this.#closeBlock();
    const index = this.#nextBlockIndex++;
    this.#open = { index, kind: block.type };
    events.push({ type: 'content_block_start', index, content_block: block });
    return events;
  }

  #openToolBlock(toolIndex: number, id: string, name: string): AnthropicStreamEventOut[] {
    const events = this.#closeBlock();
    const index = this.#nextBlockIndex++;
    this.#open = { index, kind: 'tool_use', toolIndex };
    this.#blockByToolIndex.set(toolIndex, index);
    this.#arguments.set(toolIndex, { verdict: 'undecided', held: [] });
    events.push({
      type: 'content_block_start',
      index,
      content_block: { type: 'tool_use', id, name, input: {} },
    });
    return events;
  }

  /**
   * The JSON to send now for a delta of a call's arguments (`StreamedArguments`): the delta once
   * they are an object's, what was held with it when this delta shows they are; else nothing.
   */
  #judged(streamed: StreamedArguments, delta: string): string | undefined {
    if (streamed.verdict === 'object') return delta;
    streamed.held.push(delta);
    if (streamed.verdict === 'not-object') return undefined;
    const json = streamed.held.join('');
    const first = json.trimStart()[0];
    if (first === undefined) return undefined;
    streamed.held = [];
    if (first === '{') {
      streamed.verdict = 'object';
      return json;
    }
    streamed.verdict = 'not-object';
    return undefined;
  }

  /** Closes the open block, then sends the calls held while it was open, each whole. */
  #closeBlock(): AnthropicStreamEventOut[] {
    if (!this.#open) return [];
    const open = this.#open;
    const { index: closed, kind } = open;
    // A thinking block ends with its signature, as Claude's do (the SDK keeps it with the block).
    const events: AnthropicStreamEventOut[] =
      kind === 'thinking'
        ? [
            {
              type: 'content_block_delta',
              index: closed,
              delta: { type: 'signature_delta', signature: FOREIGN_REASONING_SIGNATURE },
            },
          ]
        : [];
    if (open.kind === 'tool_use') {
      const streamed = this.#arguments.get(open.toolIndex);
      // Arguments that cannot be an object: `{}`, as the plain answer's. Later deltas are dropped.
      if (streamed?.verdict === 'not-object') {
        events.push(jsonDelta(closed, '{}'));
        streamed.held = [];
      }
    }
    events.push({ type: 'content_block_stop', index: closed });
    this.#open = undefined;
    if (this.#held.size === 0) return events;
    for (const [toolIndex, call] of this.#held) {
      const index = this.#nextBlockIndex++;
      this.#blockByToolIndex.set(toolIndex, index);
      events.push({
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} },
      });
      // Whole, judged as a live call's arguments: those that cannot be an object as `{}`.
      const streamed: StreamedArguments = { verdict: 'undecided', held: [] };
      this.#arguments.set(toolIndex, streamed);
      const json = this.#judged(streamed, call.argumentsDeltas.join(''));
      if (json !== undefined) events.push(jsonDelta(index, json));
      else if (streamed.verdict === 'not-object') {
        events.push(jsonDelta(index, '{}'));
        streamed.held = [];
      }
      events.push({ type: 'content_block_stop', index });
    }
    this.#held.clear();
    return events;
  }
}

function jsonDelta(index: number, partialJson: string): AnthropicStreamEventOut {
  return {
    type: 'content_block_delta',
    index,
    delta: { type: 'input_json_delta', partial_json: partialJson },
  };
}
