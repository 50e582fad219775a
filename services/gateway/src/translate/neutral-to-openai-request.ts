/** Writes an OpenAI Chat Completions request from the neutral form. */
import { createHash } from 'node:crypto';
import { base64DataUrl, refuseMalformedBase64 } from './data-url.js';
import { isRecord } from './json-object.js';
import type {
  ImagePart,
  NeutralChatRequest,
  NeutralMessage,
  NeutralThinking,
  NeutralToolChoice,
  UserPart,
} from './neutral-request.js';
import { documentNote, effortForBudget, lesserEffort } from './neutral-request.js';
import type { OpenAIChatRequest, OpenAIMessage, OpenAIUserContentPart } from './openai-chat-types.js';
import {
  openAIMaxOutputTokens,
  openAIMaxStopSequences,
  openAIReasoningModel,
  openAITakesParallelToolCalls,
  openAITakesSampling,
  openAITakesStop,
} from './openai-models.js';
import { shortToolName } from './tool-names.js';
import { TranslationError } from './translation-error.js';

export interface OpenAIRequestOptions {
  /**
   * Where the output limit goes. OpenAI deprecated `max_tokens` and its reasoning models
   * refuse it, so the default is `max_completion_tokens`; some OpenAI-compatible servers only
   * know `max_tokens`.
   */
  maxTokensField?: 'max_completion_tokens' | 'max_tokens';
  /**
   * Write an assistant turn's reasoning back as `reasoning_content`: DeepSeek's thinking mode
   * refuses a tool-call turn without it (400 "Missing `reasoning_content` field",
   * api-docs.deepseek.com/guides/thinking_mode#tool-calls). Only for servers that take the field:
   * OpenAI documents no such message field, and Groq and Mistral refuse unknown ones.
   */
  reasoningContent?: boolean;
  /**
   * The adapter maps `reasoning_effort` to a reasoning switch of its provider's own (YandexGPT's
   * reasoning mode), for any of its models: `thinking` and `output_config.effort` go as an effort
   * whatever the model is named (`switchEffort`), where the OpenAI table sends nothing for a name
   * it does not know. The adapter decides what its models take.
   */
  reasoningSwitch?: boolean;
}

/** Prefix of a tool result the caller flagged as an error: OpenAI tool messages have no error flag. */
export const TOOL_ERROR_PREFIX = 'Error: ';

