/**
 * What a Claude model's name tells the request writer: which sampling parameters it takes and
 * how long an answer it may write. One place, read by `neutral-to-anthropic-request.ts`.
 *
 * Facts from Anthropic's model pages and migration guides (platform.claude.com/docs/en/about-claude/models):
 *
 *   model                                  max output   sampling parameters
 *   Claude 3 (Haiku, Sonnet, Opus)          4,096        any
 *   Claude 3.5 Sonnet, 3.5 Haiku            8,192        any
 *   Claude 3.7 Sonnet, Sonnet 4             64,000       any
 *   Opus 4, Opus 4.1                        32,000       Opus 4.1: temperature or top_p, not both
 *   Opus 4.5, Sonnet 4.5, Haiku 4.5         64,000       temperature or top_p, not both
 *   Opus 4.6, Sonnet 4.6                    128,000      temperature or top_p, not both
 *   Opus 4.7, 4.8; every Claude 5.x         128,000      none: temperature, top_p and top_k are refused
 *
 * Context windows (input and output together; each model's overview page,
 * platform.claude.com/docs/en/models/<model>/overview):
 *
 *   Claude 3, 3.5, 3.7; Opus 4, 4.1, 4.5; Haiku 4.5     200,000
 *   Sonnet 4, Sonnet 4.5                                 200,000; 1,000,000 with the beta
 *                                                        `context-1m-2025-08-07`
 *   Opus 4.6, Sonnet 4.6 (1M GA since 2026-03-13),       1,000,000
 *     Opus 4.7, 4.8, every Claude 5.x
 *
 * How each thinks (platform.claude.com/docs/en/build-with-claude/effort, .../extended-thinking,
 * .../adaptive-thinking):
 *
 *   Claude 3, 3.5                                  no thinking
 *   3.7 Sonnet, Sonnet 4, Opus 4, 4.1,             manual thinking only: `thinking: {type: 'enabled', budget_tokens}`
 *     Sonnet 4.5, Haiku 4.5
 *   Opus 4.5                                       manual thinking, and `output_config.effort` (low, medium, high)
 *   Opus 4.6, Sonnet 4.6, Opus 4.7, 4.8            adaptive thinking (`thinking: {type: 'adaptive'}`, off unless
 *                                                  asked) and effort; xhigh from Opus 4.7; Opus 4.7 on refuses manual
 *   every Claude 5.x (Fable, Mythos, Opus, ...)    think by default (adaptively); effort, xhigh included; manual refused
 */

export interface ClaudeModel {
  /** `opus`, `sonnet`, `haiku` (or a newer family name). */
  readonly family: string;
  readonly major: number;
  readonly minor: number;
}

/**
 * A Claude model id wherever it stands in a name: Anthropic's (`claude-opus-4-7`,
 * `claude-sonnet-4-5-20250929`), Vertex AI's (`claude-haiku-4-5@20251001`), Bedrock's
 * (`us.anthropic.claude-opus-4-1-20250805-v1:0`), OpenRouter's (`anthropic/claude-opus-4.7`,
 * `anthropic/claude-4.7-opus`) and the older number-first ids (`claude-3-5-sonnet-20241022`).
 * A minor version is one or two digits, so a date (`-20250514`) is never taken for one.
 */
const CLAUDE_NAME =
  /(?:^|[./])claude-(?:([a-z]+)-(\d+)(?:[-.](\d{1,2}))?|(\d+)(?:[-.](\d{1,2}))?-([a-z]+))(?=$|[-@:])/;

/** The family and version of a Claude model name, or null when the name is not one. */
export function claudeModel(model: string): ClaudeModel | null {
  const match = CLAUDE_NAME.exec(model.trim().toLowerCase());
  if (match === null) return null;
  const [, family, major, minor, majorFirst, minorFirst, familyLast] = match;
  const name = family ?? familyLast;
  const version = major ?? majorFirst;
  if (name === undefined || version === undefined) return null;
  return { family: name, major: Number(version), minor: Number(minor ?? minorFirst ?? 0) };
}

function atLeast(model: ClaudeModel, major: number, minor: number): boolean {
  return model.major > major || (model.major === major && model.minor >= minor);
}

/**
 * Opus 4.7 and later, and every Claude 5 model, refuse `temperature`, `top_p` and `top_k`
 * ("`temperature` is deprecated for this model", a 400 naming no field).
 */
export function claudeTakesNoSampling(model: string): boolean {
  const claude = claudeModel(model);
  if (claude === null) return false;
  return claude.major >= 5 || (claude.family === 'opus' && atLeast(claude, 4, 7));
}

/**
 * Opus 4.1 and the models after it (Sonnet and Haiku from 4.5) take `temperature` or
 * `top_p`, not both ("temperature and top_p cannot both be specified for this model").
 */
export function claudeTakesOneOfTemperatureAndTopP(model: string): boolean {
  const claude = claudeModel(model);
  if (claude === null) return false;
  return claude.family === 'opus' ? atLeast(claude, 4, 1) : atLeast(claude, 4, 5);
}

