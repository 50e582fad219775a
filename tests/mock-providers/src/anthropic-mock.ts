/**
 * Anthropic mock: Messages (plain and streamed, tool use, message threads), count_tokens and
 * the models list. Point the SDK at it with `baseURL: mock.url`.
 */
import { z } from 'zod';
import {
  type Answer,
  answerFor,
  type Conversation,
  countInputTokens,
  countTokens,
  type LastTurn,
  splitIntoParts,
  splitWords,
} from './answers.js';
import { toolPairingError } from './anthropic-tool-pairing.js';
import {
  type AuthRequest,
  type AuthResult,
  type Dialect,
  type DialectError,
  type Exchange,
  type MockServer,
  type MockServerOptions,
  startMockServer,
} from './mock-server.js';
import type { QuotaSnapshot } from './quota.js';
import { SSE_CONTENT_TYPE, sseComment, sseFrame } from './sse.js';
import { parseRequest } from './validate.js';
import type { JsonReply, Reply, Settled, StreamFrame } from './wire.js';

export interface AnthropicMockOptions extends MockServerOptions {
  /** Ids listed by GET /v1/models. */
  readonly models?: readonly string[];
  /**
   * Keys of organizations whose URL fetching Anthropic turned off: a Messages or count_tokens
   * request that has Claude fetch a URL (an image or document `source.type: "url"`, a
   * `web_fetch_*` tool, `mcp_servers`) gets 400 `organization_url_fetch_disabled`; any other
   * request is served.
   */
  readonly urlFetchDisabled?: readonly string[];
  /**
   * Keys of workspaces still being connected to their storage: every Messages and count_tokens
   * request gets 503 `storage_not_ready` (the workspace serves nothing yet).
   */
  readonly storageNotReady?: readonly string[];
}

/** The per-key account settings a Messages request is checked against. */
interface AccountSettings {
  readonly urlFetchDisabled: ReadonlySet<string>;
  readonly storageNotReady: ReadonlySet<string>;
}

export const DEFAULT_ANTHROPIC_MODELS = [
  'claude-opus-5-5',
  'claude-sonnet-5-5',
  'claude-haiku-5-5',
  'claude-haiku-4-5',
];

export function startAnthropicMock(options: AnthropicMockOptions): Promise<MockServer> {
  const accounts: AccountSettings = {
    urlFetchDisabled: new Set(options.urlFetchDisabled ?? []),
    storageNotReady: new Set(options.storageNotReady ?? []),
  };
  return startMockServer(anthropicDialect(options.models ?? DEFAULT_ANTHROPIC_MODELS, accounts), options);
}

// --- request schemas: only the fields the mock uses -------------------------------------

/** A prompt-cache breakpoint: the prompt up to and including its block is cached. */
const cacheControl = z.object({ type: z.string(), ttl: z.string().optional() }).nullish();

const textBlock = z.object({ type: z.string(), text: z.string().optional(), cache_control: cacheControl });

const contentBlock = z.object({
  type: z.string(),
  text: z.string().optional(),
  /** A tool_result's content: a string or text blocks. */
  content: z.union([z.string(), z.array(textBlock)]).optional(),
  cache_control: cacheControl,
});
type ContentBlock = z.infer<typeof contentBlock>;

const messagesBase = z.object({
  model: z.string(),
  messages: z.array(
    z.object({ role: z.enum(['user', 'assistant']), content: z.union([z.string(), z.array(contentBlock)]) }),
  ),
  system: z.union([z.string(), z.array(textBlock)]).optional(),
  tools: z
    .array(z.object({ name: z.string(), type: z.string().optional(), input_schema: z.unknown().optional() }))
    .optional(),
});

/** Claude's own web search tool (`web_search_20250305`...): Claude runs it, the caller never sees a call. */
const isWebSearchTool = (tool: { type?: string | undefined }) =>
  tool.type?.startsWith('web_search_') === true;

