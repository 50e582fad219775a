/**
 * OpenAI Responses API: `POST /v1/responses`, plain and streamed as semantic events, its input
 * token count (`POST /v1/responses/input_tokens`), the stored answers it keeps (`GET` / `DELETE
 * /v1/responses/{id}`, `GET .../input_items`, `POST .../cancel`), and compaction (`POST
 * /v1/responses/compact`).
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
import type { Exchange } from './mock-server.js';
import { contentText, servedTier, serviceTierRequest } from './openai-api-types.js';
import { openAIError, openAIErrorReply } from './openai-error.js';
import { SSE_CONTENT_TYPE, sseComment, sseFrame } from './sse.js';
import { parseRequest } from './validate.js';
import type { Reply, StreamFrame } from './wire.js';

const contentPart = z.object({ type: z.string(), text: z.string().optional() });

const inputItem = z.object({
  type: z.string().optional(),
  role: z.string().optional(),
  content: z.union([z.string(), z.array(contentPart)]).optional(),
  output: z.union([z.string(), z.array(contentPart)]).optional(),
});
type InputItem = z.infer<typeof inputItem>;

/** `text.format`: plain text (the default), JSON mode, or a JSON schema the output follows. */
const textFormatRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    name: z.string(),
    schema: z.record(z.string(), z.unknown()),
    description: z.string().nullish(),
    strict: z.boolean().nullish(),
  }),
]);

const responsesRequest = z.object({
  model: z.string(),
  input: z.union([z.string(), z.array(inputItem)]),
  instructions: z.string().nullish(),
  stream: z.boolean().nullish(),
  tools: z
    .array(z.object({ type: z.string(), name: z.string().optional(), parameters: z.unknown().optional() }))
    .optional(),
  max_output_tokens: z.number().int().nullish(),
  previous_response_id: z.string().nullish(),
  conversation: z.union([z.string(), z.object({ id: z.string() })]).nullish(),
  store: z.boolean().nullish(),
  service_tier: serviceTierRequest,
  text: z.object({ format: textFormatRequest.optional() }).nullish(),
});
type ResponsesRequest = z.infer<typeof responsesRequest>;

/** A stored response: the key that made it, the finished response and its input items. */
interface StoredResponse {
  readonly key: string | undefined;
  readonly response: object;
  readonly inputItems: readonly object[];
}

/**
 * Stored responses by server and id: as on the real API, a response is found only by a key
 * of the project that stored it (another key's `previous_response_id`, retrieve or delete is
 * "not found"). Bounded: the oldest are forgotten.
 */
const storedResponses = new Map<string, StoredResponse>();
const STORED_RESPONSES_MAX = 10_000;

export function handleResponses(exchange: Exchange): Reply {
  const parsed = parseRequest(responsesRequest, exchange.body);
  if (!parsed.ok) return openAIError({ kind: 'bad-request', message: parsed.message });
  const request = parsed.value;
  const server = exchange.headers.host ?? '';
  const key = exchange.headers.authorization;
  const refused = continuedStateRefusal(exchange, request);
  if (refused) return refused;
  const answer = answerFor(responsesConversation(request), exchange.replyPrefix);
  const tokens = answer.inputTokens + answer.outputTokens;
  const ids = responseIds(exchange);
  if (request.store !== false) {
    if (storedResponses.size >= STORED_RESPONSES_MAX)
      storedResponses.delete(storedResponses.keys().next().value!);
    storedResponses.set(`${server} ${ids.response}`, {
      key,
      response: responseObject(exchange, request, ids, answer, 'final'),
      inputItems: inputItemsOf(request, ids),
    });
  }
  if (!request.stream) {
    return {
      kind: 'json',
      status: 200,
      body: responseObject(exchange, request, ids, answer, 'final'),
      tokens,
    };
  }
  const frames = responseEvents(exchange, request, ids, answer);
  return {
    kind: 'stream',
    status: 200,
    contentType: SSE_CONTENT_TYPE,
    frames,
    keepAliveFrame: sseComment('ping'),
    tokens,
  };
}

/**
 * A `previous_response_id` or `conversation` this key's project does not have, or both at once:
 * the API's refusal (as on the real API, stored state is found only by a key of its project).
 */
