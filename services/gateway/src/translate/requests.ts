/**
 * Request translation between dialects. Each goes through the neutral form, so that every
 * pair shares one parser per client dialect and one writer per provider dialect.
 * All throw TranslationError (naming the caller's field) for what the target cannot express.
 */
import type { AnthropicMessagesRequest } from './anthropic-messages-types.js';
import { neutralFromAnthropicRequest } from './anthropic-request-to-neutral.js';
import type { GeminiGenerateContentRequest } from './gemini-types.js';
import { type AnthropicRequestOptions, anthropicRequestFromNeutral } from './neutral-to-anthropic-request.js';
import { type GeminiRequestOptions, geminiRequestFromNeutral } from './neutral-to-gemini-request.js';
import { type OpenAIRequestOptions, openAIRequestFromNeutral } from './neutral-to-openai-request.js';
import type { OpenAIChatRequest } from './openai-chat-types.js';
import { neutralFromOpenAIRequest } from './openai-request-to-neutral.js';
import { toolNamesSent } from './tool-names.js';

/** An OpenAI-SDK caller asking a Claude model. */
export function openAIToAnthropicRequest(
  request: OpenAIChatRequest,
  options?: AnthropicRequestOptions,
): AnthropicMessagesRequest {
  return anthropicRequestFromNeutral(neutralFromOpenAIRequest(request), options);
}

/** An Anthropic-SDK caller asking a GPT (or OpenAI-compatible) model. */
export function anthropicToOpenAIRequest(
  request: AnthropicMessagesRequest,
  options?: OpenAIRequestOptions,
): OpenAIChatRequest {
  return openAIRequestFromNeutral(neutralFromAnthropicRequest(request), options);
}

/**
 * The tool names an Anthropic-SDK caller's request goes to a GPT or Gemini model with in place of
 * its own (longer than the 64 characters both take), to the caller's: the answer's calls are
 * named back by it (`toolNames` of the response context and the stream options).
 */
export function anthropicToolNamesSent(request: AnthropicMessagesRequest): ReadonlyMap<string, string> {
  return toolNamesSent(neutralFromAnthropicRequest(request));
}

/** An OpenAI-SDK caller asking a Gemini model. */
export function openAIToGeminiRequest(
  request: OpenAIChatRequest,
  options?: GeminiRequestOptions,
): GeminiGenerateContentRequest {
  return geminiRequestFromNeutral(neutralFromOpenAIRequest(request), options);
}

/** An Anthropic-SDK caller asking a Gemini model (top_k is kept: Gemini has topK). */
export function anthropicToGeminiRequest(
  request: AnthropicMessagesRequest,
  options?: GeminiRequestOptions,
): GeminiGenerateContentRequest {
  return geminiRequestFromNeutral(neutralFromAnthropicRequest(request), options);
}
