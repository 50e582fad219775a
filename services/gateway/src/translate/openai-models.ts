/**
 * What an OpenAI model's name tells the request writer of a translated (Anthropic -> OpenAI)
 * request: whether the model reasons, how it is told how much, and so whether it takes
 * sampling parameters. One place, read by `neutral-to-openai-request.ts`, as
 * `claude-models.ts` is for Claude. A same-dialect OpenAI body goes as sent, whatever it says.
 *
 * Facts from OpenAI's reasoning and latest-model guides (platform.openai.com/docs/guides/reasoning,
 * .../guides/latest-model) and the `reasoning_effort` reference ("gpt-5.1 defaults to none,
 * which does not perform reasoning ... All models before gpt-5.1 default to medium reasoning
 * effort, and do not support none. The gpt-5-pro model defaults to (and only supports) high"):
 *
 *   model                                   default effort   least effort   reasoning_effort
 *   o1-mini, o1-preview                     (reasons)        -              refused
 *   o1, o1-pro, o3, o3-mini, o3-pro, o4-mini medium          low            low, medium, high
 *   gpt-5, gpt-5-mini, gpt-5-nano            medium          minimal        minimal ... high
 *   gpt-5-codex, gpt-5.x-codex(-mini/-max)   medium          low            low ... high (xhigh: 5.1-codex-max, 5.2 on)
 *   gpt-5-pro, gpt-5.x-pro                   high            -              high only (sent none)
 *   gpt-5.1, gpt-5.2, ...                    none            none           none, low ... high (xhigh: 5.2 on)
 *   gpt-5.x-mini, -nano                      (reasons)       (undocumented) low ... high
 *   gpt-5-chat-latest, gpt-5.x-chat-latest,  no reasoning to set: take sampling parameters
 *     gpt-4o, gpt-4.1, ...
 *
 * Reasoning models refuse `temperature` and `top_p` other than 1 ("Unsupported value:
 * 'temperature' does not support 0 with this model. Only the default (1) value is supported."),
 * except gpt-5.1 and later when they do not reason (effort `none`), which take them (the
 * latest-model guide's parameter compatibility).
 *
 * The o-series refuse `parallel_tool_calls`, even `false` ("Unsupported parameter:
 * 'parallel_tool_calls' is not supported with this model.": o1, o3-mini, o3, o4-mini as
 * reported against OpenAI's API); gpt-5 and later take it.
 */

export interface OpenAIReasoningModel {
  /** False where the model does not reason unless asked (gpt-5.1 and later: default effort `none`). */
  readonly reasonsByDefault: boolean;
  /** The effort that asks for the least reasoning; undefined where the model cannot stop reasoning. */
  readonly leastEffort?: 'none' | 'minimal';
  /** False where `reasoning_effort` is refused, or takes only the default (o1-mini, the pro models). */
  readonly takesEffort: boolean;
  /** True where `xhigh` is taken (gpt-5.1-codex-max, gpt-5.2 and later, their codex models); else `high` is the most. */
  readonly takesXhigh?: boolean;
}

/** An OpenAI name, dated (`-2025-08-07`) or not, as OpenAI serves it (no vendor prefix: OpenRouter's are its own). */
const O_SERIES = /^o(\d+)(?:-(mini|pro|preview|deep-research|mini-deep-research))?(?:-\d{4}-\d{2}-\d{2})?$/;
const GPT_5 = /^gpt-5(?:\.(\d+))?(?:-([a-z-]+?))?(?:-\d{4}-\d{2}-\d{2})?$/;

/**
 * The reasoning of an OpenAI reasoning model by its name, or undefined for a model that does
 * not reason (gpt-4o, gpt-4.1, the `-chat` models) or a name this table does not know (an
 * OpenAI-compatible server's model): nothing reasoning-specific is sent to either.
 */
export function openAIReasoningModel(model: string): OpenAIReasoningModel | undefined {
  const name = model.trim().toLowerCase();
  const o = O_SERIES.exec(name);
  if (o !== null) {
    const takesEffort = !(o[1] === '1' && (o[2] === 'mini' || o[2] === 'preview'));
    return { reasonsByDefault: true, takesEffort };
  }
  const gpt = GPT_5.exec(name);
  if (gpt === null) return undefined;
  const minor = Number(gpt[1] ?? 0);
  const variant = gpt[2];
  if (variant === undefined)
    return minor === 0
      ? { reasonsByDefault: true, leastEffort: 'minimal', takesEffort: true }
      : { reasonsByDefault: false, leastEffort: 'none', takesEffort: true, takesXhigh: minor >= 2 };
  if (variant.startsWith('chat')) return undefined;
  if (variant.startsWith('pro')) return { reasonsByDefault: true, takesEffort: false };
  if (variant.startsWith('codex'))
    return { reasonsByDefault: true, takesEffort: true, takesXhigh: minor >= 2 || variant === 'codex-max' };
  if (variant === 'mini' || variant === 'nano')
    // gpt-5-mini and -nano take minimal; what the later minis take least is not documented.
    return minor === 0
      ? { reasonsByDefault: true, leastEffort: 'minimal', takesEffort: true }
      : { reasonsByDefault: true, takesEffort: true };
  return undefined;
}

const GPT_4O =
  /^(?:gpt-4o|gpt-4o-mini|chatgpt-4o-latest)(?:-(search-preview|audio-preview))?(?:-(\d{4}-\d{2}-\d{2}))?$/;
