/**
 * Stream translators for each direction a caller and a provider can differ in. Each takes
 * the provider's parsed events and returns the caller's: OpenAI chunks (the edge writes
 * `data: <json>` for each, then `data: [DONE]` only if `finished`) or Anthropic events
 * (`event: <type>` + `data: <json>`; message_stop comes only with a clean end).
 */
import type { AnthropicStreamEventOut } from './anthropic-messages-types.js';
import { AnthropicStreamEmitter, type AnthropicStreamOptions } from './anthropic-stream-emitter.js';
import { AnthropicStreamParser } from './anthropic-stream-parser.js';
import { type GeminiStreamOptions, GeminiStreamParser } from './gemini-stream-parser.js';
import type { OpenAIChatChunkOut } from './openai-chat-types.js';
import { OpenAIStreamEmitter, type OpenAIStreamOptions } from './openai-stream-emitter.js';
import { OpenAIStreamParser, type OpenAIStreamParserOptions } from './openai-stream-parser.js';
import { StreamTranslator, type StreamTranslatorOptions } from './stream-translator.js';

export type OpenAIClientStreamOptions = OpenAIStreamOptions & StreamTranslatorOptions;
export type AnthropicClientStreamOptions = AnthropicStreamOptions & StreamTranslatorOptions;

/** Claude answering an OpenAI-SDK caller. */
export function anthropicToOpenAIStream(
  options: OpenAIClientStreamOptions,
): StreamTranslator<OpenAIChatChunkOut> {
  return new StreamTranslator(new AnthropicStreamParser(), new OpenAIStreamEmitter(options), options);
}

/** A GPT (or OpenAI-compatible) model answering an Anthropic-SDK caller. Ask upstream for include_usage. */
export function openAIToAnthropicStream(
  options: AnthropicClientStreamOptions & OpenAIStreamParserOptions = {},
): StreamTranslator<AnthropicStreamEventOut> {
  return new StreamTranslator(
    new OpenAIStreamParser(options),
    new AnthropicStreamEmitter({ ...options, thinkingBlocks: true }),
    options,
  );
}

/** Gemini answering an OpenAI-SDK caller. */
export function geminiToOpenAIStream(
  options: OpenAIClientStreamOptions & GeminiStreamOptions,
): StreamTranslator<OpenAIChatChunkOut> {
  return new StreamTranslator(new GeminiStreamParser(options), new OpenAIStreamEmitter(options), options);
}

/** Gemini answering an Anthropic-SDK caller. */
export function geminiToAnthropicStream(
  options: AnthropicClientStreamOptions & GeminiStreamOptions,
): StreamTranslator<AnthropicStreamEventOut> {
  return new StreamTranslator(new GeminiStreamParser(options), new AnthropicStreamEmitter(options), options);
}
