/** Writes a Gemini generateContent request body from the neutral form (the model goes in the URL). */
import { canonicalMediaType, imageMediaType, refuseMalformedBase64 } from './data-url.js';
import { geminiCallIdToSend } from './gemini-tool-call-id.js';
import type { GeminiContent, GeminiGenerateContentRequest, GeminiPart } from './gemini-types.js';
import type {
  FilePart,
  ImagePart,
  NeutralChatRequest,
  NeutralMessage,
  NeutralThinking,
  ToolResultPart,
  UserPart,
} from './neutral-request.js';
import {
  documentNote,
  EFFORT_BUDGETS,
  effortForBudget,
  lesserEffort,
  refuseEmptyConversation,
} from './neutral-request.js';
import { geminiToolName } from './tool-names.js';
import { TranslationError } from './translation-error.js';

/**
 * Gemini 3 refuses a function call in the history without the thought signature it was
 * issued with. Calls translated from another dialect never have one; Google documents this
 * value for exactly that case (history built elsewhere), and older models ignore it.
 */
export const FOREIGN_THOUGHT_SIGNATURE = 'skip_thought_signature_validator';

export interface GeminiRequestOptions {
  /** Put on the first function call of each model turn; null leaves calls unsigned. */
  thoughtSignature?: string | null;
}

export function geminiRequestFromNeutral(
  request: NeutralChatRequest,
  options: GeminiRequestOptions = {},
): GeminiGenerateContentRequest {
  refuseUnsupported(request);
  refuseEmptyConversation(request, 'Gemini models');
  const signature =
    options.thoughtSignature === undefined ? FOREIGN_THOUGHT_SIGNATURE : options.thoughtSignature;
  const out: GeminiGenerateContentRequest = { contents: contents(request.messages, signature) };
  if (request.system.length > 0) out.systemInstruction = { parts: request.system.map((text) => ({ text })) };
  if (request.tools.length > 0) {
    // OpenAI's allowed_tools with `auto`: Gemini takes allowedFunctionNames with ANY only, so
    // only the allowed functions are declared (with `required` they go as allowedFunctionNames).
    const choice = request.toolChoice;
    const declared =
      choice?.type === 'allowed' && choice.mode === 'auto'
        ? request.tools.filter((tool) => choice.names.includes(tool.name))
        : request.tools;
    out.tools = [
      {
        functionDeclarations: declared.map((tool) => ({
          name: geminiToolName(tool.name),
          ...(tool.description !== undefined ? { description: tool.description } : {}),
          ...(tool.parameters !== undefined ? { parametersJsonSchema: tool.parameters } : {}),
        })),
      },
    ];
    const config = functionCallingConfig(request);
    if (config) out.toolConfig = { functionCallingConfig: config };
  }
  const generation = generationConfig(request);
  if (Object.keys(generation).length > 0) out.generationConfig = generation;
  return out;
}

/** Gemini's documented limit; more is its own 400, which would not name the caller's field. */
const GEMINI_MAX_STOP_SEQUENCES = 5;

function refuseUnsupported(request: NeutralChatRequest): void {
  if (request.stop !== undefined && request.stop.length > GEMINI_MAX_STOP_SEQUENCES)
    throw new TranslationError(
      'unsupported_value',
      request.stopParam ?? 'stop',
      `Gemini models take up to ${GEMINI_MAX_STOP_SEQUENCES} stop sequences, not ${request.stop.length}.`,
    );
  // Each of Gemini's stream chunks carries its own tokens' logprobsResult, which Kordon's
  // chunks do not yet pass on: refused rather than silently dropped.
  if (request.logprobs === true && request.stream)
    throw new TranslationError(
      'unsupported_parameter',
      'logprobs',
      'Log probabilities from Gemini models are available only without stream: true.',
    );
  if (request.audioOutput === true)
    throw new TranslationError(
      'unsupported_value',
      'modalities',
      'Audio output is not available for this model.',
    );
}

