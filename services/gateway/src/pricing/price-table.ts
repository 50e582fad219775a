import type { PriceTable, PriceTableEntry } from './price-schema.js';

/*
 * The shipped price table. Public list prices, standard (synchronous, non-batch) tier, paid
 * plan; OpenAI's priority processing rates beside them (`priority`), flex being half the
 * standard rates. Every number here was read from the vendor's own pricing or
 * model page, or, where that page was not readable in full, from at least two independent
 * copies of it that agree; the `source` of each provider says which.
 *
 * A model whose price could not be confirmed is left out on purpose: an unknown model is
 * reported as unpriced (see PriceBook), never silently charged as zero or at a guessed rate.
 * Orgs price what is missing with overrides.
 *
 * Audio input: Gemini's Flash models (2.x, 3, 3.1 Flash-Lite) bill the AUDIO part of a prompt
 * (usageMetadata promptTokensDetails) above text, image and video, cache reads too: `audioInput`
 * and `cachedAudioInput`. A model without them has one input rate for every modality.
 *
 * Not modelled here, on purpose: batch, Anthropic's priority tier (capacity bought ahead), regional uplifts,
 * Gemini's cache storage per hour, file search storage, tool fees not billed per call (OpenAI's code
 * interpreter containers, image generation: a request offering them is refused under a USD budget). OpenAI's audio models
 * (gpt-4o-audio-preview, gpt-4o-mini-audio-preview, gpt-audio, gpt-realtime) are left out: they
 * bill audio tokens at many times their text rates (gpt-4o-audio-preview: $40 / $80 per million
 * audio tokens in / out, $2.50 / $10 text; developers.openai.com/api/docs/models/<model>), and
 * their answers' audio token counts are not read, so a price here would bill audio as text.
 */

const M = 1_000_000;

const usd = (entry: Omit<PriceTableEntry, 'currency' | 'unitTokens'>): PriceTableEntry => ({
  ...entry,
  currency: 'USD',
  unitTokens: M,
});

/** Anthropic's published prompt-caching multipliers: 5m write 1.25x, 1h write 2x, read 0.1x. */
const claude = (
  input: string,
  cacheWrite: string,
  cacheWrite1h: string,
  cachedInput: string,
  output: string,
  extra: Partial<Pick<PriceTableEntry, 'aliases' | 'note' | 'tiers' | 'fastMultiplier'>> = {},
): PriceTableEntry =>
  usd({
    provider: 'anthropic',
    input,
    cacheWrite,
    cacheWrite1h,
    cachedInput,
    output,
    // The web search tool: 10 USD per 1,000 searches, the same for every Claude model.
    webSearch: '10',
    ...extra,
  });

/** Claude Sonnet 4 and 4.5 with the 1M-token context: above 200K prompt tokens, 2x input and 1.5x output for the whole request; the caching multipliers apply on top. */
const sonnetLongContext = [
  {
    aboveInputTokens: 200_000,
    input: '6.00',
    cacheWrite: '7.50',
    cacheWrite1h: '12.00',
    cachedInput: '0.60',
    output: '22.50',
  },
];

/**
 * OpenAI's built-in tools billed per call, on top of the tokens (developers.openai.com/api/docs/pricing,
 * "Built-in tools", as quoted on OpenAI's developer forum, confirmed there by OpenAI staff, and by
 * price trackers that agree, e.g. modelcostwatch.com checked 2026-03-12): `web_search` $10 per
 * 1,000 calls on every model; the older `web_search_preview` $25 per 1,000 on non-reasoning
 * models (GPT-4o, GPT-4.1; their search content tokens free) and $10 on reasoning models
 * (o-series, GPT-5); `file_search` $2.50 per 1,000 calls. Only a web search call's `search`
 * action is a billed call (the web search guide). Code Interpreter is billed per container (a
 * container serves several requests for 20 minutes) and image generation at the image
 * model's rates: not priced here.
 */
const openAITools = { webSearch: '10', fileSearch: '2.50' } as const;
const nonReasoningTools = { ...openAITools, webSearchPreview: '25' } as const;

/**
 * DeepSeek bills every rate twice in its peak hours, 01:00-04:00 and 06:00-10:00 UTC (09:00-12:00
 * and 14:00-18:00 Beijing time) Monday to Friday; its list rates are the off-peak ones.
 */
const deepSeekPeakHours = {
  utcWindows: [
    { from: '01:00', to: '04:00' },
    { from: '06:00', to: '10:00' },
  ],
  utcWeekdays: [1, 2, 3, 4, 5],
  multiplier: '2',
};

