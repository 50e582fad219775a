/**
 * OpenAI mock: Chat Completions (plain and streamed, tool calls, include_usage),
 * Embeddings, Models, and the Responses API with its stored responses and compaction (in
 * openai-responses.ts);
 * chat completions made with `store: true` are kept and served (in openai-chat-stored.ts).
 * Point the SDK at it with `baseURL: `${mock.url}/v1``.
 */
import { z } from 'zod';
import {
  type Answer,
  answerFor,
  type Conversation,
  countTokens,
  embeddingFor,
  type LastTurn,
  splitIntoParts,
  splitWords,
  type ToolSpec,
} from './answers.js';
import {
  type AuthRequest,
  type AuthResult,
  type Dialect,
  type Exchange,
  type MockServer,
  type MockServerOptions,
  startMockServer,
} from './mock-server.js';
import { chatContent, contentText, servedTier, serviceTierRequest } from './openai-api-types.js';
import {
  handleStoredChatCompletion,
  isStoredChatCompletionCall,
  storeChatCompletion,
} from './openai-chat-stored.js';
import { missingKeyError, openAIError, openAIErrorReply, wrongKeyMessage } from './openai-error.js';
import {
  handleCompact,
  handleCreateConversation,
  handleInputTokens,
  handleResponses,
  handleStoredResponse,
  isStoredResponsePath,
} from './openai-responses.js';
import { toolOrderError } from './openai-tool-order.js';
import type { QuotaSnapshot } from './quota.js';
import { SSE_CONTENT_TYPE, sseComment, sseFrame } from './sse.js';
import { parseRequest } from './validate.js';
import type { JsonReply, Reply, StreamFrame } from './wire.js';

export interface OpenAIMockOptions extends MockServerOptions {
  /** Ids listed by GET /v1/models. */
  readonly models?: readonly string[];
}

export const DEFAULT_OPENAI_MODELS = [
  'gpt-5.5',
  'gpt-5.4-mini',
  'gpt-4o',
  'gpt-4o-mini',
  'gpt-4.1',
  'o3-mini',
  'text-embedding-3-small',
  'text-embedding-3-large',
];

export function startOpenAIMock(options: OpenAIMockOptions): Promise<MockServer> {
  return startMockServer(openAIDialect(options.models ?? DEFAULT_OPENAI_MODELS), options);
}

// --- request schemas: only the fields the mock uses -------------------------------------

const namedFunction = z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) });
const namedCustom = z.object({ type: z.literal('custom'), custom: z.object({ name: z.string() }) });
/**
 * The API's tool_choice forms: a mode, a function or custom tool named, or `allowed_tools`
 * (only those tools may be called, `auto` or `required`); another shape is a 400.
 */
const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.discriminatedUnion('type', [
    namedFunction,
    namedCustom,
    z.object({
      type: z.literal('allowed_tools'),
      allowed_tools: z.object({
        mode: z.enum(['auto', 'required']),
        tools: z.array(z.discriminatedUnion('type', [namedFunction, namedCustom])),
      }),
    }),
  ]),
]);