function contents(messages: readonly NeutralMessage[], signature: string | null): GeminiContent[] {
  // Gemini pairs a response with its call by function name (and by id when the call has one),
  // OpenAI and Anthropic by call id: ids seen so far give the names.
  const namesById = new Map<string, string>();
  // Position of each call in the latest model turn: the order its results are sent in.
  let callOrder = new Map<string, number>();
  return messages.map((message): GeminiContent => {
    if (message.role === 'assistant') {
      let signed = signature === null;
      callOrder = new Map();
      const parts = message.parts.map((part): GeminiPart => {
        if (part.type === 'text') return { text: part.text };
        const name = geminiToolName(part.name);
        namesById.set(part.id, name);
        callOrder.set(part.id, callOrder.size);
        const id = geminiCallIdToSend(part.id);
        const call: GeminiPart = {
          functionCall: { ...(id !== undefined && { id }), name, args: part.input },
        };
        if (!signed && signature !== null) {
          call.thoughtSignature = signature;
          signed = true;
        }
        return call;
      });
      return { role: 'model', parts };
    }
    return { role: 'user', parts: userParts(message.parts, namesById, callOrder) };
  });
}

/**
 * Function responses first, in the order of the calls they answer, then the other parts (a
 * document after the text of its title and context), then images and documents that came inside tool results. Gemini pairs the responses to calls of one function by
 * position, while OpenAI and Anthropic callers pair them by id and may send them in any order.
 * A result for a call of an earlier turn keeps its place after those.
 */
function userParts(
  parts: readonly UserPart[],
  namesById: ReadonlyMap<string, string>,
  callOrder: ReadonlyMap<string, number>,
): GeminiPart[] {
  const results: ToolResultPart[] = [];
  const others: GeminiPart[] = [];
  for (const part of parts) {
    if (part.type === 'tool-result') results.push(part);
    else others.push(...withNote(part));
  }
  if (results.length > 1) {
    const rank = (part: ToolResultPart) => callOrder.get(part.toolCallId) ?? callOrder.size;
    results.sort((a, b) => rank(a) - rank(b)); // stable: unknown ids keep the caller's order
  }
  const out: GeminiPart[] = [];
  const toolMedia: GeminiPart[] = [];
  for (const part of results) {
    out.push(functionResponse(part, namesById));
    for (const item of part.content) if (item.type !== 'text') toolMedia.push(...withNote(item));
  }
  out.push(...others, ...toolMedia);
  return out;
}

/** A part, a document after the text of its title and context. */
function withNote(part: Exclude<UserPart, ToolResultPart>): GeminiPart[] {
  const note = part.type === 'file' ? documentNote(part) : undefined;
  return note === undefined ? [userPart(part)] : [{ text: note }, userPart(part)];
}

/** Google's convention: the result under `output`, or under `error` when the tool failed. */
function functionResponse(part: ToolResultPart, namesById: ReadonlyMap<string, string>): GeminiPart {
  const name = namesById.get(part.toolCallId);
  if (name === undefined)
    throw new TranslationError(
      'invalid_value',
      part.path,
      `No earlier assistant tool call has the id \`${part.toolCallId}\`; Gemini needs the name of the function a result answers.`,
    );
  const text = part.content.flatMap((item) => (item.type === 'text' ? [item.text] : [])).join('\n');
  // The id of the call it answers, as that call was sent (FunctionResponse.id).
  const id = geminiCallIdToSend(part.toolCallId);
  return {
    functionResponse: {
      ...(id !== undefined && { id }),
      name,
      response: part.isError ? { error: text } : { output: text },
    },
  };
}

