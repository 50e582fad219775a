/**
 * A request that cannot be expressed in the dialect of the provider that will serve it
 * (`n: 3` for Claude, an audio part for Claude, tool arguments that are not JSON...).
 *
 * Its own class rather than a KordonError: the base error's code union belongs to the event
 * store, and these codes are request-validation codes. They are the ones OpenAI itself uses
 * for such 400s, so the edge can put `code` and `param` straight into an OpenAI error body,
 * or `message` into an Anthropic `invalid_request_error`.
 */
export type TranslationErrorCode =
  /** The field has no counterpart in the target dialect. */
  | 'unsupported_parameter'
  /** The field exists, but this value cannot be expressed (n > 1, a file_id, an audio part...). */
  | 'unsupported_value'
  /** The value is malformed (tool arguments that are not a JSON object, a broken data: URL). */
  | 'invalid_value';

/** Anthropic's `error.details` of a 400: the `error_code` its SDK tells refusals apart by. */
export interface AnthropicErrorDetails {
  readonly error_code: string;
  readonly [field: string]: unknown;
}

export class TranslationError extends Error {
  readonly code: TranslationErrorCode;
  /** Path of the offending field in the caller's request, e.g. `messages[2].content[0].image_url.url`. */
  readonly param: string;
  /** A request that cannot be translated never will be: sending it again changes nothing. */
  readonly isRetryable = false;
  override readonly cause?: unknown;
  /**
   * Anthropic's `error.details` for the refusal, when Claude itself says it with one (its
   * `error_code`), for callers of its dialect: the Anthropic SDK reads it to recover on its own
   * (a `thread_unsupported_request` makes its tool runner send the full conversation instead).
   */
  readonly anthropicDetails?: AnthropicErrorDetails;

  constructor(
    code: TranslationErrorCode,
    param: string,
    message: string,
    options: { cause?: unknown; anthropicDetails?: AnthropicErrorDetails } = {},
  ) {
    super(message);
    this.name = 'TranslationError';
    this.code = code;
    this.param = param;
    if (options.cause !== undefined) this.cause = options.cause;
    if (options.anthropicDetails !== undefined) this.anthropicDetails = options.anthropicDetails;
  }
}