const chatRequest = z.object({
  model: z.string(),
  messages: z.array(z.object({ role: z.string(), content: chatContent })).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  tools: z
    .array(
      z.object({
        type: z.string(),
        function: z.object({ name: z.string(), parameters: z.unknown().optional() }).optional(),
      }),
    )
    .optional(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  max_tokens: z.number().int().nullish(),
  max_completion_tokens: z.number().int().nullish(),
  service_tier: serviceTierRequest,
  store: z.boolean().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
});
type ChatRequest = z.infer<typeof chatRequest>;

const embeddingsRequest = z.object({
  model: z.string(),
  input: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().optional(),
});
type EmbeddingsRequest = z.infer<typeof embeddingsRequest>;

// --- dialect ----------------------------------------------------------------------------

function openAIDialect(models: readonly string[]): Dialect {
  return {
    provider: 'openai',
    sendsRetryAfterHeader: true,
    requestId: (ids) => ids.hex('req_', 32),
    authenticate,
    errorReply: (error) => openAIError(error),
    commonHeaders,
    handle: (exchange) => route(exchange, models),
  };
}

function route(exchange: Exchange, models: readonly string[]): Reply {
  const { method, path } = exchange;
  if (method === 'POST' && path === '/v1/chat/completions') return chatCompletions(exchange);
  if (isStoredChatCompletionCall(method, path)) return handleStoredChatCompletion(exchange);
  if (method === 'POST' && path === '/v1/embeddings') return embeddings(exchange);
  if (method === 'POST' && path === '/v1/responses') return handleResponses(exchange);
  if (method === 'POST' && path === '/v1/responses/input_tokens') return handleInputTokens(exchange);
  if (method === 'POST' && path === '/v1/responses/compact') return handleCompact(exchange);
  if (isStoredResponsePath(path)) return handleStoredResponse(exchange);
  if (method === 'POST' && path === '/v1/conversations') return handleCreateConversation(exchange);
  if (method === 'GET' && path === '/v1/models') return listModels(models);
  const modelId = /^\/v1\/models\/([^/]+)$/.exec(path)?.[1];
  if (method === 'GET' && modelId !== undefined) return retrieveModel(models, decodeURIComponent(modelId));
  return openAIError({ kind: 'not-found', message: `Invalid URL (${method} ${path})` });
}

function authenticate(request: AuthRequest, keys: ReadonlySet<string>): AuthResult {
  const header = request.headers.authorization;
  const key = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
  if (key === undefined || key === '') {
    return { ok: false, reply: missingKeyError() };
  }
  if (!keys.has(key))
    return { ok: false, reply: openAIError({ kind: 'unauthorized', message: wrongKeyMessage(key) }) };
  return { ok: true, key };
}

function commonHeaders(requestId: string, quota: QuotaSnapshot): Record<string, string> {
  return {
    'x-request-id': requestId,
    'openai-version': '2020-10-01',
    'openai-processing-ms': '1',
    'x-ratelimit-limit-requests': String(quota.limitRequests),
    'x-ratelimit-limit-tokens': String(quota.limitTokens),
    'x-ratelimit-remaining-requests': String(quota.remainingRequests),
    'x-ratelimit-remaining-tokens': String(quota.remainingTokens),
    'x-ratelimit-reset-requests': formatOpenAIDuration(quota.resetMs),
    'x-ratelimit-reset-tokens': formatOpenAIDuration(quota.resetMs),
  };
}

/** OpenAI writes reset times as Go durations: `20ms`, `1.5s`, `6m0s`. */
export function formatOpenAIDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Number(((ms % 60_000) / 1000).toFixed(3));
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}

// --- chat completions -------------------------------------------------------------------

/** A chat request OpenAI takes, or its 400 for the first thing it refuses. */
type CheckedChatRequest = { ok: true; value: ChatRequest } | { ok: false; reply: JsonReply };

function checkedChatRequest(body: unknown): CheckedChatRequest {
  const parsed = parseRequest(chatRequest, body);
  if (!parsed.ok) return { ok: false, reply: openAIError({ kind: 'bad-request', message: parsed.message }) };
  const request = parsed.value;
  // `tools: []` fails the schema (at least one tool) before any field is weighed against another.
  if (request.tools?.length === 0) return { ok: false, reply: emptyToolsArray() };
  // Any tool_choice, `auto` and `none` too, without tools is refused by the API itself, and so is
  // `parallel_tool_calls` (false and true alike).
  if (request.tool_choice != null && request.tools === undefined)
    return { ok: false, reply: onlyWithTools('tool_choice') };
  if (request.parallel_tool_calls != null && request.tools === undefined)
    return { ok: false, reply: onlyWithTools('parallel_tool_calls') };
  const outOfOrder = toolOrderError(body);
  if (outOfOrder) return { ok: false, reply: openAIErrorReply(outOfOrder.shape, outOfOrder.param) };
  return parsed;
}

/**
 * OpenAI's 400 (its JSON body) for a chat completions body, or undefined when the mock would
 * answer it: the gateway's property tests judge translated bodies with it.
 */
export function openAIChatRefusal(body: unknown): string | undefined {
  const checked = checkedChatRequest(body);
  return checked.ok ? undefined : JSON.stringify(checked.reply.body);
}

