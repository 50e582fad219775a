/** OpenAI's error body, `{ error: { message, type, param, code } }`, for each mock error. */
import type { DialectError } from './mock-server.js';
import type { JsonReply } from './wire.js';

const MISSING_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth " +
  "(i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the " +
  'API from your browser and are prompted for a username and password. You can obtain an API key from ' +
  'https://platform.openai.com/account/api-keys.';

export function wrongKeyMessage(key: string): string {
  const redacted = key.length > 8 ? `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}` : key;
  return `Incorrect API key provided: ${redacted}. You can find your API key at https://platform.openai.com/account/api-keys.`;
}

export interface OpenAIErrorShape {
  readonly status: number;
  readonly message: string;
  readonly type: string;
  readonly code: string | null;
}

function errorShape(error: DialectError): OpenAIErrorShape {
  switch (error.kind) {
    case 'unauthorized':
      return {
        status: 401,
        message: error.message ?? wrongKeyMessage('sk-revoked'),
        type: 'invalid_request_error',
        code: 'invalid_api_key',
      };
    case 'forbidden':
      return {
        status: 403,
        message: 'Country, region, or territory not supported',
        type: 'request_forbidden',
        code: 'unsupported_country_region_territory',
      };
    case 'rate-limit':
      return {
        status: 429,
        message: rateLimitMessage(error),
        type: error.limit ?? 'requests',
        code: 'rate_limit_exceeded',
      };
    case 'server-error':
      return {
        status: 500,
        message: 'The server had an error while processing your request. Sorry about that!',
        type: 'server_error',
        code: null,
      };
    case 'unavailable':
      return {
        status: 503,
        message: 'The server is overloaded or not ready yet.',
        type: 'server_error',
        code: null,
      };
    case 'overloaded':
      return {
        status: 503,
        message: 'The engine is currently overloaded, please try again later',
        type: 'server_error',
        code: null,
      };
    case 'context-overflow':
      return {
        status: 400,
        message:
          "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. " +
          'Please reduce the length of the messages.',
        type: 'invalid_request_error',
        code: 'context_length_exceeded',
      };
    case 'bad-request':
      return {
        status: 400,
        message: error.message ?? 'Invalid request.',
        type: 'invalid_request_error',
        code: null,
      };
    case 'not-found':
      return {
        status: 404,
        message: error.message ?? 'Not found.',
        type: 'invalid_request_error',
        code: null,
      };
    default: {
      const unknown: never = error.kind;
      throw new Error(`no OpenAI error for ${String(unknown)}`);
    }
  }
}

function rateLimitMessage(error: DialectError): string {
  const what = error.limit === 'tokens' ? 'tokens per min (TPM)' : 'requests per min (RPM)';
  const wait = error.retryAfterSeconds ?? 1;
  return `Rate limit reached for ${what}. Please try again in ${wait}s. Visit https://platform.openai.com/account/rate-limits to learn more.`;
}

export function openAIError(error: DialectError): JsonReply {
  return openAIErrorReply(errorShape(error));
}

export function openAIErrorReply(shape: OpenAIErrorShape, param: string | null = null): JsonReply {
  const { status, message, type, code } = shape;
  return { kind: 'json', status, body: { error: { message, type, param, code } } };
}

/** No Authorization header at all: the same 401, with no error code. */
export function missingKeyError(): JsonReply {
  return openAIErrorReply({
    status: 401,
    message: MISSING_KEY_MESSAGE,
    type: 'invalid_request_error',
    code: null,
  });
}