const messagesRequest = messagesBase.extend({
  max_tokens: z.number().int().positive(),
  stream: z.boolean().optional(),
  /** Where Claude may run the request; `us` is billed at 1.1x (Opus 4.6 and later only). */
  inference_geo: z.enum(['global', 'us']).optional(),
  /** `fast`: fast mode, billed at a multiple (Opus 4.6 and later Opus models). */
  speed: z.enum(['standard', 'fast']).optional(),
  /** `any` or `tool` forces a call: Claude then writes no text before it (see `plannedAnswer`). */
  tool_choice: z.object({ type: z.string() }).optional(),
  /** A message thread (beta `message-threads-2026-08-12`): see `threadOf`. */
  thread: z
    .union([
      z.object({ type: z.literal('create') }),
      z.object({ type: z.literal('continue'), previous_message_id: z.string() }),
    ])
    .nullish(),
});

/** The models that run in fast mode. */
const FAST_MODELS = /^claude-opus-(4-[6-9]|[5-9])/;

/** The models that take `inference_geo`: Opus 4.6, Sonnet 4.6 and every later one. */
const GEO_MODELS = /^claude-(opus|sonnet)-(4-[6-9]|[5-9])/;
type MessagesRequest = z.infer<typeof messagesRequest>;
type CountTokensRequest = z.infer<typeof messagesBase>;

// --- dialect ----------------------------------------------------------------------------

function anthropicDialect(models: readonly string[], accounts: AccountSettings): Dialect {
  return {
    provider: 'anthropic',
    sendsRetryAfterHeader: true,
    requestId: (ids) => ids.next('req_mock'),
    authenticate,
    errorReply: anthropicError,
    commonHeaders,
    handle: (exchange) => route(exchange, models, accounts),
  };
}

function route(exchange: Exchange, models: readonly string[], accounts: AccountSettings): Reply {
  const { method, path, requestId } = exchange;
  if (method === 'POST' && path === '/v1/messages') {
    if (accounts.storageNotReady.has(callerKey(exchange))) return storageNotReady(requestId);
    return urlFetchRefusal(exchange, accounts) ?? messages(exchange);
  }
  if (method === 'POST' && path === '/v1/messages/count_tokens') {
    if (accounts.storageNotReady.has(callerKey(exchange))) return storageNotReady(requestId);
    return urlFetchRefusal(exchange, accounts) ?? countTokensReply(exchange);
  }
  if (method === 'GET' && path === '/v1/models') return listModels(models);
  return anthropicError({ kind: 'not-found', message: 'Not Found' }, requestId);
}

/**
 * The key comes in `x-api-key` (the documented header, used by curl and older SDKs) or as
 * `Authorization: Bearer` (what @anthropic-ai/sdk 1.x sends for an apiKey).
 */
function authenticate(request: AuthRequest, keys: ReadonlySet<string>, requestId: string): AuthResult {
  const key = headerValue(request.headers['x-api-key']) ?? bearerToken(request.headers.authorization);
  if (key === undefined) {
    return {
      ok: false,
      reply: errorBody(401, 'authentication_error', 'x-api-key header is required', requestId),
    };
  }
  if (!keys.has(key))
    return { ok: false, reply: errorBody(401, 'authentication_error', 'invalid x-api-key', requestId) };
  if (headerValue(request.headers['anthropic-version']) === undefined) {
    return {
      ok: false,
      reply: errorBody(400, 'invalid_request_error', 'anthropic-version: header is required', requestId),
    };
  }
  return { ok: true, key };
}

function bearerToken(header: string | undefined): string | undefined {
  const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
  return token === '' ? undefined : token;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}

function commonHeaders(requestId: string, quota: QuotaSnapshot): Record<string, string> {
  // Anthropic gives reset times as RFC 3339 instants, to the second.
  const reset = new Date(quota.resetAt).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    'request-id': requestId,
    'anthropic-ratelimit-requests-limit': String(quota.limitRequests),
    'anthropic-ratelimit-requests-remaining': String(quota.remainingRequests),
    'anthropic-ratelimit-requests-reset': reset,
    'anthropic-ratelimit-tokens-limit': String(quota.limitTokens),
    'anthropic-ratelimit-tokens-remaining': String(quota.remainingTokens),
    'anthropic-ratelimit-tokens-reset': reset,
  };
}

// --- errors -----------------------------------------------------------------------------