function chatCompletions(exchange: Exchange): Reply {
  const checked = checkedChatRequest(exchange.body);
  if (!checked.ok) return checked.reply;
  const request = checked.value;
  const answer = answerFor(chatConversation(request), exchange.replyPrefix);
  const tokens = answer.inputTokens + answer.outputTokens;
  if (request.stream)
    return {
      kind: 'stream',
      status: 200,
      contentType: SSE_CONTENT_TYPE,
      frames: chatChunks(exchange, request, answer),
      keepAliveFrame: sseComment('ping'),
      tokens,
    };
  const completion = chatCompletion(exchange, request, answer);
  if (request.store) storeChatCompletion(exchange, completion, request.messages, request.metadata);
  return { kind: 'json', status: 200, body: completion, tokens };
}

/**
 * OpenAI's 400 for a field that means something only beside tools (`tool_choice`, whatever the
 * choice; `parallel_tool_calls`, either value) sent without `tools`: param the field, no code.
 */
function onlyWithTools(field: 'tool_choice' | 'parallel_tool_calls'): JsonReply {
  return openAIErrorReply(
    {
      status: 400,
      message: `Invalid value for '${field}': '${field}' is only allowed when 'tools' are specified.`,
      type: 'invalid_request_error',
      code: null,
    },
    field,
  );
}

/** OpenAI's 400 for `tools: []`: param `tools`, code `empty_array`. */
function emptyToolsArray(): JsonReply {
  return openAIErrorReply(
    {
      status: 400,
      message:
        "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      type: 'invalid_request_error',
      code: 'empty_array',
    },
    'tools',
  );
}

function chatConversation(request: ChatRequest): Conversation {
  const { messages } = request;
  const last = messages.at(-1);
  const lastUser = messages.findLast((message) => message.role === 'user');
  const lastTurn: LastTurn =
    last?.role === 'tool'
      ? { kind: 'tool-result', text: contentText(last.content) }
      : { kind: 'user', text: contentText(lastUser?.content) };
  return {
    lastTurn,
    promptTexts: messages.map((message) => contentText(message.content)),
    messageCount: messages.length,
    tools: chatTools(request),
    callable: callableTools(request.tool_choice),
    maxOutputTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
  };
}

/** The tools tool_choice lets the model call: none, the one named, or the allowed ones. */
function callableTools(choice: ChatRequest['tool_choice']): ReadonlySet<string> | undefined {
  if (choice === 'none') return new Set();
  if (choice == null || typeof choice === 'string') return undefined;
  if (choice.type === 'function') return new Set([choice.function.name]);
  if (choice.type === 'custom') return new Set([choice.custom.name]);
  return new Set(
    choice.allowed_tools.tools.map((tool) =>
      tool.type === 'function' ? tool.function.name : tool.custom.name,
    ),
  );
}

function chatTools(request: ChatRequest): ToolSpec[] {
  return (request.tools ?? []).flatMap((tool) =>
    tool.type === 'function' && tool.function
      ? [{ name: tool.function.name, parameters: tool.function.parameters }]
      : [],
  );
}

export function chatUsage(answer: Answer) {
  return {
    prompt_tokens: answer.inputTokens,
    completion_tokens: answer.outputTokens,
    total_tokens: answer.inputTokens + answer.outputTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function finishReason(answer: Answer): 'stop' | 'length' | 'tool_calls' {
  if (answer.kind === 'tool-call') return 'tool_calls';
  return answer.truncated ? 'length' : 'stop';
}

function chatCompletion(exchange: Exchange, request: ChatRequest, answer: Answer) {
  const id = exchange.ids.next('chatcmpl-mock');
  const message =
    answer.kind === 'text'
      ? { role: 'assistant', content: answer.text, refusal: null, annotations: [] }
      : {
          role: 'assistant',
          content: null,
          refusal: null,
          annotations: [],
          tool_calls: [
            {
              id: exchange.ids.next('call_mock'),
              type: 'function',
              function: { name: answer.toolName, arguments: answer.argumentsJson },
            },
          ],
        };
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(exchange.now() / 1000),
    model: request.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(answer) }],
    ...(exchange.scenario.omitUsage ? {} : { usage: chatUsage(answer) }),
    service_tier: servedTier(request.service_tier),
    system_fingerprint: 'fp_mock',
  };
}

