/**
 * OpenAI Chat Completions wire types, reduced to the fields the translators read. Objects
 * strip unknown keys, so nothing a caller adds (`api_base`, vendor extensions) survives a
 * translation: the translated request is rebuilt from these fields only.
 */
import { z } from 'zod';

// --- request ----------------------------------------------------------------------------

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const refusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() });
/**
 * `detail` is OpenAI's alone (`auto`, `low`, `high`, and `original` in openai 7.x): no translated
 * provider has it, so it is dropped, whatever value the SDK sends.
 */
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({ url: z.string(), detail: z.enum(['auto', 'low', 'high', 'original']).optional() }),
});
const audioPart = z.object({
  type: z.literal('input_audio'),
  input_audio: z.object({ data: z.string(), format: z.string() }),
});
const filePart = z.object({
  type: z.literal('file'),
  file: z.object({
    file_data: z.string().optional(),
    file_id: z.string().optional(),
    filename: z.string().optional(),
  }),
});

export const openAIUserContentPart = z.discriminatedUnion('type', [textPart, imagePart, audioPart, filePart]);
export type OpenAIUserContentPart = z.infer<typeof openAIUserContentPart>;
export type OpenAITextPart = z.infer<typeof textPart>;

const toolCall = z.object({
  id: z.string(),
  type: z.literal('function'),
  function: z.object({ name: z.string(), arguments: z.string() }),
});
export type OpenAIToolCall = z.infer<typeof toolCall>;

const systemMessage = z.object({
  role: z.enum(['system', 'developer']),
  content: z.union([z.string(), z.array(textPart)]),
});
const userMessage = z.object({
  role: z.literal('user'),
  content: z.union([z.string(), z.array(openAIUserContentPart)]),
});
const assistantMessage = z.object({
  role: z.literal('assistant'),
  content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, refusalPart]))]).nullish(),
  refusal: z.string().nullish(),
  tool_calls: z.array(toolCall).nullish(),
  /** The model's reasoning, written back for the OpenAI-compatible servers that need it (DeepSeek). */
  reasoning_content: z.unknown().optional(),
});
const toolMessage = z.object({
  role: z.literal('tool'),
  tool_call_id: z.string(),
  content: z.union([z.string(), z.array(textPart)]),
});
/** The deprecated `function` role: kept in the schema only to refuse it with a clear message. */
const functionMessage = z.object({
  role: z.literal('function'),
  name: z.string(),
  content: z.string().nullish(),
});

export const openAIMessage = z.discriminatedUnion('role', [
  systemMessage,
  userMessage,
  assistantMessage,
  toolMessage,
  functionMessage,
]);
export type OpenAIMessage = z.infer<typeof openAIMessage>;

const functionTool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string(),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});
/** Custom (free-form grammar) tools exist only on OpenAI: kept to refuse them by name. */
const customTool = z.object({ type: z.literal('custom'), custom: z.object({ name: z.string() }) });
export type OpenAIFunctionTool = z.infer<typeof functionTool>;

const namedFunction = z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) });
/** A custom tool named: `tool_choice` `{type: "custom", custom: {name}}`, or an allowed tool. */
const namedCustom = z.object({ type: z.literal('custom'), custom: z.object({ name: z.string() }) });
/**
 * `{type: "allowed_tools", allowed_tools: {mode, tools}}`: only the tools listed may be called,
 * `auto` (or answer in text) or `required` (one or more of them), while `tools` stays whole
 * (openai 7.x ChatCompletionAllowedToolChoice; the list holds function and custom tools by name).
 */
const allowedTools = z.object({
  type: z.literal('allowed_tools'),
  allowed_tools: z.object({
    mode: z.enum(['auto', 'required']),
    tools: z.array(z.discriminatedUnion('type', [namedFunction, namedCustom])),
  }),
});
const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.discriminatedUnion('type', [namedFunction, namedCustom, allowedTools]),
]);
export type OpenAIToolChoice = z.infer<typeof toolChoice>;
export type OpenAIAllowedToolsChoice = z.infer<typeof allowedTools>;

const responseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string(),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
    }),
  }),
]);
export type OpenAIResponseFormat = z.infer<typeof responseFormat>;

