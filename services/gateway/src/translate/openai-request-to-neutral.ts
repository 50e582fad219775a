/** Parses an OpenAI Chat Completions request into the neutral form. */
import { isHttpUrl, parseBase64DataUrl } from './data-url.js';
import { parseToolCallArguments } from './json-object.js';
import {
  type AssistantPart,
  appendAssistantParts,
  appendUserParts,
  type MediaSource,
  type NeutralChatRequest,
  type NeutralMessage,
  type NeutralResponseFormat,
  type NeutralTool,
  type UserPart,
} from './neutral-request.js';
import type {
  OpenAIChatRequest,
  OpenAIMessage,
  OpenAIResponseFormat,
  OpenAITextPart,
  OpenAIUserContentPart,
} from './openai-chat-types.js';
import { openAIToolChoice } from './openai-tool-choice.js';
import { TranslationError } from './translation-error.js';

export function neutralFromOpenAIRequest(request: OpenAIChatRequest): NeutralChatRequest {
  refuseLegacyFunctions(request);
  const system: string[] = [];
  const messages: NeutralMessage[] = [];
  request.messages.forEach((message, index) => {
    addMessage(message, `messages[${index}]`, system, messages);
  });
  const neutral: NeutralChatRequest = {
    model: request.model,
    system,
    messages,
    stream: request.stream === true,
    tools: tools(request),
  };
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens != null) neutral.maxTokens = maxTokens;
  if (request.temperature != null) neutral.temperature = request.temperature;
  if (request.top_p != null) neutral.topP = request.top_p;
  if (request.stop != null) {
    neutral.stop = typeof request.stop === 'string' ? [request.stop] : request.stop;
    neutral.stopParam = 'stop';
  }
  if (request.tool_choice != null)
    neutral.toolChoice = openAIToolChoice(
      request.tool_choice,
      neutral.tools.map((tool) => tool.name),
      'this model',
    );
  if (request.parallel_tool_calls != null) neutral.parallelToolCalls = request.parallel_tool_calls;
  const format = responseFormat(request.response_format);
  if (format) neutral.responseFormat = format;
  if (request.user != null) neutral.user = request.user;
  if (request.n != null) neutral.n = request.n;
  if (request.logprobs != null) neutral.logprobs = request.logprobs;
  if (request.top_logprobs != null) neutral.topLogprobs = request.top_logprobs;
  if (request.modalities?.includes('audio')) neutral.audioOutput = true;
  if (request.presence_penalty != null) neutral.presencePenalty = request.presence_penalty;
  if (request.frequency_penalty != null) neutral.frequencyPenalty = request.frequency_penalty;
  if (request.seed != null) neutral.seed = request.seed;
  if (request.reasoning_effort != null) neutral.reasoningEffort = request.reasoning_effort;
  return neutral;
}

function refuseLegacyFunctions(request: OpenAIChatRequest): void {
  // Dropped, the answer would be written without the search the caller asked for.
  if (request.web_search_options != null)
    throw new TranslationError(
      'unsupported_parameter',
      'web_search_options',
      '`web_search_options` (OpenAI web search) cannot be translated for this model; search before the request and send the results as text.',
    );
  if (request.functions != null)
    throw new TranslationError(
      'unsupported_parameter',
      'functions',
      '`functions` is deprecated and cannot be translated for this model; use `tools`.',
    );
  if (request.function_call != null)
    throw new TranslationError(
      'unsupported_parameter',
      'function_call',
      '`function_call` is deprecated and cannot be translated for this model; use `tool_choice`.',
    );
}

function addMessage(
  message: OpenAIMessage,
  path: string,
  system: string[],
  messages: NeutralMessage[],
): void {
  switch (message.role) {
    case 'system':
    case 'developer': {
      const text = typeof message.content === 'string' ? message.content : joinText(message.content);
      // Whitespace alone says nothing, and Claude refuses it as a text block (below).
      if (text.trim() !== '') system.push(text);
      return;
    }
    case 'user':
      appendUserParts(messages, userParts(message.content, `${path}.content`));
      return;
    case 'assistant':
      appendAssistantParts(messages, assistantParts(message, path));
      return;
    case 'tool':
      appendUserParts(messages, [
        {
          type: 'tool-result',
          toolCallId: message.tool_call_id,
          content: userTexts(
            typeof message.content === 'string' ? [message.content] : message.content.map((p) => p.text),
          ),
          isError: false,
          path: `${path}.tool_call_id`,
        },
      ]);
      return;
    case 'function':
      throw new TranslationError(
        'unsupported_value',
        `${path}.role`,
        'The deprecated `function` role cannot be translated for this model; use `tool` messages with `tool_call_id`.',
      );
    default: {
      const unknown: never = message;
      throw new Error(`unhandled message ${JSON.stringify(unknown)}`);
    }
  }
}

function joinText(parts: readonly OpenAITextPart[]): string {
  return parts.map((part) => part.text).join('');
}

