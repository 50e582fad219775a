/**
 * Anthropic Messages wire types, reduced to the fields the translators read. Unknown keys
 * are stripped, so a translated request carries only what is rebuilt from these fields.
 */
import { z } from 'zod';

// --- request ----------------------------------------------------------------------------

const cacheControl = z
  .object({ type: z.literal('ephemeral'), ttl: z.enum(['5m', '1h']).optional() })
  .nullish();

const textBlock = z.object({ type: z.literal('text'), text: z.string(), cache_control: cacheControl });
export type AnthropicTextBlock = z.infer<typeof textBlock>;

const imageSource = z.discriminatedUnion('type', [
  z.object({ type: z.literal('base64'), media_type: z.string(), data: z.string() }),
  z.object({ type: z.literal('url'), url: z.string() }),
  z.object({ type: z.literal('file'), file_id: z.string() }),
]);
const imageBlock = z.object({ type: z.literal('image'), source: imageSource, cache_control: cacheControl });
export type AnthropicImageBlock = z.infer<typeof imageBlock>;

const documentSource = z.discriminatedUnion('type', [
  z.object({ type: z.literal('base64'), media_type: z.string(), data: z.string() }),
  z.object({ type: z.literal('text'), media_type: z.string().optional(), data: z.string() }),
  z.object({ type: z.literal('url'), url: z.string() }),
  z.object({ type: z.literal('file'), file_id: z.string() }),
  z.object({ type: z.literal('content'), content: z.unknown() }),
]);
const documentBlock = z.object({
  type: z.literal('document'),
  source: documentSource,
  /** Text the model reads about the document: `context` it can use but not cite. */
  title: z.string().nullish(),
  context: z.string().nullish(),
  cache_control: cacheControl,
});
export type AnthropicDocumentBlock = z.infer<typeof documentBlock>;

/**
 * Search results the caller's own search found (RAG), which Claude can cite: a source (a URL
 * or any id), a title and text blocks. `citations` only shapes Claude's answer and is not read.
 */
const searchResultBlock = z.object({
  type: z.literal('search_result'),
  source: z.string(),
  title: z.string(),
  content: z.array(textBlock),
  cache_control: cacheControl,
});
export type AnthropicSearchResultBlock = z.infer<typeof searchResultBlock>;

const toolUseBlock = z.object({
  type: z.literal('tool_use'),
  id: z.string(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
  cache_control: cacheControl,
});

const toolResultBlock = z.object({
  type: z.literal('tool_result'),
  tool_use_id: z.string(),
  content: z
    .union([
      z.string(),
      z.array(z.discriminatedUnion('type', [textBlock, imageBlock, documentBlock, searchResultBlock])),
    ])
    .optional(),
  is_error: z.boolean().optional(),
  cache_control: cacheControl,
});
export type AnthropicToolResultBlock = z.infer<typeof toolResultBlock>;

/** Thinking blocks come back in assistant turns of a Claude conversation; they have no counterpart elsewhere. */
const thinkingBlock = z.object({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() });
const redactedThinkingBlock = z.object({ type: z.literal('redacted_thinking'), data: z.string() });

export const anthropicContentBlock = z.discriminatedUnion('type', [
  textBlock,
  imageBlock,
  documentBlock,
  searchResultBlock,
  toolUseBlock,
  toolResultBlock,
  thinkingBlock,
  redactedThinkingBlock,
]);
export type AnthropicContentBlock = z.infer<typeof anthropicContentBlock>;

export const anthropicMessage = z.object({
  role: z.enum(['user', 'assistant']),
  content: z.union([z.string(), z.array(anthropicContentBlock)]),
});
export type AnthropicMessageParam = z.infer<typeof anthropicMessage>;

/**
 * Client tools have no `type` (or `custom`); server tools (`web_search_20250305`, `bash_...`)
 * carry a versioned type and run at Anthropic, so they cannot be offered to another provider.
 */
const tool = z.object({
  type: z.string().nullish(),
  name: z.string(),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()).optional(),
  strict: z.boolean().optional(),
  cache_control: cacheControl,
});
export type AnthropicTool = z.infer<typeof tool>;

