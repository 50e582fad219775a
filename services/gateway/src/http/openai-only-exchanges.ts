import { z } from 'zod';
import { pricesByServiceTier } from '../providers/provider-support.js';
import { countOpenAiResponses, countTextTokens, Tally, tokenizerForModel } from '../tokens/index.js';
import {
  openAIEmbeddingsAnswer,
  openAIToGeminiEmbeddingsRequest,
  readGeminiEmbeddings,
} from '../translate/gemini-embeddings.js';
import type { StreamFailure } from '../translate/stream-parts.js';
import { type NormalisedUsage, withServiceTier } from '../translate/usage.js';
import { isUpstreamError } from '../upstream/upstream-error.js';
import {
  type AnswerFailure,
  callerStallMs,
  drained,
  type Exchange,
  type ExchangePlanner,
  responsesErrorFrame,
  sequenceAfter,
  streamFailureError,
  streamHeaders,
  unreadableAnswer,
  write,
} from './exchange.js';
import type { Route } from './route-model.js';

/*
 * Endpoints with no equivalent in the other dialects: served by providers that speak them
 * natively, body and answer forwarded as they are (model replaced by the routed name); and
 * embeddings by Gemini too, through its own embeddings API (translate/gemini-embeddings.ts).
 */

/**
 * An embeddings answer's usage: `prompt_tokens`, or `total_tokens` alone (an embedding has no
 * output, so they are equal; Voyage AI's OpenAI-shaped answers report only the total).
 */
const embeddingsAnswer = z.object({
  usage: z
    .object({
      prompt_tokens: z.number().int().min(0).nullish(),
      total_tokens: z.number().int().min(0).nullish(),
    })
    .nullish(),
});

/** The tokens an embeddings answer reports, or undefined when it reports none. */
function reportedEmbeddingsTokens(json: unknown): number | undefined {
  const reported = embeddingsAnswer.safeParse(json);
  if (!reported.success) return undefined;
  return reported.data.usage?.prompt_tokens ?? reported.data.usage?.total_tokens ?? undefined;
}

/** A request log's text of an embeddings answer: none (vectors are not text). */
const NO_ANSWER_TEXT = (): string => '';

/**
 * `POST /v1/embeddings`: forwarded to OpenAI-dialect providers, translated for Gemini. Usage
 * counted with a tokenizer when the provider reports none.
 */
export const planEmbeddingsExchange: ExchangePlanner = (caller, adapter, config, body, route) => {
  if (caller !== 'openai' || !adapter.supports('embeddings', config)) return undefined;
  if (adapter.dialect === 'gemini') return planGeminiEmbeddings(body, route);
  if (adapter.dialect !== 'openai') return undefined;
  return {
    operation: {
      operation: 'embeddings',
      model: route.model,
      stream: false,
      body: { ...body, model: route.model },
    },
    answer: (reply) => {
      // Forwarded as sent, its usage read from its end: a batch of embeddings is megabytes of
      // numbers (2,048 base64 vectors: 17 MB), which parsed and serialised again held the
      // event loop for 130-300 ms. Anything else is parsed whole.
      const tail = embeddingsUsageAtEnd(reply.rawText);
      if (tail !== undefined) {
        return {
          text: reply.rawText,
          usage: { inputTokens: tail, outputTokens: 0, cachedInputTokens: 0 },
          loggedText: NO_ANSWER_TEXT,
        };
      }
      const json = reply.json();
      // An error object sent with a success status is not forwarded as an answer.
      if (!Array.isArray((json as { data?: unknown } | null)?.data))
        throw unreadableAnswer(json, reply.redact, 'data: not a list of embeddings');
      const input = reportedEmbeddingsTokens(json) ?? countInput(body.input, route.model);
      return {
        // As sent, as the answers read at their end: only what an error object is, is checked.
        text: reply.rawText,
        usage: { inputTokens: input, outputTokens: 0, cachedInputTokens: 0 },
        loggedText: NO_ANSWER_TEXT,
      };
    },
    stream: () => Promise.reject(new Error('embeddings do not stream')),
  };
};

/**
 * Embeddings from Gemini's batchEmbedContents, answered in OpenAI's shape: the vectors in the
 * encoding the caller asked for (the openai SDK asks for base64 when its caller names none),
 * of length 1 as OpenAI's (Gemini's shortened ones, `dimensions`, are not normalized),
 * `model` the routed name, usage as Gemini reports it (`usageMetadata`), else counted as for
 * OpenAI. A request Gemini cannot take is refused naming the caller's field (a
 * TranslationError: the next provider of the chain may take it); more than one batch (100
 * inputs) is refused too, not split: one request is one provider call, so a later batch
 * failing would leave the earlier ones billed and unrecorded, or billed again on the next key.
 */