function continuedStateRefusal(
  exchange: Exchange,
  request: Pick<ResponsesRequest, 'previous_response_id' | 'conversation'>,
): Reply | undefined {
  const server = exchange.headers.host ?? '';
  const key = exchange.headers.authorization;
  const previous = request.previous_response_id;
  const conversation =
    typeof request.conversation === 'string' ? request.conversation : request.conversation?.id;
  if (previous && conversation !== undefined)
    return openAIErrorReply(
      {
        status: 400,
        message:
          "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
        type: 'invalid_request_error',
        code: null,
      },
      'conversation',
    );
  if (conversation !== undefined && conversations.get(`${server} ${conversation}`) !== key)
    return openAIErrorReply(
      {
        status: 404,
        message: `Conversation with id '${conversation}' not found.`,
        type: 'invalid_request_error',
        code: null,
      },
      'conversation',
    );
  if (previous && storedResponses.get(`${server} ${previous}`)?.key !== key) {
    return openAIErrorReply(
      {
        status: 400,
        message: `Previous response with id '${previous}' not found.`,
        type: 'invalid_request_error',
        code: 'previous_response_not_found',
      },
      'previous_response_id',
    );
  }
  return undefined;
}

/** The body of "Get input token counts": a Responses body whose `input` and `model` may be left out. */
const inputTokensRequest = responsesRequest.extend({
  model: z.string().nullish(),
  input: z.union([z.string(), z.array(inputItem)]).nullish(),
});

/**
 * `POST /v1/responses/input_tokens`: `{object: "response.input_tokens", input_tokens}`, the
 * input `POST /v1/responses` bills for the same body (computed from the body alone, as that
 * mock bills a follow-up). Free: it spends no tokens of the key's quota.
 */
export function handleInputTokens(exchange: Exchange): Reply {
  const parsed = parseRequest(inputTokensRequest, exchange.body);
  if (!parsed.ok) return openAIError({ kind: 'bad-request', message: parsed.message });
  const request = parsed.value;
  const refused = continuedStateRefusal(exchange, request);
  if (refused) return refused;
  const items = request.input ?? [];
  const inputTokens = countInputTokens(responsesConversation({ ...request, input: items }));
  return {
    kind: 'json',
    status: 200,
    body: { object: 'response.input_tokens', input_tokens: inputTokens },
    tokens: 0,
  };
}

// --- conversations ----------------------------------------------------------------------

/** Conversations by server and id -> the key that created it (its project's). Bounded. */
const conversations = new Map<string, string | undefined>();

/** `POST /v1/conversations`: a new, empty conversation of the calling key's project. */
export function handleCreateConversation(exchange: Exchange): Reply {
  const id = exchange.ids.next('conv_mock');
  if (conversations.size >= STORED_RESPONSES_MAX) conversations.delete(conversations.keys().next().value!);
  conversations.set(`${exchange.headers.host ?? ''} ${id}`, exchange.headers.authorization);
  const body = { id, object: 'conversation', created_at: Math.floor(Date.now() / 1000), metadata: {} };
  return { kind: 'json', status: 200, body };
}

// --- stored responses -------------------------------------------------------------------

const STORED_PATH = /^\/v1\/responses\/([^/]+)(\/input_items|\/cancel)?$/;

/** Whether the path is one of a stored response's (`/v1/responses/{id}[/input_items|/cancel]`). */
export function isStoredResponsePath(path: string): boolean {
  return STORED_PATH.test(path);
}

/**
 * `GET /v1/responses/{id}` (`stream=true` refused: the mock makes no background responses),
 * `DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items` (`after`, `limit`,
 * `order`), `POST /v1/responses/{id}/cancel` (refused likewise).
 */
export function handleStoredResponse(exchange: Exchange): Reply {
  const [, id = '', sub] = STORED_PATH.exec(exchange.path) ?? [];
  const method = exchange.method;
  const allowed =
    sub === undefined
      ? method === 'GET' || method === 'DELETE'
      : method === (sub === '/cancel' ? 'POST' : 'GET');
  if (!allowed)
    return openAIError({ kind: 'not-found', message: `Invalid URL (${method} ${exchange.path})` });
  const storedAt = `${exchange.headers.host ?? ''} ${id}`;
  const stored = storedResponses.get(storedAt);
  if (!stored || stored.key !== exchange.headers.authorization)
    return openAIError({ kind: 'not-found', message: `Response with id '${id}' not found.` });
  if (sub === '/cancel')
    return openAIErrorReply(
      {
        status: 400,
        message: 'Only responses created with background=true can be cancelled.',
        type: 'invalid_request_error',
        code: null,
      },
      null,
    );
  if (sub === '/input_items') return inputItemsPage(exchange, stored.inputItems);
  if (method === 'DELETE') {
    storedResponses.delete(storedAt);
    return { kind: 'json', status: 200, body: { id, object: 'response', deleted: true } };
  }
  // The text OpenAI answers (openai-ruby issue #214).
  if (exchange.query.get('stream') === 'true')
    return openAIErrorReply(
      {
        status: 400,
        message: 'This response cannot be streamed because it was not created with background=true.',
        type: 'invalid_request_error',
        code: 'invalid_request_error',
      },
      'stream',
    );
  return { kind: 'json', status: 200, body: stored.response };
}