export function openAIRequestFromNeutral(
  request: NeutralChatRequest,
  options: OpenAIRequestOptions = {},
): OpenAIChatRequest {
  const messages: OpenAIMessage[] = [];
  // One system message: several are allowed by OpenAI but refused by some compatible servers' chat templates.
  if (request.system.length > 0) messages.push({ role: 'system', content: request.system.join('\n\n') });
  for (const neutral of request.messages) messages.push(...openAIMessages(neutral, options));
  const out: OpenAIChatRequest = { model: request.model, messages };
  // A maximum above the model's ceiling (Claude Code asks for 32,000; gpt-4o writes at most
  // 16,384) is refused by OpenAI: it goes as the ceiling, the most the model writes anyway.
  if (request.maxTokens !== undefined)
    out[options.maxTokensField ?? 'max_completion_tokens'] = Math.min(
      request.maxTokens,
      openAIMaxOutputTokens(request.model) ?? request.maxTokens,
    );
  const effort = options.reasoningSwitch ? switchEffort(request) : openAIEffort(request);
  if (effort) out.reasoning_effort = effort;
  // Reasoning models refuse any temperature or top_p but 1 (a 400): dropped, as for Claude models
  // that take none (claude-models.ts), where the model reasons (openai-models.ts).
  const sampling = openAITakesSampling(request.model, effort);
  if (request.temperature !== undefined && (sampling || request.temperature === 1))
    out.temperature = request.temperature;
  if (request.topP !== undefined && (sampling || request.topP === 1)) out.top_p = request.topP;
  if (request.stop !== undefined && request.stop.length > 0) out.stop = openAIStop(request, effort);
  // Usage in a stream is asked for by the provider's adapter, where the provider takes the field.
  if (request.stream) out.stream = true;
  if (request.tools.length > 0) {
    out.tools = request.tools.map((tool) => ({
      type: 'function',
      function: {
        name: shortToolName(tool.name),
        ...(tool.description !== undefined ? { description: tool.description } : {}),
        ...(tool.parameters !== undefined ? { parameters: openAIParameters(tool.parameters) } : {}),
        ...(tool.strict !== undefined && (!tool.strict || openAITakesStrict(tool.parameters))
          ? { strict: tool.strict }
          : {}),
      },
    }));
    if (request.toolChoice) out.tool_choice = openAIToolChoiceOf(request.toolChoice);
    // The o-series refuse the field (a 400, even for false): dropped, as temperature is; they
    // may then call several tools at once, which an Anthropic caller's answer can hold.
    if (request.parallelToolCalls !== undefined && openAITakesParallelToolCalls(request.model))
      out.parallel_tool_calls = request.parallelToolCalls;
  }
  if (request.responseFormat?.type === 'json_object') out.response_format = { type: 'json_object' };
  if (request.responseFormat?.type === 'json_schema') {
    const { name, description, schema, strict } = request.responseFormat;
    out.response_format = {
      type: 'json_schema',
      json_schema: {
        name,
        ...(description !== undefined ? { description } : {}),
        ...(schema !== undefined ? { schema } : {}),
        ...(strict !== undefined ? { strict } : {}),
      },
    };
  }
  if (request.user !== undefined) out.user = openAIUser(request.user);
  if (request.n !== undefined) out.n = request.n;
  if (request.logprobs !== undefined) out.logprobs = request.logprobs;
  if (request.presencePenalty !== undefined) out.presence_penalty = request.presencePenalty;
  if (request.frequencyPenalty !== undefined) out.frequency_penalty = request.frequencyPenalty;
  if (request.seed !== undefined) out.seed = request.seed;
  return out;
}

/**
 * The `reasoning_effort` for an Anthropic caller's `thinking` and `output_config.effort`. The
 * effort says how much (low, medium, high as such; `xhigh` where the model takes it, else
 * refused; `max` the most it takes), unless thinking is `disabled`, which asks for the least;
 * with `enabled`, the lesser of the effort and the one its `budget_tokens` reaches (the budget
 * stays the ceiling). Like `thinking`, it is sent nothing for a model that does not reason, a
 * name the table does not know, or a model that takes only its default effort. An effort
 * without `thinking` is sent nothing either where the model reasons only when asked (gpt-5.1
 * and later, default `none`): Claude thinks only when `thinking` asks it to, and an effort
 * without it shapes only the text and tool calls (platform.claude.com/docs/en/build-with-claude/
 * effort), so the model keeps its default, as `switchEffort` does; a model that reasons anyway
 * (gpt-5, the o-series) is told the effort, which lowers or raises the reasoning it does.
 */
function openAIEffort(request: NeutralChatRequest): string | undefined {
  const fromThinking = request.thinking && reasoningEffort(request.thinking, request.model);
  const asked = request.reasoningEffort;
  if (asked === undefined || request.thinking?.type === 'disabled') return fromThinking;
  const reasoning = openAIReasoningModel(request.model);
  if (reasoning === undefined || !reasoning.takesEffort) return undefined;
  // An effort without `thinking` turns no reasoning on where the model reasons only when asked.
  if (request.thinking === undefined && !reasoning.reasonsByDefault) return undefined;
  const param = request.reasoningEffortParam ?? 'reasoning_effort';
  let effort: string;
  switch (asked) {
    case 'low':
    case 'medium':
    case 'high':
      effort = asked;
      break;
    case 'max':
      effort = reasoning.takesXhigh ? 'xhigh' : 'high';
      break;
    case 'xhigh':
      if (reasoning.takesXhigh) {
        effort = asked;
        break;
      }
      throw new TranslationError(
        'unsupported_value',
        param,
        `${request.model} takes no \`xhigh\` effort; \`max\` asks for the most it takes (high).`,
      );
    default:
      throw new TranslationError(
        'unsupported_value',
        param,
        `The effort \`${asked}\` has no counterpart on OpenAI models; use low, medium, high or max.`,
      );
  }
  return fromThinking === undefined ? effort : lesserEffort(effort, fromThinking);
}

