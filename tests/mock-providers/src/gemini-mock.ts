/**
 * Gemini mock (Generative Language API): generateContent, streamGenerateContent
 * (`?alt=sse`, or a streamed JSON array without it), countTokens, and embedContent and
 * batchEmbedContents (ai.google.dev/api/embeddings).
 * Point @google/genai at it with `httpOptions: { baseUrl: mock.url }`.
 */
import { z } from 'zod';
import {
  type Answer,
  answerFor,
  type Conversation,
  countInputTokens,
  countTokens,
  embeddingFor,
  type LastTurn,
  splitWordGroups,
} from './answers.js';
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
import { sseComment, sseFrame } from './sse.js';
import { parseRequest } from './validate.js';
import type { JsonReply, Reply, StreamFrame } from './wire.js';

export type GeminiMockOptions = MockServerOptions;

export function startGeminiMock(options: GeminiMockOptions): Promise<MockServer> {
  return startMockServer(geminiDialect, options);
}

// --- request schemas: only the fields the mock uses -------------------------------------

const part = z.object({
  text: z.string().optional(),
  functionCall: z.object({ name: z.string(), args: z.unknown().optional() }).optional(),
  functionResponse: z.object({ name: z.string(), response: z.unknown().optional() }).optional(),
});
type Part = z.infer<typeof part>;

const content = z.object({ role: z.string().optional(), parts: z.array(part) });

const generateRequest = z.object({
  contents: z.array(content).min(1),
  systemInstruction: content.optional(),
  tools: z
    .array(
      z.object({
        functionDeclarations: z
          .array(
            z.object({
              name: z.string(),
              parameters: z.unknown().optional(),
              parametersJsonSchema: z.unknown().optional(),
            }),
          )
          .optional(),
      }),
    )
    .optional(),
  generationConfig: z
    .object({
      maxOutputTokens: z.number().int().optional(),
      thinkingConfig: z
        .object({ thinkingLevel: z.string().optional(), thinkingBudget: z.number().int().optional() })
        .optional(),
    })
    .optional(),
});
type GenerateRequest = z.infer<typeof generateRequest>;

/** EmbedContentRequest: alone (embedContent) or one of a batch's `requests`. */
const embedRequest = z.object({
  model: z.string().optional(),
  content: z.object({ role: z.string().optional(), parts: z.array(part).min(1) }),
  taskType: z.string().optional(),
  title: z.string().optional(),
  outputDimensionality: z.number().int().optional(),
});
type EmbedRequest = z.infer<typeof embedRequest>;
const batchEmbedRequest = z.object({ requests: z.array(z.unknown()) });

// --- dialect ----------------------------------------------------------------------------

const geminiDialect: Dialect = {
  provider: 'gemini',
  // Gemini gives the retry delay as a RetryInfo detail in the body, not as a header.
  sendsRetryAfterHeader: false,
  // Gemini has no request-id header; the id becomes the body's responseId.
  requestId: (ids) => ids.next('mock-response-'),
  authenticate,
  errorReply: geminiError,
  // Gemini sends no rate-limit or request-id headers.
  commonHeaders: () => ({}),
  handle: route,
};

const METHOD_PATH =
  /^\/(v1beta|v1|v1alpha)\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens|embedContent|batchEmbedContents)$/;

function route(exchange: Exchange): Reply {
  const match = exchange.method === 'POST' ? METHOD_PATH.exec(exchange.path) : null;
  const version = match?.[1];
  const model = match?.[2];
  const method = match?.[3];
  if (version === undefined || model === undefined || method === undefined) {
    return geminiError({ kind: 'not-found', message: 'Requested entity was not found.' });
  }
  if (method === 'embedContent' || method === 'batchEmbedContents') {
    return embeddings(exchange, { version, model, method });
  }
  if (isEmbeddingModel(model)) return notSupported(version, model, method);
  const parsed = checkedRequest(
    model,
    exchange.body,
    method === 'countTokens' ? COUNT_FIELDS : GENERATE_FIELDS,
  );
  if (!parsed.ok) return parsed.reply;
  const conversation = toConversation(parsed.value);
  if (method === 'countTokens') {
    return { kind: 'json', status: 200, body: { totalTokens: countInputTokens(conversation) } };
  }
  const answer = answerFor(conversation, exchange.replyPrefix);
  const thoughts = thoughtsTokens(parsed.value);
  const tokens = answer.inputTokens + answer.outputTokens + thoughts;
  if (method === 'generateContent') {
    return { kind: 'json', status: 200, body: wholeResponse(exchange, model, answer, thoughts), tokens };
  }
  return streamReply(exchange, model, answer, thoughts, tokens);
}