function planGeminiEmbeddings(body: Record<string, unknown>, route: Route): Exchange {
  const request = openAIToGeminiEmbeddingsRequest(body, route.model);
  return {
    operation: { operation: 'embeddings', model: route.model, stream: false, body: request.body },
    answer: (reply) => {
      const json = reply.json();
      const read = readGeminiEmbeddings(json, request.texts.length, request.unitLength);
      // An error object sent with a success status, or not one vector per input: not forwarded.
      if (typeof read === 'string') throw unreadableAnswer(json, reply.redact, read);
      const inputTokens = read.promptTokens ?? countInput(request.texts, route.model);
      return {
        text: openAIEmbeddingsAnswer(read.vectors, {
          model: route.model,
          encoding: request.encoding,
          promptTokens: inputTokens,
        }),
        usage: { inputTokens, outputTokens: 0, cachedInputTokens: 0 },
        loggedText: NO_ANSWER_TEXT,
      };
    },
    stream: () => Promise.reject(new Error('embeddings do not stream')),
  };
}

/** How far from its end an embeddings answer's usage may start to be read there. */
const USAGE_TAIL_CHARS = 512;
/** A last member `"usage": {...}` of flat numeric (or null) members, then the answer's closing brace. */
const USAGE_AT_END = /"usage"\s*:\s*(\{(?:\s*"[a-z_]{1,64}"\s*:\s*(?:\d{1,12}|null)\s*,?)*\s*\})\s*\}\s*$/;

/**
 * The tokens of an OpenAI embeddings answer whose last member is its usage (as OpenAI and the
 * compatible servers write it: Mistral adds `completion_tokens`, Voyage gives `total_tokens`
 * alone), read from the end without parsing the vectors; undefined when the text does not end
 * so or is not an object (it is then parsed whole, and an answer that is not JSON refused).
 * Vectors hold no quotes: `"usage"` near the end is the key.
 */
export function embeddingsUsageAtEnd(text: string): number | undefined {
  if (text.charCodeAt(firstNonSpace(text)) !== 0x7b /* { */) return undefined;
  const match = USAGE_AT_END.exec(text.slice(-USAGE_TAIL_CHARS));
  if (!match) return undefined;
  let usage: unknown;
  try {
    usage = JSON.parse(match[1] as string);
  } catch {
    return undefined; // a stray comma: the answer is parsed whole
  }
  return reportedEmbeddingsTokens({ usage });
}

/** A `"model": "..."` member's name (no escapes: model names hold none). */
const MODEL_MEMBER = /"model"\s*:\s*"([^"\\]{1,256})"/g;

/**
 * The model an embeddings answer names, read from its end as its usage is (OpenAI and Azure
 * write `model` after the vectors, before `usage`): what an Azure deployment runs, which is
 * what Azure bills. Undefined when the end names none. Vectors hold no quotes: a `"model"`
 * there is the key.
 */
export function embeddingsModelAtEnd(text: string): string | undefined {
  let model: string | undefined;
  for (const match of text.slice(-USAGE_TAIL_CHARS).matchAll(MODEL_MEMBER)) model = match[1];
  return model;
}

function firstNonSpace(text: string): number {
  let at = 0;
  while (
    at < text.length &&
    (text[at] === ' ' || text[at] === '\n' || text[at] === '\r' || text[at] === '\t')
  )
    at++;
  return at;
}

/**
 * The tokens of an embeddings input no usage was given for: texts counted with the tokenizer,
 * token ids (`[1, 2]`, or a batch `[[1, 2], [3]]`, as LangChain sends) one apiece. One count
 * for the whole batch, so that the tokenizer reads at most its budget (a count apiece read a
 * 10 MiB batch whole, seconds on the event loop).
 */
function countInput(input: unknown, model: string): number {
  const tally = new Tally(tokenizerForModel(model));
  if (typeof input === 'string') tally.text(input);
  else if (Array.isArray(input))
    for (const item of input) {
      if (typeof item === 'string') tally.text(item);
      else if (typeof item === 'number') tally.tokens += 1;
      else if (Array.isArray(item)) tally.tokens += item.length;
    }
  return tally.result().tokens;
}

