/**
 * GigaChat <-> OpenAI Chat Completions.
 *
 * Requests: system/developer -> `system`, user and assistant text as they are; an assistant
 * tool call -> `function_call` with its arguments as an object (GigaChat makes one call per
 * turn, so a turn with several is refused); tool results -> `function` messages named by the
 * call they answer, their content JSON (text that is not JSON is wrapped as `{"result": ...}`);
 * tools -> `functions`; tool_choice auto/none/named -> `function_call`, none given -> `auto`
 * (GigaChat's own default is none: tools would never be called); `required` (Anthropic's `any`)
 * with one function is that function named, with several it has no counterpart and is refused
 * naming `tool_choice` in the caller's words; `allowed_tools` -> the functions cut to the allowed
 * ones with `auto` (mode `required` refused as `required` is, but for one allowed tool: that
 * tool named).
 * Temperatures are kept within 2; 0, which GigaChat refuses, goes as 0.0001
 * (0 to 0.001 is its most deterministic answer). `max_completion_tokens` or `max_tokens` -> `max_tokens`; `top_p` kept;
 * `response_format` json_schema -> GigaChat's `{ type: "json_schema", schema, strict }`;
 * images and files (GigaChat wants uploaded file ids), `n > 1`, `logprobs`, `response_format`
 * json_object (no JSON mode without a schema) and stop sequences (GigaChat has none: refused
 * naming the caller's `stop` or `stop_sequences`) refused; penalties, `seed`, `user` dropped.
 *
 * The tool call ids given to the caller are `call_gc_<functions_state_id>` when GigaChat
 * sends one, so the id the caller sends back restores `functions_state_id`.
 *
 * Answers and chunks: `function_call` -> `tool_calls` (arguments as JSON text), finish reasons
 * function_call -> tool_calls, blacklist -> content_filter, error -> length in a whole answer and
 * an error event in a stream (`GigaChatStreamMapper`); usage with
 * `precached_prompt_tokens` as cached tokens, added to GigaChat's prompt_tokens (which leaves
 * them out). Chunks get an id and `chat.completion.chunk`;
 * `[DONE]` passes through.
 */
import {
  OPENAI_DONE,
  type OpenAIChatChunkOut,
  type OpenAIChatCompletionOut,
  type OpenAIChatRequest,
  TranslationError,
} from '../../translate/index.js';
import type { OpenAIFinishReason, OpenAIUsageOut } from '../../translate/openai-chat-types.js';
import { toolChoiceAndOffer } from '../../translate/openai-tool-choice.js';
import {
  chunkOf,
  completionChoice,
  completionId,
  contentText,
  functionTools,
  parseAnswer,
  parseOpenAIChat,
  refuseUnsupported,
  toolCallArguments,
  toolNameFor,
  toolNamesById,
  unsupportedRole,
} from '../openai-mapping-support.js';
import {
  type GigaChatChatRequest,
  type GigaChatFinishReason,
  type GigaChatMessage,
  type GigaChatUsage,
  gigaChatChunk,
  gigaChatCompletion,
  gigaChatError,
} from './gigachat-api-types.js';

const PROVIDER = 'GigaChat';
const STATE_ID_PREFIX = 'call_gc_';
const STATE_ID = /^[0-9a-fA-F-]{8,64}$/;
const MAX_TEMPERATURE = 2;
/** What 0 (the caller's most deterministic answer) goes as: GigaChat takes no 0. */
const DETERMINISTIC_TEMPERATURE = 0.0001;