/** Empty texts are dropped: Anthropic refuses empty text blocks and they carry no meaning. */
function textParts(texts: readonly string[]): { type: 'text'; text: string }[] {
  return texts.filter((text) => text !== '').map((text) => ({ type: 'text', text }));
}

/**
 * A user's or tool's text of whitespace only (`" "`, a chat UI's `"\n"`) is dropped, as an
 * assistant's is:
 * Claude refuses it as a text block (400 "text content blocks must contain non-whitespace text"),
 * which OpenAI takes, and it says nothing to any model.
 */
function userTexts(texts: readonly string[]): { type: 'text'; text: string }[] {
  return textParts(texts.filter((text) => text.trim() !== ''));
}

function userParts(content: string | OpenAIUserContentPart[], path: string): UserPart[] {
  if (typeof content === 'string') return userTexts([content]);
  return content.flatMap((part, index) => userPart(part, `${path}[${index}]`));
}

function userPart(part: OpenAIUserContentPart, path: string): UserPart[] {
  switch (part.type) {
    case 'text':
      return userTexts([part.text]);
    case 'image_url':
      return [
        {
          type: 'image',
          source: mediaSource(part.image_url.url, `${path}.image_url.url`),
          path: `${path}.image_url.url`,
        },
      ];
    case 'input_audio':
      return [{ type: 'audio', format: part.input_audio.format, data: part.input_audio.data, path }];
    case 'file': {
      const fileData = part.file.file_data;
      if (fileData === undefined)
        throw new TranslationError(
          'unsupported_value',
          `${path}.file.file_id`,
          'A `file_id` refers to a file stored at OpenAI and cannot be sent to this model; send the file inline as `file_data`.',
        );
      const source = mediaSource(fileData, `${path}.file.file_data`);
      return [
        {
          type: 'file',
          source,
          ...(part.file.filename ? { filename: part.file.filename } : {}),
          path: `${path}.file.file_data`,
        },
      ];
    }
    default: {
      const unknown: never = part;
      throw new Error(`unhandled content part ${JSON.stringify(unknown)}`);
    }
  }
}

function mediaSource(url: string, path: string): MediaSource {
  const inline = parseBase64DataUrl(url);
  if (inline) return { kind: 'base64', mediaType: inline.mediaType, data: inline.data };
  if (isHttpUrl(url)) return { kind: 'url', url };
  throw new TranslationError(
    'invalid_value',
    path,
    'Expected an http(s) URL or a base64 data: URL (data:<media type>;base64,<data>).',
  );
}

function assistantParts(
  message: Extract<OpenAIMessage, { role: 'assistant' }>,
  path: string,
): AssistantPart[] {
  const texts =
    typeof message.content === 'string'
      ? [message.content]
      : (message.content ?? []).map((part) => (part.type === 'text' ? part.text : part.refusal));
  if (message.refusal) texts.push(message.refusal);
  // Models often write "\n\n" before their calls; Claude refuses a whitespace-only text block (400
  // "text content blocks must contain non-whitespace text"), and it says nothing: dropped.
  const parts: AssistantPart[] = textParts(texts.filter((text) => text.trim() !== ''));
  (message.tool_calls ?? []).forEach((call, index) => {
    const argumentsPath = `${path}.tool_calls[${index}].function.arguments`;
    const input = parseToolCallArguments(call.function.arguments, argumentsPath);
    if (!input)
      throw new TranslationError(
        'invalid_value',
        argumentsPath,
        'Tool call arguments must be a JSON object.',
      );
    parts.push({ type: 'tool-call', id: call.id, name: call.function.name, input });
  });
  return parts;
}

function tools(request: OpenAIChatRequest): NeutralTool[] {
  return (request.tools ?? []).map((tool, index) => {
    if (tool.type !== 'function')
      throw new TranslationError(
        'unsupported_value',
        `tools[${index}].type`,
        `Tools of type \`${tool.type}\` exist only at OpenAI; only \`function\` tools can be translated for this model.`,
      );
    const { name, description, parameters, strict } = tool.function;
    return {
      name,
      ...(description !== undefined ? { description } : {}),
      ...(parameters !== undefined ? { parameters } : {}),
      ...(strict != null ? { strict } : {}),
    };
  });
}

function responseFormat(format: OpenAIResponseFormat | null | undefined): NeutralResponseFormat | undefined {
  switch (format?.type) {
    case undefined:
    case 'text':
      return undefined;
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema': {
      const { name, description, schema, strict } = format.json_schema;
      return {
        type: 'json_schema',
        name,
        ...(description !== undefined ? { description } : {}),
        ...(schema !== undefined ? { schema } : {}),
        ...(strict != null ? { strict } : {}),
      };
    }
    default: {
      const unknown: never = format;
      throw new Error(`unhandled response_format ${JSON.stringify(unknown)}`);
    }
  }
}