/**
 * The `reasoning_effort` for a provider with a reasoning switch of its own (`reasoningSwitch`):
 * Anthropic's `thinking` and `output_config.effort` as for an OpenAI model that takes every effort
 * and reasons only when asked (gpt-5.1). `disabled` -> `none`, whatever the effort; `enabled` ->
 * the effort its `budget_tokens` reaches, or the lesser of it and the effort; `adaptive` (the
 * model decides whether to reason) -> the effort, else `medium`. No `thinking`: an OpenAI
 * caller's `reasoning_effort` as it is, but nothing for an Anthropic caller's
 * `output_config.effort` alone: Claude thinks only when `thinking` asks it to, and an effort
 * without it shapes only the text and tool calls (platform.claude.com/docs/en/build-with-claude/
 * effort), which a switch has no counterpart for; `high` alone is Claude's default. `enabled`
 * without `budget_tokens` and other types are refused naming the field, as for OpenAI models.
 */
function switchEffort(request: NeutralChatRequest): string | undefined {
  const asked = request.reasoningEffort === 'max' ? 'xhigh' : request.reasoningEffort;
  const thinking = request.thinking;
  if (thinking === undefined)
    return request.reasoningEffortParam === 'output_config.effort' ? undefined : asked;
  switch (thinking.type) {
    case 'disabled':
      return 'none';
    case 'enabled': {
      const fromBudget = effortForBudget(enabledBudget(thinking));
      return asked === undefined ? fromBudget : lesserEffort<string>(asked, fromBudget);
    }
    case 'adaptive':
      return asked ?? 'medium';
    default:
      throw unknownThinkingType(thinking.type);
  }
}

function enabledBudget(thinking: NeutralThinking): number {
  if (thinking.budgetTokens === undefined)
    throw new TranslationError(
      'invalid_value',
      'thinking.budget_tokens',
      'Thinking of type `enabled` needs a `budget_tokens`.',
    );
  return thinking.budgetTokens;
}

function unknownThinkingType(type: string): TranslationError {
  return new TranslationError(
    'unsupported_value',
    'thinking.type',
    `Thinking of type \`${type}\` has no counterpart on OpenAI models; use enabled, disabled or adaptive.`,
  );
}

/**
 * Anthropic's `thinking` as the `reasoning_effort` of an OpenAI reasoning model (reasoning is
 * billed as output: the caller's choice is kept, or refused naming the field, never dropped).
 * `disabled` is the least effort (`minimal` on gpt-5 / -mini / -nano, `none` from gpt-5.1),
 * refused where the model cannot stop reasoning (o-series, codex, pro); `enabled` is the
 * effort whose budget `budget_tokens` reaches (EFFORT_BUDGETS, as for Gemini 3's levels);
 * `adaptive` is the model's default. Models that do not reason and names the table does not
 * know (a compatible server's) are sent nothing.
 */
function reasoningEffort(thinking: NeutralThinking, model: string): string | undefined {
  const reasoning = openAIReasoningModel(model);
  if (reasoning === undefined) return undefined;
  switch (thinking.type) {
    case 'disabled':
      if (reasoning.leastEffort === undefined)
        throw new TranslationError(
          'unsupported_value',
          'thinking',
          `${model} cannot stop reasoning (thinking \`disabled\`); \`enabled\` with a small budget_tokens asks for the least reasoning.`,
        );
      return reasoning.leastEffort;
    case 'enabled': {
      const budget = enabledBudget(thinking);
      return reasoning.takesEffort ? effortForBudget(budget) : undefined;
    }
    case 'adaptive':
      return undefined;
    default:
      throw unknownThinkingType(thinking.type);
  }
}