export function gigaChatRequestFromOpenAI(
  body: unknown,
  context: { model: string; stream: boolean; callerDialect?: 'openai' | 'anthropic' | undefined },
): GigaChatChatRequest {
  const request = parseOpenAIChat(body, PROVIDER);
  refuseUnsupported(request, PROVIDER, context.callerDialect);
  const out: GigaChatChatRequest = {
    model: context.model,
    messages: gigaChatMessages(request),
    stream: context.stream,
  };
  if (request.temperature !== undefined && request.temperature !== null) {
    // GigaChat answers 0 to 0.001 most deterministically ("от 0 до 0.001 … максимально
    // детерминированный ответ", REST reference, post-chat) but refuses 0 itself: 422 "Invalid
    // params: temperature must be in range (0, +inf)" (ai-forever/gigachain#237). So 0 goes as
    // a temperature inside that range, above 0.
    out.temperature =
      request.temperature > 0 ? Math.min(MAX_TEMPERATURE, request.temperature) : DETERMINISTIC_TEMPERATURE;
  }
  if (request.top_p !== undefined && request.top_p !== null) out.top_p = request.top_p;
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) out.max_tokens = maxTokens;
  // OpenAI's allowed_tools: only the allowed functions are offered (with auto; required, unless
  // one tool is allowed, which is that tool named, is refused as required is).
  const { choice, offered: functions } = toolChoiceAndOffer(
    request.tool_choice,
    functionTools(request, PROVIDER),
    PROVIDER,
  );
  if (functions.length > 0) {
    out.functions = functions;
    const [only] = functions;
    if (choice?.type === 'required' && functions.length === 1 && only !== undefined) {
      // Some call among one function is that function's call, which GigaChat can be told.
      out.function_call = { name: only.name };
    } else if (choice?.type === 'required' || (choice?.type === 'allowed' && choice.mode === 'required')) {
      throw forcedChoiceRefused(choice.type === 'required', context.callerDialect);
    } else if (choice?.type === 'auto' || choice?.type === 'none') out.function_call = choice.type;
    else if (choice?.type === 'allowed') out.function_call = 'auto';
    else if (choice?.type === 'tool') out.function_call = { name: choice.name };
    // No tool_choice is auto for OpenAI and Anthropic, but GigaChat's default is none ("Если запрос
    // не содержит function_call … GigaChat не вызовет функции", REST reference, post-chat):
    // without it the tools would never be called.
    else out.function_call = 'auto';
  }
  const responseFormat = gigaChatResponseFormat(request.response_format);
  if (responseFormat) out.response_format = responseFormat;
  return out;
}

/**
 * "Call some tool, whichever" among several: GigaChat's `function_call` takes `none`, `auto` or
 * one function named, which it is then made to call (developers.sber.ru, guides/functions,
 * "Режимы работы с функциями"), so it cannot be made to call some tool of several. The caller's 400 says the field and the value as it sent them
 * (an Anthropic caller's `any`, translated to OpenAI's `required`): an Anthropic error body has
 * no `param`, its message is all the caller reads.
 */
function forcedChoiceRefused(
  plainRequired: boolean,
  callerDialect: 'openai' | 'anthropic' | undefined,
): TranslationError {
  const asked =
    callerDialect === 'anthropic'
      ? "`tool_choice` {type: 'any'}"
      : plainRequired
        ? "`tool_choice` 'required'"
        : "`tool_choice` `allowed_tools` with mode 'required'";
  const instead =
    callerDialect === 'anthropic'
      ? "name one tool ({type: 'tool', name}) or use {type: 'auto'}"
      : 'name one function, or use auto';
  return new TranslationError(
    'unsupported_value',
    'tool_choice',
    `${asked} cannot be sent to ${PROVIDER}: it calls a function only when told which one, or when ` +
      `it chooses to (auto); ${instead}.`,
  );
}

/**
 * A JSON schema goes as GigaChat's `response_format: { type: "json_schema", schema, strict }`
 * (the official SDK's JsonSchemaResponseFormat, ai-forever/gigachat models/response_format.py);
 * GigaChat documents no JSON mode without a schema, so json_object is refused, not dropped.
 */
function gigaChatResponseFormat(
  format: OpenAIChatRequest['response_format'],
): GigaChatChatRequest['response_format'] {
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_object') {
    throw new TranslationError(
      'unsupported_value',
      'response_format',
      `${PROVIDER} has no JSON mode without a schema; use json_schema`,
    );
  }
  const { schema, strict } = format.json_schema;
  if (!schema) {
    throw new TranslationError(
      'invalid_value',
      'response_format.json_schema.schema',
      `${PROVIDER} needs a schema`,
    );
  }
  return { type: 'json_schema', schema, ...(typeof strict === 'boolean' ? { strict } : {}) };
}