const responsesUsage = z
  .object({
    input_tokens: z.number().int().min(0),
    output_tokens: z.number().int().min(0),
    input_tokens_details: z.object({ cached_tokens: z.number().int().min(0) }).nullish(),
    output_tokens_details: z.object({ reasoning_tokens: z.number().int().min(0) }).nullish(),
  })
  .nullish();

function responsesUsageOf(value: unknown): NormalisedUsage | undefined {
  const parsed = responsesUsage.safeParse(value);
  if (!parsed.success || !parsed.data) return undefined;
  const u = parsed.data;
  const usage: NormalisedUsage = {
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    cachedInputTokens: Math.min(u.input_tokens_details?.cached_tokens ?? 0, u.input_tokens),
  };
  const reasoning = u.output_tokens_details?.reasoning_tokens;
  if (reasoning !== undefined) usage.reasoningTokens = Math.min(reasoning, u.output_tokens);
  return usage;
}

/**
 * The calls of OpenAI's built-in tools an answer is billed apiece for (pricing page, "Built-in
 * tools"): its completed `web_search_call` items whose action is a `search` (opening a page
 * or finding in it is no billed call, the web search guide; a `web_search_preview` item may
 * name no action), and its completed `file_search_call` items.
 */
interface ToolCalls {
  webSearches: number;
  fileSearches: number;
}

function countToolCall(calls: ToolCalls, item: unknown): void {
  const call = item as { type?: unknown; status?: unknown; action?: { type?: unknown } | null } | null;
  if (call?.status !== 'completed') return;
  if (call.type === 'web_search_call') {
    const action = call.action?.type;
    if (action === undefined || action === 'search') calls.webSearches++;
  } else if (call.type === 'file_search_call') calls.fileSearches++;
}

/** The billed tool calls of a response's `output`; undefined when it has none to read. */
function toolCallsOf(output: unknown): ToolCalls | undefined {
  if (!Array.isArray(output)) return undefined;
  const calls = { webSearches: 0, fileSearches: 0 };
  for (const item of output) countToolCall(calls, item);
  return calls;
}

const PREVIEW_SEARCH = /^web_search_preview/;

/** Whether a Responses request offers the older `web_search_preview` tool (`_2025_03_11` too). */
function offersPreviewSearch(tools: unknown): boolean {
  return Array.isArray(tools) && tools.some((tool) => PREVIEW_SEARCH.test(String(tool?.type)));
}

/**
 * The usage with the tool calls the answer was billed for. A search item does not say which
 * web search tool ran it: with `web_search_preview` offered, every search is taken as its
 * (priced at the preview's rate, the higher one where the two differ).
 */
function withToolCalls(
  usage: NormalisedUsage,
  calls: ToolCalls | undefined,
  preview: boolean,
): NormalisedUsage {
  if (calls === undefined || (calls.webSearches === 0 && calls.fileSearches === 0)) return usage;
  const billed = { ...usage };
  if (calls.webSearches > 0) billed.webSearches = calls.webSearches;
  if (calls.webSearches > 0 && preview) billed.webSearchPreviews = calls.webSearches;
  if (calls.fileSearches > 0) billed.fileSearches = calls.fileSearches;
  return billed;
}

/**
 * Responses tools that cost tokens only (run by the caller, or by the model without a fee of
 * their own); the searches are priced apiece; any other is billed in a way the gateway cannot
 * price (code_interpreter and a hosted shell per container, image_generation at the image
 * model's rates, tools it does not know).
 */
const TOKEN_ONLY_TOOLS = new Set([
  'function',
  'custom',
  'namespace',
  'mcp',
  'local_shell',
  'apply_patch',
  'computer',
  'computer_use_preview',
  'tool_search',
]);

const UNPRICED_TOOL_BILLING = new Map([
  ['code_interpreter', 'is billed per container'],
  ['image_generation', "is billed at the image model's rates"],
  ['shell', 'in a hosted container is billed per container'],
]);

/** The Chat Completions models that search the web for every request (`gpt-4o-search-preview`, `gpt-5-search-api`). */
const SEARCH_MODEL = /-search-(?:preview|api)(?:$|-)/i;

/** What a request's tools may be billed apiece, for admission's estimate (`estimateOf`). */
export interface OfferedToolFees {
  /** One call of each search tool offered (Claude's web search: its `max_uses`): a request that offers one is estimated to search once. */
  readonly usage: Pick<NormalisedUsage, 'webSearches' | 'webSearchPreviews' | 'fileSearches'>;
  /** The priced tools offered (`web_search, file_search`), to name them when the model has no price for them. */
  readonly offered?: string;
  /**
   * Why the request's fees cannot be priced (a tool billed in a way the gateway cannot price):
   * a USD budget cannot hold it (decision 0014).
   */
  readonly unpriced?: string;
}

