/** Writes an Anthropic Messages request from the neutral form. */
import { createHash } from 'node:crypto';
import { imageSizeFromBase64 } from '../tokens/images.js';
import type {
  AnthropicContentBlock,
  AnthropicDocumentBlock,
  AnthropicImageBlock,
  AnthropicMessageParam,
  AnthropicMessagesRequest,
  AnthropicTool,
  AnthropicToolChoice,
} from './anthropic-messages-types.js';
import { claudeJsonSchema } from './claude-json-schema.js';
import {
  claudeDefaultMaxTokens,
  claudeMaxOutputTokens,
  claudeTakesNoSampling,
  claudeTakesOneOfTemperatureAndTopP,
  claudeTakesXHighEffort,
  claudeThinking,
} from './claude-models.js';
import { imageMediaType, refuseMalformedBase64 } from './data-url.js';
import type {
  FilePart,
  ImagePart,
  NeutralChatRequest,
  NeutralMessage,
  TextPart,
  UserPart,
} from './neutral-request.js';
import { EFFORT_BUDGETS, refuseEmptyConversation, toolNamesUsed } from './neutral-request.js';
import { TranslationError } from './translation-error.js';

/**
 * Anthropic requires `max_tokens`; OpenAI callers usually leave it out (OpenAI then allows
 * the model's maximum). A Claude model from the 4.5 generation on gets its own ceiling
 * (`claudeDefaultMaxTokens`: those end an answer at the context window instead of refusing
 * prompt + max_tokens beyond it); any other gets 4096, an output every Claude model accepts,
 * the oldest included. A provider's configured `defaultMaxTokens` wins over both.
 */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4096;

/** Anthropic's temperature range is [0, 1], OpenAI's [0, 2]: higher values are capped at 1. */
const ANTHROPIC_MAX_TEMPERATURE = 1;

/** Image types the Messages API accepts. */
const ANTHROPIC_IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

/**
 * Claude's largest image, measured on the base64 as sent (a 400 "image exceeds 5 MB maximum:
 * 6405384 bytes > 5242880 bytes"); OpenAI takes up to 50 MB a request.
 */
const ANTHROPIC_MAX_IMAGE_BASE64 = 5 * 1024 * 1024;

/**
 * Claude's largest image side, and its smaller one in a request of more than 20 images (the
 * vision guide; a 400 "At least one of the image dimensions exceed max allowed size"). OpenAI
 * scales a larger image down: full-page screenshots and agents' screenshot loops pass it.
 */
const ANTHROPIC_MAX_IMAGE_SIDE = 8000;
const ANTHROPIC_MANY_IMAGES = 20;
const ANTHROPIC_MANY_IMAGES_MAX_SIDE = 2000;

export interface AnthropicRequestOptions {
  /** `max_tokens` when the caller gave none; default `claudeDefaultMaxTokens`, else DEFAULT_ANTHROPIC_MAX_TOKENS. */
  defaultMaxTokens?: number;
}

export function anthropicRequestFromNeutral(
  asked: NeutralChatRequest,
  options: AnthropicRequestOptions = {},
): AnthropicMessagesRequest {
  const request = withinOutputCeiling(asked);
  refuseOpenAIOnlyOptions(request);
  refuseEmptyConversation(request, 'Claude models');
  refuseOversizedImages(request.messages);
  const defaultMaxTokens =
    options.defaultMaxTokens ?? claudeDefaultMaxTokens(request.model) ?? DEFAULT_ANTHROPIC_MAX_TOKENS;
  const reasoning = withoutThinkingInOpenToolLoop(request, reasoningFields(request, defaultMaxTokens));
  const out: AnthropicMessagesRequest = {
    model: request.model,
    messages: withoutTrailingWhitespace(request.messages.map(message)),
    max_tokens: reasoning.maxTokens ?? request.maxTokens ?? defaultMaxTokens,
  };
  if (request.system.length > 0) out.system = request.system.map((text) => ({ type: 'text', text }));
  if (request.stream) out.stream = true;
  // Claude refuses temperature and top_k with thinking on (top_p outside 0.95-1 too): they are
  // dropped there, as for the models that take none, the model thinking as it was tuned to.
  if (reasoning.thinking === undefined) Object.assign(out, samplingFields(request));
  if (request.stop !== undefined && request.stop.length > 0) out.stop_sequences = stopSequences(request);
  Object.assign(out, toolFields(request));
  if (reasoning.thinking !== undefined) {
    refuseForcedToolWithThinking(out.tool_choice);
    out.thinking = reasoning.thinking;
  }
  if (request.user !== undefined) out.metadata = { user_id: anthropicUserId(request.user) };
  if (request.responseFormat?.type === 'json_schema' && request.responseFormat.schema)
    out.output_config = {
      format: { type: 'json_schema', schema: claudeJsonSchema(request.responseFormat.schema) },
    };
  if (reasoning.effort !== undefined) out.output_config = { ...out.output_config, effort: reasoning.effort };
  return out;
}

