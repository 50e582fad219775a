/**
 * OpenAI-compatible servers: one adapter on the OpenAI base, with a preset per vendor for
 * what differs (public base URL, operations, how usage comes in streams). The vendor is the
 * configuration's `vendor` (`generic` when absent); the base URL may always be overridden.
 *
 * Stream usage per vendor: Mistral and OpenRouter always send it in the last chunk (Mistral
 * refuses unknown fields, so it is not asked, and a caller's `stream_options` is not passed
 * on); the others are asked with `stream_options.include_usage` (vLLM, Ollama, DeepSeek
 * document it; Groq and Together accept it). A same-dialect body otherwise goes as sent, but
 * for the fields a vendor names its own way (`vendorRequest`) and those by which it would serve
 * other models than the routed one (`modelChoiceRefusal`: OpenRouter's `models`), refused.
 * Error bodies come in OpenAI's shape or its variants (see openai-error.ts); a self-hosted
 * server's own 404 for a model it does not have is read as OpenAI's `model_not_found`
 * (`openAICompatibleErrorInfo`).
 */
import { createHash } from 'node:crypto';
import { TranslationError } from '../../translate/translation-error.js';
import { parseOpenAICompatibleRateLimits } from '../../upstream/rate-limit-headers.js';
import type { UpstreamErrorResponse } from '../../upstream/upstream-client.js';
import type { ProviderErrorInfo } from '../../upstream/upstream-error.js';
import { openAIErrorInfo } from '../openai/openai-error.js';
import {
  bearerAuth,
  type OpenAIOperation,
  type OpenAIStyleOptions,
  prepareOpenAIStyle,
} from '../openai/openai-provider.js';
import { baseUrlProblems, foreignOptionProblems } from '../provider-support.js';
import type {
  OpenAICompatibleVendor,
  Operation,
  OperationRequest,
  OutputLimitField,
  ProviderAdapter,
  ProviderConfig,
  StreamUsage,
} from '../provider-types.js';

export interface VendorPreset {
  readonly name: string;
  /** The vendor's public endpoint; none for self-hosted servers (a baseUrl is then required). */
  readonly defaultBaseUrl: string | undefined;
  readonly streamUsage: StreamUsage;
  /**
   * Where a request's output limit goes (`max_tokens` where the vendor does not document the
   * newer field): a translated request's, and a caller's `max_completion_tokens`.
   */
  readonly outputLimitField: OutputLimitField;
  readonly operations: readonly OpenAIOperation[];
  /** The vendor's name for OpenAI's embeddings `dimensions`, where it has another. */
  readonly embeddingDimensionsField?: string;
  /**
   * Request fields by which the vendor serves other models than `model` (a fallback list, a
   * saved configuration naming models): refused, see `modelChoiceRefusal`.
   */
  readonly modelChoiceFields?: readonly string[];
  /** OpenAI's chat fields the vendor names otherwise (OpenAI's name to the vendor's). */
  readonly chatFieldNames?: Readonly<Record<string, string>>;
  /**
   * OpenAI fields the vendor lacks and refuses, whose absence changes no answer (`user`, an
   * end-user id for OpenAI's abuse monitoring): dropped on every operation.
   */
  readonly droppedFields?: readonly string[];
  /**
   * Fields of the history's assistant messages the vendor refuses, whose absence changes no
   * answer: another model's reasoning (`reasoning_content`: DeepSeek's and vLLM's answers carry
   * it, and clients send it back), which the vendor does not read. Dropped from each message.
   */
  readonly droppedAssistantFields?: readonly string[];
  /**
   * OpenAI chat fields the vendor lacks and refuses whose loss would change the answer (logprobs,
   * audio, a web search), each with the reason given to the caller: refused, naming the field,
   * when they ask for something; dropped when they ask for nothing (`asksNothing`).
   */
  readonly refusedChatFields?: Readonly<Record<string, string>>;
  /**
   * The vendor's rules for the messages of a request translated from Anthropic's Messages,
   * which OpenAI does not have (see `anthropicTurns`).
   */
  readonly anthropicTurns?: {
    /** A last assistant message (Anthropic's prefill, which the answer continues) goes with `prefix: true`. */
    readonly prefillAsPrefix: boolean;
    /** No user message may follow a tool message: the turn's text and images go into its last tool message. */
    readonly noUserAfterTool: boolean;
  };
  /**
   * Each assistant tool-call turn of a request translated from Anthropic's Messages goes with
   * `reasoning_content`, empty where the history has no reasoning for it (DeepSeek: its thinking
   * mode refuses a tool-call turn without the field, 400 "The reasoning_content in the thinking
   * mode must be passed back to the API", and takes it empty; it answers some tool calls with no
   * reasoning, which leaves an Anthropic caller no thinking block to send back).
   */
  readonly toolCallReasoning?: boolean;
  /**
   * The vendor takes only tool call ids of 9 letters and digits (Mistral: 400 "Tool call id was
   * toolu_01... but must be a-z, A-Z, 0-9, with a length of 9"): others go as `vendorToolCallId`.
   */
  readonly nineCharToolCallIds?: boolean;
}