export const SHIPPED_PRICE_TABLE: PriceTable = {
  asOf: '2026-11-30',
  providers: {
    openai: {
      source:
        'OpenAI API pricing (developers.openai.com/api/docs/pricing) and per-model pages (developers.openai.com/api/docs/models/<model>), standard tier; priority processing rates from openai.com/api-priority-processing (prompts within the base rates); flex at half the standard rates (its launch announcement, as the Batch API). gpt-5-nano, gpt-5.1 and gpt-5.4 (with its >272K long-context rule) read from the model pages; the others from copies of the pricing page that agree (models.dev, Helicone, Vercel AI Gateway, vendor-quoting guides of 2026); gpt-5.2 and gpt-5.5 (its >272K rule that of gpt-5.4: $10 / $1 / $45) added 2026-12-02 from such copies (two or more agreeing); text-embedding-ada-002 ($0.10 per 1M input tokens, legacy) added 2026-12-02 from such copies (two or more agreeing). Tool calls (web search $10 / 1,000, preview $25 on non-reasoning models, file search $2.50) added 2026-12-02: see openAITools.',
      checkedAt: '2026-11-30',
    },
    anthropic: {
      source:
        "Anthropic pricing (platform.claude.com/docs/en/about-claude/pricing): base input, 5m and 1h cache writes, cache hits, output. Long-context premium for Sonnet 4/4.5 (1M beta, >200K prompt tokens) from the same page; the web search tool at 10 USD per 1,000 searches (same page, tool pricing); Opus 4.6 and Sonnet 4.6 have flat pricing over the whole 1M window since the GA of 2026-03-13. Claude Sonnet 5 from its model overview page. Fast mode (a multiple of every rate, caching and data residency stacking on it): 2x on Opus 5 and 4.8, 6x on Opus 4.7 and 4.6, from the fast-mode page and Claude Code's fast-mode page ($10 / $50 and $30 / $150), Opus 5's confirmed by OpenRouter and Vercel AI Gateway listings.",
      checkedAt: '2026-11-30',
    },
    google: {
      source:
        'Gemini Developer API pricing (ai.google.dev/gemini-api/docs/pricing), paid tier, standard. Input/output rates confirmed by several 2026 copies of the page; context-cache read rates (10% of input) from models.dev, which tracks the page. Audio input and cached audio rates of 2.5 Flash ($1.00 / $0.10), 2.5 Flash-Lite ($0.30 / $0.03) and 2.0 Flash ($0.70 / $0.175) added 2026-12-02 from copies of the page that agree (its "Input price" and "Context caching price" rows: "$0.30 (text / image / video) $1.00 (audio)"); the other models have one input rate for every modality. gemini-embedding-001 ($0.15 per 1M input tokens, standard) added 2026-12-02 from copies of the page that agree (embeddingcost.com, tokenmix.ai, zilliz.com, 2026). Cache storage is not modelled. Gemini 3.x (added 2026-12-06): a 2026 copy of the page, each rate also in another source that agrees (each entry\'s note names them); cached audio from that copy only.',
      checkedAt: '2026-12-06',
    },
    deepseek: {
      source:
        'DeepSeek Models & Pricing (api-docs.deepseek.com/quick_start/pricing), as quoted from the page in 2026-08 to 2026-10 by several projects that agree (Zoo-Code and EvoScientist reviews quoting the page, litellm-docs, the sub2api and models.dev pull requests, mcp-rubber-duck, OmniRoute): per 1M tokens, off-peak, deepseek-flash (DeepSeek-V4.1-Flash, since 2026-09-10) $0.15 cache miss, $0.003 cache hit, $0.60 output; deepseek-v4-pro $0.66 / $0.022 / $1.98. "Off-peak rates are half of the peak rates. Peak hours are 01:00 - 04:00 and 06:00 - 10:00 UTC, Monday through Friday" (peak pricing since 2026-08-16 16:00 UTC, weekends off-peak since 2026-08-22 16:00 UTC). The page adds "excluding Chinese public holidays" (quoted 2026-09-21): holidays are not modelled, so a weekday holiday is priced at the peak rates in the windows.',
      checkedAt: '2026-12-06',
    },
    mistral: {
      source:
        'Mistral AI pricing (mistral.ai/pricing, docs.mistral.ai/models/*), dated model ids only: "-latest" aliases move between versions with different prices and are left unpriced. Confirmed by models.dev and 2026 price trackers that agree.',
      checkedAt: '2026-11-30',
    },
  },
  models: {
    // ---- OpenAI -------------------------------------------------------------------------
    'gpt-4o': usd({
      provider: 'openai',
      ...nonReasoningTools,
      input: '2.50',
      cachedInput: '1.25',
      output: '10.00',
      priority: { input: '4.25', cachedInput: '2.125', output: '17.00' },
    }),
    'gpt-4o-2024-05-13': usd({
      provider: 'openai',
      ...nonReasoningTools,
      input: '5.00',
      output: '15.00',
      priority: { input: '8.75', output: '26.25' },
      note: 'The first gpt-4o snapshot keeps its launch price and has no cached-input discount.',
    }),
    'gpt-4o-mini': usd({
      provider: 'openai',
      ...nonReasoningTools,
      input: '0.15',
      cachedInput: '0.075',
      output: '0.60',
      priority: { input: '0.25', cachedInput: '0.125', output: '1.00' },
    }),
    'gpt-4.1': usd({
      provider: 'openai',
      ...nonReasoningTools,
      input: '2.00',
      cachedInput: '0.50',
      output: '8.00',
      priority: { input: '3.50', cachedInput: '0.875', output: '14.00' },
    }),
    'gpt-4.1-mini': usd({
      provider: 'openai',
      ...nonReasoningTools,
      input: '0.40',
      cachedInput: '0.10',
      output: '1.60',
      priority: { input: '0.70', cachedInput: '0.175', output: '2.80' },
    }),
    'gpt-4.1-nano': usd({
      provider: 'openai',
      ...nonReasoningTools,
      input: '0.10',
      cachedInput: '0.025',
      output: '0.40',
      priority: { input: '0.20', cachedInput: '0.05', output: '0.80' },
    }),
    o3: usd({
      provider: 'openai',
      ...openAITools,
      input: '2.00',
      cachedInput: '0.50',
      output: '8.00',
      priority: { input: '3.50', cachedInput: '0.875', output: '14.00' },
    }),
    'o3-mini': usd({
      provider: 'openai',
      ...openAITools,
      input: '1.10',
      cachedInput: '0.55',
      output: '4.40',
    }),
    'o4-mini': usd({
      provider: 'openai',
      ...openAITools,
      input: '1.10',
      cachedInput: '0.275',
      output: '4.40',
      priority: { input: '2.00', cachedInput: '0.50', output: '8.00' },
    }),
    'gpt-5': usd({
      provider: 'openai',
      ...openAITools,
      input: '1.25',
      cachedInput: '0.125',
      output: '10.00',
      priority: { input: '2.50', cachedInput: '0.25', output: '20.00' },
    }),
    'gpt-5-mini': usd({
      provider: 'openai',
      ...openAITools,
      input: '0.25',
      cachedInput: '0.025',
      output: '2.00',
      priority: { input: '0.45', cachedInput: '0.045', output: '3.60' },
    }),
    'gpt-5-nano': usd({
      provider: 'openai',
      ...openAITools,
      input: '0.05',
      cachedInput: '0.005',
      output: '0.40',
    }),
    'gpt-5.1': usd({
      provider: 'openai',
      ...openAITools,
      input: '1.25',
      cachedInput: '0.125',
      output: '10.00',
      priority: { input: '2.50', cachedInput: '0.25', output: '20.00' },
    }),
    'gpt-5.2': usd({
      provider: 'openai',
      ...openAITools,
      input: '1.75',
      cachedInput: '0.175',
      output: '14.00',
    }),
    'gpt-5.4': usd({
      provider: 'openai',
      ...openAITools,
      input: '2.50',
      cachedInput: '0.25',
      output: '15.00',
      tiers: [{ aboveInputTokens: 272_000, input: '5.00', cachedInput: '0.50', output: '22.50' }],
      priority: { input: '5.00', cachedInput: '0.50', output: '30.00' },
      note: 'Prompts over 272K input tokens: 2x input (cached input included) and 1.5x output for the whole request. Priority processing is published for shorter prompts only.',
    }),
    'gpt-5.5': usd({
      provider: 'openai',
      ...openAITools,
      input: '5.00',
      cachedInput: '0.50',
      output: '30.00',
      tiers: [{ aboveInputTokens: 272_000, input: '10.00', cachedInput: '1.00', output: '45.00' }],
      note: 'Prompts over 272K input tokens: 2x input (cached input included) and 1.5x output for the whole request. No priority rates confirmed: a priority request is unpriced.',
    }),
    'text-embedding-3-small': usd({ provider: 'openai', input: '0.02', output: '0' }),
    'text-embedding-3-large': usd({ provider: 'openai', input: '0.13', output: '0' }),
    // Legacy, still served (and the default of many embedding libraries).
    'text-embedding-ada-002': usd({ provider: 'openai', input: '0.10', output: '0' }),

    // ---- Anthropic ----------------------------------------------------------------------
    // Fast mode (`speed: "fast"`): Opus 5 and 4.8 at 2x ($10 / $50), Opus 4.7 and 4.6 at 6x ($30 / $150).
    'claude-opus-5': claude('5', '6.25', '10', '0.50', '25', { fastMultiplier: '2' }),
    'claude-opus-4-8': claude('5', '6.25', '10', '0.50', '25', { fastMultiplier: '2' }),
    'claude-opus-4-7': claude('5', '6.25', '10', '0.50', '25', { fastMultiplier: '6' }),
    'claude-opus-4-6': claude('5', '6.25', '10', '0.50', '25', { fastMultiplier: '6' }),
    'claude-opus-4-5': claude('5', '6.25', '10', '0.50', '25'),
    'claude-opus-4-1': claude('15', '18.75', '30', '1.50', '75', {
      note: 'Retired on the Anthropic API; still sold on Bedrock and Google Cloud.',
    }),
    'claude-opus-4': claude('15', '18.75', '30', '1.50', '75', {
      aliases: ['claude-opus-4-0'],
      note: 'Retired on the Anthropic API; still sold on Google Cloud.',
    }),
    'claude-sonnet-5': claude('2', '2.50', '4', '0.20', '10'),
    'claude-sonnet-4-6': claude('3', '3.75', '6', '0.30', '15'),
    'claude-sonnet-4-5': claude('3', '3.75', '6', '0.30', '15', { tiers: sonnetLongContext }),
    'claude-sonnet-4': claude('3', '3.75', '6', '0.30', '15', {
      aliases: ['claude-sonnet-4-0'],
      tiers: sonnetLongContext,
    }),
    'claude-3-7-sonnet': claude('3', '3.75', '6', '0.30', '15', {
      aliases: ['claude-3-7-sonnet-latest'],
      note: 'Deprecated; price as last published.',
    }),
    'claude-haiku-4-5': claude('1', '1.25', '2', '0.10', '5'),
    'claude-3-5-haiku': claude('0.80', '1', '1.6', '0.08', '4', {
      aliases: ['claude-3-5-haiku-latest'],
      note: 'Deprecated; price as last published.',
    }),
    // Its one id on the API (no alias without a date): the name the model list offers.
    'claude-3-haiku': claude('0.25', '0.30', '0.50', '0.03', '1.25', {
      aliases: ['claude-3-haiku-20240307'],
    }),

    // ---- Google Gemini ------------------------------------------------------------------
    'gemini-2.5-pro': usd({
      provider: 'google',
      input: '1.25',
      cachedInput: '0.125',
      output: '10.00',
      tiers: [{ aboveInputTokens: 200_000, input: '2.50', cachedInput: '0.25', output: '15.00' }],
      note: 'Prompts over 200K tokens are billed at the higher rates for the whole request. Output includes thinking tokens.',
    }),
    'gemini-2.5-flash': usd({
      provider: 'google',
      input: '0.30',
      cachedInput: '0.03',
      audioInput: '1.00',
      cachedAudioInput: '0.10',
      output: '2.50',
      note: 'input and cachedInput are the text/image/video rates; audio input at its own.',
    }),
    'gemini-2.5-flash-lite': usd({
      provider: 'google',
      input: '0.10',
      cachedInput: '0.01',
      audioInput: '0.30',
      cachedAudioInput: '0.03',
      output: '0.40',
      note: 'input and cachedInput are the text/image/video rates; audio input at its own.',
    }),
    'gemini-2.0-flash': usd({
      provider: 'google',
      input: '0.10',
      cachedInput: '0.025',
      audioInput: '0.70',
      cachedAudioInput: '0.175',
      output: '0.40',
      note: 'Deprecated by Google (shutdown announced for 2026-06-01); price as last published. input and cachedInput are the text/image/video rates; audio input at its own.',
    }),
    'gemini-2.0-flash-lite': usd({
      provider: 'google',
      input: '0.075',
      output: '0.30',
      note: 'Deprecated by Google (shutdown announced for 2026-06-01); price as last published.',
    }),
    // Gemini 3.x. gemini-3-pro-preview was shut down and answers as 3.1 Pro, at the same price.
    'gemini-3.1-pro-preview': usd({
      provider: 'google',
      input: '2.00',
      cachedInput: '0.20',
      output: '12.00',
      tiers: [{ aboveInputTokens: 200_000, input: '4.00', cachedInput: '0.40', output: '18.00' }],
      aliases: ['gemini-3.1-pro-preview-customtools', 'gemini-3-pro-preview'],
      note: "Prompts over 200K tokens are billed at the higher rates for the whole request. One input rate for every modality. Output includes thinking tokens. Confirmed by LiteLLM's map (cloudprice.net), airouter.megatech.cc, laozhang.ai and inference.sh.",
    }),
    'gemini-3-flash-preview': usd({
      provider: 'google',
      input: '0.50',
      cachedInput: '0.05',
      audioInput: '1.00',
      cachedAudioInput: '0.10',
      output: '3.00',
      note: 'input and cachedInput are the text/image/video rates; audio input at its own. Output includes thinking tokens. Confirmed by factquire.com and whichllm.io quoting the page, modelpedia.dev and OpenRouter.',
    }),
    'gemini-3.1-flash-lite': usd({
      provider: 'google',
      input: '0.25',
      cachedInput: '0.025',
      audioInput: '0.50',
      cachedAudioInput: '0.05',
      output: '1.50',
      aliases: ['gemini-3.1-flash-lite-preview'],
      note: "input and cachedInput are the text/image/video rates; audio input at its own. Output includes thinking tokens. Confirmed by modelpedia.dev, LiteLLM's map (cloudprice.net), futureagi.com and copies of the page naming the GA id.",
    }),
    // Embeddings bill their input only. text-embedding-004 is left out: retired on the Gemini
    // API on 2026-01-14 (calls to it fail), and free of charge while it was served.
    'gemini-embedding-001': usd({ provider: 'google', input: '0.15', output: '0' }),

    // ---- DeepSeek -----------------------------------------------------------------------
    // Off-peak rates; peak hours (weekdays 01:00-04:00 and 06:00-10:00 UTC) twice every rate.
    'deepseek-flash': usd({
      provider: 'deepseek',
      input: '0.15',
      cachedInput: '0.003',
      output: '0.60',
      peakHours: deepSeekPeakHours,
      aliases: ['deepseek-v4-flash', 'deepseek-v4-flash-vision-exp', 'deepseek-chat', 'deepseek-reasoner'],
      note: 'DeepSeek-V4.1-Flash. deepseek-v4-flash and deepseek-v4-flash-vision-exp are routed to it and billed as it; deepseek-chat and deepseek-reasoner are the legacy names of its non-thinking and thinking modes. Output includes reasoning tokens.',
    }),
    'deepseek-v4-pro': usd({
      provider: 'deepseek',
      input: '0.66',
      cachedInput: '0.022',
      output: '1.98',
      peakHours: deepSeekPeakHours,
      note: 'Still served and billed as V4 Pro: the move of its requests to V4.1 Flash announced for 2026-09-14 was withdrawn. Output includes reasoning tokens.',
    }),

    // ---- Mistral ------------------------------------------------------------------------
    'mistral-large-2512': usd({
      provider: 'mistral',
      input: '0.50',
      output: '1.50',
      note: 'Mistral Large 3.',
    }),
    'mistral-large-2411': usd({
      provider: 'mistral',
      input: '2.00',
      output: '6.00',
      note: 'Mistral Large 2.1.',
    }),
    'mistral-medium-2604': usd({
      provider: 'mistral',
      input: '1.50',
      output: '7.50',
      aliases: ['mistral-medium-3.5'],
      note: 'Mistral Medium 3.5.',
    }),
    'mistral-medium-2508': usd({
      provider: 'mistral',
      input: '0.40',
      output: '2.00',
      note: 'Mistral Medium 3.1.',
    }),
    'mistral-medium-2505': usd({
      provider: 'mistral',
      input: '0.40',
      output: '2.00',
      note: 'Mistral Medium 3.',
    }),
    'mistral-small-2506': usd({
      provider: 'mistral',
      input: '0.10',
      output: '0.30',
      note: 'Mistral Small 3.2.',
    }),
    'codestral-2508': usd({ provider: 'mistral', input: '0.30', output: '0.90' }),
    'magistral-medium-2509': usd({
      provider: 'mistral',
      input: '2.00',
      output: '5.00',
      note: 'Magistral Medium 1.2.',
    }),
    'magistral-small-2509': usd({
      provider: 'mistral',
      input: '0.50',
      output: '1.50',
      note: 'Magistral Small 1.2.',
    }),
    'ministral-14b-2512': usd({ provider: 'mistral', input: '0.20', output: '0.20' }),
    'ministral-8b-2512': usd({ provider: 'mistral', input: '0.15', output: '0.15' }),
    'ministral-3b-2512': usd({ provider: 'mistral', input: '0.10', output: '0.10' }),
    'mistral-embed': usd({
      provider: 'mistral',
      input: '0.10',
      output: '0',
      note: 'Answers to the dated id mistral-embed-2312 too.',
    }),
  },
};
