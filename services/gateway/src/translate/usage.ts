/**
 * Token usage normalised across dialects, with the meaning of the RequestCompleted event:
 * `cachedInputTokens` is a part of `inputTokens` and `reasoningTokens` a part of
 * `outputTokens`, never additions to them.
 *
 * How each provider's numbers are brought to that meaning:
 * - OpenAI: `prompt_tokens` already includes `prompt_tokens_details.cached_tokens`, and
 *   `completion_tokens` includes `completion_tokens_details.reasoning_tokens`: taken as is.
 *   DeepSeek reports its cache hits as `prompt_cache_hit_tokens` instead (also part of
 *   `prompt_tokens`), read when `cached_tokens` is absent.
 * - Anthropic: `input_tokens` EXCLUDES cache reads and cache writes, so
 *   inputTokens = input_tokens + cache_creation_input_tokens + cache_read_input_tokens and
 *   cachedInputTokens = cache_read_input_tokens. Cache writes are parts of inputTokens too:
 *   `cacheWrite1hTokens` the 1-hour ones (`cache_creation.ephemeral_1h_input_tokens`),
 *   `cacheWriteTokens` the rest (5-minute writes), so that the price book charges their
 *   surcharge (1.25x and 2x the input price). reasoningTokens is
 *   `output_tokens_details.thinking_tokens`, a part of `output_tokens` (left out when Claude
 *   does not report it). Its web searches (`server_tool_use.web_search_requests`)
 *   are `webSearches`, priced apiece.
 * - Gemini: `promptTokenCount` includes `cachedContentTokenCount`; tool-use prompt tokens
 *   are billed as input and added; `thoughtsTokenCount` is NOT included in
 *   `candidatesTokenCount`, so outputTokens = candidates + thoughts, reasoningTokens = thoughts.
 *   The AUDIO entries of `promptTokensDetails` (the whole prompt by modality) and of
 *   `cacheTokensDetails` (the cached part) are `audioInputTokens` and `cachedAudioInputTokens`:
 *   Gemini bills audio input at its own, higher rate.
 *
 * An explicit zero stays zero; a usage object that is absent gives undefined (the caller
 * then counts with a tokenizer). A cached or reasoning count larger than its whole (a
 * provider bug) is capped at the whole, so the result always satisfies the event schema.
 */
import type { AnthropicUsage, AnthropicUsageOut } from './anthropic-messages-types.js';
import type { GeminiModalityTokenCount, GeminiUsageMetadata } from './gemini-types.js';
import type { OpenAIUsage, OpenAIUsageOut } from './openai-chat-types.js';

export interface NormalisedUsage {
  inputTokens: number;
  outputTokens: number;
  /** Part of inputTokens: read from the provider's prompt cache. */
  cachedInputTokens: number;
  /** Part of inputTokens: written to the provider's 5-minute prompt cache (Anthropic); absent when none. */
  cacheWriteTokens?: number;
  /** Part of inputTokens: written to the 1-hour prompt cache (Anthropic); absent when none. */
  cacheWrite1hTokens?: number;
  /**
   * Part of inputTokens that was audio, cache reads included (Gemini's AUDIO prompt tokens),
   * priced at the model's audio input rate; absent when none.
   */
  audioInputTokens?: number;
  /** Part of cachedInputTokens (and of audioInputTokens) that was audio; absent when none. */
  cachedAudioInputTokens?: number;
  /** Part of outputTokens; left out when the provider does not report reasoning separately. */
  reasoningTokens?: number;
  /**
   * Web searches the provider ran for the request (Claude's web search tool, OpenAI's
   * `web_search_call` searches), billed apiece; absent when none.
   */
  webSearches?: number;
  /** Part of webSearches run by OpenAI's `web_search_preview` tool, billed at its own price; absent when none. */
  webSearchPreviews?: number;
  /** Calls of OpenAI's `file_search` tool, billed apiece (priced, not recorded); absent when none. */
  fileSearches?: number;
  /** The service tier that billed the tokens (OpenAI's `service_tier`) when not the standard one. */
  serviceTier?: 'priority' | 'flex';
  /** `us` when Claude ran the request on US-only infrastructure (`usage.inference_geo`), billed at 1.1x. */
  inferenceGeo?: 'us';
  /** `fast` when Claude ran the request in fast mode (`usage.speed`), billed at a multiple. */
  speed?: 'fast';
  /**
   * What the provider says it charged for the request, in its billing unit (OpenRouter's
   * `usage.cost`, in credits of 1 USD); absent when it says nothing. Whether to believe it is
   * the provider's configuration's call (its vendor), not the answer's.
   */
  reportedCost?: number;
}

