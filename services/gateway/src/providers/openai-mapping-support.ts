/**
 * Pieces the small mappers of YandexGPT and GigaChat share: both take an OpenAI Chat
 * Completions request (the adapter's dialect) and give OpenAI answers and chunks back.
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import {
  type OpenAIChatChunkOut,
  type OpenAIChatCompletionOut,
  type OpenAIChatRequest,
  openAIChatRequest,
  TranslationError,
} from '../translate/index.js';
import { parseToolCallArguments } from '../translate/json-object.js';
import type { OpenAIMessage } from '../translate/openai-chat-types.js';
import { UpstreamError } from '../upstream/upstream-error.js';

/** The request, validated against the OpenAI schema, or a TranslationError naming the field. */
export function parseOpenAIChat(body: unknown, provider: string): OpenAIChatRequest {
  const parsed = openAIChatRequest.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = issue ? issue.path.map(String).join('.') : '';
  throw new TranslationError('invalid_value', param, `${provider}: ${issue?.message ?? 'invalid request'}`);
}

/**
 * Fields these providers have no counterpart for that would change the answer: refused, not
 * dropped, naming the caller's field (`callerDialect`: the dialect the body was translated from).
 */
export function refuseUnsupported(
  request: OpenAIChatRequest,
  provider: string,
  callerDialect: 'openai' | 'anthropic' = 'openai',
): void {
  if (request.n !== undefined && request.n !== null && request.n > 1) {
    throw new TranslationError(
      'unsupported_value',
      'n',
      `${provider} returns one choice; n > 1 is not supported`,
    );
  }
  if (request.logprobs)
    throw new TranslationError('unsupported_parameter', 'logprobs', `${provider} has no logprobs`);
  // Neither API has a stop field: dropped, the answer would run past the caller's stop sequence.
  const stops = typeof request.stop === 'string' ? [request.stop] : (request.stop ?? []);
  if (stops.length > 0) {
    const param = callerDialect === 'anthropic' ? 'stop_sequences' : 'stop';
    throw new TranslationError(
      'unsupported_parameter',
      param,
      `${provider} has no stop sequences; ${param} cannot be honoured`,
    );
  }
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

/** The request's tools as plain function declarations; tools of any other type are refused. */
export function functionTools(
  request: OpenAIChatRequest,
  provider: string,
): { name: string; description?: string; parameters?: Record<string, unknown> }[] {
  return (request.tools ?? []).map((tool, index) => {
    if (tool.type !== 'function') {
      throw new TranslationError(
        'unsupported_value',
        `tools[${index}]`,
        `${provider} supports function tools only`,
      );
    }
    const { name, description, parameters } = tool.function;
    return { name, ...(description ? { description } : {}), ...(parameters ? { parameters } : {}) };
  });
}

/** A tool call's arguments as the object these providers want; `path` names the call. */
export function toolCallArguments(text: string, path: string): Record<string, unknown> {
  const argumentsPath = `${path}.function.arguments`;
  const args = parseToolCallArguments(text, argumentsPath);
  if (!args)
    throw new TranslationError('invalid_value', argumentsPath, 'tool arguments must be a JSON object');
  return args;
}

/** The name of the tool a tool message answers, looked up in `names` (see toolNamesById). */
export function toolNameFor(names: ReadonlyMap<string, string>, toolCallId: string, path: string): string {
  const name = names.get(toolCallId);
  if (name === undefined) {
    throw new TranslationError('invalid_value', `${path}.tool_call_id`, 'no earlier tool call has this id');
  }
  return name;
}

/**
 * The error for a message no role case took: the deprecated `function` role, or one unknown
 * (typed out, so a new role fails to compile where a mapper does not handle it).
 */
export function unsupportedRole(
  message: Extract<OpenAIMessage, { role: 'function' }>,
  path: string,
): TranslationError {
  const role: string = message.role;
  if (role === 'function') {
    return new TranslationError(
      'unsupported_value',
      `${path}.role`,
      'the function role is deprecated; use tool',
    );
  }
  return new TranslationError('unsupported_value', `${path}.role`, `unknown role ${JSON.stringify(message)}`);
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

/** A provider's answer, validated against its schema, or an UpstreamError naming the issue. */
export function parseAnswer<T>(schema: z.ZodType<T>, body: unknown, provider: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw new UpstreamError(
    'upstream_invalid_response',
    `${provider} answer: ${parsed.error.issues[0]?.message}`,
    {
      phase: 'body',
    },
  );
}

type CompletionChoice = OpenAIChatCompletionOut['choices'][number];

/** One choice of a mapped answer: no content (rather than empty) beside tool calls. */
export function completionChoice(
  index: number,
  content: string,
  toolCalls: NonNullable<CompletionChoice['message']['tool_calls']>,
  finishReason: CompletionChoice['finish_reason'],
): CompletionChoice {
  return {
    index,
    message: {
      role: 'assistant',
      content: toolCalls.length > 0 && content === '' ? null : content,
      refusal: null,
      ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
    },
    logprobs: null,
    finish_reason: finishReason,
  };
}