function anthropicError(error: DialectError, requestId: string): JsonReply {
  switch (error.kind) {
    case 'unauthorized':
      return errorBody(401, 'authentication_error', 'invalid x-api-key', requestId);
    case 'forbidden':
      return errorBody(
        403,
        'permission_error',
        'Your API key does not have permission to use the specified resource.',
        requestId,
      );
    case 'rate-limit':
      return errorBody(429, 'rate_limit_error', rateLimitMessage(error), requestId);
    case 'server-error':
      return errorBody(500, 'api_error', 'Internal server error', requestId);
    case 'unavailable':
      return errorBody(503, 'api_error', 'Service unavailable', requestId);
    case 'overloaded':
      return errorBody(529, 'overloaded_error', 'Overloaded', requestId);
    case 'context-overflow':
      return errorBody(
        400,
        'invalid_request_error',
        'prompt is too long: 208310 tokens > 200000 maximum',
        requestId,
      );
    case 'bad-request':
      return errorBody(400, 'invalid_request_error', error.message ?? 'Invalid request', requestId);
    case 'not-found':
      return errorBody(404, 'not_found_error', error.message ?? 'Not Found', requestId);
    default: {
      const unknown: never = error.kind;
      throw new Error(`no Anthropic error for ${String(unknown)}`);
    }
  }
}

/**
 * Claude's 503 for a workspace still being connected to its storage. The code and status are
 * @anthropic-ai/sdk 1.16's (`'503 storage_not_ready'` -> StorageNotReadyError); the message is its
 * doc comment's words. The `api_error` type is a guess: the SDK picks the class by status and
 * code, and Claude's error types name no 503 of their own.
 */
function storageNotReady(requestId: string): JsonReply {
  return errorBody(
    503,
    'api_error',
    "This workspace isn't ready yet: it's still being connected to its storage. Try again in a minute.",
    requestId,
    { error_code: 'storage_not_ready' },
  );
}

/**
 * Claude's 400 for a request that has it fetch a URL, from a key of an organization whose URL
 * fetching is off. The code, status and type are @anthropic-ai/sdk 1.17's
 * (`'400 organization_url_fetch_disabled'`, a BadRequestError: `invalid_request_error`); the
 * message is a guess after its doc comment.
 */
function urlFetchRefusal(exchange: Exchange, accounts: AccountSettings): JsonReply | undefined {
  if (!accounts.urlFetchDisabled.has(callerKey(exchange)) || !fetchesUrl(exchange.body)) return undefined;
  return errorBody(
    400,
    'invalid_request_error',
    'URL fetching is turned off for this organization: URL image and document sources, the web_fetch tool and mcp_servers cannot be used.',
    exchange.requestId,
    { error_code: 'organization_url_fetch_disabled' },
  );
}

/** Whether a body has Claude fetch a URL: a `url` image or document source, web_fetch, MCP servers. */
function fetchesUrl(body: unknown): boolean {
  if (!isObject(body)) return false;
  if (Array.isArray(body.mcp_servers) && body.mcp_servers.length > 0) return true;
  const tools = Array.isArray(body.tools) ? body.tools : [];
  if (tools.some((tool) => isObject(tool) && String(tool.type ?? '').startsWith('web_fetch_'))) return true;
  const messages = Array.isArray(body.messages) ? body.messages : [];
  return messages.some(
    (message) => isObject(message) && Array.isArray(message.content) && message.content.some(blockFetchesUrl),
  );
}

