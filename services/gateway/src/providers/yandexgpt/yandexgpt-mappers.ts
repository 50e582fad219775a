/**
 * YandexGPT <-> OpenAI Chat Completions.
 *
 * Requests: system and developer messages -> `system`; user text -> `user`; assistant text ->
 * `assistant`; assistant tool calls -> a `toolCallList` (arguments as objects); consecutive
 * tool messages -> one `user` message with a `toolResultList` (named by looking the call id up
 * in the history). `temperature` is capped at 1 (Yandex's range is 0-1), `max_completion_tokens`
 * or `max_tokens` -> `maxTokens` (an int64 string), tools -> `tools[].function`, `tool_choice`
 * -> `toolChoice` (`none`/`auto`/`required` modes or a function name; `allowed_tools` -> the
 * tools cut to the allowed ones with AUTO or REQUIRED), `parallel_tool_calls`,
 * `response_format` -> `jsonObject` / `jsonSchema`. Images, audio and files, `n > 1`,
 * `logprobs`, audio output and stop sequences (no counterpart: refused naming the caller's
 * `stop` or `stop_sequences`) are refused; `top_p`, penalties, `seed` and `user` have no
 * counterpart and are dropped. `reasoning_effort` -> `completionOptions.reasoningOptions.mode`:
 * none/minimal -> DISABLED, low to xhigh -> ENABLED_HIDDEN, on YandexGPT Pro only (another
 * model asked to reason is refused; for an Anthropic caller, whose `thinking` and
 * `output_config.effort` the translate layer wrote as the effort, it gets nothing).
 *
 * Answers: each alternative is a choice; `toolCallList` -> `tool_calls` with made-up ids;
 * status FINAL -> stop, TRUNCATED_FINAL -> length, CONTENT_FILTER -> content_filter,
 * TOOL_CALLS -> tool_calls; usage counters (int64 strings) -> numbers, reasoning tokens kept.
 *
 * Streams: every line holds the whole text so far, so the deltas are what each line adds to
 * the previous one (a PARTIAL line that does not extend it is a broken stream; a final line
 * that does not, such as the content filter's canned notice, adds no text). A final status
 * gives the finish chunk; once every alternative is final come the usage chunk and `[DONE]`, the
 * terminator the OpenAI stream parser needs. A stream that stops before a final status never
 * gets `[DONE]`, so it is never taken for complete. Every line's running usage goes after its
 * chunks as a `UsageReport`, for the translator and never the caller: a stream cut anywhere (a
 * reset, a timeout, the caller leaving) is charged what Yandex counted up to its last line,
 * hidden reasoning included, and an OpenAI caller still sees one usage chunk, at the end, and
 * only when it asked for it. `completionTokens` holds the reasoning tokens (the reference gives
 * `completionTokensDetails` as "how the completion tokens were utilized", and `totalTokens` as
 * all input and all generated tokens): reasoning is charged within the output, once.
 */
import {
  OPENAI_DONE,
  type OpenAIChatChunkOut,
  type OpenAIChatCompletionOut,
  type OpenAIChatRequest,
  TranslationError,
  UsageReport,
  usageFromOpenAI,
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
  type YandexAlternative,
  type YandexCompletionRequest,
  type YandexMessage,
  type YandexStatus,
  type YandexUsage,
  yandexCompletionResponse,
  yandexError,
} from './yandexgpt-api-types.js';

const PROVIDER = 'YandexGPT';

export interface YandexRequestContext {
  /** The full model URI (`gpt://<folder>/yandexgpt/latest`), built from configuration. */
  readonly modelUri: string;
  readonly stream: boolean;
  /** The dialect the body was translated from, for a refusal to name the caller's field. */
  readonly callerDialect?: 'openai' | 'anthropic' | undefined;
}