export const OPENAI_COMPATIBLE_PRESETS = {
  mistral: {
    name: 'Mistral',
    defaultBaseUrl: 'https://api.mistral.ai/v1',
    streamUsage: 'always',
    outputLimitField: 'max_tokens',
    operations: ['chat', 'embeddings', 'models'],
    // docs.mistral.ai/api/endpoint/embeddings: `output_dimension`; `dimensions` is a 422.
    embeddingDimensionsField: 'output_dimension',
    // docs.mistral.ai/api/endpoint/chat: the sampling seed is `random_seed`, and neither
    // endpoint has `user`; each unknown field is a 422 `extra_forbidden`. Its chat takes
    // `metadata`, `parallel_tool_calls`, `prediction`, `prompt_cache_key`, `reasoning_effort`
    // (client-python, ChatCompletionRequest): they go as sent.
    chatFieldNames: { seed: 'random_seed' },
    // OpenAI's storage, tiers, cache lifetime, end-user ids and GPT-5's length hint: what Mistral
    // answers is the same without them (as penalties are dropped where a model has none).
    droppedFields: [
      'user',
      'safety_identifier',
      'store',
      'service_tier',
      'prompt_cache_retention',
      'prompt_cache_options',
      'verbosity',
    ],
    refusedChatFields: {
      logit_bias: "Mistral has no logit_bias (and its tokens are not OpenAI's token ids)",
      logprobs: 'Mistral has no logprobs',
      top_logprobs: 'Mistral has no logprobs',
      modalities: 'Mistral does not produce audio',
      audio: 'Mistral does not produce audio',
      web_search_options:
        'Mistral chat completions have no web search; search before the request and send the results as text',
      functions: 'Mistral does not take the deprecated functions; use tools',
      function_call: 'Mistral does not take the deprecated function_call; use tool_choice',
      moderation: "Mistral does not moderate a chat completion's input and output on request",
    },
    // Mistral checks the order of roles: 400 "Expected last role User or Tool (or Assistant
    // with prefix True)" and "Unexpected role 'user' after role 'tool'" (code 3230).
    anthropicTurns: { prefillAsPrefix: true, noUserAfterTool: true },
    // 422 extra_forbidden at messages.N.assistant.reasoning_content.
    droppedAssistantFields: ['reasoning_content'],
    // Its own ids are 9 letters and digits, and it refuses any other in the history.
    nineCharToolCallIds: true,
  },
  deepseek: {
    name: 'DeepSeek',
    defaultBaseUrl: 'https://api.deepseek.com/v1',
    streamUsage: 'stream_options',
    outputLimitField: 'max_tokens',
    operations: ['chat', 'models'],
    toolCallReasoning: true,
  },
  groq: {
    name: 'Groq',
    defaultBaseUrl: 'https://api.groq.com/openai/v1',
    streamUsage: 'stream_options',
    outputLimitField: 'max_completion_tokens',
    operations: ['chat', 'models'],
    // 400 "'messages.1' : for 'role:assistant' ... property 'reasoning_content' is unsupported".
    droppedAssistantFields: ['reasoning_content'],
  },
  openrouter: {
    name: 'OpenRouter',
    defaultBaseUrl: 'https://openrouter.ai/api/v1',
    streamUsage: 'always',
    outputLimitField: 'max_tokens',
    operations: ['chat', 'models'],
    // openrouter.ai/docs/guides/routing/model-fallbacks: `models` is tried in order when the
    // primary model errors (a context too long will do), billed at the model that answered;
    // `route: "fallback"` has OpenRouter pick the fallback; a preset (`preset`) may name models.
    modelChoiceFields: ['models', 'route', 'preset'],
  },
  together: {
    name: 'Together AI',
    defaultBaseUrl: 'https://api.together.xyz/v1',
    streamUsage: 'stream_options',
    outputLimitField: 'max_tokens',
    operations: ['chat', 'embeddings', 'models'],
  },
  vllm: {
    name: 'vLLM',
    defaultBaseUrl: undefined,
    streamUsage: 'stream_options',
    outputLimitField: 'max_tokens',
    operations: ['chat', 'embeddings', 'models', 'responses'],
  },
  ollama: {
    name: 'Ollama',
    defaultBaseUrl: 'http://localhost:11434/v1',
    streamUsage: 'stream_options',
    outputLimitField: 'max_tokens',
    operations: ['chat', 'embeddings', 'models'],
  },
  generic: {
    name: 'OpenAI-compatible',
    defaultBaseUrl: undefined,
    streamUsage: 'stream_options',
    outputLimitField: 'max_tokens',
    operations: ['chat', 'embeddings', 'models'],
  },
} as const satisfies Record<OpenAICompatibleVendor, VendorPreset>;