function blockFetchesUrl(block: unknown): boolean {
  if (!isObject(block)) return false;
  if ((block.type === 'image' || block.type === 'document') && isObject(block.source))
    return block.source.type === 'url';
  return block.type === 'tool_result' && Array.isArray(block.content) && block.content.some(blockFetchesUrl);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rateLimitMessage(error: DialectError): string {
  const what = error.limit === 'tokens' ? 'Number of request tokens' : 'Number of requests';
  return (
    `This request would exceed the rate limit for your organization. ${what} has exceeded your ` +
    'per-minute rate limit (https://docs.claude.com/en/api/rate-limits); see the response headers for current usage.'
  );
}

/**
 * `{ type: "error", error: { type, message }, request_id }`, the shape of every Anthropic error;
 * `details` (`{ error_code }`) says which refusal, as Claude's thread refusals do.
 */
function errorBody(
  status: number,
  type: string,
  message: string,
  requestId: string,
  details?: Record<string, unknown>,
): JsonReply {
  const error = details === undefined ? { type, message } : { type, message, details };
  return { kind: 'json', status, body: { type: 'error', error, request_id: requestId } };
}

// --- messages ---------------------------------------------------------------------------

/** Cached prompt prefixes by server, model and text, as Claude's prompt cache keeps them (bounded). */
const promptCache = new Set<string>();
const PROMPT_CACHE_MAX = 10_000;

interface CacheUse {
  readonly read: number;
  readonly write5m: number;
  readonly write1h: number;
}

/**
 * Prompt caching as Claude does it: the prompt up to the last block marked `cache_control`
 * (system blocks, then the messages' blocks) is written to the cache the first time, at its
 * `ttl` (5 minutes unless `1h`), and read from it after. The mock has no minimum length.
 */
function cacheUse(exchange: Exchange, request: MessagesRequest, inputTokens: number): CacheUse {
  const blocks = [
    ...(Array.isArray(request.system) ? request.system : []),
    ...request.messages.flatMap((message) => (Array.isArray(message.content) ? message.content : [])),
  ];
  const last = blocks.findLastIndex((block) => block.cache_control);
  if (last < 0) return { read: 0, write5m: 0, write1h: 0 };
  const prefix = blocks
    .slice(0, last + 1)
    .map((block) => blockText(block))
    .join('');
  const tokens = Math.min(countTokens(prefix), inputTokens);
  const key = `${exchange.headers.host ?? ''}\n${request.model}\n${prefix}`;
  if (promptCache.has(key)) return { read: tokens, write5m: 0, write1h: 0 };
  if (promptCache.size >= PROMPT_CACHE_MAX) promptCache.clear();
  promptCache.add(key);
  return blocks[last]?.cache_control?.ttl === '1h'
    ? { read: 0, write5m: 0, write1h: tokens }
    : { read: 0, write5m: tokens, write1h: 0 };
}

// --- message threads --------------------------------------------------------------------

/** What a thread holds after a reply: the create-only fields and the whole conversation. */
interface HeldThread {
  readonly key: string;
  readonly system: MessagesRequest['system'];
  readonly tools: MessagesRequest['tools'];
  readonly messages: MessagesRequest['messages'];
  /** What every turn of the thread must keep: the model, and `system` and `tools` as sent. */
  readonly fingerprint: Fingerprint;
  /**
   * `open` until a continuation from this reply is taken, `in_flight` while its reply is being
   * written, `continued` once it was (each reply is continued once); back to `open` when the
   * continuation's reply was cut short (the thread holds none of it).
   */
  state: 'open' | 'in_flight' | 'continued';
}

interface Fingerprint {
  readonly model: string;
  /** The fields as JSON, as sent (descriptions and all); undefined when not sent. */
  readonly system: string | undefined;
  readonly tools: string | undefined;
}

/** Threads by server and the id of their last reply (bounded, oldest forgotten first). */
const threads = new Map<string, HeldThread>();
const THREADS_MAX = 10_000;

/** The key a request came with (authenticated already). */
function callerKey(exchange: Exchange): string {
  return headerValue(exchange.headers['x-api-key']) ?? bearerToken(exchange.headers.authorization) ?? '';
}

function threadKey(exchange: Exchange, messageId: string): string {
  return `${exchange.headers.host ?? ''} ${messageId}`;
}

/** A request's own fingerprint fields, from its body as sent. */
function fingerprintOf(exchange: Exchange, model: string): Fingerprint {
  const body = exchange.body as { system?: unknown; tools?: unknown };
  return {
    model,
    system: body.system === undefined ? undefined : JSON.stringify(body.system),
    tools: body.tools === undefined ? undefined : JSON.stringify(body.tools),
  };
}

/** Claude's 400 refusal of a thread's continuation, `error.details.error_code` saying which. */
function threadRefusal(exchange: Exchange, code: string, message: string): { ok: false; reply: Reply } {
  return {
    ok: false,
    reply: errorBody(400, 'invalid_request_error', message, exchange.requestId, { error_code: code }),
  };
}

/**
 * A thread as Claude keeps it: a request with `thread: {type: "create"}` is held under its
 * reply's id; `{type: "continue", previous_message_id}` adds its messages to what that reply's
 * thread holds (with its `system` and `tools`), and is held under its own reply's id in turn.
 * A thread is kept for the account (key) whose request made it: another key's continuation,
 * as one naming an unknown id, is Claude's 404 `not_found_error` with `error.details.error_code`
 * `thread_not_found`. Its 400 `invalid_request_error` refusals (the SDK's error classes):
 * `thread_already_continued` for a reply continued before (each is continued once),
 * `thread_continue_in_flight` while another continuation from it runs, and
 * `thread_fingerprint_mismatch` for a continuation whose `model`, or `system` or `tools` where it
 * repeats them, differ from the thread's (the message names each). The request to answer, with
 * the thread it continues (whose state its reply settles), or that refusal.
 */
function threadOf(
  exchange: Exchange,
  request: MessagesRequest,
): { ok: true; request: MessagesRequest; continues?: HeldThread } | { ok: false; reply: Reply } {
  const thread = request.thread;
  if (thread?.type !== 'continue') return { ok: true, request };
  const id = thread.previous_message_id;
  const held = threads.get(threadKey(exchange, id));
  if (held === undefined || held.key !== callerKey(exchange))
    return {
      ok: false,
      reply: errorBody(
        404,
        'not_found_error',
        `No thread state was found for previous_message_id: ${id}`,
        exchange.requestId,
        { error_code: 'thread_not_found' },
      ),
    };
  if (held.state === 'continued')
    return threadRefusal(
      exchange,
      'thread_already_continued',
      `previous_message_id: ${id} has already been continued; continue from the thread's most recent message id`,
    );
  if (held.state === 'in_flight')
    return threadRefusal(
      exchange,
      'thread_continue_in_flight',
      `Another request is still continuing from previous_message_id: ${id}`,
    );
  const own = fingerprintOf(exchange, request.model);
  const changed = (['model', 'system', 'tools'] as const).filter(
    (field) => (field === 'model' || own[field] !== undefined) && own[field] !== held.fingerprint[field],
  );
  if (changed.length > 0)
    return threadRefusal(
      exchange,
      'thread_fingerprint_mismatch',
      `${changed.map((field) => `\`${field}\``).join(', ')} must match the thread's: the value differs from the one stored with the thread`,
    );
  const { system, tools } = held;
  return {
    ok: true,
    continues: held,
    request: {
      ...request,
      ...(system !== undefined && { system }),
      ...(tools !== undefined && { tools }),
      messages: [...held.messages, ...request.messages],
    },
  };
}