/**
 * The thought tokens the mock reports (`usageMetadata.thoughtsTokenCount`, billed as output and
 * not part of `candidatesTokenCount`) for a request whose thinkingConfig asks for thinking: a
 * fixed count per `thinkingLevel`, and for a `thinkingBudget` the budget up to the dynamic
 * count (-1 is that count; 0 is no thinking). A request without a thinkingConfig reports none,
 * whatever the model's default, so the usage of every other test stays what it was.
 */
const THOUGHTS_BY_LEVEL: Readonly<Record<string, number>> = { minimal: 8, low: 16, medium: 32, high: 64 };
const DYNAMIC_THOUGHTS = 64;

function thoughtsTokens(request: GenerateRequest): number {
  const config = request.generationConfig?.thinkingConfig;
  if (config?.thinkingLevel !== undefined) return THOUGHTS_BY_LEVEL[config.thinkingLevel.toLowerCase()] ?? 0;
  const budget = config?.thinkingBudget;
  if (budget === undefined || budget === 0) return 0;
  return budget < 0 ? DYNAMIC_THOUGHTS : Math.min(budget, DYNAMIC_THOUGHTS);
}

/** `gemini-<major>[.<minor>]-…`: a model named with its version. */
const VERSIONED_MODEL = /^gemini-(\d+)(?:\.(\d+))?-/;

/** A body Gemini takes, or its 400 for the first thing it refuses. */
type CheckedRequest = { ok: true; value: GenerateRequest } | { ok: false; reply: JsonReply };

/**
 * The checks Gemini makes of a generateContent (or countTokens) body before answering it: a field
 * its message does not have, a body of another shape, a function name it refuses, function calls
 * answered by fewer or more responses, a thinking level the model lacks.
 */
function checkedRequest(model: string, body: unknown, fields: ReadonlySet<string>): CheckedRequest {
  const unknown = unknownField(body, fields);
  if (unknown !== undefined) return { ok: false, reply: unknownNameError(unknown) };
  const parsed = parseRequest(generateRequest, body);
  if (!parsed.ok) return { ok: false, reply: geminiError({ kind: 'bad-request', message: parsed.message }) };
  const refused =
    invalidFunctionNameError(parsed.value) ??
    unansweredFunctionCallsError(parsed.value) ??
    unsupportedThinkingLevel(model, parsed.value);
  return refused ? { ok: false, reply: refused } : parsed;
}

/**
 * Gemini's 400 (its JSON body) for a generateContent body sent to `model`, or undefined when the
 * mock would answer it: the gateway's property tests judge translated bodies with it.
 */
export function geminiGenerateRefusal(model: string, body: unknown): string | undefined {
  const checked = checkedRequest(model, body, GENERATE_FIELDS);
  return checked.ok ? undefined : JSON.stringify(checked.reply.body);
}

/**
 * What Gemini answers a thinking config the model cannot take, with the status and message of
 * the real 400s (INVALID_ARGUMENT):
 * - `thinkingLevel` with `thinkingBudget`: "You cannot use both thinking_level and the legacy
 *   thinking_budget parameter in the same request. Doing so will return a 400 error."
 *   (ai.google.dev/gemini-api/docs/gemini-3, "Thinking level"); the message as the API words it,
 *   "thinking_budget and thinking_level are not supported together" (help.apiyi.com/en?p=7834,
 *   from gemini-3-pro-preview and gemini-3-flash-preview).
 * - `thinkingLevel` on a model before Gemini 3: "If you use the thinking_level parameter with a
 *   model earlier than Gemini 3, the model returns an error" (the thinking guide, as quoted in
 *   github.com/juspay/neurolink/pull/1707); the API's message "Thinking level is not supported
 *   for this model." on gemini-2.5-flash (github.com/RooCodeInc/Roo-Code/issues/10700, and the
 *   whole 2.5 family measured against v1beta generateContent in
 *   github.com/dhyansraj/mcp-mesh/issues/1346).
 * - A Gemini 3 model refuses a level it lacks (ai.google.dev/gemini-api/docs/thinking): Gemini 3
 *   Pro takes only low and high, 3.1 Pro no minimal; Flash and Flash-Lite take all four.
 * Models named without a version (`gemini-flash-latest`) are Gemini 3 ones now and take a level.
 */