export function vendorPreset(config: ProviderConfig): VendorPreset {
  return OPENAI_COMPATIBLE_PRESETS[config.vendor ?? 'generic'];
}

/**
 * The refusal of a request field by which the vendor would serve other models than the one
 * routed (OpenRouter's `models`), undefined when the request has none. Which model a caller
 * reaches with the org's key is for routing and the model lists to say: the vendor would
 * answer with a model they never allowed, priced at its own rates, while the request's event
 * names the routed one. A null field asks for nothing and goes as sent.
 */
export function modelChoiceRefusal(
  preset: VendorPreset,
  body: Readonly<Record<string, unknown>>,
): TranslationError | undefined {
  const field = preset.modelChoiceFields?.find((name) => body[name] !== undefined && body[name] !== null);
  if (field === undefined) return undefined;
  return new TranslationError(
    'unsupported_parameter',
    field,
    `\`${field}\` is not passed on to ${preset.name}: ${preset.name} would answer with another model than \`model\`, which your key's model lists may not allow. Name one model in \`model\`; for failover, Kordon's fallback chain tries each provider configured for that model in turn`,
  );
}

/**
 * Whether a value of an OpenAI field the vendor lacks asks for nothing (null, false, an empty
 * list, text-only `modalities`, no token biases): dropping it then changes no answer. An empty
 * `web_search_options` asks for a search.
 */
function asksNothing(field: string, value: unknown): boolean {
  if (value === null || value === false) return true;
  if (Array.isArray(value))
    return field === 'modalities' ? value.every((modality) => modality === 'text') : value.length === 0;
  return field === 'logit_bias' && typeof value === 'object' && Object.keys(value).length === 0;
}