export function yandexRequestFromOpenAI(
  body: unknown,
  context: YandexRequestContext,
): YandexCompletionRequest {
  const request = parseOpenAIChat(body, PROVIDER);
  refuseUnsupported(request, PROVIDER, context.callerDialect);
  const out: YandexCompletionRequest = {
    modelUri: context.modelUri,
    completionOptions: { stream: context.stream },
    messages: yandexMessages(request),
  };
  if (request.temperature !== undefined && request.temperature !== null) {
    out.completionOptions.temperature = Math.min(1, Math.max(0, request.temperature));
  }
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens !== undefined && maxTokens !== null) out.completionOptions.maxTokens = String(maxTokens);
  const reasoning = reasoningOptions(request.reasoning_effort, context);
  if (reasoning) out.completionOptions.reasoningOptions = reasoning;
  // OpenAI's allowed_tools: only the allowed tools are offered, with the mode asked for.
  const { choice, offered } = toolChoiceAndOffer(
    request.tool_choice,
    functionTools(request, PROVIDER),
    PROVIDER,
  );
  const tools = offered.map((fn) => ({ function: fn }));
  if (tools.length > 0) {
    out.tools = tools;
    if (choice?.type === 'none') out.toolChoice = { mode: 'NONE' };
    else if (choice?.type === 'auto') out.toolChoice = { mode: 'AUTO' };
    else if (choice?.type === 'required') out.toolChoice = { mode: 'REQUIRED' };
    else if (choice?.type === 'tool') out.toolChoice = { functionName: choice.name };
    else if (choice?.type === 'allowed')
      out.toolChoice = { mode: choice.mode === 'required' ? 'REQUIRED' : 'AUTO' };
    if (request.parallel_tool_calls !== undefined && request.parallel_tool_calls !== null) {
      out.parallelToolCalls = request.parallel_tool_calls;
    }
  }
  const format = request.response_format;
  if (format?.type === 'json_object') out.jsonObject = true;
  if (format?.type === 'json_schema') {
    if (!format.json_schema.schema) {
      throw new TranslationError(
        'invalid_value',
        'response_format.json_schema.schema',
        `${PROVIDER} needs a schema`,
      );
    }
    out.jsonSchema = { schema: format.json_schema.schema };
  }
  return out;
}

/** Efforts that ask a model to reason, and those that ask it not to (OpenAI's values). */
const REASONING_ON = new Set(['low', 'medium', 'high', 'xhigh']);
const REASONING_OFF = new Set(['none', 'minimal']);

/**
 * `reasoning_effort` as Yandex's `completionOptions.reasoningOptions.mode`: DISABLED (the
 * default) or ENABLED_HIDDEN, one level for every effort. The reference gives the reasoning
 * mode to YandexGPT Pro (`yandexgpt/...`) only ("The reasoning mode is available in the
 * YandexGPT Pro model", yandex.cloud/en/docs/ai-studio/concepts/generation/chain-of-thought):
 * asking another model to reason is refused, asking it not to needs nothing sent.
 *
 * An Anthropic caller's `thinking` and `output_config.effort` come as the effort the translate
 * layer wrote for them (`reasoningSwitch`: `disabled` -> none, `enabled` -> the effort its
 * `budget_tokens` reaches, `adaptive` -> medium or the effort; an effort alone -> nothing, as
 * Claude does not think without `thinking`). The budget itself has no
 * counterpart (the mode is on or off) and the reasoning stays hidden (no thinking blocks come
 * back, only its tokens in the usage). On a model without the mode it gets nothing, as the
 * translate layer gives thinking nothing on an OpenAI model that does not reason (gpt-4o):
 * Anthropic clients send `thinking` whatever the model.
 */
function reasoningOptions(
  effort: string | null | undefined,
  context: YandexRequestContext,
): YandexCompletionRequest['completionOptions']['reasoningOptions'] {
  if (effort === undefined || effort === null) return undefined;
  // An Anthropic caller's thinking is what the translate layer turned into reasoning_effort.
  const param = context.callerDialect === 'anthropic' ? 'thinking' : 'reasoning_effort';
  const reasons = yandexModelName(context.modelUri) === 'yandexgpt';
  if (REASONING_OFF.has(effort)) return reasons ? { mode: 'DISABLED' } : undefined;
  if (!REASONING_ON.has(effort)) {
    throw new TranslationError(
      'invalid_value',
      param,
      `${PROVIDER} does not know reasoning effort ${effort}`,
    );
  }
  if (!reasons) {
    if (context.callerDialect === 'anthropic') return undefined;
    throw new TranslationError(
      'unsupported_value',
      param,
      `${PROVIDER}: only YandexGPT Pro (yandexgpt) has a reasoning mode`,
    );
  }
  return { mode: 'ENABLED_HIDDEN' };
}