const NO_TOOL_FEES: OfferedToolFees = { usage: {} };

/**
 * The fees of the built-in tools a request offers: OpenAI's Responses tools (searches priced
 * apiece, others unpriced), Claude's server tools on Messages, and Chat Completions' web search (`web_search_options`, the search
 * models), whose answer does not say how many searches it ran, so it cannot be priced.
 */
export function offeredToolFees(
  endpoint: string,
  body: Record<string, unknown>,
  model: string,
): OfferedToolFees {
  if (endpoint === 'chat.completions') {
    if (body.web_search_options != null)
      return {
        usage: {},
        unpriced:
          'web search (`web_search_options`) is billed per search, which a Chat Completions answer does not count; search with the Responses API (its `web_search` tool)',
      };
    return SEARCH_MODEL.test(model)
      ? {
          usage: {},
          unpriced: `${model} searches the web for every request, billed per search, which a Chat Completions answer does not count; search with the Responses API (its \`web_search\` tool)`,
        }
      : NO_TOOL_FEES;
  }
  if (endpoint === 'messages') return claudeToolFees(body.tools);
  if (endpoint !== 'responses' || !Array.isArray(body.tools)) return NO_TOOL_FEES;
  let web = false;
  let preview = false;
  let file = false;
  for (const tool of body.tools as Array<Record<string, unknown> | null>) {
    const type = tool?.type;
    if (typeof type !== 'string' || TOKEN_ONLY_TOOLS.has(type)) continue;
    if (type.startsWith('web_search')) {
      web = true;
      preview ||= PREVIEW_SEARCH.test(type);
    } else if (type === 'file_search') file = true;
    else if (type === 'shell' && hostedShell(tool?.environment) === false) continue;
    else
      return {
        usage: {},
        unpriced: `the ${type.slice(0, 64)} tool ${UNPRICED_TOOL_BILLING.get(type) ?? 'may be billed apart'}, which the gateway cannot price; send the request without it`,
      };
  }
  if (!web && !file) return NO_TOOL_FEES;
  return {
    usage: {
      ...(web && { webSearches: 1 }),
      ...(preview && { webSearchPreviews: 1 }),
      ...(file && { fileSearches: 1 }),
    },
    offered: [web && (preview ? 'web_search_preview' : 'web_search'), file && 'file_search']
      .filter(Boolean)
      .join(', '),
  };
}

/**
 * The fees of Claude's server tools a Messages request offers: its web search tool
 * (`web_search_*`, $10 per 1,000 searches) held at `max_uses` searches when the caller bounds
 * it, else at one, as a Responses search is; its code execution tool, billed per container
 * hour as OpenAI's Code Interpreter is per container, unpriced but where Claude runs it free.
 */
function claudeToolFees(tools: unknown): OfferedToolFees {
  if (!Array.isArray(tools)) return NO_TOOL_FEES;
  let searches = 0;
  let container: string | undefined;
  let freeCode = false;
  for (const tool of tools as Array<Record<string, unknown> | null>) {
    const type = tool?.type;
    if (typeof type !== 'string') continue;
    if (CLAUDE_CONTAINER_TOOL.test(type)) container ??= type;
    freeCode ||= freesCodeExecution(type);
    if (!type.startsWith('web_search_')) continue;
    const maxUses = tool?.max_uses;
    searches += typeof maxUses === 'number' && Number.isSafeInteger(maxUses) && maxUses > 0 ? maxUses : 1;
  }
  if (container !== undefined && !freeCode)
    return {
      usage: {},
      unpriced: `the ${container.slice(0, 64)} tool is billed per container hour, which the gateway cannot price; send the request without it`,
    };
  return searches === 0 ? NO_TOOL_FEES : { usage: { webSearches: searches }, offered: 'web_search' };
}

/** Claude's server tools that run in a container Anthropic bills by the hour (code execution). */
const CLAUDE_CONTAINER_TOOL = /^(?:code_execution|bash_code_execution|text_editor_code_execution)_/;

/**
 * Whether a tool makes Claude's code execution free in its request: "Code execution is free
 * when used with web search or web fetch (web_search_20260209, web_fetch_20260209, or later)"
 * (platform.claude.com/docs/en/agents-and-tools/tool-use/code-execution-tool).
 */