/**
 * The request with the OpenAI fields the vendor names or takes otherwise (the same request
 * when there are none): a caller's body is forwarded as sent, and a vendor that refuses
 * unknown fields (Mistral: 422 `extra_forbidden`) would refuse these.
 * - chat: `stream_options` is dropped where usage comes unasked (the gateway still shows the
 *   usage chunk only to callers that asked); `max_completion_tokens` goes as `max_tokens`
 *   where that is the vendor's output-limit field (the newer field wins when both are sent).
 * - chat: fields the vendor names otherwise go under its name (Mistral's `random_seed`).
 * - embeddings: `dimensions` goes as the vendor's field (Mistral's `output_dimension`).
 * - any: fields the vendor lacks and refuses, whose absence changes no answer, are dropped
 *   (`user`, `store`, `service_tier`... for Mistral); so are such fields of the history's
 *   assistant messages (another model's `reasoning_content`, for Mistral and Groq).
 * - chat: fields the vendor lacks whose loss would change the answer are refused, naming the
 *   field, when they ask for something (`logprobs: true` for Mistral), else dropped.
 * - any: a field by which the vendor would serve another model is refused (`modelChoiceRefusal`).
 * - chat translated from Anthropic: messages in the order the vendor takes (`anthropicTurns`: Mistral).
 * - chat translated from Anthropic: `reasoning_content` on each tool-call turn
 *   (`toolCallReasoning`: DeepSeek).
 * - chat: tool call ids the vendor refuses as it takes them (`vendorToolCallId`: Mistral), so a
 *   conversation begun on another model goes on.
 */
export function vendorRequest(request: OperationRequest, preset: VendorPreset): OperationRequest {
  const body = request.body;
  if (body === undefined) return request;
  // Refused before admission already (route-model.ts); here too, so that no path sends them.
  const modelChoice = modelChoiceRefusal(preset, body);
  if (modelChoice) throw modelChoice;
  let shaped: Record<string, unknown> | undefined;
  const edit = (): Record<string, unknown> => {
    shaped ??= { ...body };
    return shaped;
  };
  for (const field of preset.droppedFields ?? []) if (field in body) delete edit()[field];
  if (request.operation === 'chat') {
    for (const field in preset.refusedChatFields)
      if (field in body) {
        if (!asksNothing(field, body[field]))
          throw new TranslationError(
            field === 'modalities' ? 'unsupported_value' : 'unsupported_parameter',
            field,
            `\`${field}\` cannot be sent to ${preset.name}: ${preset.refusedChatFields[field]}`,
          );
        delete edit()[field];
      }
    if (preset.streamUsage === 'always' && 'stream_options' in body) delete edit().stream_options;
    if (preset.outputLimitField === 'max_tokens' && 'max_completion_tokens' in body) {
      const out = edit();
      // A null limit is no limit: the caller's `max_tokens`, if any, stands.
      if (out.max_completion_tokens != null) out.max_tokens = out.max_completion_tokens;
      delete out.max_completion_tokens;
    }
    for (const [openAIName, vendorName] of Object.entries(preset.chatFieldNames ?? {}))
      if (openAIName in body) {
        const out = edit();
        // The vendor's own field, when the caller sent it too, wins.
        if (out[vendorName] === undefined) out[vendorName] = out[openAIName];
        delete out[openAIName];
      }
  }
  const turns = preset.anthropicTurns;
  if (request.operation === 'chat' && request.callerDialect === 'anthropic' && turns !== undefined) {
    const messages = anthropicTurns(body.messages, turns);
    if (messages !== body.messages) edit().messages = messages;
  }
  if (request.operation === 'chat' && request.callerDialect === 'anthropic' && preset.toolCallReasoning) {
    const current = (shaped ?? body).messages;
    const messages = withToolCallReasoning(current);
    if (messages !== current) edit().messages = messages;
  }
  const assistantFields = preset.droppedAssistantFields;
  if (request.operation === 'chat' && assistantFields !== undefined) {
    const current = (shaped ?? body).messages;
    const messages = withoutAssistantFields(current, assistantFields);
    if (messages !== current) edit().messages = messages;
  }
  if (request.operation === 'chat' && preset.nineCharToolCallIds === true) {
    const current = (shaped ?? body).messages;
    const messages = withNineCharToolCallIds(current);
    if (messages !== current) edit().messages = messages;
  }
  const dimensionsField = preset.embeddingDimensionsField;
  if (request.operation === 'embeddings' && dimensionsField !== undefined && 'dimensions' in body) {
    const out = edit();
    out[dimensionsField] = out.dimensions;
    delete out.dimensions;
  }
  return shaped === undefined ? request : { ...request, body: shaped };
}

