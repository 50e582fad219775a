/**
 * What the gateway needs to know about a provider, as data and small functions: the
 * dialect it speaks, the operations it serves and where (built from configuration only),
 * how it authenticates, how it is asked for usage in streams, what its rate-limit headers
 * and error bodies mean, and (for providers outside the three dialects) how its wire format
 * maps to and from the OpenAI dialect. One adapter per provider, in its own folder; the
 * registry holds them by `ProviderId`.
 */
import { providerType } from '@kordon/events';
import type { CallerSignal } from '../upstream/caller-signal.js';
import type { HeaderBag } from '../upstream/headers.js';
import type { RateLimitInfo } from '../upstream/rate-limit-headers.js';
import type {
  UpstreamClient,
  UpstreamErrorResponse,
  UpstreamRequest,
  UpstreamTls,
} from '../upstream/upstream-client.js';
import type { ProviderErrorInfo } from '../upstream/upstream-error.js';
import type { UpstreamTarget } from '../upstream/upstream-target.js';

/** The provider types of the event catalogue (`ProviderConfigured.type`): one adapter each. */
export const PROVIDER_IDS = providerType.options;
export type ProviderId = (typeof PROVIDER_IDS)[number];

export function isProviderId(value: string): value is ProviderId {
  return (PROVIDER_IDS as readonly string[]).includes(value);
}

/** The wire dialects the translate layer speaks; every adapter speaks one of them to the gateway. */
export type Dialect = 'openai' | 'anthropic' | 'gemini';

/**
 * An upstream operation. Each names one wire format, so the body's shape follows from the
 * operation and the adapter's dialect:
 * - `chat`: OpenAI Chat Completions; `messages`: Anthropic Messages; `generate_content`:
 *   Gemini generateContent (streamGenerateContent when streamed);
 * - `embeddings`: OpenAI embeddings, or Gemini `batchEmbedContents`; `responses`: OpenAI
 *   Responses API; `responses_compact`: its compaction (`/responses/compact`, never streamed);
 * - `count_tokens`: Anthropic `messages/count_tokens`, Gemini `countTokens` or OpenAI's Responses
 *   `responses/input_tokens` (a Responses body);
 * - `models`: the provider's model list (GET).
 */
export type Operation =
  | 'chat'
  | 'messages'
  | 'generate_content'
  | 'embeddings'
  | 'count_tokens'
  | 'responses'
  | 'responses_compact'
  | 'models';

/** The operation that generates an answer in each dialect. */
export const GENERATE_OPERATION = {
  openai: 'chat',
  anthropic: 'messages',
  gemini: 'generate_content',
} as const satisfies Record<Dialect, Operation>;

/**
 * A provider key. The secret is revealed only where an auth header is built; the object
 * prints and serialises as its id, so it can travel through logs and errors safely.
 */
export interface ProviderKey {
  /** `ProviderKeyAdded.providerKeyId`: names caches (GigaChat tokens) and logs, never the secret. */
  readonly id: string;
  reveal(): string;
}

export function providerKey(id: string, secret: string): ProviderKey {
  const key = {
    id,
    reveal: () => secret,
    toJSON: () => ({ id }),
    toString: () => `ProviderKey(${id})`,
    [Symbol.for('nodejs.util.inspect.custom')]: () => `ProviderKey(${id})`,
  };
  return Object.freeze(key);
}

/** OpenAI-compatible vendors with known defaults (base URL, how they report stream usage). */
export const OPENAI_COMPATIBLE_VENDORS = [
  'mistral',
  'deepseek',
  'groq',
  'openrouter',
  'together',
  'vllm',
  'ollama',
  'generic',
] as const;
export type OpenAICompatibleVendor = (typeof OPENAI_COMPATIBLE_VENDORS)[number];

/**
 * A configured provider (one entry of `orgs[].providers[]`), as the admin wrote it. Nothing in
 * here comes from a request. Fields beyond `baseUrl` belong to one provider each.
 */