const GPT_4_1 = /^gpt-4\.1(?:-mini|-nano)?(?:-\d{4}-\d{2}-\d{2})?$/;
/** gpt-4-turbo and the GPT-4 Turbo previews (`gpt-4-1106-preview`, `gpt-4-vision-preview`...). */
const GPT_4_TURBO = /^gpt-4-(?:turbo(?:-preview|-\d{4}-\d{2}-\d{2})?|(?:\d{4}-)?(?:vision-)?preview)$/;
/** GPT-4 itself, 8,192 tokens of context (its 32k models are shut down). */
const GPT_4 = /^gpt-4(?:-0314|-0613)?$/;
/** gpt-3.5-turbo and its dated snapshots (not the -16k and -instruct models). */
const GPT_3_5_TURBO = /^gpt-3\.5-turbo(?:-\d{4})?$/;
/** The GPT-5 variants whose ceiling is GPT-5's, 128,000. */
const GPT_5_LIKE_VARIANTS = new Set([undefined, 'mini', 'nano', 'codex', 'codex-mini', 'codex-max']);

/**
 * The longest answer the model may write (the most `max_completion_tokens` it takes), or
 * undefined where this table does not say (a name it does not know). OpenAI refuses more with a
 * 400 ("max_tokens is too large: 32000. This model supports at most 16384 completion tokens,
 * whereas you provided 32000."), as Claude does above its own ceiling. From the models pages
 * (developers.openai.com/api/docs/models/<name>, "max output tokens"): gpt-4o (but its first
 * snapshot, 2024-05-13: 4,096), gpt-4o-mini, chatgpt-4o-latest, their search and audio previews
 * and the `-chat-latest` models 16,384; gpt-4.1 / -mini / -nano 32,768; o1, o1-pro, o3, o3-mini,
 * o3-pro, o4-mini (and their deep-research models) 100,000; o1-mini 65,536; o1-preview 32,768;
 * gpt-5, -mini, -nano, gpt-5-codex and the gpt-5.1 to gpt-5.4 models with their mini, nano and
 * codex models 128,000; gpt-5-pro 272,000; gpt-4-turbo and the GPT-4 Turbo previews 4,096;
 * gpt-4 8,192; gpt-3.5-turbo 4,096. Left unknown: later GPT-5 minors and the later pro models,
 * whose published ceilings disagree (gpt-5.5: 128,000 or 272,000), and other variants.
 */
export function openAIMaxOutputTokens(model: string): number | undefined {
  const name = model.trim().toLowerCase();
  const gpt4o = GPT_4O.exec(name);
  if (gpt4o !== null) return gpt4o[1] === undefined && gpt4o[2] === '2024-05-13' ? 4_096 : 16_384;
  if (GPT_4_1.test(name)) return 32_768;
  if (GPT_4_TURBO.test(name) || GPT_3_5_TURBO.test(name)) return 4_096;
  if (GPT_4.test(name)) return 8_192;
  const o = O_SERIES.exec(name);
  if (o !== null) {
    if (o[1] === '1' && o[2] === 'mini') return 65_536;
    if (o[1] === '1' && o[2] === 'preview') return 32_768;
    return o[1] === '1' || o[1] === '3' || o[1] === '4' ? 100_000 : undefined;
  }
  const gpt = GPT_5.exec(name);
  if (gpt === null) return undefined;
  const minor = Number(gpt[1] ?? 0);
  const variant = gpt[2];
  if (variant?.startsWith('chat')) return 16_384;
  if (variant === 'pro' && minor === 0) return 272_000;
  return minor <= 4 && GPT_5_LIKE_VARIANTS.has(variant) ? 128_000 : undefined;
}

/** OpenAI's other chat models by name: gpt-3.5, gpt-4 and its turbo / 4o / 4.1 models. */
const GPT_OLDER = /^(?:gpt-3\.5-turbo|gpt-4(?:o|\.\d+)?|chatgpt-4o)(?:-|$)/;

/**
 * The most stop sequences the model takes: 4 for OpenAI's models by name ("Up to 4 sequences",
 * the `stop` reference; more is a 400 "array too long"), wherever they are served (OpenAI,
 * Azure, a proxy in front of them); undefined for a name this table does not know (an
 * OpenAI-compatible server's model: vLLM and DeepSeek take more).
 */
export function openAIMaxStopSequences(model: string): number | undefined {
  const name = model.trim().toLowerCase();
  return O_SERIES.test(name) || GPT_5.test(name) || GPT_OLDER.test(name) ? 4 : undefined;
}

/** Whether the model takes `parallel_tool_calls`: not the o-series (see above). */
export function openAITakesParallelToolCalls(model: string): boolean {
  return !O_SERIES.test(model.trim().toLowerCase());
}

/**
 * Whether a request with this `reasoning_effort` (undefined: the model's default) may carry
 * `stop`: as for the sampling parameters, not on a reasoning model unless it does not reason.
 * The reference says of `stop` "Not supported with latest reasoning models `o3` and `o4-mini`",
 * and gpt-5 and its mini / nano / codex models answer it with a 400 ("Unsupported parameter:
 * 'stop' is not supported with this model.", as reported against the API since their launch).
 */
export function openAITakesStop(model: string, effort: string | undefined): boolean {
  return openAITakesSampling(model, effort);
}

/**
 * Whether a request with this `reasoning_effort` (undefined: the model's default) may carry
 * `temperature` and `top_p` other than 1: not on a reasoning model, unless it does not reason.
 */
export function openAITakesSampling(model: string, effort: string | undefined): boolean {
  const reasoning = openAIReasoningModel(model);
  if (reasoning === undefined) return true;
  return (
    reasoning.leastEffort === 'none' &&
    (effort ?? (reasoning.reasonsByDefault ? 'medium' : 'none')) === 'none'
  );
}
