/**
 * Failure modes a mock can play for one request. A scenario is a flat set of options so
 * that transport quirks combine (a slow first byte AND split frames AND no usage).
 */

/** Errors a mock answers with instead of a result, each in the provider's own shape. */
export type MockErrorKind =
  | 'unauthorized'
  | 'forbidden'
  | 'rate-limit'
  | 'server-error'
  | 'unavailable'
  | 'overloaded'
  /** A 400 saying the prompt is longer than the model's context, in the provider's words. */
  | 'context-overflow';

export interface Scenario {
  /** Answer with this error instead of a result. */
  readonly error?: MockErrorKind;
  /** Retry-After in seconds on an error answer (429 gets 1 when unset). */
  readonly retryAfterSeconds?: number;
  /**
   * The model whose own quota a 429 is about (Gemini: the QuotaFailure violation's
   * `quotaDimensions.model`); unset, the 429 names a project-wide quota.
   */
  readonly quotaModel?: string;
  /**
   * The error comes as the first `data:` frame of a 200 event stream, before any content, as
   * Gemini sends a 429 on `streamGenerateContent?alt=sse` (and OpenAI-style servers an error).
   */
  readonly errorInStream?: boolean;
  /** Wait this long before the status line: a slow first byte. */
  readonly firstByteDelayMs?: number;
  /** Reset the TCP connection after this many stream frames (a JSON body: after half of it). */
  readonly resetAfterFrames?: number;
  /** Send every frame in several TCP writes split at awkward byte boundaries. */
  readonly splitFrames?: boolean;
  /** Interleave SSE comment lines (`: ping`) between frames. */
  readonly keepAlive?: boolean;
  /** End the stream without its terminator (`[DONE]`, `message_stop`, Gemini's finishReason). */
  readonly omitTerminator?: boolean;
  /** Leave every usage figure out of the answer. */
  readonly omitUsage?: boolean;
}

/** Raised for a scenario text that names no known scenario. */
export class UnknownScenarioError extends Error {
  override readonly name = 'UnknownScenarioError';
}

type ScenarioName =
  | MockErrorKind
  | 'retry-after'
  | 'error-in-stream'
  | 'slow-first-byte'
  | 'reset-mid-stream'
  | 'split-frames'
  | 'keep-alive'
  | 'no-terminator'
  | 'no-usage';

/** Each name of the `x-mock-scenario` syntax and the options it sets; `value` is the `=N` part. */
const SCENARIO_NAMES = {
  unauthorized: () => ({ error: 'unauthorized' }),
  forbidden: () => ({ error: 'forbidden' }),
  'rate-limit': (value) => ({ error: 'rate-limit', retryAfterSeconds: value ?? 1 }),
  'server-error': () => ({ error: 'server-error' }),
  unavailable: () => ({ error: 'unavailable' }),
  overloaded: () => ({ error: 'overloaded' }),
  'context-overflow': () => ({ error: 'context-overflow' }),
  'retry-after': (value) => ({ retryAfterSeconds: value ?? 1 }),
  'error-in-stream': () => ({ errorInStream: true }),
  'slow-first-byte': (value) => ({ firstByteDelayMs: value ?? 1000 }),
  'reset-mid-stream': (value) => ({ resetAfterFrames: value ?? 2 }),
  'split-frames': () => ({ splitFrames: true }),
  'keep-alive': () => ({ keepAlive: true }),
  'no-terminator': () => ({ omitTerminator: true }),
  'no-usage': () => ({ omitUsage: true }),
} satisfies Record<ScenarioName, (value: number | undefined) => Scenario>;

function isScenarioName(name: string): name is ScenarioName {
  return Object.hasOwn(SCENARIO_NAMES, name);
}

/**
 * Parses the text form, a comma-separated list of names with an optional `=N`:
 * `rate-limit=2`, `slow-first-byte=300, split-frames, no-usage`.
 */
export function parseScenario(text: string): Scenario {
  let scenario: Scenario = {};
  for (const item of text.split(',')) {
    const [rawName = '', rawValue] = item.split('=').map((part) => part.trim());
    if (rawName === '') continue;
    if (!isScenarioName(rawName)) throw new UnknownScenarioError(`unknown mock scenario "${rawName}"`);
    scenario = { ...scenario, ...SCENARIO_NAMES[rawName](parseValue(rawName, rawValue)) };
  }
  return scenario;
}

function parseValue(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    throw new UnknownScenarioError(`mock scenario "${name}" needs a non-negative number, got "${raw}"`);
  }
  return value;
}

export function toScenario(input: Scenario | string): Scenario {
  return typeof input === 'string' ? parseScenario(input) : input;
}