function unsupportedThinkingLevel(model: string, request: GenerateRequest): JsonReply | undefined {
  const config = request.generationConfig?.thinkingConfig;
  const level = config?.thinkingLevel;
  if (level === undefined) return undefined;
  if (config?.thinkingBudget !== undefined)
    return errorBody(
      400,
      'INVALID_ARGUMENT',
      'thinking_budget and thinking_level are not supported together.',
    );
  const major = VERSIONED_MODEL.exec(model)?.[1];
  if (major !== undefined && Number(major) < 3)
    return errorBody(400, 'INVALID_ARGUMENT', 'Thinking level is not supported for this model.');
  const lacks = /^gemini-3-pro\b/.test(model)
    ? level !== 'low' && level !== 'high'
    : /^gemini-3\.\d+-pro\b/.test(model) && level === 'minimal';
  if (!lacks) return undefined;
  return errorBody(
    400,
    'INVALID_ARGUMENT',
    `Thinking level ${level.toUpperCase()} is not supported for this model. Please retry with other thinking level.`,
  );
}

/**
 * Google's JSON parsing refuses a field its request message does not have (an OpenAI-style
 * `stream` or `max_tokens` is a 400), where most JSON APIs ignore it: the top-level fields of
 * GenerateContentRequest and CountTokensRequest.
 */
const GENERATE_FIELDS = new Set([
  'model',
  'contents',
  'tools',
  'toolConfig',
  'safetySettings',
  'systemInstruction',
  'generationConfig',
  'cachedContent',
]);
const COUNT_FIELDS = new Set(['model', 'contents', 'generateContentRequest']);

function unknownField(body: unknown, known: ReadonlySet<string>): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  return Object.keys(body).find((name) => !known.has(name));
}

/** A key in the `x-goog-api-key` header or the `key` query parameter. */
function authenticate(request: AuthRequest, keys: ReadonlySet<string>): AuthResult {
  const header = request.headers['x-goog-api-key'];
  const key = (Array.isArray(header) ? header[0] : header) ?? request.query.get('key') ?? undefined;
  if (key === undefined || key === '') {
    return { ok: false, reply: errorBody(403, 'PERMISSION_DENIED', UNREGISTERED_CALLER) };
  }
  if (!keys.has(key)) return { ok: false, reply: invalidKeyError() };
  return { ok: true, key };
}

const UNREGISTERED_CALLER =
  "Method doesn't allow unregistered callers (callers without established identity). " +
  'Please use API Key or other form of API consumer identity to call this API.';

// --- errors -----------------------------------------------------------------------------

/** A wrong key is a 400 INVALID_ARGUMENT with an ErrorInfo detail, not a 401. */
function invalidKeyError(): JsonReply {
  const message = 'API key not valid. Please pass a valid API key.';
  const details = [
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'API_KEY_INVALID',
      domain: 'googleapis.com',
      metadata: { service: 'generativelanguage.googleapis.com' },
    },
    { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message },
  ];
  return errorBody(400, 'INVALID_ARGUMENT', message, details);
}