export const openAIChatRequest = z.object({
  model: z.string(),
  messages: z.array(openAIMessage),
  max_tokens: z.number().int().nullish(),
  max_completion_tokens: z.number().int().nullish(),
  temperature: z.number().nullish(),
  top_p: z.number().nullish(),
  n: z.number().int().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  tools: z.array(z.discriminatedUnion('type', [functionTool, customTool])).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: responseFormat.nullish(),
  presence_penalty: z.number().nullish(),
  frequency_penalty: z.number().nullish(),
  seed: z.number().int().nullish(),
  /** How much a reasoning model thinks (`none`, `minimal`, `low`, `medium`, `high`...); checked by the writer that maps it. */
  reasoning_effort: z.string().nullish(),
  user: z.string().nullish(),
  logprobs: z.boolean().nullish(),
  /** Most likely tokens to return at each position (0-20), with `logprobs: true`. */
  top_logprobs: z.number().int().nullish(),
  modalities: z.array(z.string()).nullish(),
  /** OpenAI's built-in web search: no translated provider is given one, so it is refused, not dropped. */
  web_search_options: z.unknown().optional(),
  /** Deprecated predecessors of tools and tool_choice: refused with a pointer to the new fields. */
  functions: z.array(z.unknown()).nullish(),
  function_call: z.unknown().optional(),
});
export type OpenAIChatRequest = z.infer<typeof openAIChatRequest>;

// --- usage ------------------------------------------------------------------------------

export const openAIUsage = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative().optional(),
  prompt_tokens_details: z.object({ cached_tokens: z.number().int().nonnegative().nullish() }).nullish(),
  /**
   * DeepSeek: the prompt tokens read from its context cache (part of prompt_tokens, billed at
   * the cache-hit rate), in place of prompt_tokens_details.cached_tokens.
   */
  prompt_cache_hit_tokens: z.number().int().nonnegative().nullish(),
  completion_tokens_details: z
    .object({ reasoning_tokens: z.number().int().nonnegative().nullish() })
    .nullish(),
  /** OpenRouter: what the request cost, in credits (USD); kept unchecked, read by usageFromOpenAI. */
  cost: z.unknown().optional(),
  /** OpenRouter: the request ran on the org's own provider key (BYOK); `cost` is then the fee alone. */
  is_byok: z.unknown().optional(),
  /** OpenRouter: `upstream_inference_cost`, the model's price (charged on a BYOK key); unchecked. */
  cost_details: z.unknown().optional(),
});
export type OpenAIUsage = z.infer<typeof openAIUsage>;

// --- response (upstream, parsed) --------------------------------------------------------

export const openAIFinishReason = z.enum(['stop', 'length', 'tool_calls', 'content_filter', 'function_call']);
export type OpenAIFinishReason = z.infer<typeof openAIFinishReason>;

/**
 * The finish reasons an upstream answer may give: OpenAI's, and those compatible vendors
 * document besides: DeepSeek's `insufficient_system_resource` ("the request is interrupted due
 * to insufficient resource of the inference system", api-docs.deepseek.com, Create Chat
 * Completion), OpenRouter's `error` (the model failed midway; openrouter.ai/docs/api-reference
 * /overview, Finish Reason; Mistral's too), Mistral's `model_length` (the answer reached the
 * model's context window; its API's ChatCompletionChoice.finish_reason) and Together's `eos`
 * (the model's end-of-sequence token; its API's finish_reason: stop, eos, length, tool_calls,
 * function_call). Read by `finishReasonFromOpenAI`; Kordon's own answers say OpenAI's.
 */
export const upstreamFinishReason = z.enum([
  ...openAIFinishReason.options,
  'insufficient_system_resource',
  'error',
  'model_length',
  'eos',
]);
export type UpstreamFinishReason = z.infer<typeof upstreamFinishReason>;

/**
 * An answer's content: text, or (Mistral's reasoning models: magistral-*, and others given
 * `reasoning_effort`) a list of chunks, `{type: "thinking", thinking: [{type: "text", text}]}`
 * and `{type: "text", text}` (docs.mistral.ai, ThinkChunk and TextChunk). Other chunk types
 * (Mistral's `reference`) are not text of the answer and are passed over.
 */
const answerContent = z.union([
  z.string(),
  z.array(
    z.object({
      type: z.string().optional(),
      text: z.unknown().optional(),
      thinking: z.unknown().optional(),
    }),
  ),
]);
type AnswerContent = z.infer<typeof answerContent>;

/** The text of chunks (a thinking chunk's own `thinking` list, or `text` chunks); type defaults to text. */
function chunkText(chunks: readonly unknown[], type: 'text' | 'thinking'): string | undefined {
  let text: string | undefined;
  for (const chunk of chunks) {
    if (typeof chunk !== 'object' || chunk === null) continue;
    const { type: kind = 'text', text: value, thinking } = chunk as Record<string, unknown>;
    if (kind !== type) continue;
    const part =
      type === 'text'
        ? typeof value === 'string'
          ? value
          : undefined
        : typeof thinking === 'string'
          ? thinking
          : Array.isArray(thinking)
            ? chunkText(thinking, 'text')
            : undefined;
    if (part !== undefined) text = (text ?? '') + part;
  }
  return text;
}

/** The answer text of a message's raw `content` (a string, or Mistral's chunks: their text ones). */
export function answerContentText(content: unknown): string {
  if (typeof content === 'string') return content;
  return Array.isArray(content) ? (chunkText(content, 'text') ?? '') : '';
}

