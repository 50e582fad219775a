/**
 * Pieces the small mappers of YandexGPT and GigaChat share: both take an OpenAI Chat
 * Completions request (the adapter's dialect) and give OpenAI answers and chunks back.
 */
import { randomUUID } from 'node:crypto';
import {
  type OpenAIChatChunkOut,
  type OpenAIChatRequest,
  openAIChatRequest,
  TranslationError,
} from '../translate/index.js';
import type { OpenAIMessage } from '../translate/openai-chat-types.js';

/** The request, validated against the OpenAI schema, or a TranslationError naming the field. */
export function parseOpenAIChat(body: unknown, provider: string): OpenAIChatRequest {
  const parsed = openAIChatRequest.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = issue ? issue.path.map(String).join('.') : '';
  throw new TranslationError('invalid_value', param, `${provider}: ${issue?.message ?? 'invalid request'}`);
}

/** Fields these providers have no counterpart for that would change the answer: refused, not dropped. */
export function refuseUnsupported(request: OpenAIChatRequest, provider: string): void {
  if (request.n !== undefined && request.n !== null && request.n > 1) {
    throw new TranslationError(
      'unsupported_value',
      'n',
      `${provider} returns one choice; n > 1 is not supported`,
    );
  }
  if (request.logprobs)
    throw new TranslationError('unsupported_parameter', 'logprobs', `${provider} has no logprobs`);
  if (request.modalities?.includes('audio')) {
    throw new TranslationError('unsupported_value', 'modalities', `${provider} does not produce audio`);
  }
  if (request.functions || request.function_call !== undefined) {
    throw new TranslationError(
      'unsupported_parameter',
      request.functions ? 'functions' : 'function_call',
      'functions and function_call are deprecated; use tools and tool_choice',
    );
  }
}

type Content =
  | Extract<OpenAIMessage, { role: 'user' }>['content']
  | Extract<OpenAIMessage, { role: 'assistant' }>['content'];

/** The text of a message's content; parts other than text (and refusal) are refused. */
export function contentText(content: Content, path: string, provider: string): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part, index) => {
      if (part.type === 'text') return part.text;
      if (part.type === 'refusal') return part.refusal;
      throw new TranslationError(
        'unsupported_value',
        `${path}[${index}]`,
        `${provider} accepts text content only`,
      );
    })
    .join('\n');
}

/** Tool names by call id, from the assistant turns of the history. */
export function toolNamesById(messages: readonly OpenAIMessage[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const message of messages) {
    if (message.role !== 'assistant') continue;
    for (const call of message.tool_calls ?? []) names.set(call.id, call.function.name);
  }
  return names;
}

/** An id for an answer the provider gave none for. */
export function completionId(prefix: string): string {
  return `chatcmpl-${prefix}-${randomUUID().replaceAll('-', '')}`;
}

/** The envelope every mapped chunk shares. */
export function chunkOf(
  base: { id: string; created: number; model: string },
  choices: OpenAIChatChunkOut['choices'],
): OpenAIChatChunkOut {
  return { id: base.id, object: 'chat.completion.chunk', created: base.created, model: base.model, choices };
}