/** The model of a `gpt://<folder>/<model>[/<version>]` URI (`yandexgpt`, `yandexgpt-lite`). */
function yandexModelName(modelUri: string): string {
  return modelUri.replace(/^gpt:\/\/[^/]*\//, '').split('/')[0] ?? '';
}

function yandexMessages(request: OpenAIChatRequest): YandexMessage[] {
  const names = toolNamesById(request.messages);
  const messages: YandexMessage[] = [];
  for (const [index, message] of request.messages.entries()) {
    const path = `messages[${index}]`;
    switch (message.role) {
      case 'system':
      case 'developer':
        messages.push({ role: 'system', text: contentText(message.content, `${path}.content`, PROVIDER) });
        break;
      case 'user':
        messages.push({ role: 'user', text: contentText(message.content, `${path}.content`, PROVIDER) });
        break;
      case 'assistant': {
        const text = contentText(message.content, `${path}.content`, PROVIDER) || (message.refusal ?? '');
        const calls = message.tool_calls ?? [];
        if (text !== '' || calls.length === 0) messages.push({ role: 'assistant', text });
        if (calls.length > 0) {
          messages.push({
            role: 'assistant',
            toolCallList: {
              toolCalls: calls.map((call, callIndex) => ({
                functionCall: {
                  name: call.function.name,
                  arguments: toolCallArguments(call.function.arguments, `${path}.tool_calls[${callIndex}]`),
                },
              })),
            },
          });
        }
        break;
      }
      case 'tool': {
        const name = toolNameFor(names, message.tool_call_id, path);
        const result = {
          functionResult: { name, content: contentText(message.content, `${path}.content`, PROVIDER) },
        };
        const previous = messages.at(-1);
        // Consecutive tool results answer one assistant turn: they travel in one message.
        if (previous && 'toolResultList' in previous) previous.toolResultList.toolResults.push(result);
        else messages.push({ role: 'user', toolResultList: { toolResults: [result] } });
        break;
      }
      default:
        throw unsupportedRole(message, path);
    }
  }
  return messages;
}

// --- answers ------------------------------------------------------------------------------

export function yandexFinishReason(status: YandexStatus): OpenAIFinishReason | null {
  switch (status) {
    case 'ALTERNATIVE_STATUS_TRUNCATED_FINAL':
      return 'length';
    case 'ALTERNATIVE_STATUS_CONTENT_FILTER':
      return 'content_filter';
    case 'ALTERNATIVE_STATUS_TOOL_CALLS':
      return 'tool_calls';
    case 'ALTERNATIVE_STATUS_FINAL':
      return 'stop';
    case 'ALTERNATIVE_STATUS_PARTIAL':
    case 'ALTERNATIVE_STATUS_UNSPECIFIED':
      return null;
    default: {
      const unknown: never = status;
      return unknown;
    }
  }
}

export function yandexUsageToOpenAI(usage: YandexUsage): OpenAIUsageOut {
  const out: OpenAIUsageOut = {
    prompt_tokens: usage.inputTextTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens ?? usage.inputTextTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: 0 },
  };
  const reasoning = usage.completionTokensDetails?.reasoningTokens;
  if (reasoning !== undefined) out.completion_tokens_details = { reasoning_tokens: reasoning };
  return out;
}

function toolCallsOf(alternative: YandexAlternative, id: string) {
  return (alternative.message.toolCallList?.toolCalls ?? []).map((call, index) => ({
    id: `call_${id.slice(-24)}_${index}`,
    type: 'function' as const,
    function: { name: call.functionCall.name, arguments: JSON.stringify(call.functionCall.arguments ?? {}) },
  }));
}

export interface AnswerContext {
  readonly model: string;
  readonly created: number;
  readonly id?: string;
}

export function yandexResponseToOpenAI(body: unknown, context: AnswerContext): OpenAIChatCompletionOut {
  const { alternatives, usage } = parseAnswer(yandexCompletionResponse, body, PROVIDER).result;
  const id = context.id ?? completionId('yc');
  const completion: OpenAIChatCompletionOut = {
    id,
    object: 'chat.completion',
    created: context.created,
    model: context.model,
    choices: alternatives.map((alternative, index) => {
      return completionChoice(
        index,
        alternative.message.text ?? '',
        toolCallsOf(alternative, id),
        yandexFinishReason(alternative.status) ?? 'stop',
      );
    }),
  };
  if (usage) completion.usage = yandexUsageToOpenAI(usage);
  return completion;
}

/** Turns the NDJSON lines of one streamed answer into OpenAI chunks. */
export class YandexStreamMapper {
  readonly #base: { id: string; created: number; model: string };
  readonly #sent: string[] = [];
  readonly #finished = new Set<number>();
  #roleSent = false;
  #usage: YandexUsage | undefined;
  #done = false;
  #failed = false;