/**
 * The usage with the service tier an OpenAI answer names (its `service_tier`, beside the
 * usage): `priority` (named `fast` since 2026-07-30, the same tier and rates) and `flex` bill
 * at other rates; `default`, `auto` or none at the standard. Only OpenAI's (and Azure's) tiers
 * are these: the caller passes no tier for another server's answer (Groq's `flex` bills at its
 * on-demand rates; `pricesByServiceTier`).
 */
export function withServiceTier(
  usage: NormalisedUsage | undefined,
  tier: unknown,
): NormalisedUsage | undefined {
  const billed = billedServiceTier(tier);
  return usage === undefined || billed === undefined ? usage : { ...usage, serviceTier: billed };
}

/** The service tier a `service_tier` value bills at, when not the standard one. */
export function billedServiceTier(tier: unknown): 'priority' | 'flex' | undefined {
  if (tier === 'priority' || tier === 'fast') return 'priority';
  return tier === 'flex' ? 'flex' : undefined;
}

const isCount = (value: unknown): boolean => Number.isSafeInteger(value) && (value as number) >= 0;
const isOptionalCount = (value: unknown): boolean => value === undefined || value === null || isCount(value);
const hasOptionalCount = (value: unknown, field: string): boolean =>
  value === undefined ||
  value === null ||
  (typeof value === 'object' &&
    !Array.isArray(value) &&
    isOptionalCount((value as Record<string, unknown>)[field]));

/**
 * An OpenAI `usage` object checked by hand: the schema's pass costs more than reading the
 * rest of an answer or a stream's last chunk. What passes here, `openAIUsage` accepts and
 * reads alike (fast-paths.unit.test.ts); anything unusual (a field of another type, a count
 * past 2^53) is undefined, left to the schema, which accepts or explains it.
 */
export function handCheckedOpenAIUsage(value: unknown): OpenAIUsage | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const u = value as Record<string, unknown>;
  if (!isCount(u.prompt_tokens) || !isCount(u.completion_tokens)) return undefined;
  if (u.total_tokens !== undefined && !isCount(u.total_tokens)) return undefined;
  if (!hasOptionalCount(u.prompt_tokens_details, 'cached_tokens')) return undefined;
  if (!isOptionalCount(u.prompt_cache_hit_tokens)) return undefined;
  if (!hasOptionalCount(u.completion_tokens_details, 'reasoning_tokens')) return undefined;
  return u as OpenAIUsage;
}

export function usageFromOpenAI(usage: OpenAIUsage | null | undefined): NormalisedUsage | undefined {
  if (!usage) return undefined;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  const normalisedUsage = normalised(
    usage.prompt_tokens,
    usage.completion_tokens,
    usage.prompt_tokens_details?.cached_tokens ?? usage.prompt_cache_hit_tokens ?? 0,
    reasoning ?? undefined,
  );
  const cost = (usage as { cost?: unknown }).cost;
  if (isAmount(cost)) {
    // OpenRouter with the org's own provider key (BYOK): `cost` is its fee alone, and the
    // model's price, charged on that key, is `cost_details.upstream_inference_cost` (on
    // OpenRouter's credits that is a part of `cost`, not added).
    const details = usage.is_byok === true ? usage.cost_details : undefined;
    const upstream = (details as { upstream_inference_cost?: unknown } | null | undefined)
      ?.upstream_inference_cost;
    normalisedUsage.reportedCost = isAmount(upstream) ? cost + upstream : cost;
  }
  return normalisedUsage;
}

const isAmount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0;