/** A page of input items: `order` desc by default, `limit` 1-100 (20), `after` an item id. */
function inputItemsPage(exchange: Exchange, items: readonly object[]): Reply {
  const order = exchange.query.get('order') ?? 'desc';
  const limit = Number(exchange.query.get('limit') ?? 20);
  if ((order !== 'asc' && order !== 'desc') || !Number.isInteger(limit) || limit < 1 || limit > 100)
    return openAIError({ kind: 'bad-request', message: 'Invalid order or limit.' });
  const ordered = order === 'asc' ? [...items] : [...items].reverse();
  const after = exchange.query.get('after');
  const from = after === null ? 0 : ordered.findIndex((item) => (item as { id: string }).id === after) + 1;
  const data = ordered.slice(from, from + limit);
  const idOf = (item: object | undefined) => (item as { id?: string } | undefined)?.id ?? null;
  return {
    kind: 'json',
    status: 200,
    body: {
      object: 'list',
      data,
      first_id: idOf(data[0]),
      last_id: idOf(data.at(-1)),
      has_more: from + limit < ordered.length,
    },
  };
}

/** The request's input as the items OpenAI lists: each with an id, text parts as `input_text`. */
function inputItemsOf(request: ResponsesRequest, ids: ResponseIds): object[] {
  const items: InputItem[] =
    typeof request.input === 'string' ? [{ role: 'user', content: request.input }] : request.input;
  return items.map((item, index) => {
    const id = `msg_${ids.response}_in${index}`;
    if (item.type !== undefined && item.type !== 'message') return { id, ...item };
    const content =
      typeof item.content === 'string' ? [{ type: 'input_text', text: item.content }] : (item.content ?? []);
    return { id, type: 'message', role: item.role ?? 'user', status: 'completed', content };
  });
}

// --- request ----------------------------------------------------------------------------

function itemText(item: InputItem): string {
  const value = item.type === 'function_call_output' ? item.output : item.content;
  return contentText(value);
}

function responsesConversation(
  request: Pick<ResponsesRequest, 'input' | 'instructions' | 'tools' | 'max_output_tokens'>,
): Conversation {
  const items: InputItem[] =
    typeof request.input === 'string' ? [{ role: 'user', content: request.input }] : request.input;
  const last = items.at(-1);
  const lastUser = items.findLast((item) => item.role === 'user');
  const lastTurn: LastTurn =
    last?.type === 'function_call_output'
      ? { kind: 'tool-result', text: itemText(last) }
      : { kind: 'user', text: lastUser ? itemText(lastUser) : '' };
  return {
    lastTurn,
    promptTexts: [request.instructions ?? '', ...items.map(itemText)],
    messageCount: items.length,
    tools: (request.tools ?? []).flatMap((tool) =>
      tool.type === 'function' && tool.name ? [{ name: tool.name, parameters: tool.parameters }] : [],
    ),
    maxOutputTokens: request.max_output_tokens ?? undefined,
  };
}

// --- response object --------------------------------------------------------------------

interface ResponseIds {
  readonly response: string;
  readonly item: string;
  readonly call: string;
}

function responseIds(exchange: Exchange): ResponseIds {
  return {
    response: exchange.ids.next('resp_mock'),
    item: exchange.ids.next('item_mock'),
    call: exchange.ids.next('call_mock'),
  };
}

/** The one output item: a message, or a function call. */
function outputItem(ids: ResponseIds, answer: Answer, state: 'in_progress' | 'completed') {
  const done = state === 'completed';
  if (answer.kind === 'tool-call') {
    return {
      id: `fc_${ids.item}`,
      type: 'function_call',
      status: state,
      arguments: done ? answer.argumentsJson : '',
      call_id: ids.call,
      name: answer.toolName,
    };
  }
  return {
    id: `msg_${ids.item}`,
    type: 'message',
    status: state,
    role: 'assistant',
    content: done ? [outputText(answer.text)] : [],
  };
}