export interface ProviderConfig {
  /** Where the provider is; the adapter's public default when absent. */
  readonly baseUrl?: string | undefined;
  /**
   * Azure `api-version` (required on deployment URLs, optional on the v1 API), Anthropic
   * `anthropic-version`, Gemini `v1beta`/`v1`.
   */
  readonly apiVersion?: string | undefined;
  /** Azure: model name -> deployment name; a model not listed is used as the deployment name. */
  readonly deployments?: Readonly<Record<string, string>> | undefined;
  /** YandexGPT: the folder in `modelUri` and `x-folder-id`. */
  readonly folderId?: string | undefined;
  /**
   * How the key is sent: Azure `api-key` (default) or `bearer` (an Entra ID token);
   * YandexGPT `api-key` (`Api-Key`, default) or `bearer` (an IAM token).
   */
  readonly authScheme?: 'api-key' | 'bearer' | undefined;
  /** GigaChat: the OAuth token endpoint (default `https://ngw.devices.sberbank.ru:9443/api/v2/oauth`). */
  readonly oauthUrl?: string | undefined;
  /** GigaChat: the OAuth scope (default `GIGACHAT_API_PERS`). */
  readonly scope?: 'GIGACHAT_API_PERS' | 'GIGACHAT_API_B2B' | 'GIGACHAT_API_CORP' | undefined;
  /** OpenAI-compatible: which vendor, for its defaults (`generic` when absent). */
  readonly vendor?: OpenAICompatibleVendor | undefined;
  /** OpenAI: `OpenAI-Organization` and `OpenAI-Project` headers. */
  readonly organization?: string | undefined;
  readonly project?: string | undefined;
  /** Extra CA certificates (PEM) for the provider's hosts, e.g. the Russian NUC root for GigaChat. */
  readonly caCertificate?: string | undefined;
}

/** Where an OpenAI-dialect request gives its output limit. */
export type OutputLimitField = 'max_completion_tokens' | 'max_tokens';

/** How a provider reports usage in a streamed answer. */
export type StreamUsage =
  /** Only when asked with `stream_options.include_usage` (OpenAI and most compatible servers). */
  | 'stream_options'
  /** Always, unasked (Anthropic, Gemini, Mistral, OpenRouter, GigaChat, YandexGPT). */
  | 'always'
  /** Never: the gateway counts with a tokenizer. */
  | 'never';

/** How the body of a streamed answer is framed. */
export type StreamFraming = 'sse' | 'ndjson';

/** One operation to run upstream. */
export interface OperationRequest {
  readonly operation: Operation;
  /** The model as the route resolved it (`gpt-4o`, `yandexgpt/latest`); the adapter maps it. */
  readonly model: string;
  readonly stream: boolean;
  /** The body in the adapter's dialect, validated and translated by the gateway; none for GETs. */
  readonly body?: Readonly<Record<string, unknown>> | undefined;
  /**
   * The `anthropic-beta` features an Anthropic caller asked for (its header, checked), passed
   * on by the Anthropic adapter: Claude Code and the SDK's `betas` turn features on with it.
   */
  readonly anthropicBeta?: string | undefined;
  /**
   * The dialect the caller spoke, when the body was translated from it: an adapter that refuses
   * a field names the caller's (`stop_sequences`, not the `stop` it was translated to).
   */
  readonly callerDialect?: Exclude<Dialect, 'gemini'> | undefined;
}

/** A request ready for the upstream client, without its auth headers. */
export interface PreparedRequest {
  readonly target: UpstreamTarget;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
  /** Framing of a streamed answer; undefined when not streamed. */
  readonly framing: StreamFraming | undefined;
  readonly tls: UpstreamTls | undefined;
}