function gigaChatMessages(request: OpenAIChatRequest): GigaChatMessage[] {
  const names = toolNamesById(request.messages);
  return request.messages.map((message, index): GigaChatMessage => {
    const path = `messages[${index}]`;
    switch (message.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: contentText(message.content, `${path}.content`, PROVIDER) };
      case 'user':
        return { role: 'user', content: contentText(message.content, `${path}.content`, PROVIDER) };
      case 'assistant': {
        const content = contentText(message.content, `${path}.content`, PROVIDER) || (message.refusal ?? '');
        const calls = message.tool_calls ?? [];
        if (calls.length === 0) return { role: 'assistant', content };
        const [call] = calls;
        if (calls.length > 1 || !call) {
          throw new TranslationError(
            'unsupported_value',
            `${path}.tool_calls`,
            `${PROVIDER} makes one tool call per turn`,
          );
        }
        const args = toolCallArguments(call.function.arguments, `${path}.tool_calls[0]`);
        const stateId = call.id.startsWith(STATE_ID_PREFIX)
          ? call.id.slice(STATE_ID_PREFIX.length)
          : undefined;
        return {
          role: 'assistant',
          content,
          function_call: { name: call.function.name, arguments: args },
          ...(stateId && STATE_ID.test(stateId) ? { functions_state_id: stateId } : {}),
        };
      }
      case 'tool': {
        const name = toolNameFor(names, message.tool_call_id, path);
        const text = contentText(message.content, `${path}.content`, PROVIDER);
        return { role: 'function', name, content: asJsonText(text) };
      }
      default:
        throw unsupportedRole(message, path);
    }
  });
}

/**
 * GigaChat wants a function's result as a JSON object (its reference shows only objects, and a
 * caller's tool may return anything): an object goes as sent; plain text, and JSON that is not
 * an object (`42`, `[1, 2]`, `"done"`, `null`), is wrapped as `{"result": ...}`.
 */
function asJsonText(text: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return JSON.stringify({ result: text });
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? text
    : JSON.stringify({ result: value });
}

// --- answers ------------------------------------------------------------------------------

export function gigaChatFinishReason(reason: GigaChatFinishReason): OpenAIFinishReason {
  switch (reason) {
    case 'function_call':
      return 'tool_calls';
    case 'blacklist':
      return 'content_filter';
    // GigaChat's `error`: the generation failed part way. Not a clean stop (an agent loop would
    // take what came as the whole answer): in a whole answer, cut short, as `length` says (as a
    // Gemini failed call's: throwing would lose the usage GigaChat billed); a stream ends with an
    // error event instead (GigaChatStreamMapper).
    case 'length':
    case 'error':
      return 'length';
    case 'stop':
      return 'stop';
    default: {
      const unknown: never = reason;
      return unknown;
    }
  }
}

/**
 * GigaChat's prompt_tokens and total_tokens are what it bills, the cached prompt tokens taken
 * out ("total_tokens: … после вычитания кэшированных токенов (поле precached_prompt_tokens)";
 * its example: prompt 55 + completion 30 = total 85, precached 4; REST reference, post-chat).
 * OpenAI's prompt_tokens is the whole prompt, cached_tokens a part of it: the cached tokens are
 * added back, or a caller (and the ledger) would count them as neither input nor cached.
 */
export function gigaChatUsageToOpenAI(usage: GigaChatUsage): OpenAIUsageOut {
  const cached = usage.precached_prompt_tokens ?? 0;
  const billed = usage.total_tokens ?? usage.prompt_tokens + usage.completion_tokens;
  return {
    prompt_tokens: usage.prompt_tokens + cached,
    completion_tokens: usage.completion_tokens,
    total_tokens: billed + cached,
    prompt_tokens_details: { cached_tokens: cached },
  };
}

