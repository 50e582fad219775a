/**
 * A stream translator: feed it the upstream events one by one, write what it returns to
 * the caller. Beside the translated events it keeps what the gateway needs when the stream
 * ends, cleanly or not: the usage reported so far (a caller that disconnects is still
 * charged), whether the provider's terminator arrived (a broken upstream is never reported
 * as complete), the failure that broke it, and the text produced (for counting tokens with
 * a tokenizer when the provider reported none; the model's reasoning is counted too, billed
 * as output whether the emitter shows it or not).
 */
import type { StreamEmitter, StreamFailure, StreamParser } from './stream-parts.js';
import { type NormalisedUsage, withServiceTier } from './usage.js';

/**
 * The provider's usage so far, reported beside its stream rather than in an event of its
 * dialect: YandexGPT's NDJSON lines each carry the running usage (hidden reasoning included),
 * which an OpenAI chunk has no place for before the end. A stream mapper puts one after the
 * events of each line; the translator takes it as what a stream cut there is charged, and it
 * reaches no caller (a writer that forwards events as they are skips it).
 */
export class UsageReport {
  constructor(readonly usage: NormalisedUsage) {}
}

export interface StreamTranslatorOptions {
  /**
   * Usage when the provider reported none by its terminator (the gateway counts it with a
   * tokenizer, from the output's text, reasoning included, and the prompt): for the final
   * events, and what `usage` then reports; also what a stream cut short is charged at least.
   */
  fallbackUsage?: (outputText: string) => NormalisedUsage | undefined;
}

/** What a stream said about its answer (for the span of the attempt). */
export interface StreamFacts {
  readonly finishReasons: readonly string[];
  readonly responseId?: string;
  readonly responseModel?: string;
}