export function usageFromAnthropic(usage: AnthropicUsage | null | undefined): NormalisedUsage | undefined {
  if (!usage) return undefined;
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const cacheWrite = usage.cache_creation_input_tokens ?? 0;
  const input = (usage.input_tokens ?? 0) + cacheRead + cacheWrite;
  const normalisedUsage = normalised(
    input,
    usage.output_tokens ?? 0,
    cacheRead,
    usage.output_tokens_details?.thinking_tokens ?? undefined,
  );
  if (cacheWrite > 0) {
    // The split by lifetime when Claude gives it; all of it at the 5-minute rate otherwise.
    const oneHour = Math.min(usage.cache_creation?.ephemeral_1h_input_tokens ?? 0, cacheWrite);
    if (cacheWrite - oneHour > 0) normalisedUsage.cacheWriteTokens = cacheWrite - oneHour;
    if (oneHour > 0) normalisedUsage.cacheWrite1hTokens = oneHour;
  }
  const searches = usage.server_tool_use?.web_search_requests ?? 0;
  if (searches > 0) normalisedUsage.webSearches = searches;
  if (usage.inference_geo === 'us') normalisedUsage.inferenceGeo = 'us';
  if (usage.speed === 'fast') normalisedUsage.speed = 'fast';
  return normalisedUsage;
}

export function usageFromGemini(usage: GeminiUsageMetadata | null | undefined): NormalisedUsage | undefined {
  if (!usage) return undefined;
  const counted =
    usage.promptTokenCount !== undefined ||
    usage.candidatesTokenCount !== undefined ||
    usage.thoughtsTokenCount !== undefined;
  if (!counted) return undefined;
  const thoughts = usage.thoughtsTokenCount;
  const input = (usage.promptTokenCount ?? 0) + (usage.toolUsePromptTokenCount ?? 0);
  const output = (usage.candidatesTokenCount ?? 0) + (thoughts ?? 0);
  const normalisedUsage = normalised(input, output, usage.cachedContentTokenCount ?? 0, thoughts);
  // Audio is billed above text: its share of the prompt and of the cached part, kept
  // consistent with the totals (a cached audio token is an audio token and a cached one; an
  // uncached audio token is one of the uncached prompt's).
  const cached = normalisedUsage.cachedInputTokens;
  const cachedAudio = Math.min(audioTokens(usage.cacheTokensDetails), cached);
  const audio = Math.min(
    Math.max(audioTokens(usage.promptTokensDetails), cachedAudio),
    input - cached + cachedAudio,
  );
  if (audio > 0) normalisedUsage.audioInputTokens = audio;
  if (cachedAudio > 0) normalisedUsage.cachedAudioInputTokens = cachedAudio;
  return normalisedUsage;
}

/** The AUDIO tokens of a Gemini count split by modality; 0 when it names none. */
function audioTokens(details: readonly GeminiModalityTokenCount[] | undefined): number {
  let audio = 0;
  for (const detail of details ?? []) if (detail.modality === 'AUDIO') audio += detail.tokenCount ?? 0;
  return audio;
}

function normalised(
  input: number,
  output: number,
  cached: number,
  reasoning: number | undefined,
): NormalisedUsage {
  const usage: NormalisedUsage = {
    inputTokens: input,
    outputTokens: output,
    cachedInputTokens: Math.min(cached, input),
  };
  if (reasoning !== undefined) usage.reasoningTokens = Math.min(reasoning, output);
  return usage;
}

/** The OpenAI usage object for a normalised usage (prompt and completion totals include their parts). */
export function openAIUsageOf(usage: NormalisedUsage): OpenAIUsageOut {
  const out: OpenAIUsageOut = {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
  };
  if (usage.reasoningTokens !== undefined)
    out.completion_tokens_details = { reasoning_tokens: usage.reasoningTokens };
  return out;
}

/**
 * The Anthropic usage object for a normalised usage: cache reads move out of input_tokens
 * into their own field. Other providers do not report cache writes (OpenAI and Gemini charge
 * no write surcharge), so cache_creation_input_tokens is 0.
 */
export function anthropicUsageOf(usage: NormalisedUsage): AnthropicUsageOut {
  return {
    input_tokens: usage.inputTokens - usage.cachedInputTokens,
    output_tokens: usage.outputTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: usage.cachedInputTokens,
  };
}