/**
 * Holds a threaded request's conversation, with its reply, under the reply's id; what settles
 * the thread once the reply has left: a continuation's previous reply is continued when its reply
 * was written whole, else open again, and the reply cut short is not held.
 */
function holdThread(
  exchange: Exchange,
  request: MessagesRequest,
  plan: ContentPlan,
  continues: HeldThread | undefined,
): Settled | undefined {
  if (request.thread == null) return undefined;
  const reply = plan.blocks.flatMap(wireBlock) as ContentBlock[];
  if (threads.size >= THREADS_MAX) threads.delete(threads.keys().next().value as string);
  const key = threadKey(exchange, plan.messageId);
  threads.set(key, {
    key: callerKey(exchange),
    system: request.system,
    tools: request.tools,
    messages: [...request.messages, { role: 'assistant', content: reply }],
    fingerprint: continues?.fingerprint ?? fingerprintOf(exchange, request.model),
    state: 'open',
  });
  if (continues !== undefined) continues.state = 'in_flight';
  return (written) => {
    if (continues !== undefined) continues.state = written ? 'continued' : 'open';
    if (!written) threads.delete(key);
  };
}

/** Claude's 400 message for a request it refuses once read (and threaded), or undefined. */
function requestRefusal(request: MessagesRequest, body: unknown): string | undefined {
  if (request.speed === 'fast' && !FAST_MODELS.test(request.model))
    return `speed: fast mode is not supported for ${request.model}`;
  if (request.inference_geo !== undefined && !GEO_MODELS.test(request.model))
    return `inference_geo: not supported for ${request.model}`;
  // Any tool_choice (`auto` and `none` too) with no tools, or `tools: []`, is refused by the API
  // itself; `tools: []` alone is taken.
  if (request.tool_choice !== undefined && (request.tools ?? []).length === 0)
    return 'tool_choice may only be specified while providing tools.';
  // A thread's earlier turns are held without their ids: only a whole conversation is checked.
  return request.thread == null ? toolPairingError(body) : undefined;
}