/** Chunks: role, content words (or tool-call deltas), finish, usage chunk, `[DONE]`. */
function chatChunks(exchange: Exchange, request: ChatRequest, answer: Answer): StreamFrame[] {
  const includeUsage = request.stream_options?.include_usage === true;
  const base = {
    id: exchange.ids.next('chatcmpl-mock'),
    object: 'chat.completion.chunk',
    created: Math.floor(exchange.now() / 1000),
    model: request.model,
    service_tier: servedTier(request.service_tier),
    system_fingerprint: 'fp_mock',
    // With include_usage every chunk carries `usage: null` until the last one.
    ...(includeUsage ? { usage: null } : {}),
  };
  const chunk = (delta: object, finish: string | null = null) =>
    sseFrame({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  const frames = [
    ...chatDeltas(exchange, answer).map((delta) => chunk(delta)),
    chunk({}, finishReason(answer)),
  ];
  if (includeUsage && !exchange.scenario.omitUsage)
    frames.push(sseFrame({ ...base, choices: [], usage: chatUsage(answer) }));
  frames.push(sseFrame('[DONE]', { terminator: true }));
  return frames;
}

function chatDeltas(exchange: Exchange, answer: Answer): object[] {
  if (answer.kind === 'text') {
    return [
      { role: 'assistant', content: '', refusal: null },
      ...splitWords(answer.text).map((word) => ({ content: word })),
    ];
  }
  const opening = {
    role: 'assistant',
    content: null,
    tool_calls: [
      {
        index: 0,
        id: exchange.ids.next('call_mock'),
        type: 'function',
        function: { name: answer.toolName, arguments: '' },
      },
    ],
  };
  const argumentDeltas = splitIntoParts(answer.argumentsJson, 4).map((piece) => ({
    tool_calls: [{ index: 0, function: { arguments: piece } }],
  }));
  return [opening, ...argumentDeltas];
}

// --- embeddings -------------------------------------------------------------------------

function embeddings(exchange: Exchange): Reply {
  const parsed = parseRequest(embeddingsRequest, exchange.body);
  if (!parsed.ok) return openAIError({ kind: 'bad-request', message: parsed.message });
  const request = parsed.value;
  const inputs = embeddingInputs(request.input);
  const dimensions = request.dimensions ?? (request.model.includes('3-large') ? 3072 : 1536);
  const data = inputs.map((text, index) => ({
    object: 'embedding',
    index,
    embedding: encodeEmbedding(embeddingFor(text, dimensions), request.encoding_format),
  }));
  const promptTokens = inputs.reduce((sum, text) => sum + Math.max(1, countTokens(text)), 0);
  const usage = { prompt_tokens: promptTokens, total_tokens: promptTokens };
  const body = {
    object: 'list',
    data,
    model: request.model,
    ...(exchange.scenario.omitUsage ? {} : { usage }),
  };
  return { kind: 'json', status: 200, body, tokens: promptTokens };
}

/** Strings, or token arrays (kept as their joined ids so they still embed deterministically). */
function embeddingInputs(input: EmbeddingsRequest['input']): string[] {
  if (typeof input === 'string') return [input];
  return input.map((item: string | number | number[]) =>
    Array.isArray(item) ? item.join(' ') : String(item),
  );
}

/** The SDK asks for base64 by default: little-endian float32, as the API sends it. */
function encodeEmbedding(vector: number[], format: 'float' | 'base64' | undefined): number[] | string {
  if (format !== 'base64') return vector;
  return Buffer.from(new Float32Array(vector).buffer).toString('base64');
}

// --- models -----------------------------------------------------------------------------

const MODEL_CREATED = 1_715_367_049;

function modelObject(id: string) {
  return { id, object: 'model', created: MODEL_CREATED, owned_by: 'system' };
}

function listModels(models: readonly string[]): Reply {
  return { kind: 'json', status: 200, body: { object: 'list', data: models.map(modelObject) } };
}

function retrieveModel(models: readonly string[], id: string): Reply {
  if (models.includes(id)) return { kind: 'json', status: 200, body: modelObject(id) };
  const message = `The model '${id}' does not exist`;
  return openAIErrorReply(
    { status: 404, message, type: 'invalid_request_error', code: 'model_not_found' },
    'model',
  );
}