function outputText(text: string) {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}

function responsesUsage(answer: Answer) {
  return {
    input_tokens: answer.inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: answer.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: answer.inputTokens + answer.outputTokens,
  };
}

function isTruncated(answer: Answer): boolean {
  return answer.kind === 'text' && answer.truncated;
}

/** `opening` is the snapshot of response.created; `final` the finished response. */
function responseObject(
  exchange: Exchange,
  request: ResponsesRequest,
  ids: ResponseIds,
  answer: Answer,
  phase: 'opening' | 'final',
) {
  const final = phase === 'final';
  const truncated = final && isTruncated(answer);
  return {
    id: ids.response,
    object: 'response',
    created_at: Math.floor(exchange.now() / 1000),
    status: final ? (truncated ? 'incomplete' : 'completed') : 'in_progress',
    error: null,
    incomplete_details: truncated ? { reason: 'max_output_tokens' } : null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    model: request.model,
    output: final ? [outputItem(ids, answer, 'completed')] : [],
    parallel_tool_calls: true,
    previous_response_id: request.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    service_tier: servedTier(request.service_tier),
    store: request.store !== false,
    temperature: 1,
    text: { format: echoedTextFormat(request) },
    tool_choice: 'auto',
    tools: request.tools ?? [],
    top_p: 1,
    truncation: 'disabled',
    usage: final && !exchange.scenario.omitUsage ? responsesUsage(answer) : null,
    user: null,
    metadata: {},
  };
}

/**
 * The `text.format` a response echoes: the one asked, as the API writes it back. A JSON schema
 * comes back with every field, `description: null` when none was sent and `strict` as asked
 * (false when not sent: the mock's choice, no recording shows that case), e.g. a gpt-5-mini
 * `response.created` recorded in a public repository's test fixture:
 * `"text":{"format":{"type":"json_schema","description":null,"name":"weather_forecast",
 * "schema":{...},"strict":true},"verbosity":"low"}`; without `text.format`, `{ type: 'text' }`.
 */
function echoedTextFormat(request: ResponsesRequest) {
  const format = request.text?.format;
  if (format === undefined || format.type !== 'json_schema') return { type: format?.type ?? 'text' };
  const { name, schema, description, strict } = format;
  return { type: 'json_schema', description: description ?? null, name, schema, strict: strict ?? false };
}

// --- streamed events --------------------------------------------------------------------

/** created, in_progress, item added, deltas, item done, completed (or incomplete). */
function responseEvents(
  exchange: Exchange,
  request: ResponsesRequest,
  ids: ResponseIds,
  answer: Answer,
): StreamFrame[] {
  const events: Array<{ type: string } & Record<string, unknown>> = [
    { type: 'response.created', response: responseObject(exchange, request, ids, answer, 'opening') },
    { type: 'response.in_progress', response: responseObject(exchange, request, ids, answer, 'opening') },
    { type: 'response.output_item.added', output_index: 0, item: outputItem(ids, answer, 'in_progress') },
    ...(answer.kind === 'text'
      ? textEvents(`msg_${ids.item}`, answer.text)
      : argumentEvents(`fc_${ids.item}`, answer)),
    { type: 'response.output_item.done', output_index: 0, item: outputItem(ids, answer, 'completed') },
  ];
  const last = isTruncated(answer) ? 'response.incomplete' : 'response.completed';
  const frames = events.map((event, sequence) =>
    sseFrame({ ...event, sequence_number: sequence }, { event: event.type }),
  );
  const closing = {
    type: last,
    response: responseObject(exchange, request, ids, answer, 'final'),
    sequence_number: events.length,
  };
  frames.push(sseFrame(closing, { event: last, terminator: true }));
  return frames;
}

function textEvents(itemId: string, text: string): Array<{ type: string } & Record<string, unknown>> {
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  return [
    { type: 'response.content_part.added', ...at, part: outputText('') },
    ...splitWords(text).map((delta) => ({ type: 'response.output_text.delta', ...at, delta, logprobs: [] })),
    { type: 'response.output_text.done', ...at, text, logprobs: [] },
    { type: 'response.content_part.done', ...at, part: outputText(text) },
  ];
}