/**
 * The longest answer the model may write (its `max_tokens` ceiling), or undefined for a name
 * this table does not know (a model after Claude 5, or one not named as Claude names them).
 */
export function claudeMaxOutputTokens(model: string): number | undefined {
  const claude = claudeModel(model);
  if (claude === null) return undefined;
  const { family, major, minor } = claude;
  if (major === 5) return 128_000;
  if (major === 4) {
    if (family === 'opus') return minor >= 6 ? 128_000 : minor === 5 ? 64_000 : 32_000;
    if (family === 'sonnet') return minor >= 6 ? 128_000 : 64_000;
    if (family === 'haiku' && minor === 5) return 64_000;
    return undefined;
  }
  if (major === 3) {
    if (minor === 7 && family === 'sonnet') return 64_000;
    if (minor === 5 && (family === 'sonnet' || family === 'haiku')) return 8_192;
    if (minor === 0) return 4_096;
  }
  return undefined;
}

/** The 1M-token context beta of Sonnet 4 and 4.5 (`context-1m-2025-08-07`), any dated version. */
const CONTEXT_1M_BETA = /(?:^|,)\s*context-1m-[A-Za-z0-9._-]*\s*(?=,|$)/;

/**
 * The model's context window in tokens (input and output together: the most a conversation it
 * holds can bill), given the `anthropic-beta` features the request is sent with; undefined for a
 * name this table does not know.
 */
export function claudeContextWindow(model: string, anthropicBeta: string | undefined): number | undefined {
  const claude = claudeModel(model);
  if (claude === null) return undefined;
  const { family, major, minor } = claude;
  if (major === 5) return 1_000_000;
  if (major === 4) {
    if ((family === 'opus' || family === 'sonnet') && minor >= 6) return 1_000_000;
    if (family === 'sonnet' && (minor === 0 || minor === 5))
      return anthropicBeta !== undefined && CONTEXT_1M_BETA.test(anthropicBeta) ? 1_000_000 : 200_000;
    if (family === 'opus' && (minor === 0 || minor === 1 || minor === 5)) return 200_000;
    if (family === 'haiku' && minor === 5) return 200_000;
    return undefined;
  }
  if (major === 3) {
    if (minor === 7 && family === 'sonnet') return 200_000;
    if (minor === 5 && (family === 'sonnet' || family === 'haiku')) return 200_000;
    if (minor === 0) return 200_000;
  }
  return undefined;
}

/**
 * The `max_tokens` a request that names none gets: the model's ceiling, only for models from
 * the 4.5 generation on, which end an answer that reaches the context window with the stop
 * reason `model_context_window_exceeded`. Claude 3.7 Sonnet and the 4.0 / 4.1 models refuse a
 * request whose prompt plus `max_tokens` exceeds the window (a 400), so a ceiling of 32K-64K
 * there would turn every prompt above ~136K-168K tokens into an error: they, and the older
 * models, keep the caller's usual default (undefined here).
 */
export function claudeDefaultMaxTokens(model: string): number | undefined {
  const claude = claudeModel(model);
  if (claude === null || !atLeast(claude, 4, 5)) return undefined;
  return claudeMaxOutputTokens(model);
}

/**
 * How a Claude model is told how much to think (the table above), or undefined for a name this
 * table does not know:
 * - `none`: it does not think (Claude 3, 3.5);
 * - `budget`: manual extended thinking only (`thinking.budget_tokens`);
 * - `budget-and-effort`: manual extended thinking, and `output_config.effort` (Opus 4.5);
 * - `adaptive`: `thinking: {type: 'adaptive'}`, off unless asked, with `output_config.effort`;
 * - `effort`: thinks by default; `output_config.effort` only (Claude 5).
 */
export type ClaudeThinking = 'none' | 'budget' | 'budget-and-effort' | 'adaptive' | 'effort';

export function claudeThinking(model: string): ClaudeThinking | undefined {
  const claude = claudeModel(model);
  if (claude === null) return undefined;
  const { family, major, minor } = claude;
  if (major === 5) return 'effort';
  if (major === 4) {
    if (family === 'opus' || family === 'sonnet') {
      if (minor >= 6) return 'adaptive';
      if (family === 'opus' && minor === 5) return 'budget-and-effort';
      return 'budget';
    }
    if (family === 'haiku' && minor === 5) return 'budget';
    return undefined;
  }
  if (major === 3) {
    if (minor === 7 && family === 'sonnet') return 'budget';
    if (minor === 0 || minor === 5) return 'none';
  }
  return undefined;
}

/** Effort `xhigh` is taken by Opus 4.7 and later and by Claude 5 models; others refuse it. */
export function claudeTakesXHighEffort(model: string): boolean {
  const claude = claudeModel(model);
  if (claude === null) return false;
  return claude.major === 5 || (claude.family === 'opus' && atLeast(claude, 4, 7));
}