function freesCodeExecution(type: string): boolean {
  const version = /^web_(?:search|fetch)_(\d{8})$/.exec(type)?.[1];
  return version !== undefined && version >= '20260209';
}

/** Whether a `shell` tool runs in a container OpenAI hosts (and bills): any environment but the caller's own. */
function hostedShell(environment: unknown): boolean {
  if (environment === undefined || environment === null) return false;
  return (environment as { type?: unknown }).type !== 'local';
}

/**
 * Stream events whose `delta` is output the model produced: text, a refusal, the input of a
 * function, custom tool, MCP call or code interpreter run, a shell command (billed as output
 * tokens; not the shell's own output, `response.shell_call_output_content.delta`).
 */
const RESPONSES_OUTPUT_DELTAS = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.function_call_arguments.delta',
  'response.custom_tool_call_input.delta',
  'response.mcp_call_arguments.delta',
  'response.code_interpreter_call_code.delta',
  'response.shell_call_command.delta',
]);

/**
 * Stream events whose `delta` is reasoning (its text, or its summary): billed as output
 * (reasoning) tokens, so counted when a stream ends without usage, but not logged as the answer.
 */
const RESPONSES_REASONING_DELTAS = new Set([
  'response.reasoning_text.delta',
  'response.reasoning_summary_text.delta',
]);

/** The deltas that carry content, where a stream's time to first token ends: output, and reasoning. */
const RESPONSES_CONTENT_DELTAS = new Set([...RESPONSES_OUTPUT_DELTAS, ...RESPONSES_REASONING_DELTAS]);

/** The text a finished Responses answer produced: output text, refusals, tool calls. */
function responsesOutputText(json: unknown): string {
  const output = (json as { output?: unknown } | null)?.output;
  if (!Array.isArray(output)) return '';
  let text = '';
  for (const item of output as Array<Record<string, unknown> | null>) {
    if (item?.type === 'function_call') text += `${item.name ?? ''}${item.arguments ?? ''}`;
    if (!Array.isArray(item?.content)) continue;
    for (const part of item.content as Array<Record<string, unknown> | null>) {
      if (typeof part?.text === 'string') text += part.text;
      else if (typeof part?.refusal === 'string') text += part.refusal;
    }
  }
  return text;
}

/**
 * How a `response.failed` is recorded, by its `response.error.code` (API reference, the
 * Response object's `error.code`: `server_error`, `rate_limit_exceeded`, `vector_store_timeout`,
 * and the prompt's faults `invalid_prompt`, `invalid_image`, `image_too_large`...): the
 * provider failing, limiting or timing out, else refusing what it was sent.
 */
export function responseFailureCode(code: unknown): AnswerFailure {
  switch (code) {
    case 'rate_limit_exceeded':
      return 'upstream_rate_limited';
    case 'vector_store_timeout':
      return 'upstream_timeout';
    case 'server_error':
      return 'upstream_unavailable';
    default:
      return typeof code === 'string' && code !== '' ? 'upstream_rejected' : 'upstream_unavailable';
  }
}

/**
 * What a Responses stream's `error` event says, as a chat stream's error frame is read: its
 * `code` (API reference, ResponseErrorEvent: `code`, `message`, `param`, `sequence_number`),
 * or the error it nests (OpenAI's own events do: the SDK reads `error` first), by the status it
 * stands for (`rate_limit_exceeded` 429, `server_error` 500...; a numeric code is the status).
 */