function argumentEvents(
  itemId: string,
  answer: Answer & { kind: 'tool-call' },
): Array<{ type: string } & Record<string, unknown>> {
  const at = { item_id: itemId, output_index: 0 };
  return [
    ...splitIntoParts(answer.argumentsJson, 4).map((delta) => ({
      type: 'response.function_call_arguments.delta',
      ...at,
      delta,
    })),
    {
      type: 'response.function_call_arguments.done',
      ...at,
      name: answer.toolName,
      arguments: answer.argumentsJson,
    },
  ];
}

// --- compaction -------------------------------------------------------------------------

/** The compaction request's fields (API reference, "Compact a response"): model required. */
const compactRequest = z.object({
  model: z.string(),
  input: z.union([z.string(), z.array(inputItem)]).nullish(),
  instructions: z.string().nullish(),
  previous_response_id: z.string().nullish(),
  prompt_cache_key: z.string().nullish(),
  prompt_cache_retention: z.enum(['in_memory', '24h']).nullish(),
});

/** The tokens of the model's reasoning over the conversation, reported in every compaction's usage. */
const COMPACTION_REASONING_TOKENS = 12;

/**
 * `POST /v1/responses/compact`: a `response.compaction` whose `output` is the conversation's
 * user messages (the stored response's `previous_response_id` names, from the key of its
 * project only, then `input`), then one `compaction` item of opaque `encrypted_content`.
 * Usage: the prompt (instructions, the stored input and answer, the new input); the stored
 * part read from the prompt cache (`cached_tokens`); output the summary and 12 reasoning
 * tokens. `stream` is refused as the API refuses a parameter it does not take.
 */
export function handleCompact(exchange: Exchange): Reply {
  if (typeof exchange.body === 'object' && exchange.body !== null && 'stream' in exchange.body)
    return openAIErrorReply(
      {
        status: 400,
        message: "Unknown parameter: 'stream'.",
        type: 'invalid_request_error',
        code: 'unknown_parameter',
      },
      'stream',
    );
  const parsed = parseRequest(compactRequest, exchange.body);
  if (!parsed.ok) return openAIError({ kind: 'bad-request', message: parsed.message });
  const request = parsed.value;
  const previous = request.previous_response_id;
  const stored = previous ? storedResponses.get(`${exchange.headers.host ?? ''} ${previous}`) : undefined;
  if (previous && stored?.key !== exchange.headers.authorization)
    return openAIErrorReply(
      {
        status: 400,
        message: `Previous response with id '${previous}' not found.`,
        type: 'invalid_request_error',
        code: 'previous_response_not_found',
      },
      'previous_response_id',
    );
  const input: InputItem[] =
    typeof request.input === 'string' ? [{ role: 'user', content: request.input }] : (request.input ?? []);
  const storedItems = (stored?.inputItems ?? []) as InputItem[];
  const storedAnswer = (stored?.response as { output?: InputItem[] } | undefined)?.output ?? [];
  const cached =
    stored === undefined ? 0 : countTokens([...storedItems, ...storedAnswer].map(itemText).join(''));
  const conversation = [...storedItems, ...storedAnswer, ...input];
  const prompt =
    countTokens(request.instructions ?? '') + cached + countTokens(input.map(itemText).join('')) + 3;
  const users = conversation.filter((item) => item.role === 'user');
  const summary = `Compacted ${conversation.length} items: ${users.map(itemText).join(' / ')}`;
  const output = countTokens(summary) + COMPACTION_REASONING_TOKENS;
  const id = exchange.ids.next('cmp_mock');
  const body = {
    id,
    object: 'response.compaction',
    created_at: Math.floor(exchange.now() / 1000),
    output: [
      ...users.map((item, index) => ({
        id: `msg_${id}_${index}`,
        type: 'message',
        status: 'completed',
        role: 'user',
        content:
          typeof item.content === 'string'
            ? [{ type: 'input_text', text: item.content }]
            : (item.content ?? []),
      })),
      {
        id: `cmpi_${id}`,
        type: 'compaction',
        encrypted_content: Buffer.from(summary, 'utf8').toString('base64'),
      },
    ],
    usage: exchange.scenario.omitUsage
      ? null
      : {
          input_tokens: prompt,
          input_tokens_details: { cached_tokens: cached },
          output_tokens: output,
          output_tokens_details: { reasoning_tokens: COMPACTION_REASONING_TOKENS },
          total_tokens: prompt + output,
        },
  };
  return { kind: 'json', status: 200, body, tokens: prompt + output };
}