function userPart(part: Exclude<UserPart, ToolResultPart>): GeminiPart {
  switch (part.type) {
    case 'text':
      return { text: part.text };
    case 'image':
    case 'file':
      return mediaPart(part);
    case 'audio':
      refuseMalformedBase64(part.data, part.path);
      return { inlineData: { mimeType: `audio/${part.format}`, data: part.data } };
    default: {
      const unknown: never = part;
      throw new Error(`unhandled part ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * Inline data under its media type's registered name (Gemini documents image/jpeg, not the
 * image/jpg OpenAI accepts), an image under the type its bytes show; a URL as fileData, with
 * the media type read from its extension when it has a known one.
 */
function mediaPart(part: ImagePart | FilePart): GeminiPart {
  const { source } = part;
  if (source.kind === 'base64') {
    refuseMalformedBase64(source.data, part.path);
    const mimeType =
      part.type === 'image'
        ? imageMediaType(source.mediaType, source.data)
        : canonicalMediaType(source.mediaType);
    return { inlineData: { mimeType, data: source.data } };
  }
  const mimeType = mediaTypeOfUrl(source.url);
  return { fileData: { fileUri: source.url, ...(mimeType ? { mimeType } : {}) } };
}

const MEDIA_TYPES_BY_EXTENSION: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
};

function mediaTypeOfUrl(url: string): string | undefined {
  const path = url.split(/[?#]/, 1)[0] ?? '';
  const extension = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return extension === undefined ? undefined : MEDIA_TYPES_BY_EXTENSION[extension];
}

function functionCallingConfig(
  request: NeutralChatRequest,
): NonNullable<GeminiGenerateContentRequest['toolConfig']>['functionCallingConfig'] | undefined {
  const choice = request.toolChoice;
  switch (choice?.type) {
    case undefined:
    case 'auto':
      return undefined;
    case 'none':
      return { mode: 'NONE' };
    case 'required':
      return { mode: 'ANY' };
    case 'tool':
      return { mode: 'ANY', allowedFunctionNames: [geminiToolName(choice.name)] };
    case 'allowed':
      // "Should only be set when the Mode is ANY" (FunctionCallingConfig.allowedFunctionNames):
      // `auto` goes as AUTO, Gemini's default, with the declarations cut to the allowed ones.
      return choice.mode === 'required'
        ? { mode: 'ANY', allowedFunctionNames: choice.names.map(geminiToolName) }
        : undefined;
    default: {
      const unknown: never = choice;
      throw new Error(`unhandled tool choice ${JSON.stringify(unknown)}`);
    }
  }
}

function generationConfig(
  request: NeutralChatRequest,
): NonNullable<GeminiGenerateContentRequest['generationConfig']> {
  const config: NonNullable<GeminiGenerateContentRequest['generationConfig']> = {};
  if (request.maxTokens !== undefined) config.maxOutputTokens = request.maxTokens;
  if (request.temperature !== undefined) config.temperature = request.temperature;
  if (request.topP !== undefined) config.topP = request.topP;
  if (request.topK !== undefined) config.topK = request.topK;
  if (request.stop !== undefined && request.stop.length > 0) config.stopSequences = request.stop;
  if (request.n !== undefined && request.n > 1) config.candidateCount = request.n;
  if (geminiTakesPenalties(request.model)) {
    if (request.presencePenalty !== undefined) config.presencePenalty = request.presencePenalty;
    if (request.frequencyPenalty !== undefined) config.frequencyPenalty = request.frequencyPenalty;
  }
  if (request.seed !== undefined) config.seed = request.seed;
  // ai.google.dev/api/generate-content#GenerationConfig: `logprobs` is valid only with responseLogprobs.
  if (request.logprobs === true) {
    config.responseLogprobs = true;
    if (request.topLogprobs !== undefined) config.logprobs = request.topLogprobs;
  }
  const thinking = thinkingConfig(request);
  if (thinking) config.thinkingConfig = thinking;
  const format = request.responseFormat;
  if (format) {
    config.responseMimeType = 'application/json';
    if (format.type === 'json_schema' && format.schema) config.responseJsonSchema = format.schema;
  }
  return config;
}

type ThinkingConfig = NonNullable<
  NonNullable<GeminiGenerateContentRequest['generationConfig']>['thinkingConfig']
>;

/**
 * The thinking config for an OpenAI caller's `reasoning_effort`, or an Anthropic caller's
 * `thinking` and `output_config.effort`: the effort says how much unless thinking is
 * `disabled` (a budget of 0, or refused where thinking cannot stop); with `enabled`, the lesser
 * of the two (the caller's `budget_tokens` stays the ceiling). An `output_config.effort` without
 * `thinking` gets nothing on a model that by default does not think (Gemini 2.5 Flash-Lite) or
 * thinks the least it can (Gemini 3 Flash-Lite, `minimal`; `gemini-flash-lite-latest`):
 * Claude thinks only when `thinking` asks it to, and an effort without it shapes only the text
 * and tool calls (Anthropic's effort guide), so the model keeps its default (none, or minimal); a model
 * that thinks anyway is told the effort, which lowers or raises its thinking. An OpenAI caller's
 * `reasoning_effort` asks for reasoning as such and goes as ever.
 */
function thinkingConfig(request: NeutralChatRequest): ThinkingConfig | undefined {
  const fromThinking =
    request.thinking !== undefined ? thinkingConfigForAnthropic(request.thinking, request.model) : undefined;
  const effort = request.reasoningEffort;
  if (effort === undefined || request.thinking?.type === 'disabled') return fromThinking;
  // An Anthropic caller's effort without `thinking` turns no thinking on, or up, where the model
  // by default does not think (Gemini 2.5 Flash-Lite) or thinks at `minimal` (Gemini 3
  // Flash-Lite): Claude thinks only when `thinking` asks it to, and every effort Claude takes
  // (low to max) is above `minimal`.
  if (
    request.thinking === undefined &&
    request.reasoningEffortParam === 'output_config.effort' &&
    !thinkingModel(request.model).thinksByDefault
  )
    return undefined;
  const fromEffort = thinkingConfigForEffort(effort, request.model, request.reasoningEffortParam);
  if (request.thinking?.type !== 'enabled' || fromThinking === undefined || fromEffort === undefined)
    return fromEffort;
  if (fromEffort.thinkingLevel !== undefined && fromThinking.thinkingLevel !== undefined)
    return { thinkingLevel: lesserEffort(fromEffort.thinkingLevel, fromThinking.thinkingLevel) };
  if (fromEffort.thinkingBudget !== undefined && fromThinking.thinkingBudget !== undefined)
    return { thinkingBudget: Math.min(fromEffort.thinkingBudget, fromThinking.thinkingBudget) };
  return fromEffort;
}

/** The thinking budgets of Gemini 2.5 (and earlier) models for OpenAI's efforts; `none` turns thinking off. */
const THINKING_BUDGETS: Readonly<Record<string, number>> = { none: 0, ...EFFORT_BUDGETS };
type ThinkingLevel = NonNullable<ThinkingConfig['thinkingLevel']>;
const THINKING_LEVELS: readonly ThinkingLevel[] = ['minimal', 'low', 'medium', 'high'];

/**
 * The levels a Gemini 3 model takes (ai.google.dev/gemini-api/docs/thinking): Flash and
 * Flash-Lite all four; 3.1 Pro and later no `minimal`; 3 Pro only `low` and `high` (it answers
 * `medium` with 400 "Thinking level MEDIUM is not supported for this model.").
 */
function levelsOf(major: number, minor: number, pro: boolean): readonly ThinkingLevel[] {
  if (!pro) return THINKING_LEVELS;
  return major === 3 && minor === 0 ? ['low', 'high'] : ['low', 'medium', 'high'];
}

/**
 * The level the model takes for an effort word (`reasoning_effort`, `output_config.effort`), as
 * Google's own OpenAI compatibility maps it (ai.google.dev/gemini-api/docs/openai, "Thinking"):
 * that level, else the next level above it the model has (`minimal` is `low` on the Pro models,
 * `medium` `high` on Gemini 3 Pro), so a caller who asks for medium gets no less thinking through
 * Kordon than through Google's own layer.
 */
function levelForEffort(asked: ThinkingLevel, levels: readonly ThinkingLevel[]): ThinkingLevel {
  const rank = THINKING_LEVELS.indexOf(asked);
  return levels.find((level) => THINKING_LEVELS.indexOf(level) >= rank) ?? levels.at(-1) ?? asked;
}

/**
 * The level the model takes for one a `budget_tokens` reaches: that level, else the highest
 * level below it (the caller's token budget stays the ceiling of the thoughts it is billed),
 * else the model's lowest.
 */
function supportedLevel(asked: ThinkingLevel, levels: readonly ThinkingLevel[]): ThinkingLevel {
  const rank = THINKING_LEVELS.indexOf(asked);
  const below = levels.filter((level) => THINKING_LEVELS.indexOf(level) <= rank);
  return below.at(-1) ?? levels[0] ?? asked;
}

/** `gemini-<major>[.<minor>]-<variant>`, as Google names its models (`models/` optional). */
const GEMINI_MODEL = /^(?:models\/)?gemini-(\d+)(?:\.(\d+))?-(.+)$/;

/**
 * Whether the model takes `presencePenalty` and `frequencyPenalty`: only the models before 2.5
 * (1.5, 2.0). Gemini 2.5 and 3 refuse any but 0 with a 400 "Penalty is not enabled for
 * models/gemini-2.5-flash" (INVALID_ARGUMENT; a Google team member on the developer forum: only
 * gemini-2.0-flash has it), and so do the experimental models and aliases that name no version
 * (`gemini-flash-latest` is a 2.5 or later model). Elsewhere they are dropped, as for Claude: a
 * penalty shapes sampling, as `temperature` does, and frameworks send one by default.
 */
function geminiTakesPenalties(model: string): boolean {
  const named = GEMINI_MODEL.exec(model);
  if (named === null) return false;
  const major = Number(named[1]);
  return major < 2 || (major === 2 && Number(named[2] ?? 0) < 5);
}

/** What a Gemini model's name tells about its thinking (ai.google.dev/gemini-api/docs/thinking). */
interface ThinkingModel {
  /** Models before 2.5 (1.5, 2.0) do not think (and may refuse a thinking config). */
  thinks: boolean;
  /**
   * The `thinkingLevel`s a Gemini 3 model takes; undefined for earlier models, and aliases with
   * no version, which take a `thinkingBudget`.
   */
  levels: readonly ThinkingLevel[] | undefined;
  /** Gemini 3 and Gemini 2.5 Pro cannot turn thinking off. */
  alwaysThinks: boolean;
  /**
   * False where the model, left to its default, does not think or thinks the least it can: Gemini
   * 2.5 Flash-Lite (no thinking), Gemini 3 Flash-Lite (`minimal`), the `gemini-flash-lite-latest`
   * alias (one of those), and models that do not think.
   */
  thinksByDefault: boolean;
  /** The `thinkingBudget` range Google documents: 2.5 Pro 128-32,768, Flash-Lite 512-24,576, Flash 0-24,576. */
  budgetRange: readonly [number, number];
}

/** `gemini-<variant>-latest`, Google's aliases that name no version (`models/` optional). */
const GEMINI_ALIAS = /^(?:models\/)?gemini-(.+)-latest$/;

/**
 * A model whose name gives no version (an alias such as `gemini-flash-latest`, which Google moves
 * to each new stable model of its family: a 2.5 model once, a Gemini 3 one since) is taken as a
 * budget model, which Gemini 3 models accept too, with what every model of its family shares:
 * `gemini-pro-latest` cannot turn thinking off and takes Pro's range; `gemini-flash-lite-latest`
 * does not think, or thinks the least it can, by default (2.5 Flash-Lite does not think, Gemini 3
 * Flash-Lite defaults to `minimal`) and takes Flash-Lite's range; others Flash's.
 */
function thinkingModel(model: string): ThinkingModel {
  const named = GEMINI_MODEL.exec(model);
  const major = named ? Number(named[1]) : undefined;
  const minor = named ? Number(named[2] ?? 0) : undefined;
  const variant = named?.[3] ?? GEMINI_ALIAS.exec(model)?.[1] ?? '';
  const pro = variant === 'pro' || variant.startsWith('pro-');
  const flashLite = variant === 'flash-lite' || variant.startsWith('flash-lite-');
  const before25 = major !== undefined && minor !== undefined && (major < 2 || (major === 2 && minor < 5));
  const levels =
    major !== undefined && minor !== undefined && major >= 3 ? levelsOf(major, minor, pro) : undefined;
  // 2.5 Pro, and a Pro alias (2.5 Pro or Gemini 3 Pro, neither of which can stop thinking).
  const budgetPro = pro && (major === undefined || (major === 2 && minor === 5));
  return {
    thinks: !before25,
    levels,
    alwaysThinks: levels !== undefined || budgetPro,
    thinksByDefault: !before25 && !flashLite,
    budgetRange: budgetPro ? [128, 32768] : flashLite ? [512, 24576] : [0, 24576],
  };
}

/**
 * OpenAI's `reasoning_effort` as Gemini's thinking config, after Google's own OpenAI
 * compatibility: Gemini 3 models take a level (one the model lacks goes as the next above it,
 * `levelForEffort`: `medium` is `high` on Gemini 3 Pro, `minimal` `low` on the Pro models),
 * earlier ones a budget (1,024, 8,192, 24,576 tokens; `none` is 0). Thoughts
 * are billed as output, so the caller's choice is kept, and a value the model cannot take is
 * refused naming the field rather than dropped: `none` where thinking cannot be turned off
 * (Gemini 3, Gemini 2.5 Pro), and an effort Google does not map (`xhigh`). A model whose name
 * gives no version (an alias such as `gemini-flash-latest`) gets the budget, which Gemini 3
 * models accept too. Models before 2.5 (1.5, 2.0), which do not think, are sent none.
 */
function thinkingConfigForEffort(
  effort: string,
  model: string,
  param: NeutralChatRequest['reasoningEffortParam'] = 'reasoning_effort',
): ThinkingConfig | undefined {
  const target = thinkingModel(model);
  if (!target.thinks) return undefined;
  if (effort === 'none' && target.alwaysThinks)
    throw new TranslationError(
      'unsupported_value',
      'reasoning_effort',
      `${model} cannot turn thinking off (reasoning_effort \`none\`); \`minimal\` asks for the least thinking.`,
    );
  // Anthropic's `max` (output_config.effort): the most the model takes.
  if (effort === 'max' && param === 'output_config.effort')
    return target.levels ? { thinkingLevel: 'high' } : { thinkingBudget: target.budgetRange[1] };
  if (target.levels) {
    const asked = THINKING_LEVELS.find((level) => level === effort);
    if (asked === undefined) throw unmappedEffort(effort, param);
    return { thinkingLevel: levelForEffort(asked, target.levels) };
  }
  const budget = THINKING_BUDGETS[effort];
  if (budget === undefined) throw unmappedEffort(effort, param);
  return { thinkingBudget: budget };
}

function unmappedEffort(
  effort: string,
  param: NonNullable<NeutralChatRequest['reasoningEffortParam']>,
): TranslationError {
  return new TranslationError(
    'unsupported_value',
    param,
    param === 'output_config.effort'
      ? `output_config.effort \`${effort}\` has no counterpart on Gemini models; use low, medium, high or max.`
      : `reasoning_effort \`${effort}\` has no counterpart on Gemini models; use none, minimal, low, medium or high.`,
  );
}

/**
 * Anthropic's `thinking` as Gemini's thinking config, with the same model knowledge as
 * `reasoning_effort` (thoughts are billed as output: the caller's choice is kept, or refused
 * naming the field, never dropped). `disabled` is a budget of 0, refused where thinking cannot
 * be turned off (Gemini 3, Gemini 2.5 Pro). `enabled` gives its `budget_tokens` as the budget,
 * clamped into the model's range, or on Gemini 3 the highest level whose effort budget it
 * reaches (below 8,192 low, below 24,576 medium, else high) among the model's levels, so the
 * caller's budget stays the ceiling. `adaptive` (the model decides) is Gemini's dynamic thinking: a budget of -1, or
 * Gemini 3's default. Models before 2.5 are sent none; another type is refused.
 */
function thinkingConfigForAnthropic(thinking: NeutralThinking, model: string): ThinkingConfig | undefined {
  const target = thinkingModel(model);
  if (!target.thinks) return undefined;
  switch (thinking.type) {
    case 'disabled':
      if (target.alwaysThinks)
        throw new TranslationError(
          'unsupported_value',
          'thinking',
          `${model} cannot turn thinking off (thinking \`disabled\`); \`enabled\` with a small budget_tokens asks for the least thinking.`,
        );
      return { thinkingBudget: 0 };
    case 'enabled': {
      const budget = thinking.budgetTokens;
      if (budget === undefined)
        throw new TranslationError(
          'invalid_value',
          'thinking.budget_tokens',
          'Thinking of type `enabled` needs a `budget_tokens`.',
        );
      if (target.levels) return { thinkingLevel: supportedLevel(effortForBudget(budget), target.levels) };
      const [min, max] = target.budgetRange;
      return { thinkingBudget: Math.min(Math.max(budget, min), max) };
    }
    case 'adaptive':
      return target.levels ? undefined : { thinkingBudget: DYNAMIC_THINKING_BUDGET };
    default:
      throw new TranslationError(
        'unsupported_value',
        'thinking.type',
        `Thinking of type \`${thinking.type}\` has no counterpart on Gemini models; use enabled, disabled or adaptive.`,
      );
  }
}

/** Gemini's budget for "the model decides how much to think". */
const DYNAMIC_THINKING_BUDGET = -1;