/**
 * The caller's maximum, lowered to the model's ceiling (`claudeMaxOutputTokens`) when above it:
 * Claude refuses more with a 400 ("max_tokens: 100000 > 64000, which is the maximum allowed
 * number of output tokens"), which OpenAI callers meet when they size `max_completion_tokens`
 * for an OpenAI model (gpt-5's 128,000). The model writes no more than its ceiling anyway, so
 * the answer is the one asked for; the thinking budget then fits under the lowered maximum.
 */
function withinOutputCeiling(request: NeutralChatRequest): NeutralChatRequest {
  const ceiling = claudeMaxOutputTokens(request.model);
  return request.maxTokens !== undefined && ceiling !== undefined && request.maxTokens > ceiling
    ? { ...request, maxTokens: ceiling }
    : request;
}

/** Anthropic's longest `metadata.user_id`. */
const ANTHROPIC_USER_ID_MAX = 256;
const EMAIL = /[^\s@]+@[^\s@]+\.[^\s@]+/;
/** Seven or more digits, in a run or apart by the marks phone numbers are written with. */
const PHONE = /\d(?:[\s().+-]*\d){6,}/;

/**
 * OpenAI's `user` as Anthropic's `metadata.user_id`, which must be "a uuid, hash value, or other
 * opaque identifier" without "name, email address, or phone number": Claude refuses an id holding
 * an email with a 400 ("user_id appears to contain an email address. Please send a uuid or hash
 * value"), which OpenAI takes (its callers often send the end user's email). Such an id, one with a
 * phone-like number, and one over Anthropic's 256 characters go as their sha256 hex: opaque, and
 * the same for the same user, so Claude still tells users apart. Others go as sent.
 */
function anthropicUserId(user: string): string {
  if (user.length <= ANTHROPIC_USER_ID_MAX && !EMAIL.test(user) && !PHONE.test(user)) return user;
  return createHash('sha256').update(user).digest('hex');
}

/** Claude's smallest thinking budget. */
const MIN_THINKING_BUDGET = 1024;
/** OpenAI's efforts as Claude's `output_config.effort` (Claude has no minimal: its lowest is low). */
const EFFORT_LEVELS: Readonly<Record<string, string>> = {
  minimal: 'low',
  low: 'low',
  medium: 'medium',
  high: 'high',
  xhigh: 'xhigh',
};

interface ReasoningFields {
  thinking?: NonNullable<AnthropicMessagesRequest['thinking']>;
  effort?: string;
  /** Set when thinking needs a larger `max_tokens` than the caller's default. */
  maxTokens?: number;
}

/**
 * OpenAI's `reasoning_effort` as the model takes it (`claude-models.ts`). Thinking is billed as
 * output, so the caller's choice is kept, or refused naming the field, never dropped (but within
 * an open tool loop, `withoutThinkingInOpenToolLoop`, which lowers the bill):
 * - effort models get `output_config.effort` (minimal is low; xhigh only where the model has it);
 *   Opus 4.6 and later 4.x models, which think only when asked, also `thinking: adaptive`;
 * - manual-thinking models get `thinking.budget_tokens` (1,024, 8,192, 24,576; Opus 4.5 both).
 *   Claude counts thinking in `max_tokens`, as OpenAI counts reasoning in
 *   `max_completion_tokens`: the caller's maximum stays the ceiling and the budget is lowered to
 *   fit under it (refused below Claude's 1,024 minimum); with no maximum, the budget is added to
 *   the default (within the model's ceiling), so the answer keeps its usual room.
 * `none` sends nothing (these models think only when asked), refused on Claude 5 (it always
 * thinks). Models that do not think (Claude 3, 3.5) get nothing; unknown models are refused.
 */
