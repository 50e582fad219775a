import { z } from 'zod';

/*
 * The parts of request bodies that token estimation reads, and nothing else: each schema is
 * a plain (stripping) z.object, so unknown fields pass through untouched by validation and are
 * dropped from the parsed copy. The endpoint's own, stricter validation runs elsewhere; these
 * only need to be sure of the fields they count.
 */

const text = z.string();

// ---- OpenAI Chat Completions ---------------------------------------------------------------

/** One content part; the fields present depend on `type` (text, image_url, input_audio, file...). */
export const openAiContentPart = z.object({
  type: z.string(),
  text: text.optional(),
  image_url: z.union([text, z.object({ url: text, detail: z.string().optional() })]).optional(),
  input_audio: z.object({ data: text.optional(), format: z.string().optional() }).optional(),
  file: z
    .object({ file_data: text.optional(), file_id: text.optional(), filename: text.optional() })
    .optional(),
  refusal: text.optional(),
});
export type OpenAiContentPart = z.infer<typeof openAiContentPart>;

export const openAiToolCall = z.object({
  id: text.optional(),
  type: z.string().optional(),
  function: z.object({ name: text.optional(), arguments: text.optional() }).optional(),
});

/*
 * A null optional field is one not given, as the API and the translate layer take it: an
 * assistant message written back as the Python SDK's `message.model_dump()` writes it holds
 * `function_call: None, tool_calls: None`, and a caller's `tools=None` goes as `tools: null`.
 */
export const openAiMessage = z.object({
  role: text,
  content: z.union([text, z.array(openAiContentPart), z.null()]).optional(),
  name: text.nullish(),
  tool_calls: z.array(openAiToolCall).nullish(),
  tool_call_id: text.nullish(),
  /** Deprecated `function_call` of the functions API. */
  function_call: z.object({ name: text.optional(), arguments: text.optional() }).nullish(),
  refusal: z.union([text, z.null()]).optional(),
});
export type OpenAiMessage = z.infer<typeof openAiMessage>;

/**
 * JSON Schema of function parameters: the top-level properties by OpenAI's cookbook; what a
 * property nests (`properties`, `items`, `anyOf`...) is kept (loose) and so are the
 * definitions it may refer to, which the model is sent too.
 */
const jsonSchemaProperty = z.looseObject({
  type: z.union([text, z.array(text)]).optional(),
  description: text.nullish(),
  enum: z.array(z.unknown()).optional(),
});
export const openAiFunctionDefinition = z.object({
  name: text,
  description: text.nullish(),
  parameters: z
    .object({
      properties: z.record(z.string(), jsonSchemaProperty).optional(),
      $defs: z.unknown().optional(),
      definitions: z.unknown().optional(),
    })
    .optional(),
});
export type OpenAiFunctionDefinition = z.infer<typeof openAiFunctionDefinition>;

export const openAiTool = z.object({
  type: z.string().optional(),
  function: openAiFunctionDefinition.optional(),
});

export const openAiChatRequest = z.object({
  model: text,
  messages: z.array(openAiMessage),
  tools: z.array(openAiTool).nullish(),
  /** Deprecated functions API. */
  functions: z.array(openAiFunctionDefinition).nullish(),
  response_format: z.object({ type: z.string(), json_schema: z.unknown().optional() }).nullish(),
  max_tokens: z.int().min(0).nullable().optional(),
  max_completion_tokens: z.int().min(0).nullable().optional(),
  n: z.int().min(1).nullable().optional(),
});
export type OpenAiChatRequest = z.infer<typeof openAiChatRequest>;

// ---- OpenAI Embeddings -----------------------------------------------------------------------

export const embeddingsRequest = z.object({
  model: text,
  /** A string, strings, token ids, or arrays of token ids. */
  input: z.union([text, z.array(text), z.array(z.int()), z.array(z.array(z.int()))]),
});
export type EmbeddingsRequest = z.infer<typeof embeddingsRequest>;

// ---- Anthropic Messages ----------------------------------------------------------------------

const mediaSource = z.object({
  type: z.string(),
  media_type: z.string().optional(),
  data: text.optional(),
  url: text.optional(),
});
/** A block of a custom content document (text or an image). */
const sourceContentBlock = z.object({
  type: z.string(),
  text: text.optional(),
  source: mediaSource.optional(),
});
/** An image's or document's source; a custom content document's (`type: content`) holds text or blocks. */
const anthropicSource = mediaSource.extend({
  content: z.union([text, z.array(sourceContentBlock)]).optional(),
});
export type AnthropicSource = z.infer<typeof anthropicSource>;
/** An image's or document's source; a `search_result` block's source is its URL. */
const blockSource = z.union([anthropicSource, text]);

/** A document's `title` and `context`: text the model reads about it. */
const documentText = { title: text.nullish(), context: text.nullish() };

/** A content block that can appear inside a tool_result. */
const anthropicInnerBlock = z.object({
  type: z.string(),
  text: text.optional(),
  source: blockSource.optional(),
  ...documentText,
});

export const anthropicBlock = z.object({
  type: z.string(),
  text: text.optional(),
  source: blockSource.optional(),
  ...documentText,
  /** tool_use */
  name: text.optional(),
  input: z.unknown().optional(),
  /** tool_result (and search_result); server tools' results carry an object */
  content: z.union([text, z.array(anthropicInnerBlock), z.record(z.string(), z.unknown())]).optional(),
  /** thinking / redacted_thinking */
  thinking: text.optional(),
  signature: z.string().optional(),
  data: text.optional(),
});
export type AnthropicBlock = z.infer<typeof anthropicBlock>;
export type AnthropicInnerBlock = z.infer<typeof anthropicInnerBlock>;

export const anthropicMessage = z.object({
  role: text,
  content: z.union([text, z.array(anthropicBlock)]),
});

export const anthropicTool = z.object({
  name: text,
  /** Server tools (web_search, bash...) carry a `type` and no schema. */
  type: z.string().optional(),
  description: text.optional(),
  input_schema: z.unknown().optional(),
});
export type AnthropicTool = z.infer<typeof anthropicTool>;

export const anthropicMessagesRequest = z.object({
  model: text,
  system: z.union([text, z.array(z.object({ type: z.string(), text: text.optional() }))]).optional(),
  messages: z.array(anthropicMessage),
  tools: z.array(anthropicTool).optional(),
  tool_choice: z.object({ type: z.string() }).optional(),
  max_tokens: z.int().min(0),
  /** Structured outputs: `output_config.format`, or the deprecated `output_format` it replaced. */
  output_config: z.object({ format: z.unknown().optional() }).nullish(),
  output_format: z.unknown().optional(),
});
export type AnthropicMessagesRequest = z.infer<typeof anthropicMessagesRequest>;
