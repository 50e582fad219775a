/**
 * Translation of finished (non-streamed) answers from the provider's dialect into the
 * caller's. Inputs are provider bodies already validated with the dialect's schema.
 */
import type { AnthropicMessageOut, AnthropicMessageResponse } from './anthropic-messages-types.js';
import { neutralFromAnthropicResponse } from './anthropic-response-to-neutral.js';
import { neutralFromGeminiResponse } from './gemini-response-to-neutral.js';
import type { GeminiGenerateContentResponse } from './gemini-types.js';
import type { ResponseContext } from './neutral-response.js';
import { anthropicResponseFromNeutral } from './neutral-to-anthropic-response.js';
import { openAIResponseFromNeutral } from './neutral-to-openai-response.js';
import type { OpenAIChatCompletion, OpenAIChatCompletionOut } from './openai-chat-types.js';
import { neutralFromOpenAIResponse } from './openai-response-to-neutral.js';

/** Gemini answers may lack an id and a model version; these stand in. */
export interface GeminiResponseContext extends ResponseContext {
  /** Id of the answer when Gemini gives no responseId (the gateway's request id, say). */
  fallbackId: string;
  /** The model the request was sent to, when Gemini gives no modelVersion. */
  requestedModel: string;
}

export function anthropicToOpenAIResponse(
  message: AnthropicMessageResponse,
  context: ResponseContext,
): OpenAIChatCompletionOut {
  return openAIResponseFromNeutral(neutralFromAnthropicResponse(message), context);
}

export function openAIToAnthropicResponse(
  completion: OpenAIChatCompletion,
  context: Omit<ResponseContext, 'created'> = {},
): AnthropicMessageOut {
  return anthropicResponseFromNeutral(neutralFromOpenAIResponse(completion), context);
}

export function geminiToOpenAIResponse(
  response: GeminiGenerateContentResponse,
  context: GeminiResponseContext,
): OpenAIChatCompletionOut {
  const neutral = neutralFromGeminiResponse(response, {
    id: context.fallbackId,
    model: context.requestedModel,
  });
  return openAIResponseFromNeutral(neutral, context);
}

export function geminiToAnthropicResponse(
  response: GeminiGenerateContentResponse,
  context: Omit<GeminiResponseContext, 'created'>,
): AnthropicMessageOut {
  const neutral = neutralFromGeminiResponse(response, {
    id: context.fallbackId,
    model: context.requestedModel,
  });
  return anthropicResponseFromNeutral(neutral, context);
}