function reasoningFields(request: NeutralChatRequest, defaultMaxTokens: number): ReasoningFields {
  const effort = request.reasoningEffort;
  if (effort === undefined) return {};
  const kind = claudeThinking(request.model);
  if (kind === 'none') return {};
  if (kind === undefined)
    throw new TranslationError(
      'unsupported_parameter',
      'reasoning_effort',
      `reasoning_effort cannot be translated for \`${request.model}\`, a model this gateway does not know as a thinking Claude model.`,
    );
  if (effort === 'none') {
    if (kind === 'effort')
      throw new TranslationError(
        'unsupported_value',
        'reasoning_effort',
        `${request.model} cannot turn thinking off (reasoning_effort \`none\`); \`low\` asks for the least thinking.`,
      );
    return {};
  }
  const level = EFFORT_LEVELS[effort];
  if (level === undefined || (level === 'xhigh' && !claudeTakesXHighEffort(request.model)))
    throw new TranslationError(
      'unsupported_value',
      'reasoning_effort',
      `reasoning_effort \`${effort}\` has no counterpart on ${request.model}; use none, minimal, low, medium or high.`,
    );
  if (kind === 'effort') return { effort: level };
  if (kind === 'adaptive') return { thinking: { type: 'adaptive' }, effort: level };
  const wanted = (EFFORT_BUDGETS as Readonly<Record<string, number>>)[effort];
  if (wanted === undefined) throw new Error(`no thinking budget for effort ${effort}`); // xhigh is refused above
  const ceiling = claudeMaxOutputTokens(request.model);
  const maxTokens =
    request.maxTokens ?? Math.min(defaultMaxTokens + wanted, ceiling ?? defaultMaxTokens + wanted);
  const budget = Math.min(wanted, maxTokens - 1); // Claude: budget_tokens below max_tokens
  if (budget < MIN_THINKING_BUDGET)
    throw new TranslationError(
      'unsupported_value',
      'reasoning_effort',
      `Claude thinks in at least ${MIN_THINKING_BUDGET} tokens, counted in max_tokens: with reasoning_effort, ` +
        `max_completion_tokens (or max_tokens) must be above ${MIN_THINKING_BUDGET}, not ${maxTokens}.`,
    );
  return {
    thinking: { type: 'enabled', budget_tokens: budget },
    ...(kind === 'budget-and-effort' ? { effort: level } : {}),
    maxTokens,
  };
}

/**
 * With thinking on, Claude requires the last assistant turn of an open tool loop (its tool_use
 * answered by the tool_result of the last user turn) to start with the thinking block it wrote
 * (extended thinking, "Preserving thinking blocks"; otherwise a 400 "Expected `thinking` or
 * `redacted_thinking`, but found `tool_use`"). An OpenAI caller cannot send one back (Claude's
 * reasoning reaches it only as a count), so such a request goes without `thinking`, as LiteLLM
 * does: Claude's own advice ("To avoid this requirement, disable `thinking`"). Its `max_tokens` is
 * the one without reasoning, since the thinking budget added to it is not spent. The effort stays:
 * it does not need thinking. Thinking is back on for the next turn of the conversation.
 */
function withoutThinkingInOpenToolLoop(
  request: NeutralChatRequest,
  reasoning: ReasoningFields,
): ReasoningFields {
  if (reasoning.thinking === undefined || !inOpenToolLoop(request.messages)) return reasoning;
  return reasoning.effort !== undefined ? { effort: reasoning.effort } : {};
}

/** The last turn answers tool calls of the assistant turn before it. */
function inOpenToolLoop(messages: readonly NeutralMessage[]): boolean {
  const last = messages.at(-1);
  const before = messages.at(-2);
  return (
    last?.role === 'user' &&
    last.parts.some((part) => part.type === 'tool-result') &&
    before?.role === 'assistant' &&
    before.parts.some((part) => part.type === 'tool-call')
  );
}

