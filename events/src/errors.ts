/**
 * The one base error of Kordon. `code` says what happened in a way callers can switch on;
 * `isRetryable` says whether the same call may succeed later (store unreachable) or never
 * will (malformed event). Edges (HTTP handlers) translate codes into their own dialect.
 */
export type KordonErrorCode =
  | 'event_store_unavailable'
  | 'wrong_expected_version'
  | 'event_decode_failed'
  | 'event_invalid'
  | 'spool_full'
  | 'spool_corrupt'
  | 'config_invalid'
  | 'data_folder_in_use'
  | 'closed';

export class KordonError extends Error {
  readonly code: KordonErrorCode;
  readonly isRetryable: boolean;
  override readonly cause?: unknown;

  constructor(
    code: KordonErrorCode,
    message: string,
    options: { isRetryable?: boolean; cause?: unknown } = {},
  ) {
    super(message);
    this.name = 'KordonError';
    this.code = code;
    this.isRetryable = options.isRetryable ?? false;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

export class WrongExpectedVersionError extends KordonError {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersionDescription,
    readonly actual: number | null,
  ) {
    super(
      'wrong_expected_version',
      `stream ${streamId}: expected version ${String(expected)}, actual ${actual === null ? 'no stream' : actual}`,
    );
    this.name = 'WrongExpectedVersionError';
  }
}

type ExpectedVersionDescription = number | 'no-stream' | 'any' | 'stream-exists';

export class EventStoreUnavailableError extends KordonError {
  constructor(message: string, cause?: unknown) {
    super('event_store_unavailable', message, { isRetryable: true, cause });
    this.name = 'EventStoreUnavailableError';
  }
}

export function isKordonError(error: unknown, code?: KordonErrorCode): error is KordonError {
  return error instanceof KordonError && (code === undefined || error.code === code);
}