/**
 * Claude's 400 message for a messages body (not a thread's continuation), or undefined when the
 * mock would answer it: the gateway's property tests judge translated bodies with it.
 */
export function anthropicMessagesRefusal(body: unknown): string | undefined {
  const parsed = parseRequest(messagesRequest, body);
  return parsed.ok ? requestRefusal(parsed.value, body) : parsed.message;
}

function messages(exchange: Exchange): Reply {
  const parsed = parseRequest(messagesRequest, exchange.body);
  if (!parsed.ok) return anthropicError({ kind: 'bad-request', message: parsed.message }, exchange.requestId);
  const threaded = threadOf(exchange, parsed.value);
  if (!threaded.ok) return threaded.reply;
  // A continuation is answered (and billed) on the whole conversation its thread holds.
  const request = threaded.request;
  const refused = requestRefusal(request, exchange.body);
  if (refused !== undefined)
    return anthropicError({ kind: 'bad-request', message: refused }, exchange.requestId);
  const answer = answerFor(conversation(request), exchange.replyPrefix);
  const cache = cacheUse(exchange, request, answer.inputTokens);
  const forced = request.tool_choice?.type === 'any' || request.tool_choice?.type === 'tool';
  const plan = contentPlan(exchange, answer, (request.tools ?? []).some(isWebSearchTool), forced);
  const tokens = answer.inputTokens + plan.outputTokens;
  const settled = holdThread(exchange, request, plan, threaded.continues);
  if (request.stream) {
    const frames = messageEvents(exchange, request, answer, plan, cache);
    return {
      kind: 'stream',
      status: 200,
      contentType: SSE_CONTENT_TYPE,
      frames,
      keepAliveFrame: sseComment('ping'),
      tokens,
      ...(settled && { settled }),
    };
  }
  const body = {
    ...messageEnvelope(request, plan.messageId),
    content: plan.blocks.flatMap(wireBlock),
    stop_reason: stopReason(answer),
    stop_sequence: null,
    ...(exchange.scenario.omitUsage
      ? {}
      : {
          usage: usage(answer.inputTokens, plan.outputTokens, cache, plan.webSearches, request),
        }),
  };
  return { kind: 'json', status: 200, body, tokens, ...(settled && { settled }) };
}

function blockText(block: ContentBlock): string {
  if (block.type === 'tool_result') {
    return typeof block.content === 'string'
      ? block.content
      : (block.content ?? []).map((part) => part.text ?? '').join('');
  }
  return block.text ?? '';
}

function messageText(content: string | ContentBlock[]): string {
  return typeof content === 'string' ? content : content.map(blockText).join('');
}

function systemText(system: MessagesRequest['system']): string {
  return typeof system === 'string' ? system : (system ?? []).map((block) => block.text ?? '').join('');
}

/** A user message made only of tool results answers a tool call. */
function conversation(request: CountTokensRequest & { max_tokens?: number }): Conversation {
  const last = request.messages.at(-1);
  const lastUser = request.messages.findLast((message) => message.role === 'user');
  const isToolResult =
    last?.role === 'user' &&
    Array.isArray(last.content) &&
    last.content.some((block) => block.type === 'tool_result');
  const lastTurn: LastTurn = isToolResult
    ? { kind: 'tool-result', text: messageText(last.content) }
    : { kind: 'user', text: lastUser ? messageText(lastUser.content) : '' };
  return {
    lastTurn,
    promptTexts: [
      systemText(request.system),
      ...request.messages.map((message) => messageText(message.content)),
    ],
    messageCount: request.messages.length,
    tools: (request.tools ?? [])
      .filter((tool) => !isWebSearchTool(tool))
      .map((tool) => ({ name: tool.name, parameters: tool.input_schema })),
    maxOutputTokens: request.max_tokens,
  };
}

/**
 * The content blocks of the answer. Claude says a few words before it uses a tool, unless the
 * request forced the call (`tool_choice` any or tool): then the tool_use block comes alone, as
 * the tool use docs say ("the model will not emit a chain-of-thought text content block before
 * tool_use content blocks").
 */