export interface AuthContext {
  readonly config: ProviderConfig;
  readonly key: ProviderKey;
  /** For adapters that exchange the key for a token (GigaChat). */
  readonly client: UpstreamClient;
  readonly signal?: CallerSignal | undefined;
  /** The call's limits: a token exchange it waits on counts against them (first byte, total). */
  readonly timeouts?: UpstreamRequest['timeouts'];
}

/** Auth headers, plus the secrets they hold (to be cut out of anything the answer echoes). */
export interface AuthHeaders {
  readonly headers: Readonly<Record<string, string>>;
  readonly secrets: readonly string[];
}

/**
 * Turns a provider's native stream events into events of the adapter's dialect, for
 * providers the translate layer does not speak (YandexGPT, GigaChat).
 */
export interface StreamEventMapper {
  /**
   * Dialect events for one native event (the parsed JSON of a frame, or its text if not JSON),
   * and `UsageReport`s: the provider's usage so far, for the translator and never the caller.
   */
  map(event: unknown): unknown[];
}

export interface ProviderAdapter {
  readonly id: ProviderId;
  /** Human name for logs and the admin UI. */
  readonly name: string;
  /** The dialect the gateway speaks with this adapter (requests in, answers and stream events out). */
  readonly dialect: Dialect;
  /** Every operation the adapter can serve; `supports` narrows it per configuration. */
  readonly operations: readonly Operation[];
  /** The public endpoint, when the provider has one. */
  readonly defaultBaseUrl: string | undefined;
  supports(operation: Operation, config: ProviderConfig): boolean;
  /** What is missing or wrong in a configuration, for a message at start; empty when fine. */
  configProblems(config: ProviderConfig): readonly string[];
  /** How this provider reports usage in streams; `prepare` already asks for it when needed. */
  streamUsage(config: ProviderConfig): StreamUsage;
  /**
   * OpenAI dialect: the field a request translated from another dialect gives its output
   * limit in. OpenAI's reasoning models refuse `max_tokens` (the default is
   * `max_completion_tokens`); many compatible servers know only `max_tokens`, and some
   * (Mistral) refuse a field they do not know.
   */
  outputLimitField?(config: ProviderConfig): OutputLimitField;
  /**
   * OpenAI dialect: the adapter maps `reasoning_effort` to a reasoning switch of its provider's
   * own (YandexGPT's reasoning mode), so a request translated from Anthropic's gives its
   * `thinking` and `output_config.effort` as an effort whatever the model is named
   * (`reasoningSwitch` of the translate layer's OpenAIRequestOptions).
   */
  readonly reasoningSwitch?: boolean;
  /**
   * The request for an operation: URL from the configuration (request data only through
   * the path guard), headers, and the body in the provider's wire format (`stream` set, usage
   * asked for). Throws an UpstreamError (`upstream_target_refused`) or a TranslationError.
   */
  prepare(request: OperationRequest, config: ProviderConfig): PreparedRequest;
  /** Auth headers for a call; async because some exchange the key for a token first. */
  authHeaders(context: AuthContext): Promise<AuthHeaders>;
  /**
   * After a 401: forget the credentials the call was refused with (`refused`: the auth headers
   * it sent), and only those, since concurrent calls may already hold their replacement. True
   * when a fresh attempt may succeed with other credentials (a token that expired early, or
   * one already refreshed by another call); the caller then retries once.
   */
  invalidateAuth?(context: AuthContext, refused: AuthHeaders): boolean;
  /** The provider's rate-limit headers, normalised; undefined when it sends none. */
  rateLimits(headers: HeaderBag, now: number): RateLimitInfo | undefined;
  /** An error answer, normalised: type, message, whether a retry may help, a delay from the body. */
  mapError(response: UpstreamErrorResponse): ProviderErrorInfo;
  /** A finished answer in the provider's wire format to the adapter's dialect (absent: the same). */
  mapResponse?(request: OperationRequest, body: unknown): unknown;
  /** A mapper for one streamed answer (absent: events pass as they are). */
  streamMapper?(request: OperationRequest): StreamEventMapper;
}