const toolChoice = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
  z.object({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
  z.object({ type: z.literal('tool'), name: z.string(), disable_parallel_tool_use: z.boolean().optional() }),
  z.object({ type: z.literal('none') }),
]);
export type AnthropicToolChoice = z.infer<typeof toolChoice>;

const jsonOutputFormat = z.object({
  type: z.literal('json_schema'),
  schema: z.record(z.string(), z.unknown()),
});

export const anthropicMessagesRequest = z.object({
  model: z.string(),
  messages: z.array(anthropicMessage),
  system: z.union([z.string(), z.array(textBlock)]).optional(),
  max_tokens: z.number().int().positive(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().optional(),
  top_p: z.number().optional(),
  top_k: z.number().int().optional(),
  stream: z.boolean().optional(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  metadata: z.object({ user_id: z.string().nullish() }).optional(),
  /** Run at Anthropic (the MCP connector, a code-execution container): read only to refuse them elsewhere. */
  mcp_servers: z.unknown().optional(),
  container: z.unknown().optional(),
  /**
   * A conversation Anthropic holds between turns (`create`, or `continue` from a message id, each
   * turn sending only its new messages): read only to refuse it elsewhere.
   */
  thread: z.unknown().optional(),
  /**
   * Claude's thinking: `disabled`, `enabled` with a `budget_tokens`, `adaptive` (the model
   * decides). The type is kept as sent so that a writer refuses one it cannot express instead
   * of the parse dropping it; `display` only shapes Claude's own answer and is not read.
   */
  thinking: z.object({ type: z.string(), budget_tokens: z.number().int().optional() }).nullish(),
  output_config: z
    .object({
      format: jsonOutputFormat.optional(),
      /**
       * How many tokens Claude spends (`low` ... `max`): written for an OpenAI caller's
       * `reasoning_effort`, read as another model's reasoning effort.
       */
      effort: z.string().nullish(),
    })
    .optional(),
  /** Structured outputs as first released, deprecated for `output_config.format` (still taken by Anthropic). */
  output_format: jsonOutputFormat.optional(),
});
export type AnthropicMessagesRequest = z.infer<typeof anthropicMessagesRequest>;

// --- usage ------------------------------------------------------------------------------

/**
 * `input_tokens` excludes the tokens read from and written to the prompt cache; those come
 * in their own fields. The delta form (message_delta) makes every field but output optional.
 */
export const anthropicUsage = z.object({
  input_tokens: z.number().int().nonnegative().nullish(),
  output_tokens: z.number().int().nonnegative().nullish(),
  cache_creation_input_tokens: z.number().int().nonnegative().nullish(),
  cache_read_input_tokens: z.number().int().nonnegative().nullish(),
  /** The cache writes by lifetime (priced apart: 1.25x input for 5 minutes, 2x for 1 hour). */
  cache_creation: z
    .object({
      ephemeral_5m_input_tokens: z.number().int().nonnegative().nullish(),
      ephemeral_1h_input_tokens: z.number().int().nonnegative().nullish(),
    })
    .nullish(),
  /**
   * Of output_tokens, those Claude spent reasoning (`thinking_tokens`, its raw thinking, not
   * the summary shown; @anthropic-ai/sdk 1.14 `OutputTokensDetails`).
   */
  output_tokens_details: z.object({ thinking_tokens: z.number().int().nonnegative().nullish() }).nullish(),
  /** Tools Claude ran itself, billed apiece: its web searches (10 USD per 1,000). */
  server_tool_use: z.object({ web_search_requests: z.number().int().nonnegative().nullish() }).nullish(),
  /** Where Claude ran the request: `us` (US-only infrastructure) is billed at 1.1x, `global` as listed. */
  inference_geo: z.string().nullish(),
  /** How fast: `fast` (fast mode) is billed at a multiple of every rate, `standard` as listed. */
  speed: z.string().nullish(),
});
export type AnthropicUsage = z.infer<typeof anthropicUsage>;

// --- response (upstream, parsed) --------------------------------------------------------

export const anthropicStopReason = z.enum([
  'end_turn',
  'max_tokens',
  'stop_sequence',
  'tool_use',
  'pause_turn',
  'refusal',
  'model_context_window_exceeded',
]);
export type AnthropicStopReason = z.infer<typeof anthropicStopReason>;

/**
 * Response blocks: the two that translate, and any other (thinking, server tool results,
 * types added later) as an opaque block that the translators skip.
 */
const responseBlock = z.union([
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({ type: z.literal('tool_use'), id: z.string(), name: z.string(), input: z.unknown() }),
  z.object({ type: z.string() }),
]);

export const anthropicMessageResponse = z.object({
  id: z.string(),
  model: z.string(),
  content: z.array(responseBlock),
  // An unknown future stop reason must not fail the whole answer: it maps like end_turn.
  stop_reason: z.string().nullish(),
  stop_sequence: z.string().nullish(),
  usage: anthropicUsage.nullish(),
});
export type AnthropicMessageResponse = z.infer<typeof anthropicMessageResponse>;

// --- stream events (upstream, parsed one by one by type) --------------------------------

export const anthropicStreamEvents = {
  message_start: z.object({
    message: z.object({ id: z.string(), model: z.string(), usage: anthropicUsage.nullish() }),
  }),
  content_block_start: z.object({
    index: z.number().int(),
    content_block: z.object({
      type: z.string(),
      id: z.string().optional(),
      name: z.string().optional(),
      text: z.string().optional(),
      thinking: z.string().optional(),
      /** A server tool's result: a web search's results (an array) or its error (an object). */
      content: z.unknown().optional(),
    }),
  }),
  content_block_delta: z.object({
    index: z.number().int(),
    delta: z.object({
      type: z.string(),
      text: z.string().optional(),
      partial_json: z.string().optional(),
      thinking: z.string().optional(),
    }),
  }),
  message_delta: z.object({
    delta: z.object({ stop_reason: z.string().nullish(), stop_sequence: z.string().nullish() }),
    usage: anthropicUsage.nullish(),
  }),
  error: z.object({ error: z.object({ type: z.string(), message: z.string() }) }),
};

// --- what the translators emit ----------------------------------------------------------

export interface AnthropicUsageOut {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/**
 * The signature of a thinking block Kordon writes from another model's reasoning (an OpenAI-dialect
 * answer's `reasoning_content`): Anthropic's SDKs keep it as an opaque string, and a history
 * block carrying it is text that model wrote, sent back to it (DeepSeek requires it with tool
 * calls). Claude would refuse it: it is no signature of Claude's.
 */
export const FOREIGN_REASONING_SIGNATURE = 'kordon-foreign-reasoning';

export type AnthropicResponseBlockOut =
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface AnthropicMessageOut {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicResponseBlockOut[];
  stop_reason: AnthropicStopReason;
  stop_sequence: string | null;
  usage: AnthropicUsageOut;
}

export type AnthropicStreamEventOut =
  | {
      type: 'message_start';
      message: Omit<AnthropicMessageOut, 'stop_reason' | 'content'> & { content: []; stop_reason: null };
    }
  | {
      type: 'content_block_start';
      index: number;
      content_block:
        | { type: 'thinking'; thinking: ''; signature: '' }
        | { type: 'text'; text: '' }
        | { type: 'tool_use'; id: string; name: string; input: Record<string, never> };
    }
  | {
      type: 'content_block_delta';
      index: number;
      delta:
        | { type: 'thinking_delta'; thinking: string }
        | { type: 'signature_delta'; signature: string }
        | { type: 'text_delta'; text: string }
        | { type: 'input_json_delta'; partial_json: string };
    }
  | { type: 'content_block_stop'; index: number }
  | {
      type: 'message_delta';
      delta: { stop_reason: AnthropicStopReason; stop_sequence: string | null };
      usage: AnthropicUsageOut;
    }
  | { type: 'message_stop' };