export function responsesStreamFailure(event: unknown): StreamFailure {
  const flat = event as { code?: unknown; message?: unknown; error?: unknown };
  const nested = typeof flat.error === 'object' && flat.error !== null ? flat.error : undefined;
  const { code, type, message } = (nested ?? flat) as { code?: unknown; type?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : 'the provider reported a failure';
  if (typeof code === 'number' && Number.isInteger(code) && code >= 400 && code <= 599)
    return {
      kind: 'upstream_error',
      errorType: typeof type === 'string' ? type : 'error',
      message: text,
      status: code,
    };
  const errorType =
    typeof code === 'string' && code !== '' ? code : typeof type === 'string' ? type : 'error';
  return { kind: 'upstream_error', errorType, message: text };
}

/**
 * `POST /v1/responses` (OpenAI Responses API), plain and streamed. A stream ends with
 * `response.completed` (or `response.incomplete`, a clean end with a reason, or
 * `response.failed`, a clean end recorded as the failure it names); usage comes from that
 * final event. Without it (a stream cut or left before its end, a
 * server that reports none) the prompt and the output so far are counted with a tokenizer,
 * with the stored conversation a follow-up continues when recorded: what was used is charged.
 */
export const planResponsesExchange: ExchangePlanner = (
  caller,
  adapter,
  config,
  body,
  route,
  requestId,
  stream,
  storedInput = 0,
) => {
  if (caller !== 'openai' || !adapter.supports('responses', config)) return undefined;
  // The tier the answer names prices it only at OpenAI (and Azure); another server's tiers are its own.
  const pricedTier = (tier: unknown) => (pricesByServiceTier(adapter) ? tier : undefined);
  const stallMs = callerStallMs(route);
  const previewSearch = offersPreviewSearch(body.tools);
  // A follow-up's input is its body and the stored conversation it continues (billed again).
  const counted = (outputText: string): NormalisedUsage => ({
    inputTokens: countOpenAiResponses(body, route.model).tokens + storedInput,
    outputTokens: countTextTokens(outputText, route.model).tokens,
    cachedInputTokens: 0,
  });
  /** A count of a stream cut short, with the reasoning it streamed: output tokens, of which reasoning. */
  const countedWithReasoning = (usage: NormalisedUsage, reasoning: readonly string[]): NormalisedUsage => {
    if (reasoning.length === 0) return usage;
    const reasoningTokens = countTextTokens(reasoning.join(''), route.model).tokens;
    return { ...usage, outputTokens: usage.outputTokens + reasoningTokens, reasoningTokens };
  };
  return {
    operation: { operation: 'responses', model: route.model, stream, body: { ...body, model: route.model } },
    answer: (reply) => {
      const json = reply.json() as {
        object?: unknown;
        id?: unknown;
        usage?: unknown;
        service_tier?: unknown;
        status?: unknown;
        error?: { code?: unknown } | null;
      };
      // An error object sent with a success status is not forwarded as an answer.
      if (json?.object !== 'response') throw unreadableAnswer(json, reply.redact, 'object: not a response');
      const text = JSON.stringify(json);
      return {
        // A failed response's error is the provider's words: forwarded without a key they may
        // quote, as its stream's `response.failed` is.
        text: json.status === 'failed' ? reply.redact(text) : text,
        usage: withServiceTier(
          withToolCalls(
            responsesUsageOf(json?.usage) ?? counted(responsesOutputText(json)),
            toolCallsOf((json as { output?: unknown }).output),
            previewSearch,
          ),
          pricedTier(json?.service_tier),
        ),
        ...(typeof json?.id === 'string' && { storedId: json.id }),
        // Recorded failed for its reason, as the stream's `response.failed` is.
        ...(json.status === 'failed' && { failure: responseFailureCode(json.error?.code) }),
      };
    },
    stream: async (events, res, timing, settle) => {
      // The 200 waits for the first write, as a chat stream's does (exchange.ts): until then a
      // stream that fails (a reset, an error event, an end before any event) is a failed
      // attempt, and the next key is asked.
      let committed = false;
      let usage: NormalisedUsage | undefined;
      /** The tier serving the answer (each `response` names it; priority and flex bill at their rates). */
      let serviceTier: unknown;
      /**
       * The answer's id (stored by the provider under this key), for the next request's key;
       * the model and status of the terminator, as a plain answer's span has them.
       */
      const facts: { finishReasons: string[]; responseId?: string; responseModel?: string } = {
        finishReasons: [],
      };
      /** The attempt's response model and finish reason (its status) from a terminator's response. */
      const terminated = (response: { model?: unknown; status?: unknown } | undefined) => {
        if (typeof response?.model === 'string') facts.responseModel = response.model;
        if (typeof response?.status === 'string') facts.finishReasons = [response.status];
      };
      /**
       * Output deltas by output item and content part, kept by reference; joined only if no
       * usage comes or the org logs text. In one text, a key split across parts escaped redaction.
       */
      const output = new Map<string, { item: number; part: number; deltas: string[] }>();
      /** Billed tool calls of the items done so far; the terminator's whole output replaces them. */
      let toolCalls: ToolCalls = { webSearches: 0, fileSearches: 0 };
      let finished = false;
      /** Why the provider failed the response (`response.failed`), as the request is recorded. */
      let failure: AnswerFailure | undefined;
      let broken: string | undefined;
      /** What broke the stream: the transport's error, or the provider's error event. */
      let brokenBy: unknown;
      let streamFailure: StreamFailure | undefined;
      /** The first event: the time to first token of a stream that carries no content. */
      let firstEventAt: number | undefined;
      /** Reasoning deltas: counted as output (reasoning) when no usage comes, never logged. */
      const reasoning: string[] = [];
      /** The `sequence_number` an event of Kordon's own after those forwarded takes. */
      let nextSequence = 0;
      try {
        for await (const event of events) {
          const type = (event as { type?: unknown })?.type;
          // Time to first token ends at the first content delta, not at response.created.
          if (timing.firstByteAt === undefined) {
            firstEventAt ??= performance.now();
            if (typeof type === 'string' && RESPONSES_CONTENT_DELTAS.has(type))
              timing.firstByteAt = performance.now();
          }
          if (type === 'response.created' || type === 'response.in_progress') {
            const response = (
              event as { response?: { id?: unknown; service_tier?: unknown; model?: unknown } }
            ).response;
            if (typeof response?.id === 'string') facts.responseId = response.id;
            // The model version serving the answer (Azure's), to price a stream that never finishes.
            if (typeof response?.model === 'string') facts.responseModel = response.model;
            serviceTier = response?.service_tier ?? serviceTier;
          } else if (type === 'response.completed' || type === 'response.incomplete') {
            finished = true;
            const response = (
              event as {
                response?: {
                  usage?: unknown;
                  service_tier?: unknown;
                  output?: unknown;
                  model?: unknown;
                  status?: unknown;
                };
              }
            ).response;
            terminated(response);
            usage = responsesUsageOf(response?.usage);
            serviceTier = response?.service_tier ?? serviceTier;
            toolCalls = toolCallsOf(response?.output) ?? toolCalls;
          } else if (type === 'response.output_item.done') {
            countToolCall(toolCalls, (event as { item?: unknown }).item);
          } else if (type === 'response.failed') {
            // The stream's terminator for a failed response: the caller's SDK reads the reason
            // from it (`finalResponse()` resolves with status "failed" and `error`), so it ends
            // the stream as it is, and the request is recorded failed for that reason.
            finished = true;
            const response = (
              event as {
                response?: {
                  usage?: unknown;
                  service_tier?: unknown;
                  output?: unknown;
                  model?: unknown;
                  status?: unknown;
                  error?: { code?: unknown };
                };
              }
            ).response;
            terminated(response);
            failure = responseFailureCode(response?.error?.code);
            // A failed response still says what it used (and was billed): that, not a count.
            usage = responsesUsageOf(response?.usage) ?? usage;
            serviceTier = response?.service_tier ?? serviceTier;
            toolCalls = toolCallsOf(response?.output) ?? toolCalls;
          } else if (type === 'error') {
            broken = 'the provider reported a failure';
            streamFailure = responsesStreamFailure(event);
          } else if (typeof type === 'string' && RESPONSES_OUTPUT_DELTAS.has(type)) {
            const { delta, output_index, content_index, command_index } = event as {
              delta?: unknown;
              output_index?: unknown;
              content_index?: unknown;
              command_index?: unknown;
            };
            if (typeof delta === 'string') {
              // function_call_arguments.delta has no content_index, one part per item (openai-node
              // ResponseFunctionCallArgumentsDeltaEvent: item_id, output_index, delta); a shell
              // call's commands are its parts (command_index).
              const item = typeof output_index === 'number' ? output_index : 0;
              const index = content_index ?? command_index;
              const part = typeof index === 'number' ? index : 0;
              const block = output.get(`${item}:${part}`);
              if (block) block.deltas.push(delta);
              else output.set(`${item}:${part}`, { item, part, deltas: [delta] });
            }
          } else if (typeof type === 'string' && RESPONSES_REASONING_DELTAS.has(type)) {
            const { delta } = event as { delta?: unknown };
            if (typeof delta === 'string') reasoning.push(delta);
          }
          // An error event before anything was written: the attempt failed (below).
          if (!committed && streamFailure !== undefined) break;
          const frame = `event: ${typeof type === 'string' ? type : 'message'}\ndata: ${JSON.stringify(event)}\n\n`;
          // The provider's failure is forwarded, but not a key it may quote.
          const quotesProvider = broken !== undefined || failure !== undefined;
          if (!committed) {
            committed = true;
            res.writeHead(200, streamHeaders('openai', requestId));
          }
          nextSequence = sequenceAfter(event, nextSequence);
          if (!write(res, quotesProvider ? events.redact(frame) : frame)) await drained(res, stallMs);
          if (res.destroyed) break;
        }
      } catch (error) {
        // After response.completed (or .incomplete) the answer is whole: a reset or a timeout
        // before the upstream closes changes nothing.
        if (!finished) {
          broken = error instanceof Error ? error.message : String(error);
          brokenBy = error;
        }
      }
      if (!committed && !finished && !res.destroyed && timing.interruption === undefined) {
        // Nothing reached the caller: failed as an error status would have (an error of
        // Kordon's own, not the provider's, is no failed attempt and goes up as it is).
        events.cancel();
        timing.firstByteAt = undefined;
        if (brokenBy !== undefined && !isUpstreamError(brokenBy)) throw brokenBy;
        throw streamFailureError(brokenBy, streamFailure, events.redact.bind(events));
      }
      if (!committed && !res.destroyed) res.writeHead(200, streamHeaders('openai', requestId));
      timing.firstByteAt ??= firstEventAt;
      // What was produced, for the request log (joined only if the org logs text): a line
      // between parts, in output order, as a finished answer's text is read.
      const outputText = () =>
        [...output.values()]
          .sort((a, b) => a.item - b.item || a.part - b.part)
          .map((block) => block.deltas.join(''))
          .join('\n');
      // The searches it ran are billed however the stream ended.
      usage = withServiceTier(
        withToolCalls(
          usage ?? countedWithReasoning(counted(outputText()), reasoning),
          toolCalls,
          previewSearch,
        ),
        pricedTier(serviceTier),
      );
      if (res.destroyed) {
        events.cancel();
        settle(usage, 'client_disconnected', outputText, facts);
      } else if (finished && !broken) {
        res.end();
        settle(usage, 'complete', outputText, facts, failure);
      } else {
        const message =
          timing.interruption ??
          `upstream stream interrupted: ${events.redact(broken ?? 'ended before response.completed')}`;
        // The provider's own `error` event, forwarded as sent, already ends the stream: a second
        // one of Kordon's after it is not what the provider sends.
        const errorForwarded = streamFailure !== undefined && timing.interruption === undefined;
        res.end(errorForwarded ? undefined : responsesErrorFrame(message, nextSequence));
        // The key is held to what broke its stream; not when Kordon ended it, nor for its own fault.
        const keyFailure =
          timing.interruption !== undefined || (brokenBy !== undefined && !isUpstreamError(brokenBy))
            ? undefined
            : streamFailureError(brokenBy, streamFailure, events.redact.bind(events));
        settle(usage, 'interrupted', outputText, facts, undefined, keyFailure);
      }
    },
  };
};

/**
 * `POST /v1/responses/compact` (the Responses API's compaction: the conversation, its input or
 * the stored response `previous_response_id` names, made into the user's messages and one
 * `compaction` item of encrypted content): sent as written to a provider that compacts
 * (OpenAI; Azure's v1 API), its answer forwarded as it is. It runs the model and is billed its
 * `usage`; without one, the prompt (with the stored conversation a follow-up continues, when
 * recorded) is counted. It has no stream: a `stream` is refused before this (generate.ts).
 */
export const planResponsesCompactExchange: ExchangePlanner = (
  caller,
  adapter,
  config,
  body,
  route,
  _requestId,
  _stream,
  storedInput = 0,
) => {
  if (caller !== 'openai' || !adapter.supports('responses_compact', config)) return undefined;
  return {
    operation: {
      operation: 'responses_compact',
      model: route.model,
      stream: false,
      body: { ...body, model: route.model },
    },
    answer: (reply) => {
      const json = reply.json() as { object?: unknown; usage?: unknown } | null;
      // An error object sent with a success status is not forwarded as an answer.
      if (json?.object !== 'response.compaction')
        throw unreadableAnswer(json, reply.redact, 'object: not a response.compaction');
      return {
        text: reply.rawText,
        usage: responsesUsageOf(json.usage) ?? {
          inputTokens: countOpenAiResponses(body, route.model).tokens + storedInput,
          // The compaction item is ciphertext, its size no token count; the model's tokens are the provider's to report.
          outputTokens: 0,
          cachedInputTokens: 0,
        },
        // The caller's own messages and ciphertext: no answer text to log.
        loggedText: NO_ANSWER_TEXT,
      };
    },
    stream: () => Promise.reject(new Error('a compaction is not streamed')),
  };
};