/**
 * The caller's stop sequences, refused (naming the caller's field) where they are more than the
 * model takes (OpenAI's 4) or where the model refuses `stop`: OpenAI's reasoning models, unless
 * they do not reason (gpt-5.1 and later at effort `none`). Not dropped, as `temperature` is:
 * without them the answer would run on past where the caller asked it to stop (a ReAct agent's
 * `Observation:`), billed, without a sign; refused before any call, the caller learns it at
 * once (and a fallback model of the route is asked).
 */
function openAIStop(request: NeutralChatRequest, effort: string | undefined): string[] {
  const stop = request.stop ?? [];
  // Named in the message too: an Anthropic caller's error carries no param.
  const param = request.stopParam ?? 'stop';
  if (openAITakesStop(request.model, effort)) {
    // Anthropic takes more; OpenAI's own 400 would name `stop`, a field the caller never sent.
    const most = openAIMaxStopSequences(request.model);
    if (most !== undefined && stop.length > most)
      throw new TranslationError(
        'unsupported_value',
        param,
        `${param}: ${request.model} takes up to ${most} stop sequences, not ${stop.length}.`,
      );
    return stop;
  }
  throw new TranslationError(
    'unsupported_parameter',
    param,
    openAIReasoningModel(request.model)?.leastEffort === 'none'
      ? `${param}: ${request.model} takes no stop sequences while it reasons; leave out \`${param}\`, ` +
          'or the reasoning (`thinking`, `output_config.effort`).'
      : `${param}: ${request.model} is an OpenAI reasoning model, which takes no stop sequences; ` +
          `leave out \`${param}\`.`,
  );
}

/**
 * A function's parameters as OpenAI takes them. It refuses an object schema without `properties`
 * at the root (400 "Invalid schema for function: In context=(), object schema missing
 * properties"), which Anthropic takes and MCP servers send for a tool without arguments
 * (`{type: 'object'}`): such a schema gets `properties: {}`, which says the same.
 */
function openAIParameters(schema: Record<string, unknown>): Record<string, unknown> {
  return schema.type === 'object' && schema.properties === undefined ? { ...schema, properties: {} } : schema;
}

/**
 * Whether OpenAI's strict mode takes the schema: it refuses (400 "Invalid schema for function")
 * an object without `additionalProperties: false` or with a property missing from `required`
 * (structured outputs, "Supported schemas": "all fields must be required"). Claude's strict tools
 * take optional properties, so such a tool goes without `strict`: the model still reads the schema,
 * and a `null` for each optional property (OpenAI's way) would change the input the caller gets.
 */
function openAITakesStrict(schema: unknown): boolean {
  if (Array.isArray(schema)) return schema.every(openAITakesStrict);
  if (!isRecord(schema)) return true;
  const { type, properties, required, additionalProperties } = schema;
  const object =
    type === 'object' || (Array.isArray(type) && type.includes('object')) || isRecord(properties);
  if (object) {
    if (additionalProperties !== false) return false;
    const names = Array.isArray(required) ? required : [];
    if (isRecord(properties) && Object.keys(properties).some((key) => !names.includes(key))) return false;
  }
  for (const key of ['properties', '$defs', 'definitions'] as const) {
    const children = schema[key];
    if (isRecord(children) && !Object.values(children).every(openAITakesStrict)) return false;
  }
  return ['items', 'prefixItems', 'anyOf', 'oneOf', 'allOf'].every((key) => openAITakesStrict(schema[key]));
}

/** OpenAI's longest `user` ("string too long. Expected a string with maximum length 64"). */
const OPENAI_USER_MAX = 64;

/**
 * Anthropic's `metadata.user_id` takes 256 characters and Claude Code sends ~150 (a JSON of
 * device, account and session ids), which OpenAI refuses: a longer id goes as its sha256 hex,
 * 64 characters, the same for the same user (OpenAI reads it to tell users apart, not to read it).
 */
function openAIUser(user: string): string {
  return user.length <= OPENAI_USER_MAX ? user : createHash('sha256').update(user).digest('hex');
}