type ChatMessage = Readonly<Record<string, unknown>> & {
  readonly role?: unknown;
  readonly content?: unknown;
};
type ContentPart = Readonly<Record<string, unknown>>;

/**
 * The messages of a request translated from Anthropic's Messages as the vendor takes them (the
 * same array when nothing changes). A same-dialect body is the caller's to shape, and goes as sent.
 * - A last assistant message is Anthropic's prefill: Mistral takes it only marked `prefix: true`
 *   (docs.mistral.ai, AssistantMessage.prefix: "force the model to start its answer by the
 *   content of the message"). Mistral's answer is reported to start with the prefix again
 *   (SillyTavern#2557; vercel/ai#3256 cuts it off the answer), which is not done here.
 * - An Anthropic user turn holding tool results and then text (Claude Code adds a
 *   `<system-reminder>` to most) or images is written as tool messages and a user message after
 *   them, which Mistral refuses. That user message's content goes into the last tool message
 *   instead, whose content Mistral takes as text or chunks (text, image_url) alike: the results
 *   and the text stay one turn. Bridging with an assistant message instead would put words the
 *   model never said into the history, which it would read as having answered the results.
 */
function anthropicTurns(messages: unknown, turns: NonNullable<VendorPreset['anthropicTurns']>): unknown {
  if (!Array.isArray(messages)) return messages;
  const out: ChatMessage[] = [];
  let changed = false;
  for (const message of messages as ChatMessage[]) {
    const previous = out.at(-1);
    if (turns.noUserAfterTool && message.role === 'user' && previous?.role === 'tool') {
      out[out.length - 1] = { ...previous, content: joinedContent(previous.content, message.content) };
      changed = true;
    } else out.push(message);
  }
  const last = out.at(-1);
  if (turns.prefillAsPrefix && last?.role === 'assistant' && last.prefix !== true) {
    out[out.length - 1] = { ...last, prefix: true };
    changed = true;
  }
  return changed ? out : messages;
}

const NINE_CHAR_ID = /^[a-zA-Z0-9]{9}$/;
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A tool call id as a vendor taking only 9 letters and digits takes it: such an id as it is,
 * any other (Claude's `toolu_01...`, OpenAI's `call_...`, of a conversation begun on another
 * model) as 9 base-62 characters of its sha256, the same for the same id, in the assistant's
 * `tool_calls` and in the tool message answering it alike.
 */
export function vendorToolCallId(id: string): string {
  if (NINE_CHAR_ID.test(id)) return id;
  const digest = createHash('sha256').update(id).digest();
  let out = '';
  for (let i = 0; i < 9; i++) out += BASE62[(digest[i] ?? 0) % BASE62.length];
  return out;
}