/** Claude refuses thinking with a forced tool choice (`any`, `tool`): only auto and none. */
function refuseForcedToolWithThinking(choice: AnthropicToolChoice | undefined): void {
  if (choice?.type === 'any' || choice?.type === 'tool')
    throw new TranslationError(
      'unsupported_value',
      'tool_choice',
      'Claude models cannot be forced to call a tool while thinking (reasoning_effort): ' +
        'use tool_choice auto or none, or leave reasoning_effort out.',
    );
}

/**
 * `temperature` (capped into Anthropic's range), `top_p` and `top_k`, as the model takes them.
 * Opus 4.7 and later refuse all three (a 400 naming no field): they are dropped there, as
 * OpenRouter does, since frameworks send a temperature by default and the model samples as it
 * was tuned to whatever the caller asks. Opus 4.1 and the 4.5 and 4.6 models refuse
 * `temperature` with `top_p` ("cannot both be specified"): given both, `top_p` is dropped.
 */
function samplingFields(
  request: NeutralChatRequest,
): Pick<AnthropicMessagesRequest, 'temperature' | 'top_p' | 'top_k'> {
  if (claudeTakesNoSampling(request.model)) return {};
  const out: Pick<AnthropicMessagesRequest, 'temperature' | 'top_p' | 'top_k'> = {};
  if (request.temperature !== undefined)
    out.temperature = Math.min(request.temperature, ANTHROPIC_MAX_TEMPERATURE);
  // Opus 4.1 and later take one of the two: with both, temperature (the one callers mean) is kept.
  const oneOfTwo = out.temperature !== undefined && claudeTakesOneOfTemperatureAndTopP(request.model);
  if (request.topP !== undefined && !oneOfTwo) out.top_p = request.topP;
  if (request.topK !== undefined) out.top_k = request.topK;
  return out;
}

/**
 * Refuses, naming the caller's field, an inline image with a side over what Claude takes (read
 * from its header; an image by URL Claude fetches, unseen here), so that a fallback provider is
 * asked rather than Claude refusing it.
 */
function refuseOversizedImages(messages: readonly NeutralMessage[]): void {
  const images: ImagePart[] = [];
  for (const message of messages) {
    if (message.role !== 'user') continue;
    for (const part of message.parts)
      if (part.type === 'image') images.push(part);
      else if (part.type === 'tool-result')
        for (const item of part.content) if (item.type === 'image') images.push(item);
  }
  const many = images.length > ANTHROPIC_MANY_IMAGES;
  const maxSide = many ? ANTHROPIC_MANY_IMAGES_MAX_SIDE : ANTHROPIC_MAX_IMAGE_SIDE;
  for (const image of images) {
    if (image.source.kind !== 'base64') continue;
    const size = imageSizeFromBase64(image.source.data);
    if (size === null || Math.max(size.width, size.height) <= maxSide) continue;
    throw new TranslationError(
      'unsupported_value',
      image.path,
      `Claude models take images of at most ${maxSide} pixels a side` +
        `${many ? ` in a request of more than ${ANTHROPIC_MANY_IMAGES} images` : ''}, ` +
        `not ${size.width}x${size.height}; resize the image.`,
    );
  }
}

function refuseOpenAIOnlyOptions(request: NeutralChatRequest): void {
  if (request.n !== undefined && request.n > 1)
    throw new TranslationError(
      'unsupported_value',
      'n',
      'Claude models return one choice per request; `n` must be 1. Send several requests instead.',
    );
  if (request.logprobs === true)
    throw new TranslationError(
      'unsupported_parameter',
      'logprobs',
      'Claude models do not return log probabilities.',
    );
  if (request.audioOutput === true)
    throw new TranslationError('unsupported_value', 'modalities', 'Claude models do not produce audio.');
}

/**
 * Claude refuses a stop sequence made only of whitespace (`"\n"`, which OpenAI accepts). It is
 * refused here, naming the field, rather than dropped: dropping it would let the answer run
 * past where the caller asked it to stop (one line becoming many, up to max_tokens) without a
 * word, and code reading one line would break quietly instead of at the request.
 */