function openAIMessages(neutral: NeutralMessage, options: OpenAIRequestOptions): OpenAIMessage[] {
  if (neutral.role === 'assistant') {
    const text = neutral.parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('');
    const toolCalls = neutral.parts.flatMap((part) =>
      part.type === 'tool-call'
        ? [
            {
              id: part.id,
              type: 'function' as const,
              function: { name: shortToolName(part.name), arguments: JSON.stringify(part.input) },
            },
          ]
        : [],
    );
    return [
      {
        role: 'assistant',
        content: text === '' && toolCalls.length > 0 ? null : text,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        ...(options.reasoningContent && neutral.reasoning ? { reasoning_content: neutral.reasoning } : {}),
      },
    ];
  }
  return userMessages(neutral.parts);
}

/**
 * A user turn becomes one `tool` message per tool result (they must directly follow the
 * assistant's tool calls), then one user message with the rest. OpenAI tool messages carry
 * text only, so images and documents inside tool results move into that user message, after
 * its own parts.
 */
function userMessages(parts: readonly UserPart[]): OpenAIMessage[] {
  const messages: OpenAIMessage[] = [];
  const content: OpenAIUserContentPart[] = [];
  const toolMedia: OpenAIUserContentPart[] = [];
  for (const part of parts) {
    if (part.type === 'tool-result') {
      const text = part.content.flatMap((item) => (item.type === 'text' ? [item.text] : [])).join('\n');
      messages.push({
        role: 'tool',
        tool_call_id: part.toolCallId,
        content: part.isError ? `${TOOL_ERROR_PREFIX}${text}` : text,
      });
      for (const item of part.content) if (item.type !== 'text') toolMedia.push(...contentParts(item));
    } else content.push(...contentParts(part));
  }
  content.push(...toolMedia);
  if (content.length === 0) return messages;
  const [first] = content;
  const single = content.length === 1 && first?.type === 'text';
  messages.push({ role: 'user', content: single ? first.text : content });
  return messages;
}

/** A part, a document after the text of its title and context. */
function contentParts(part: Exclude<UserPart, { type: 'tool-result' }>): OpenAIUserContentPart[] {
  const note = part.type === 'file' ? documentNote(part) : undefined;
  return note === undefined ? [contentPart(part)] : [{ type: 'text', text: note }, contentPart(part)];
}

function contentPart(part: Exclude<UserPart, { type: 'tool-result' }>): OpenAIUserContentPart {
  switch (part.type) {
    case 'text':
      return { type: 'text', text: part.text };
    case 'image':
      return imagePart(part);
    case 'file':
      if (part.source.kind === 'url')
        throw new TranslationError(
          'unsupported_value',
          part.path,
          'OpenAI models take documents inline only; send the document as base64 data instead of a URL.',
        );
      refuseMalformedBase64(part.source.data, part.path);
      return {
        type: 'file',
        file: {
          filename: part.filename ?? part.title ?? 'document.pdf',
          file_data: base64DataUrl(part.source.mediaType, part.source.data),
        },
      };
    case 'audio':
      return { type: 'input_audio', input_audio: { data: part.data, format: part.format } };
    default: {
      const unknown: never = part;
      throw new Error(`unhandled part ${JSON.stringify(unknown)}`);
    }
  }
}

function imagePart(part: ImagePart): OpenAIUserContentPart {
  const { source } = part;
  if (source.kind === 'url') return { type: 'image_url', image_url: { url: source.url } };
  refuseMalformedBase64(source.data, part.path);
  return { type: 'image_url', image_url: { url: base64DataUrl(source.mediaType, source.data) } };
}

function openAIToolChoiceOf(choice: NeutralToolChoice): NonNullable<OpenAIChatRequest['tool_choice']> {
  switch (choice.type) {
    case 'none':
    case 'auto':
    case 'required':
      return choice.type;
    case 'tool':
      return { type: 'function', function: { name: shortToolName(choice.name) } };
    case 'allowed':
      return {
        type: 'allowed_tools',
        allowed_tools: {
          mode: choice.mode,
          tools: choice.names.map((name) => ({ type: 'function', function: { name: shortToolName(name) } })),
        },
      };
    default: {
      const unknown: never = choice;
      throw new Error(`unhandled tool choice ${JSON.stringify(unknown)}`);
    }
  }
}