interface ContentPlan {
  readonly messageId: string;
  readonly blocks: readonly PlannedBlock[];
  readonly outputTokens: number;
  /** Web searches Claude ran (billed apiece, in `usage.server_tool_use`). */
  readonly webSearches: number;
}

type PlannedBlock =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'tool_use'; readonly id: string; readonly name: string; readonly inputJson: string }
  | { readonly type: 'web_search'; readonly id: string; readonly query: string };

/**
 * With its web search tool offered, Claude searches once before it answers: a `server_tool_use`
 * block (its query is the start of the answer, text the tests need not predict), its
 * `web_search_tool_result`, then the answer.
 */
function contentPlan(exchange: Exchange, answer: Answer, searches: boolean, forced: boolean): ContentPlan {
  const planned = plannedAnswer(exchange, answer, forced);
  if (!searches) return { ...planned, webSearches: 0 };
  const search: PlannedBlock = {
    type: 'web_search',
    id: exchange.ids.next('srvtoolu_mock'),
    query: answer.kind === 'text' ? answer.text.slice(0, 60) : answer.toolName,
  };
  return { ...planned, blocks: [search, ...planned.blocks], webSearches: 1 };
}

function plannedAnswer(
  exchange: Exchange,
  answer: Answer,
  forced: boolean,
): Omit<ContentPlan, 'webSearches'> {
  const messageId = exchange.ids.next('msg_mock');
  if (answer.kind === 'text') {
    return { messageId, blocks: [{ type: 'text', text: answer.text }], outputTokens: answer.outputTokens };
  }
  const toolUse: PlannedBlock = {
    type: 'tool_use',
    id: exchange.ids.next('toolu_mock'),
    name: answer.toolName,
    inputJson: answer.argumentsJson,
  };
  if (forced) return { messageId, blocks: [toolUse], outputTokens: answer.outputTokens };
  const preamble = `I'll call ${answer.toolName}.`;
  const outputTokens = answer.outputTokens + countTokens(preamble);
  return { messageId, blocks: [{ type: 'text', text: preamble }, toolUse], outputTokens };
}

/** A planned block as the API writes it in a finished message. */
function wireBlock(block: PlannedBlock): readonly unknown[] {
  if (block.type === 'text') return [block];
  if (block.type === 'web_search') return webSearchBlocks(block);
  return [
    { type: 'tool_use', id: block.id, name: block.name, input: JSON.parse(block.inputJson) as unknown },
  ];
}

/** A search as Claude reports it: the call it made, and what came back (the page text encrypted). */
function webSearchBlocks(block: { id: string; query: string }) {
  return [
    // A tuple: the call, then its result.
    { type: 'server_tool_use', id: block.id, name: 'web_search', input: { query: block.query } },
    {
      type: 'web_search_tool_result',
      tool_use_id: block.id,
      content: [
        {
          type: 'web_search_result',
          url: 'https://example.com/result',
          title: 'A result',
          encrypted_content: 'RW5jcnlwdGVkIHBhZ2UgdGV4dA==',
          page_age: null,
        },
      ],
    },
  ] as const;
}

function stopReason(answer: Answer): 'end_turn' | 'max_tokens' | 'tool_use' {
  if (answer.kind === 'tool-call') return 'tool_use';
  return answer.truncated ? 'max_tokens' : 'end_turn';
}

/** Claude's usage: `input_tokens` leaves out the cache reads and writes, each counted apart. */
function usage(
  inputTokens: number,
  outputTokens: number,
  cache: CacheUse = { read: 0, write5m: 0, write1h: 0 },
  webSearches = 0,
  asked: Pick<MessagesRequest, 'inference_geo' | 'speed'> = {},
) {
  return {
    ...(asked.inference_geo !== undefined && { inference_geo: asked.inference_geo }),
    ...(asked.speed !== undefined && { speed: asked.speed }),
    ...(webSearches > 0 && { server_tool_use: { web_search_requests: webSearches } }),
    input_tokens: inputTokens - cache.read - cache.write5m - cache.write1h,
    cache_creation_input_tokens: cache.write5m + cache.write1h,
    cache_read_input_tokens: cache.read,
    cache_creation: { ephemeral_5m_input_tokens: cache.write5m, ephemeral_1h_input_tokens: cache.write1h },
    output_tokens: outputTokens,
    service_tier: 'standard',
  };
}

