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

export class TranslationError extends Error {
  readonly code: TranslationErrorCode;
  /** Path of the offending field in the caller's request, e.g. `messages[2].content[0].image_url.url`. */
  readonly param: string;
  /** A request that cannot be translated never will be: sending it again changes nothing. */
  readonly isRetryable = false;
  override readonly cause?: unknown;

  constructor(code: TranslationErrorCode, param: string, message: string, options: { cause?: unknown } = {}) {
    super(message);
    this.name = 'TranslationError';
    this.code = code;
    this.param = param;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}