function toolCall(
  call: { name: string; arguments?: Record<string, unknown> | string | null | undefined },
  stateId: string | null | undefined,
  fallbackId: string,
) {
  const args = call.arguments ?? {};
  return {
    id: stateId ? `${STATE_ID_PREFIX}${stateId}` : `call_${fallbackId.slice(-24)}`,
    type: 'function' as const,
    function: { name: call.name, arguments: typeof args === 'string' ? args : JSON.stringify(args) },
  };
}

export function gigaChatResponseToOpenAI(
  body: unknown,
  context: { model: string; created: number },
): OpenAIChatCompletionOut {
  const { choices, usage, created, model } = parseAnswer(gigaChatCompletion, body, PROVIDER);
  const id = completionId('gc');
  const completion: OpenAIChatCompletionOut = {
    id,
    object: 'chat.completion',
    created: created ?? context.created,
    model: model ?? context.model,
    choices: choices.map((choice) => {
      const { message } = choice;
      const calls = message.function_call
        ? [toolCall(message.function_call, message.functions_state_id, id)]
        : [];
      return completionChoice(
        choice.index,
        message.content ?? '',
        calls,
        gigaChatFinishReason(choice.finish_reason ?? 'stop'),
      );
    }),
  };
  if (usage) completion.usage = gigaChatUsageToOpenAI(usage);
  return completion;
}

/**
 * Turns GigaChat's SSE events into OpenAI chunks. A chunk whose finish reason is `error` (the
 * generation failed on GigaChat's side) ends the stream with an error event, after that chunk's
 * text and usage, as GigaChat's own error frames and OpenRouter's `error` chunks do: the caller's
 * SDK raises rather than taking a cut answer for a whole one; after content the request is
 * recorded failed with the tokens streamed charged, before any the next key serves.
 */
export class GigaChatStreamMapper {
  readonly #base: { id: string; created: number; model: string };
  readonly #roleSent = new Set<number>();
  #failed = false;

  constructor(context: { model: string; created: number }) {
    this.#base = { id: completionId('gc'), created: context.created, model: context.model };
  }

  map(event: unknown): unknown[] {
    if (this.#failed) return [];
    if (event === OPENAI_DONE) return [OPENAI_DONE];
    const error = gigaChatError.safeParse(event);
    if (error.success) {
      this.#failed = true;
      return [{ error: { message: error.data.message, type: 'upstream_error' } }];
    }
    const parsed = gigaChatChunk.safeParse(event);
    if (!parsed.success) return [event];
    const { choices, usage, model } = parsed.data;
    if (model) this.#base.model = model;
    const out: OpenAIChatChunkOut[] = [];
    for (const choice of choices) {
      const { index } = choice;
      const delta = choice.delta ?? {};
      const text = delta.content ?? '';
      const role = this.#roleSent.has(index) ? {} : { role: 'assistant' as const };
      this.#roleSent.add(index);
      if (text !== '' || 'role' in role)
        out.push(
          chunkOf(this.#base, [
            { index, delta: { ...role, content: text }, logprobs: null, finish_reason: null },
          ]),
        );
      if (delta.function_call) {
        const call = toolCall(delta.function_call, delta.functions_state_id, this.#base.id);
        out.push(
          chunkOf(this.#base, [
            {
              index,
              delta: { tool_calls: [{ index: 0, id: call.id, type: 'function', function: call.function }] },
              logprobs: null,
              finish_reason: null,
            },
          ]),
        );
      }
      if (choice.finish_reason === 'error') this.#failed = true;
      else if (choice.finish_reason) {
        out.push(
          chunkOf(this.#base, [
            { index, delta: {}, logprobs: null, finish_reason: gigaChatFinishReason(choice.finish_reason) },
          ]),
        );
      }
    }
    if (usage) out.push({ ...chunkOf(this.#base, []), usage: gigaChatUsageToOpenAI(usage) });
    if (this.#failed) return [...out, GENERATION_FAILED];
    return out;
  }
}

/** OpenAI's mid-stream error for a GigaChat answer that ended with `finish_reason: "error"`. */
const GENERATION_FAILED = {
  error: {
    message: `${PROVIDER} ended the answer with an error (finish_reason "error")`,
    type: 'server_error',
    param: null,
    code: null,
  },
};