function geminiError(error: DialectError): JsonReply {
  switch (error.kind) {
    case 'unauthorized':
      return errorBody(
        401,
        'UNAUTHENTICATED',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      );
    case 'forbidden':
      return errorBody(403, 'PERMISSION_DENIED', 'Permission denied: Consumer has been suspended.');
    case 'rate-limit':
      return errorBody(
        429,
        'RESOURCE_EXHAUSTED',
        RATE_LIMIT_MESSAGE,
        rateLimitDetails(error.retryAfterSeconds ?? 1, error.quotaModel),
      );
    case 'server-error':
      return errorBody(
        500,
        'INTERNAL',
        'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
      );
    case 'unavailable':
      return errorBody(503, 'UNAVAILABLE', 'The service is currently unavailable.');
    case 'overloaded':
      return errorBody(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.');
    case 'context-overflow':
      return errorBody(
        400,
        'INVALID_ARGUMENT',
        'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).',
      );
    case 'bad-request':
      return errorBody(400, 'INVALID_ARGUMENT', error.message ?? 'Request contains an invalid argument.');
    case 'not-found':
      return errorBody(404, 'NOT_FOUND', error.message ?? 'Requested entity was not found.');
    default: {
      const unknown: never = error.kind;
      throw new Error(`no Gemini error for ${String(unknown)}`);
    }
  }
}

const RATE_LIMIT_MESSAGE =
  'You exceeded your current quota, please check your plan and billing details. For more information on this ' +
  'error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.';

/**
 * A per-model quota's violation names the model in `quotaDimensions`, as Gemini's do
 * (`{ location: "global", model }`); without `quotaModel` the quota is the project's.
 */
function rateLimitDetails(retryAfterSeconds: number, quotaModel: string | undefined): unknown[] {
  const violation =
    quotaModel === undefined
      ? {
          quotaMetric: 'generativelanguage.googleapis.com/generate_content_requests',
          quotaId: 'GenerateRequestsPerMinutePerProject',
        }
      : {
          quotaMetric: 'generativelanguage.googleapis.com/generate_content_requests',
          quotaId: 'GenerateRequestsPerMinutePerProjectPerModel',
          quotaDimensions: { location: 'global', model: quotaModel },
          quotaValue: '15',
        };
  return [
    { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [violation] },
    { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds}s` },
  ];
}

/** `{ error: { code, message, status, details? } }`, Google's error shape. */
function errorBody(code: number, status: string, message: string, details?: unknown[]): JsonReply {
  const error = { code, message, status, ...(details ? { details } : {}) };
  return { kind: 'json', status: code, body: { error } };
}

// --- embeddings -------------------------------------------------------------------------

/** The embedding models' names: `gemini-embedding-001`, `text-embedding-004`, `embedding-001`. */
function isEmbeddingModel(model: string): boolean {
  return model.includes('embedding');
}

/** Full-size vectors: 768 for the older models, 3,072 for the Gemini embedding models. */
function nativeDimensions(model: string): number {
  return model === 'text-embedding-004' || model === 'embedding-001' ? 768 : 3072;
}

/** What Gemini answers a method the model does not serve (a chat model asked for embeddings). */
function notSupported(version: string, model: string, method: string): JsonReply {
  return geminiError({
    kind: 'not-found',
    message: `models/${model} is not found for API version ${version}, or is not supported for ${method}. Call ListModels to see the list of available models and their supported methods.`,
  });
}

/** Gemini's batch limit (the real 400's wording; the reference does not state the limit). */
const MAX_BATCH_REQUESTS = 100;
const EMBED_FIELDS = new Set(['model', 'content', 'taskType', 'title', 'outputDimensionality']);

/**
 * embedContent (`{ embedding: { values } }`) and batchEmbedContents (`{ embeddings: [{ values }] }`,
 * in the order of the requests), each with `usageMetadata.promptTokenCount` (the reference's
 * EmbeddingUsageMetadata; the `no-usage` scenario leaves it out, as older answers do). A vector
 * is the model's full-size `embeddingFor` the text, cut to `outputDimensionality` (Gemini
 * truncates, it does not scale the rest back to unit length). Refused as Gemini refuses them:
 * more than 100 requests, a request naming another model than the batch's, an unknown field.
 */
function embeddings(
  exchange: Exchange,
  call: { version: string; model: string; method: 'embedContent' | 'batchEmbedContents' },
): Reply {
  const { version, model, method } = call;
  if (!isEmbeddingModel(model)) return notSupported(version, model, method);
  let items: unknown[];
  let prefix: string;
  if (method === 'batchEmbedContents') {
    const unknown = unknownField(exchange.body, new Set(['requests']));
    if (unknown !== undefined) return unknownNameError(unknown);
    const parsed = parseRequest(batchEmbedRequest, exchange.body);
    if (!parsed.ok) return geminiError({ kind: 'bad-request', message: parsed.message });
    if (parsed.value.requests.length > MAX_BATCH_REQUESTS)
      return geminiError({
        kind: 'bad-request',
        message: `* BatchEmbedContentsRequest.requests: at most ${MAX_BATCH_REQUESTS} requests can be in one batch\n`,
      });
    items = parsed.value.requests;
    prefix = 'requests';
  } else {
    items = [exchange.body];
    prefix = '';
  }
  const requests: EmbedRequest[] = [];
  for (const [index, item] of items.entries()) {
    const at = prefix === '' ? undefined : `${prefix}[${index}]`;
    const unknown = unknownField(item, EMBED_FIELDS);
    if (unknown !== undefined) return unknownNameError(unknown, at);
    const parsed = parseRequest(embedRequest, item);
    if (!parsed.ok) return geminiError({ kind: 'bad-request', message: parsed.message });
    const named = parsed.value.model;
    if (at !== undefined && named !== `models/${model}`)
      return geminiError({
        kind: 'bad-request',
        message: `* BatchEmbedContentsRequest.${at}.model: the model of each request must be the batch's, models/${model}; got ${JSON.stringify(named ?? '')}\n`,
      });
    const size = parsed.value.outputDimensionality;
    if (size !== undefined && (size < 1 || size > nativeDimensions(model)))
      return geminiError({
        kind: 'bad-request',
        message: `* ${at === undefined ? 'EmbedContentRequest' : `BatchEmbedContentsRequest.${at}`}.output_dimensionality: must be between 1 and ${nativeDimensions(model)}\n`,
      });
    requests.push(parsed.value);
  }
  let promptTokens = 0;
  const vectors = requests.map((request) => {
    const text = partsText(request.content.parts);
    promptTokens += countTokens(text);
    const full = embeddingFor(text, nativeDimensions(model));
    return { values: request.outputDimensionality ? full.slice(0, request.outputDimensionality) : full };
  });
  const usage = exchange.scenario.omitUsage
    ? {}
    : {
        usageMetadata: {
          promptTokenCount: promptTokens,
          promptTokenDetails: [{ modality: 'TEXT', tokenCount: promptTokens }],
        },
      };
  const body =
    method === 'batchEmbedContents' ? { embeddings: vectors, ...usage } : { embedding: vectors[0], ...usage };
  return { kind: 'json', status: 200, body, tokens: promptTokens };
}