function stopSequences(request: NeutralChatRequest): string[] {
  const stop = request.stop ?? [];
  const blank = stop.find((sequence) => sequence.trim() === '');
  if (blank !== undefined)
    throw new TranslationError(
      'unsupported_value',
      request.stopParam ?? 'stop',
      `Claude models refuse a stop sequence made only of whitespace (${JSON.stringify(blank)}); ` +
        'leave it out, or stop on text that has a visible character.',
    );
  return stop;
}

function message(neutral: NeutralMessage): AnthropicMessageParam {
  if (neutral.role === 'assistant') {
    return {
      role: 'assistant',
      content: neutral.parts.map(
        (part): AnthropicContentBlock =>
          part.type === 'text'
            ? { type: 'text', text: part.text }
            : { type: 'tool_use', id: claudeToolUseId(part.id), name: part.name, input: part.input },
      ),
    };
  }
  return { role: 'user', content: neutral.parts.map(userBlock) };
}

/**
 * A conversation that ends on an assistant turn is a prefill to Claude, which refuses one whose
 * last text ends in whitespace (400 "final assistant content cannot end with trailing
 * whitespace"); OpenAI takes it (an OpenAI caller's `"Sure, "`). The whitespace goes: Claude
 * writes its own before the next word.
 */
function withoutTrailingWhitespace(messages: AnthropicMessageParam[]): AnthropicMessageParam[] {
  const last = messages.at(-1);
  if (last?.role !== 'assistant' || typeof last.content === 'string') return messages;
  const block = last.content.at(-1);
  if (block?.type !== 'text' || block.text === block.text.trimEnd()) return messages;
  // Whitespace-only texts were dropped while parsing: some text stays.
  const content = [...last.content.slice(0, -1), { ...block, text: block.text.trimEnd() }];
  return [...messages.slice(0, -1), { ...last, content }];
}

/** The ids Claude takes for `tool_use.id` and `tool_result.tool_use_id` (a 400 "String should match pattern" otherwise). */
const CLAUDE_TOOL_USE_ID = /^[a-zA-Z0-9_-]+$/;

/**
 * A tool call's id as Claude takes it. Ids other providers mint may hold characters Claude
 * refuses (Kimi / Moonshot's `functions.get_weather:0`); such an id goes with each of those
 * characters as `_` and 8 hex characters of its sha256 (two ids differing only there stay
 * apart), the same in the call and in the result answering it. Other ids go as they are.
 */
export function claudeToolUseId(id: string): string {
  if (CLAUDE_TOOL_USE_ID.test(id)) return id;
  return `${id.replace(/[^a-zA-Z0-9_-]/g, '_')}_${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
}

function userBlock(part: UserPart): AnthropicContentBlock {
  switch (part.type) {
    case 'text':
      return { type: 'text', text: part.text };
    case 'image':
      return imageBlock(part);
    case 'file':
      return documentBlock(part);
    case 'audio':
      throw new TranslationError('unsupported_value', part.path, 'Claude models do not accept audio input.');
    case 'tool-result':
      return {
        type: 'tool_result',
        tool_use_id: claudeToolUseId(part.toolCallId),
        ...toolResultContent(part.content),
        ...(part.isError ? { is_error: true } : {}),
      };
    default: {
      const unknown: never = part;
      throw new Error(`unhandled part ${JSON.stringify(unknown)}`);
    }
  }
}

function imageBlock(part: ImagePart): AnthropicImageBlock {
  const { source } = part;
  if (source.kind === 'url') return { type: 'image', source: { type: 'url', url: source.url } };
  refuseMalformedBase64(source.data, part.path);
  // Refused here, naming the caller's field, so a fallback provider is asked (not a Claude 400).
  if (source.data.length > ANTHROPIC_MAX_IMAGE_BASE64)
    throw new TranslationError(
      'unsupported_value',
      part.path,
      `Claude models take images of at most 5 MB (5,242,880 characters of base64), not ${source.data.length}; ` +
        'resize or compress the image.',
    );
  const mediaType = imageMediaType(source.mediaType, source.data);
  if (!ANTHROPIC_IMAGE_TYPES.has(mediaType))
    throw new TranslationError(
      'unsupported_value',
      part.path,
      `Claude models accept JPEG, PNG, GIF and WebP images, not \`${source.mediaType}\`.`,
    );
  return { type: 'image', source: { type: 'base64', media_type: mediaType, data: source.data } };
}