/** The messages with each tool call id as `vendorToolCallId` gives it (the same array when all fit). */
function withNineCharToolCallIds(messages: unknown): unknown {
  if (!Array.isArray(messages)) return messages;
  let changed = false;
  const out = (messages as ChatMessage[]).map((message): ChatMessage => {
    if (message === null || typeof message !== 'object') return message;
    let next = message;
    if (typeof message.tool_call_id === 'string' && !NINE_CHAR_ID.test(message.tool_call_id))
      next = { ...next, tool_call_id: vendorToolCallId(message.tool_call_id) };
    if (Array.isArray(message.tool_calls)) {
      const calls = (message.tool_calls as unknown[]).map((call) => {
        if (call === null || typeof call !== 'object') return call;
        const { id } = call as { id?: unknown };
        return typeof id === 'string' && !NINE_CHAR_ID.test(id)
          ? { ...call, id: vendorToolCallId(id) }
          : call;
      });
      if (calls.some((call, i) => call !== (message.tool_calls as unknown[])[i]))
        next = { ...next, tool_calls: calls };
    }
    if (next !== message) changed = true;
    return next;
  });
  return changed ? out : messages;
}

/** The messages with `reasoning_content` on each tool-call turn, empty where it had none. */
function withToolCallReasoning(messages: unknown): unknown {
  if (!Array.isArray(messages)) return messages;
  let changed = false;
  const out = (messages as ChatMessage[]).map((message): ChatMessage => {
    if (message === null || typeof message !== 'object' || message.role !== 'assistant') return message;
    const calls = message.tool_calls;
    if (!Array.isArray(calls) || calls.length === 0 || typeof message.reasoning_content === 'string')
      return message;
    changed = true;
    return { ...message, reasoning_content: '' };
  });
  return changed ? out : messages;
}

/** The messages without those fields in assistant messages (the same array when none has them). */
function withoutAssistantFields(messages: unknown, fields: readonly string[]): unknown {
  if (!Array.isArray(messages)) return messages;
  let changed = false;
  const out = (messages as ChatMessage[]).map((message): ChatMessage => {
    if (message === null || typeof message !== 'object' || message.role !== 'assistant') return message;
    if (!fields.some((field) => field in message)) return message;
    changed = true;
    const kept = { ...message };
    for (const field of fields) delete kept[field];
    return kept;
  });
  return changed ? out : messages;
}

/** Two message contents (text, or a list of parts) as one: text joined by a blank line, else parts. */
function joinedContent(first: unknown, second: unknown): unknown {
  if (typeof first === 'string' && typeof second === 'string')
    return first === '' ? second : `${first}\n\n${second}`;
  return [...contentParts(first), ...contentParts(second)];
}

function contentParts(content: unknown): ContentPart[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return Array.isArray(content) ? (content as ContentPart[]) : [];
}

function styleOptions(preset: VendorPreset): OpenAIStyleOptions {
  return {
    name: preset.name,
    defaultBaseUrl: preset.defaultBaseUrl,
    streamUsage: preset.streamUsage,
    supported: preset.operations,
  };
}

/** Presets turned into request options once, not per call. */
const STYLE_OPTIONS: Record<OpenAICompatibleVendor, OpenAIStyleOptions> = {
  mistral: styleOptions(OPENAI_COMPATIBLE_PRESETS.mistral),
  deepseek: styleOptions(OPENAI_COMPATIBLE_PRESETS.deepseek),
  groq: styleOptions(OPENAI_COMPATIBLE_PRESETS.groq),
  openrouter: styleOptions(OPENAI_COMPATIBLE_PRESETS.openrouter),
  together: styleOptions(OPENAI_COMPATIBLE_PRESETS.together),
  vllm: styleOptions(OPENAI_COMPATIBLE_PRESETS.vllm),
  ollama: styleOptions(OPENAI_COMPATIBLE_PRESETS.ollama),
  generic: styleOptions(OPENAI_COMPATIBLE_PRESETS.generic),
};

/**
 * The 404s by which a self-hosted server says it does not have the model asked for, each in its
 * own words where OpenAI says `model_not_found`:
 * - vLLM (vllm/entrypoints/openai/serving_engine.py, `_check_model`): "The model `x` does not
 *   exist." (type NotFoundError, code 404);
 * - Ollama (server/routes.go, through its OpenAI endpoint's `NewError`): "model 'x' not found",
 *   and "model \"x\" not found, try pulling it first" once the scheduler looked for it (older
 *   versions say the latter with single quotes).
 * Matched on the message whatever the vendor (a vLLM or Ollama server may be configured as
 * `generic`); only a 404, so that no other refusal is taken for a missing model.
 */