/**
 * A function declaration's name: "a-z, A-Z, 0-9, or contain underscores, colons, dots, and
 * dashes, with a maximum length of 64" (ai.google.dev/api/caching#FunctionDeclaration), starting
 * with a letter or an underscore, as Gemini's 400 words it.
 */
const FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;

/** Gemini refuses the request naming each declaration whose name breaks the rule (its 400's wording). */
function invalidFunctionNameError(request: GenerateRequest): JsonReply | undefined {
  const problems = (request.tools ?? []).flatMap((tool, t) =>
    (tool.functionDeclarations ?? []).flatMap((declaration, d) =>
      FUNCTION_NAME.test(declaration.name)
        ? []
        : [
            `  * tools[${t}].function_declarations[${d}].name: [FIELD_INVALID] Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, or contain underscores (_), dots (.), colons (:), or dashes (-), with a maximum length of 64.`,
          ],
    ),
  );
  if (problems.length === 0) return undefined;
  return errorBody(
    400,
    'INVALID_ARGUMENT',
    `The GenerateContentRequest proto is invalid:\n${problems.join('\n')}`,
  );
}

/**
 * Gemini answers a turn of function calls only with a response for each: a content of function
 * responses after a model turn must hold as many as that turn's calls (its 400 INVALID_ARGUMENT,
 * "Please ensure that the number of function response parts is equal to the number of function
 * call parts of the function call turn.", as quoted whole in github.com/google-gemini/gemini-cli
 * issues 4217, 5443 and 16415).
 */
function unansweredFunctionCallsError(request: GenerateRequest): JsonReply | undefined {
  let calls = 0;
  for (const content of request.contents) {
    const responses = content.parts.filter((part) => part.functionResponse !== undefined).length;
    if (responses > 0 && responses !== calls)
      return errorBody(
        400,
        'INVALID_ARGUMENT',
        'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.',
      );
    calls = content.parts.filter((part) => part.functionCall !== undefined).length;
  }
  return undefined;
}

/** Google's JSON parsing refuses a field its message does not have, naming where it was. */
function unknownNameError(name: string, at?: string): JsonReply {
  return errorBody(
    400,
    'INVALID_ARGUMENT',
    `Invalid JSON payload received. Unknown name "${name}"${at === undefined ? '' : ` at '${at}'`}: Cannot find field.`,
  );
}

// --- conversation -----------------------------------------------------------------------

function partsText(parts: readonly Part[]): string {
  return parts
    .map(
      (item) =>
        item.text ?? (item.functionResponse ? JSON.stringify(item.functionResponse.response ?? {}) : ''),
    )
    .join('');
}

