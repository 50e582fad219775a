/**
 * Dialect translation for the data plane: pure functions for requests and finished answers,
 * stream translators for streamed answers. No I/O: the edge validates bodies with the
 * schemas exported here, calls these, and writes the results.
 */
export {
  type AnthropicMessageOut,
  type AnthropicMessageResponse,
  type AnthropicMessagesRequest,
  type AnthropicStreamEventOut,
  anthropicMessageResponse,
  anthropicMessagesRequest,
  anthropicUsage,
  FOREIGN_REASONING_SIGNATURE,
} from './anthropic-messages-types.js';
export type { GeminiStreamOptions } from './gemini-stream-parser.js';
export {
  type GeminiGenerateContentRequest,
  type GeminiGenerateContentResponse,
  geminiGenerateContentResponse,
} from './gemini-types.js';
export type { ResponseContext } from './neutral-response.js';
export {
  type AnthropicRequestOptions,
  DEFAULT_ANTHROPIC_MAX_TOKENS,
} from './neutral-to-anthropic-request.js';
export { FOREIGN_THOUGHT_SIGNATURE, type GeminiRequestOptions } from './neutral-to-gemini-request.js';
export { type OpenAIRequestOptions, TOOL_ERROR_PREFIX } from './neutral-to-openai-request.js';
export {
  answerContentText,
  type OpenAIChatChunkOut,
  type OpenAIChatCompletion,
  type OpenAIChatCompletionOut,
  type OpenAIChatRequest,
  openAIChatCompletion,
  openAIChatRequest,
  openAIUsage,
} from './openai-chat-types.js';
export { OPENAI_DONE } from './openai-stream-parser.js';
export {
  anthropicToGeminiRequest,
  anthropicToOpenAIRequest,
  anthropicToolNamesSent,
  maxOutputTokensIn,
  openAIToAnthropicRequest,
  openAIToGeminiRequest,
} from './requests.js';
export {
  anthropicToOpenAIResponse,
  type GeminiResponseContext,
  geminiToAnthropicResponse,
  geminiToOpenAIResponse,
  openAIToAnthropicResponse,
} from './responses.js';
export type { StreamFailure } from './stream-parts.js';
export {
  type StreamFacts,
  StreamTranslator,
  type StreamTranslatorOptions,
  UsageReport,
} from './stream-translator.js';
export {
  type AnthropicClientStreamOptions,
  anthropicToOpenAIStream,
  geminiToAnthropicStream,
  geminiToOpenAIStream,
  type OpenAIClientStreamOptions,
  openAIToAnthropicStream,
} from './streams.js';
export {
  type AnthropicErrorDetails,
  TranslationError,
  type TranslationErrorCode,
} from './translation-error.js';
export {
  anthropicUsageOf,
  type NormalisedUsage,
  openAIUsageOf,
  usageFromAnthropic,
  usageFromGemini,
  usageFromOpenAI,
} from './usage.js';
