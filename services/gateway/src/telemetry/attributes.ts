/**
 * Span attribute names and values, copied from the semantic conventions, and a unit test checks
 * them against `@opentelemetry/semantic-conventions` 1.45: the GenAI ones because they are still
 * incubating (the OpenTelemetry docs advise copying unstable names), the HTTP ones because the
 * package's ES module build would load beside the CommonJS copy `@opentelemetry/core` loads
 * (~0.7 MB of source, for eight strings). Kordon's own attributes are under `kordon.`: ids only,
 * never a secret, a prompt or an answer.
 */
import type { KordonEventData } from '@kordon/events';
import type { ProviderId } from '../providers/index.js';
import type { OpenAICompatibleVendor, Operation } from '../providers/provider-types.js';

export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const ATTR_HTTP_ROUTE = 'http.route';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_URL_PATH = 'url.path';
export const ATTR_URL_SCHEME = 'url.scheme';

export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
/** Deprecated for `gen_ai.provider.name` (semconv 1.37); still set, as many backends read only this one. */
export const ATTR_GEN_AI_SYSTEM = 'gen_ai.system';
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
export const ATTR_GEN_AI_REQUEST_STREAM = 'gen_ai.request.stream';
export const ATTR_GEN_AI_REQUEST_SEED = 'gen_ai.request.seed';
export const ATTR_GEN_AI_REQUEST_CHOICE_COUNT = 'gen_ai.request.choice.count';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
export const ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.cache_read.input_tokens';

export const ATTR_KORDON_REQUEST_ID = 'kordon.request_id';
export const ATTR_KORDON_ORG_ID = 'kordon.org_id';
export const ATTR_KORDON_PROXY_KEY_ID = 'kordon.proxy_key_id';
export const ATTR_KORDON_USER_ID = 'kordon.user_id';
export const ATTR_KORDON_TEAM_ID = 'kordon.team_id';
export const ATTR_KORDON_PROVIDER = 'kordon.provider';
export const ATTR_KORDON_PROVIDER_KEY_ID = 'kordon.provider_key_id';
export const ATTR_KORDON_ATTEMPT = 'kordon.attempt';
export const ATTR_KORDON_ATTEMPTS = 'kordon.attempts';
export const ATTR_KORDON_RETRY = 'kordon.retry';
export const ATTR_KORDON_FAILURE_KIND = 'kordon.failure_kind';
export const ATTR_KORDON_BALANCER_STRATEGY = 'kordon.balancer.strategy';
export const ATTR_KORDON_OUTCOME = 'kordon.outcome';
export const ATTR_KORDON_LIMIT_SCOPE = 'kordon.limit.scope';
export const ATTR_KORDON_COST = 'kordon.cost';
export const ATTR_KORDON_CURRENCY = 'kordon.currency';
export const ATTR_KORDON_STREAM_END = 'kordon.stream.end';
export const ATTR_KORDON_TIME_TO_FIRST_TOKEN_MS = 'kordon.time_to_first_token_ms';

/** The span event of a stream's first token, on `gateway.stream`. */
export const EVENT_FIRST_TOKEN = 'kordon.first_token';

/**
 * `gen_ai.provider.name` (and `gen_ai.system`) of each provider type: the well-known value
 * where the conventions have one, else the type itself (a custom value, as they allow).
 */
export const GEN_AI_PROVIDER_NAME = {
  openai: 'openai',
  anthropic: 'anthropic',
  gemini: 'gcp.gemini',
  'azure-openai': 'azure.ai.openai',
  'openai-compatible': 'openai-compatible',
  yandexgpt: 'yandexgpt',
  gigachat: 'gigachat',
} as const satisfies Record<ProviderId, string>;

/**
 * Whether a provider type's requests carry the caller's `seed` (`gen_ai.request.seed`, "if
 * applicable"): Claude, YandexGPT and GigaChat have none, and it is dropped for them.
 */
export const TAKES_SEED = {
  openai: true,
  anthropic: false,
  gemini: true,
  'azure-openai': true,
  'openai-compatible': true,
  yandexgpt: false,
  gigachat: false,
} as const satisfies Record<ProviderId, boolean>;

/**
 * `gen_ai.provider.name` of the OpenAI-compatible vendors the conventions name (semconv
 * 1.37+): a DeepSeek call is `deepseek` whichever dialect or client made it. Vendors the
 * conventions do not name (OpenRouter, Together, vLLM, Ollama, generic) keep the type.
 */
export const GEN_AI_PROVIDER_NAME_OF_VENDOR: Partial<Record<OpenAICompatibleVendor, string>> = {
  deepseek: 'deepseek',
  groq: 'groq',
  mistral: 'mistral_ai',
};

/** `gen_ai.provider.name` of a configured provider: its vendor's well-known value, else its type's. */
export function genAiProviderName(type: ProviderId, vendor: string | undefined): string {
  return (
    (vendor !== undefined && GEN_AI_PROVIDER_NAME_OF_VENDOR[vendor as OpenAICompatibleVendor]) ||
    GEN_AI_PROVIDER_NAME[type]
  );
}

/**
 * `gen_ai.operation.name` of each upstream operation. Chat-like APIs of every dialect are
 * `chat`; Gemini's generateContent has its own well-known value. Counting tokens and
 * listing models are not GenAI operations of the conventions: their own names.
 */
export const GEN_AI_OPERATION = {
  chat: 'chat',
  messages: 'chat',
  responses: 'chat',
  responses_compact: 'chat',
  generate_content: 'generate_content',
  embeddings: 'embeddings',
  count_tokens: 'count_tokens',
  models: 'models',
} as const satisfies Record<Operation, string>;

type Endpoint = KordonEventData<'RequestCompleted'>['endpoint'];

/** `gen_ai.operation.name` of each data-plane endpoint (the root span's). */
export const GEN_AI_OPERATION_OF_ENDPOINT = {
  'chat.completions': 'chat',
  completions: 'text_completion',
  messages: 'chat',
  responses: 'chat',
  // Compaction is a model call over the conversation, as a response is.
  'responses.compact': 'chat',
  embeddings: 'embeddings',
} as const satisfies Record<Endpoint, string>;
