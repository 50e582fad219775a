/**
 * The admin API's one error. Deciders and handlers throw it with a `code`; only the HTTP
 * edge turns it into RFC 9457 problem+json (status and title come from the code).
 */
export type AdminErrorCode =
  | 'validation_failed'
  | 'malformed_json'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'concurrent_change'
  | 'precondition_failed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'not_allowed_for_you'
  | 'invalid_state'
  | 'too_many_attempts'
  | 'internal'
  | 'unavailable';

export const ERROR_STATUS: Readonly<Record<AdminErrorCode, { status: number; title: string }>> = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  malformed_json: { status: 400, title: 'The body is not valid JSON' },
  unauthenticated: { status: 401, title: 'Authentication is required' },
  forbidden: { status: 403, title: 'Your role does not allow this' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'It exists already' },
  concurrent_change: { status: 409, title: 'Changed concurrently: read it again and retry' },
  invalid_state: { status: 409, title: 'Not possible in its current state' },
  precondition_failed: { status: 412, title: 'It changed since the version you name (If-Match)' },
  payload_too_large: { status: 413, title: 'The body is too large' },
  unsupported_media_type: { status: 415, title: 'The body must be application/json' },
  not_allowed_for_you: { status: 403, title: 'This would give more than you hold' },
  too_many_attempts: { status: 429, title: 'Too many attempts' },
  internal: { status: 500, title: 'Internal error' },
  unavailable: { status: 503, title: 'Temporarily unavailable: retry later' },
};

export interface FieldProblem {
  /** Where: `body.limits.rpm`, `query.cursor`, `path.org`. */
  path: string;
  message: string;
}

export class AdminError extends Error {
  readonly code: AdminErrorCode;
  readonly isRetryable: boolean;
  readonly errors: FieldProblem[] | undefined;
  /** Extra response headers (Allow, Retry-After, WWW-Authenticate). */
  readonly headers: Record<string, string>;
  override readonly cause?: unknown;

  constructor(
    code: AdminErrorCode,
    detail: string,
    options: { errors?: FieldProblem[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(detail);
    this.name = 'AdminError';
    this.code = code;
    this.isRetryable = code === 'concurrent_change' || code === 'unavailable' || code === 'too_many_attempts';
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    if (options.cause !== undefined) this.cause = options.cause;
  }

  get status(): number {
    return ERROR_STATUS[this.code].status;
  }
}

export const notFound = (what: string) => new AdminError('not_found', `${what} not found`);