function documentBlock(part: FilePart): AnthropicDocumentBlock {
  const { source } = part;
  if (source.kind === 'base64' && source.mediaType !== 'application/pdf')
    throw new TranslationError(
      'unsupported_value',
      part.path,
      `Claude models read PDF documents; \`${source.mediaType}\` files cannot be sent.`,
    );
  if (source.kind === 'base64') refuseMalformedBase64(source.data, part.path);
  return {
    type: 'document',
    source:
      source.kind === 'base64'
        ? { type: 'base64', media_type: source.mediaType, data: source.data }
        : { type: 'url', url: source.url },
    ...((part.title ?? part.filename) ? { title: part.title ?? part.filename } : {}),
    ...(part.context ? { context: part.context } : {}),
  };
}

/** A lone text stays a string, the form most callers send; anything richer becomes blocks. */
function toolResultContent(content: (TextPart | ImagePart | FilePart)[]): {
  content?: string | Extract<AnthropicContentBlock, { type: 'text' | 'image' | 'document' }>[];
} {
  if (content.length === 0) return {};
  const [first] = content;
  if (content.length === 1 && first?.type === 'text') return { content: first.text };
  return {
    content: content.map((item) =>
      item.type === 'text'
        ? { type: 'text', text: item.text }
        : item.type === 'image'
          ? imageBlock(item)
          : documentBlock(item),
    ),
  };
}

/**
 * Tools and tool_choice. `parallelToolCalls: false` becomes `disable_parallel_tool_use` on
 * the tool choice (Anthropic has no other place for it). A conversation that already holds
 * tool calls but offers no tools still needs the tools declared (Anthropic refuses tool_use
 * blocks otherwise, OpenAI does not): they are declared with an empty schema and
 * `tool_choice: none`, so the history is accepted and no new call is made. OpenAI's
 * `allowed_tools` offers only the allowed tools, with `auto` or `any`.
 */
function toolFields(request: NeutralChatRequest): Pick<AnthropicMessagesRequest, 'tools' | 'tool_choice'> {
  if (request.tools.length === 0) {
    const used = toolNamesUsed(request.messages);
    if (used.length === 0) return {};
    return {
      tools: used.map((name) => ({ name, input_schema: { type: 'object', properties: {} } })),
      tool_choice: { type: 'none' },
    };
  }
  // Only the allowed tools are offered: Claude has no list of callable tools apart from `tools`.
  const choice = request.toolChoice;
  const offered =
    choice?.type === 'allowed'
      ? request.tools.filter((tool) => choice.names.includes(tool.name))
      : request.tools;
  const tools = offered.map(
    (tool): AnthropicTool => ({
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      // A strict tool's schema is held to structured outputs' subset; others go as written.
      input_schema:
        tool.strict === true
          ? claudeJsonSchema(tool.parameters ?? { type: 'object', properties: {} })
          : (tool.parameters ?? { type: 'object', properties: {} }),
      ...(tool.strict === true ? { strict: true } : {}),
    }),
  );
  const anthropicChoice = toolChoice(request);
  return anthropicChoice ? { tools, tool_choice: anthropicChoice } : { tools };
}

function toolChoice(request: NeutralChatRequest): AnthropicToolChoice | undefined {
  const disableParallel = request.parallelToolCalls === false ? { disable_parallel_tool_use: true } : {};
  const choice = request.toolChoice ?? { type: 'auto' };
  switch (choice.type) {
    case 'none':
      return { type: 'none' };
    case 'auto':
      // Auto is Anthropic's default: only written when it carries the parallel-call switch.
      return request.toolChoice || request.parallelToolCalls === false
        ? { type: 'auto', ...disableParallel }
        : undefined;
    case 'required':
      return { type: 'any', ...disableParallel };
    case 'tool':
      return { type: 'tool', name: choice.name, ...disableParallel };
    case 'allowed':
      // The tools are cut to the allowed ones (toolFields): auto or any among those.
      return { type: choice.mode === 'required' ? 'any' : 'auto', ...disableParallel };
    default: {
      const unknown: never = choice;
      throw new Error(`unhandled tool choice ${JSON.stringify(unknown)}`);
    }
  }
}