function messageEnvelope(request: MessagesRequest, messageId: string) {
  return { id: messageId, type: 'message', role: 'assistant', model: request.model };
}

// --- streamed events --------------------------------------------------------------------

type StreamEvent = { type: string } & Record<string, unknown>;

/** message_start, ping, one start/deltas/stop run per block, message_delta, message_stop. */
function messageEvents(
  exchange: Exchange,
  request: MessagesRequest,
  answer: Answer,
  plan: ContentPlan,
  cache: CacheUse,
): StreamFrame[] {
  const omitUsage = exchange.scenario.omitUsage === true;
  const start = {
    ...messageEnvelope(request, plan.messageId),
    content: [],
    stop_reason: null,
    stop_sequence: null,
    ...(omitUsage ? {} : { usage: usage(answer.inputTokens, 1, cache, 0, request) }),
  };
  const events: StreamEvent[] = [
    { type: 'message_start', message: start },
    { type: 'ping' },
    ...streamedBlocks(plan.blocks),
    {
      type: 'message_delta',
      delta: { stop_reason: stopReason(answer), stop_sequence: null },
      ...(omitUsage
        ? {}
        : {
            usage: {
              output_tokens: plan.outputTokens,
              ...(plan.webSearches > 0 && { server_tool_use: { web_search_requests: plan.webSearches } }),
            },
          }),
    },
  ];
  const frames = events.map((event) => sseFrame(event, { event: event.type }));
  frames.push(sseFrame({ type: 'message_stop' }, { event: 'message_stop', terminator: true }));
  return frames;
}

/** The blocks' events, numbered in order (a search is two blocks: its call and its result). */
function streamedBlocks(blocks: readonly PlannedBlock[]): StreamEvent[] {
  const events: StreamEvent[] = [];
  let index = 0;
  for (const block of blocks) {
    if (block.type !== 'web_search') {
      events.push(...blockEvents(block, index++));
      continue;
    }
    const [call, result] = webSearchBlocks(block);
    events.push(
      { type: 'content_block_start', index, content_block: { ...call, input: {} } },
      {
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(call.input) },
      },
      { type: 'content_block_stop', index: index++ },
      { type: 'content_block_start', index, content_block: result },
      { type: 'content_block_stop', index: index++ },
    );
  }
  return events;
}

function blockEvents(block: Exclude<PlannedBlock, { type: 'web_search' }>, index: number): StreamEvent[] {
  if (block.type === 'text') {
    return [
      { type: 'content_block_start', index, content_block: { type: 'text', text: '' } },
      ...splitWords(block.text).map((text) => ({
        type: 'content_block_delta',
        index,
        delta: { type: 'text_delta', text },
      })),
      { type: 'content_block_stop', index },
    ];
  }
  // The real API opens with an empty partial_json, then sends the input in fragments.
  const fragments = ['', ...splitIntoParts(block.inputJson, 4)];
  return [
    {
      type: 'content_block_start',
      index,
      content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
    },
    ...fragments.map((partial_json) => ({
      type: 'content_block_delta',
      index,
      delta: { type: 'input_json_delta', partial_json },
    })),
    { type: 'content_block_stop', index },
  ];
}

// --- count_tokens and models ------------------------------------------------------------

function countTokensReply(exchange: Exchange): Reply {
  const parsed = parseRequest(messagesBase, exchange.body);
  if (!parsed.ok) return anthropicError({ kind: 'bad-request', message: parsed.message }, exchange.requestId);
  return { kind: 'json', status: 200, body: { input_tokens: countInputTokens(conversation(parsed.value)) } };
}

const MODEL_CREATED_AT = '2025-09-29T00:00:00Z';

function listModels(models: readonly string[]): Reply {
  const data = models.map((id) => ({ type: 'model', id, display_name: id, created_at: MODEL_CREATED_AT }));
  const body = { data, has_more: false, first_id: models[0] ?? null, last_id: models.at(-1) ?? null };
  return { kind: 'json', status: 200, body };
}