export class StreamTranslator<Out> {
  readonly #parser: StreamParser;
  readonly #emitter: StreamEmitter<Out>;
  readonly #options: StreamTranslatorOptions;
  #finished = false;
  /** The terminator arrived, its events wait for `close()` (`usageAfterEnd`). */
  #endPending = false;
  /** The counted usage, when the stream ended without the provider's. */
  #countedUsage: NormalisedUsage | undefined;
  #failure: StreamFailure | undefined;
  /**
   * Text and tool-argument deltas by choice, then by block (the text, each tool call), kept by
   * reference and joined only if asked: choices interleaved in one text split what each says,
   * so redaction missed a key the model echoed with n > 1.
   */
  readonly #output = new Map<number, Map<string, string[]>>();
  /** Reasoning deltas: counted as output, never in `outputText()`; shown only by an emitter that shows it. */
  readonly #reasoning: string[] = [];
  /** A text, reasoning or tool-call part has come: the caller's time to first token ends here. */
  #content = false;
  /** The usage last reported beside the stream (a UsageReport), and the deltas streamed after it. */
  #report: NormalisedUsage | undefined;
  #sinceReport: string[] = [];
  /** What the stream said about itself, for the attempt's span. */
  readonly #facts: { finishReasons: string[]; responseId?: string; responseModel?: string } = {
    finishReasons: [],
  };

  constructor(parser: StreamParser, emitter: StreamEmitter<Out>, options: StreamTranslatorOptions = {}) {
    this.#parser = parser;
    this.#emitter = emitter;
    this.#options = options;
  }

  /**
   * Translates one upstream event: the parsed JSON of an SSE `data:` line (for OpenAI, the
   * string `[DONE]` as is). After a failure or the end nothing more is emitted, but late
   * events still update the usage: Gemini 3 reports its final usage on a chunk after the one
   * that finished (or failed) the answer, and that is what the request is charged.
   */
  push(event: unknown): Out[] {
    if (event instanceof UsageReport) {
      this.#report = event.usage;
      this.#sinceReport = [];
      return [];
    }
    const parts = this.#parser.parse(event);
    if (this.#failure || this.#finished) return [];
    const out: Out[] = [];
    for (const part of parts) {
      // The provider's own word, as a plain answer's span has it (the neutral one is the emitter's).
      if (part.type === 'finish') this.#facts.finishReasons.push(part.raw ?? part.reason);
      else if (part.type === 'start') {
        this.#facts.responseId = part.id;
        this.#facts.responseModel = part.model;
      }
      switch (part.type) {
        case 'error':
          this.#failure = part.failure;
          return out;
        case 'text':
          // An empty text (Claude's text block opening) is no content yet, nor output to count.
          if (part.text !== '') {
            this.#content = true;
            this.#keep(part.choice, 'text', part.text);
          }
          break;
        case 'tool-call-start':
          this.#content = true;
          break;
        case 'tool-call-delta':
          this.#content = true;
          this.#keep(part.choice, `tool ${part.toolIndex}`, part.argumentsDelta);
          break;
        case 'reasoning':
          // An empty one (a thinking block opening) only tells the emitter the answer began.
          if (part.text !== '') {
            this.#content = true;
            this.#reasoning.push(part.text);
            if (this.#report !== undefined) this.#sinceReport.push(part.text);
          }
          if (this.#emitter.emitReasoning) out.push(...this.#emitter.emitReasoning(part));
          continue;
        case 'end':
          this.#finished = true;
          if (this.#parser.usageAfterEnd) this.#endPending = true;
          else out.push(...this.#end(part.usage));
          return out;
        default:
          break;
      }
      out.push(...this.#emitter.emit(part));
    }
    return out;
  }

  /**
   * The caller's last events, for when the upstream body has ended: with a provider whose usage
   * may follow its terminator, the end (the usage chunk, message_delta) waits until now and
   * carries the usage last reported, as the request is charged.
   */
  close(): Out[] {
    if (!this.#endPending || this.#failure) return [];
    this.#endPending = false;
    return this.#end(this.#parser.usage);
  }

  #end(reported: NormalisedUsage | undefined): Out[] {
    if (!reported) this.#countedUsage = this.#counted();
    const usage = reported ?? this.#countedUsage;
    return this.#emitter.emit(usage ? { type: 'end', usage } : { type: 'end' });
  }

  /** True once the stream has carried content: text, reasoning or a tool call (not only its opening). */
  get content(): boolean {
    return this.#content;
  }

  /** True once the provider's terminator arrived and nothing failed before it. */
  get finished(): boolean {
    return this.#finished && this.#failure === undefined;
  }

  /** Why the stream broke, when the provider said so or sent something unreadable. */
  get failure(): StreamFailure | undefined {
    return this.#failure;
  }

  /**
   * What the provider has reported so far (a usage after the terminator included); once the
   * stream ended without one, the counted usage; undefined while there is neither.
   */
  get usage(): NormalisedUsage | undefined {
    return this.#parser.usage ?? this.#countedUsage;
  }

  /** True when the stream ended without the provider's usage: `usage` is the tokens counted here. */
  get usageCounted(): boolean {
    return this.#parser.usage === undefined && this.#countedUsage !== undefined;
  }

  /**
   * What the request is charged if the stream ends here, cleanly or not: the provider's usage,
   * else the tokens counted now from the prompt and the output so far. A stream cut before its
   * end is charged at least the output counted so far, reasoning included: Claude reports its
   * usage at the start (`output_tokens: 1`) and the output's count only at the end.
   *
   * Reasoning that was never streamed is taken as reported: Gemini 2.5's middle chunks report
   * the thoughts (never sent as text) and not yet the answer's tokens, so the output so far is
   * those thoughts plus the text counted. The larger of that and the reported output is charged,
   * so a provider whose reported output already runs with the text is not charged it twice.
   *
   * Web searches are the more of those reported and those seen run (Claude reports its count
   * only at the end, in its last message_delta).
   *
   * A usage reported beside the stream (UsageReport: YandexGPT's running usage, which counts the
   * text of the line it came with and the hidden reasoning) is the provider's own count of all
   * it made up to there, and is charged as it is, plus Kordon's count of what streamed after it:
   * the larger-of rule above would charge Kordon's tokenizer's count of that text instead wherever
   * it counts more than the provider that bills it.
   */
  usageSoFar(): NormalisedUsage | undefined {
    const usage = this.#tokensSoFar();
    const seen = this.#parser.webSearchesSeen ?? 0;
    return usage === undefined || seen <= (usage.webSearches ?? 0) ? usage : { ...usage, webSearches: seen };
  }

  #tokensSoFar(): NormalisedUsage | undefined {
    if (this.#report !== undefined && !this.finished) return this.#reportedAndAfter(this.#report);
    const reported = this.usage;
    if (reported === undefined) return this.#counted();
    if (this.finished) return reported;
    const counted = this.#counted();
    if (counted === undefined) return reported;
    const unstreamedReasoning = this.#reasoning.length === 0 ? (reported.reasoningTokens ?? 0) : 0;
    const outputSoFar = unstreamedReasoning + counted.outputTokens;
    return outputSoFar > reported.outputTokens ? { ...reported, outputTokens: outputSoFar } : reported;
  }

  /** A usage reported beside the stream, plus the output counted of what streamed after it. */
  #reportedAndAfter(report: NormalisedUsage): NormalisedUsage {
    if (this.#sinceReport.length === 0) return report;
    const after = this.#options.fallbackUsage?.(this.#sinceReport.join(''));
    return after === undefined
      ? report
      : { ...report, outputTokens: report.outputTokens + after.outputTokens };
  }

  /** Counted with the tokenizer, at the rates of the service tier the provider named. */
  #counted(): NormalisedUsage | undefined {
    const fallbackUsage = this.#options.fallbackUsage;
    if (fallbackUsage === undefined) return undefined;
    const text =
      this.#reasoning.length === 0 ? this.outputText() : this.#reasoning.join('') + this.outputText();
    return withServiceTier(fallbackUsage(text), this.#parser.serviceTier);
  }

  /** The answer's id and model and each choice's finish reason (the provider's words), as streamed so far. */
  get facts(): StreamFacts {
    return this.#facts;
  }

  /** The answer's text and tool arguments so far (not the reasoning), as the request log keeps it. */
  outputText(): string {
    // Choice by choice, a line between blocks, as `answerText` reads a finished answer.
    return [...this.#output.entries()]
      .sort(([a], [b]) => a - b)
      .flatMap(([, blocks]) => [...blocks.values()].map((deltas) => deltas.join('')))
      .join('\n');
  }

  #keep(choice: number, block: string, delta: string): void {
    if (this.#report !== undefined) this.#sinceReport.push(delta);
    let blocks = this.#output.get(choice);
    if (!blocks) {
      blocks = new Map();
      this.#output.set(choice, blocks);
    }
    const deltas = blocks.get(block);
    if (deltas) deltas.push(delta);
    else blocks.set(block, [delta]);
  }
}