const SERVER_LACKS_MODEL =
  /^(?:The model `[^`]*` does not exist\.?|model (?:"[^"]*"|'[^']*') not found(?:, try pulling it first)?)$/;

/**
 * The 400s (or 404s) by which a hosted vendor says it does not serve the model asked for, in
 * its own words (Groq and Together's 404 say OpenAI's `model_not_found`, read as OpenAI's):
 * - Mistral: 400 `{"object":"error","message":"Invalid model: x","type":"invalid_model",
 *   "code":"1500"}`;
 * - DeepSeek: 400 `{"error":{"message":"Model Not Exist","type":"invalid_request_error",
 *   "code":"invalid_request_error"}}`;
 * - OpenRouter: 400 `{"error":{"message":"x is not a valid model ID","code":400}}`;
 * - Together: 400 code `model_not_available`, "Unable to access non-serverless model x…" (the
 *   model runs only on a dedicated endpoint, which this key does not reach).
 * Matched whatever the vendor preset (a vendor may be configured as `generic`), only on a 400
 * or 404, on the vendor's type, code or whole message, so that no other refusal is taken for it.
 */
function vendorLacksModel(info: ProviderErrorInfo): boolean {
  return (
    info.openAIType === 'invalid_model' ||
    info.code === 'model_not_available' ||
    VENDOR_LACKS_MODEL.test(info.message)
  );
}

const VENDOR_LACKS_MODEL = /^(?:Invalid model: \S*|Model Not Exist|\S+ is not a valid model ID)$/;

/**
 * OpenAI's error mapping, with a server's own word for a model it does not have (a self-hosted
 * server's 404, a hosted vendor's 400) read as OpenAI's model_not_found (`modelNotServed`): the
 * next provider of the model's chain may have it, and the key is neither faulted nor credited.
 * OpenAI's own adapter keeps `openAIErrorInfo`.
 */
export function openAICompatibleErrorInfo(response: UpstreamErrorResponse): ProviderErrorInfo {
  const info = openAIErrorInfo(response);
  if (info.modelNotServed) return info;
  const lacks =
    (response.status === 404 && SERVER_LACKS_MODEL.test(info.message)) ||
    ((response.status === 400 || response.status === 404) && vendorLacksModel(info));
  return lacks ? { ...info, modelNotServed: true } : info;
}

export const openAICompatibleProvider = {
  id: 'openai-compatible',
  name: 'OpenAI-compatible',
  dialect: 'openai',
  operations: ['chat', 'embeddings', 'models', 'responses'],
  defaultBaseUrl: undefined,
  supports: (operation: Operation, config: ProviderConfig) =>
    (vendorPreset(config).operations as readonly Operation[]).includes(operation),
  configProblems: (config) => [
    ...baseUrlProblems(vendorPreset(config), config),
    ...foreignOptionProblems('OpenAI-compatible', config, ['vendor']),
  ],
  streamUsage: (config) => vendorPreset(config).streamUsage,
  outputLimitField: (config) => vendorPreset(config).outputLimitField,
  prepare: (request, config) =>
    prepareOpenAIStyle(
      vendorRequest(request, vendorPreset(config)),
      config,
      STYLE_OPTIONS[config.vendor ?? 'generic'],
    ),
  // Self-hosted servers often run without a key; an empty secret sends no header.
  authHeaders: async ({ key }) => {
    const secret = key.reveal();
    return secret === '' ? { headers: {}, secrets: [] } : bearerAuth(secret);
  },
  rateLimits: (headers) => parseOpenAICompatibleRateLimits(headers),
  mapError: openAICompatibleErrorInfo,
} satisfies ProviderAdapter;