  constructor(context: AnswerContext) {
    this.#base = { id: context.id ?? completionId('yc'), created: context.created, model: context.model };
  }

  map(event: unknown): unknown[] {
    if (this.#done || this.#failed) return [];
    const error = yandexError.safeParse(event);
    if (error.success)
      return this.#fail(error.data.error.message ?? 'YandexGPT stream error', 'upstream_error');
    const parsed = yandexCompletionResponse.safeParse(event);
    // Not a Yandex line: passed as is, for the OpenAI parser to report as malformed.
    if (!parsed.success) return [event];
    const { alternatives, usage } = parsed.data.result;
    if (usage) this.#usage = usage;
    const out: (OpenAIChatChunkOut | UsageReport)[] = [];
    for (const [index, alternative] of alternatives.entries()) {
      if (this.#finished.has(index)) continue;
      const text = alternative.message.text ?? '';
      const previous = this.#sent[index] ?? '';
      const finish = yandexFinishReason(alternative.status);
      // A final line whose text does not extend what was sent adds no text, only its tool calls
      // and finish. CONTENT_FILTER comes so when the filter trips on the output: its text is
      // Yandex's canned notice ("В интернете есть много сайтов...") meant to replace the whole
      // answer, and a stream cannot take back the model's text already delivered. Appended, it
      // would run on from a cut sentence as if the model had said it; left out, the caller has
      // what was generated and content_filter (an Anthropic caller: refusal), as OpenAI ends a
      // stream its filter cut. Before any text (the filter tripped on the prompt) the notice
      // extends nothing and goes as sent, as in a plain answer.
      if (text.startsWith(previous)) {
        this.#sent[index] = text;
        const delta = text.slice(previous.length);
        if (delta !== '' || !this.#roleSent) out.push(this.#chunk(index, { content: delta }));
      } else if (!finish) {
        return this.#fail('YandexGPT stream text does not extend the text before', 'invalid_stream');
      }
      const calls = toolCallsOf(alternative, this.#base.id);
      if (calls.length > 0) {
        out.push(
          this.#chunk(index, {
            tool_calls: calls.map((call, callIndex) => ({
              index: callIndex,
              id: call.id,
              type: 'function',
              function: { name: call.function.name, arguments: call.function.arguments },
            })),
          }),
        );
      }
      if (finish) {
        this.#finished.add(index);
        out.push({ ...chunkOf(this.#base, [{ index, delta: {}, logprobs: null, finish_reason: finish }]) });
      }
    }
    // After the line's text: the usage counts it.
    if (usage) out.push(...this.#reports(usage));
    const ended =
      alternatives.length > 0 && alternatives.every((_alternative, index) => this.#finished.has(index));
    if (!ended) return out;
    this.#done = true;
    return [...out, ...this.#usageChunk(), OPENAI_DONE];
  }

  /** Yandex's running usage as a report for the translator (no event for the caller). */
  #reports(usage: YandexUsage): UsageReport[] {
    const normalised = usageFromOpenAI(yandexUsageToOpenAI(usage));
    return normalised ? [new UsageReport(normalised)] : [];
  }

  /** The usage Yandex reported last (each line carries the whole so far), as a usage-only chunk. */
  #usageChunk(): OpenAIChatChunkOut[] {
    return this.#usage ? [{ ...chunkOf(this.#base, []), usage: yandexUsageToOpenAI(this.#usage) }] : [];
  }

  #chunk(index: number, delta: OpenAIChatChunkOut['choices'][number]['delta']): OpenAIChatChunkOut {
    const withRole = this.#roleSent ? delta : { role: 'assistant' as const, ...delta };
    this.#roleSent = true;
    return chunkOf(this.#base, [{ index, delta: withRole, logprobs: null, finish_reason: null }]);
  }

  /**
   * An error event, after the usage reported so far: as a report, so that the failure is charged
   * what Yandex counted (hidden reasoning too, and the failing line's), and as a usage chunk, the
   * stream's last before its error, as GigaChat's mapper sends it.
   */
  #fail(message: string, type: string): unknown[] {
    this.#failed = true;
    // The failing line's own usage too (read before it failed): Yandex counted what it made.
    const reports = this.#usage ? this.#reports(this.#usage) : [];
    return [...reports, ...this.#usageChunk(), { error: { message, type } }];
  }
}