/**
 * A message or delta whose content is a list of chunks read as the other vendors' fields: its
 * text chunks as `content`, its thinking as `reasoning_content` (DeepSeek's name for the
 * reasoning), unless that field already holds text. Text content passes untouched.
 */
function withChunkedContent<T extends { content?: AnswerContent | null; reasoning_content?: unknown }>(
  message: T,
): Omit<T, 'content'> & { content?: string | null } {
  const { content } = message;
  if (!Array.isArray(content)) return message as Omit<T, 'content'> & { content?: string | null };
  const thinking = chunkText(content, 'thinking');
  const keepsReasoning = typeof message.reasoning_content === 'string' && message.reasoning_content !== '';
  return {
    ...message,
    content: chunkText(content, 'text') ?? null,
    ...(thinking !== undefined && !keepsReasoning ? { reasoning_content: thinking } : {}),
  };
}

export const openAIChatCompletion = z.object({
  id: z.string(),
  created: z.number().int().optional(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      message: z
        .object({
          content: answerContent.nullish(),
          refusal: z.string().nullish(),
          tool_calls: z.array(toolCall).nullish(),
          // The model's reasoning: DeepSeek and vLLM name it `reasoning_content`, OpenRouter `reasoning`.
          reasoning_content: z.unknown().optional(),
          reasoning: z.unknown().optional(),
        })
        .transform(withChunkedContent),
      finish_reason: upstreamFinishReason.nullish(),
    }),
  ),
  usage: openAIUsage.nullish(),
});
export type OpenAIChatCompletion = z.infer<typeof openAIChatCompletion>;

// --- stream chunk (upstream, parsed) ----------------------------------------------------

const toolCallDelta = z.object({
  // Gemini's OpenAI-compatible endpoint numbers no call (the parser tells them apart by id).
  index: z.number().int().nullish(),
  id: z.string().nullish(),
  function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
});

export const openAIChatChunk = z.object({
  id: z.string(),
  model: z.string(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      delta: z
        .object({
          content: answerContent.nullish(),
          refusal: z.string().nullish(),
          tool_calls: z.array(toolCallDelta).nullish(),
          // The model's reasoning, billed as output: DeepSeek and vLLM name it `reasoning_content`,
          // OpenRouter `reasoning`. Counted when text; another shape is no reason to refuse a chunk.
          reasoning_content: z.unknown().optional(),
          reasoning: z.unknown().optional(),
        })
        .transform(withChunkedContent)
        .nullish(),
      finish_reason: upstreamFinishReason.nullish(),
    }),
  ),
  usage: openAIUsage.nullish(),
});
export type OpenAIChatChunk = z.infer<typeof openAIChatChunk>;

/**
 * What OpenAI (and OpenAI-compatible vendors) send as `data:` when a stream fails midway.
 * OpenAI's `code` is a string; vLLM and OpenRouter put the HTTP status there as a number.
 */
export const openAIStreamError = z.object({
  error: z.object({
    message: z.string(),
    type: z.string().nullish(),
    code: z.union([z.string(), z.number()]).nullish(),
  }),
});

// --- what the translators emit ----------------------------------------------------------

export interface OpenAIUsageOut {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
  /** Only when the provider reported reasoning separately. */
  completion_tokens_details?: { reasoning_tokens: number };
}

export interface OpenAIToolCallOut {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface OpenAIChatCompletionOut {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: {
    index: number;
    message: {
      role: 'assistant';
      content: string | null;
      refusal: null;
      tool_calls?: OpenAIToolCallOut[];
    };
    logprobs: OpenAIChoiceLogprobsOut | null;
    finish_reason: OpenAIFinishReason;
  }[];
  usage?: OpenAIUsageOut;
}

/** A choice's `logprobs`: each token of the answer, with the most likely alternatives asked for. */
export interface OpenAIChoiceLogprobsOut {
  content: OpenAITokenLogprobOut[];
  refusal: null;
}

export interface OpenAITokenLogprobOut {
  token: string;
  logprob: number;
  /** The token's UTF-8 bytes; null where the provider gives only its text (Gemini). */
  bytes: null;
  top_logprobs: { token: string; logprob: number; bytes: null }[];
}

export interface OpenAIToolCallDeltaOut {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

export interface OpenAIChunkChoiceOut {
  index: number;
  /** `content: null` only in a role chunk: the answer opens with a tool call, not text. */
  delta: { role?: 'assistant'; content?: string | null; tool_calls?: OpenAIToolCallDeltaOut[] };
  logprobs: null;
  finish_reason: OpenAIFinishReason | null;
}

export interface OpenAIChatChunkOut {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: OpenAIChunkChoiceOut[];
  /** Present (null until the last chunk) only when the client asked for include_usage. */
  usage?: OpenAIUsageOut | null;
}