function toConversation(request: GenerateRequest): Conversation {
  const { contents } = request;
  const last = contents.at(-1);
  const lastUser = contents.findLast((item) => item.role !== 'model');
  const lastTurn: LastTurn = last?.parts.some((item) => item.functionResponse)
    ? { kind: 'tool-result', text: partsText(last.parts) }
    : { kind: 'user', text: lastUser ? partsText(lastUser.parts) : '' };
  const tools = (request.tools ?? []).flatMap((tool) =>
    (tool.functionDeclarations ?? []).map((declaration) => ({
      name: declaration.name,
      parameters: declaration.parameters ?? declaration.parametersJsonSchema,
    })),
  );
  return {
    lastTurn,
    promptTexts: [
      partsText(request.systemInstruction?.parts ?? []),
      ...contents.map((item) => partsText(item.parts)),
    ],
    messageCount: contents.length,
    tools,
    maxOutputTokens: request.generationConfig?.maxOutputTokens,
  };
}

// --- responses --------------------------------------------------------------------------

function finishReason(answer: Answer): 'STOP' | 'MAX_TOKENS' {
  return answer.kind === 'text' && answer.truncated ? 'MAX_TOKENS' : 'STOP';
}

/** `thoughtsTokenCount` only when the model thought, as Gemini leaves it out otherwise. */
function usageMetadata(promptTokens: number, candidateTokens: number, thoughts: number) {
  return {
    promptTokenCount: promptTokens,
    candidatesTokenCount: candidateTokens,
    ...(thoughts > 0 ? { thoughtsTokenCount: thoughts } : {}),
    totalTokenCount: promptTokens + candidateTokens + thoughts,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokens }],
  };
}

function answerParts(answer: Answer): Part[] {
  if (answer.kind === 'text') return [{ text: answer.text }];
  // Gemini sends a function call whole, never as argument fragments.
  return [{ functionCall: { name: answer.toolName, args: JSON.parse(answer.argumentsJson) as unknown } }];
}

/** A whole response, used for generateContent. */
function wholeResponse(exchange: Exchange, model: string, answer: Answer, thoughts: number) {
  const candidate = {
    content: { parts: answerParts(answer), role: 'model' },
    finishReason: finishReason(answer),
    index: 0,
  };
  return {
    candidates: [candidate],
    ...(exchange.scenario.omitUsage
      ? {}
      : { usageMetadata: usageMetadata(answer.inputTokens, answer.outputTokens, thoughts) }),
    modelVersion: model,
    responseId: exchange.requestId,
  };
}

/**
 * The stream: text in groups of words, each chunk with the running usage; the last one
 * carries finishReason. With `alt=sse` these are SSE frames with CRLF line endings;
 * without it, the elements of a JSON array written as they come.
 */
function streamReply(
  exchange: Exchange,
  model: string,
  answer: Answer,
  thoughts: number,
  tokens: number,
): Reply {
  const chunks = streamChunks(exchange, model, answer, thoughts);
  if (exchange.query.get('alt') === 'sse') {
    const frames = chunks.map((chunk) => sseFrame(chunk, { eol: '\r\n' }));
    return {
      kind: 'stream',
      status: 200,
      contentType: 'text/event-stream',
      frames,
      keepAliveFrame: sseComment('ping', '\r\n'),
      tokens,
    };
  }
  const frames: StreamFrame[] = chunks.map((chunk, index) => ({
    text: `${index === 0 ? '[' : ',\r\n'}${JSON.stringify(chunk)}`,
  }));
  frames.push({ text: ']', terminator: true });
  return { kind: 'stream', status: 200, contentType: 'application/json; charset=UTF-8', frames, tokens };
}

/** The thoughts come first: every chunk's running usage counts them all. */
function streamChunks(exchange: Exchange, model: string, answer: Answer, thoughts: number): object[] {
  const { omitUsage, omitTerminator } = exchange.scenario;
  const pieces: Part[][] =
    answer.kind === 'text'
      ? splitWordGroups(answer.text, 3).map((text) => [{ text }])
      : [answerParts(answer)];
  let streamed = '';
  return pieces.map((parts, index) => {
    streamed += partsText(parts);
    const isLast = index === pieces.length - 1;
    const outputTokens = isLast ? answer.outputTokens : countTokens(streamed);
    const candidate = {
      content: { parts, role: 'model' },
      // No separate end frame exists: the finishReason of the last chunk is the terminator.
      ...(isLast && !omitTerminator ? { finishReason: finishReason(answer) } : {}),
      index: 0,
    };
    return {
      candidates: [candidate],
      ...(omitUsage ? {} : { usageMetadata: usageMetadata(answer.inputTokens, outputTokens, thoughts) }),
      modelVersion: model,
      responseId: exchange.requestId,
    };
  });
}
