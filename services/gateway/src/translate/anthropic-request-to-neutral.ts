/** Parses an Anthropic Messages request into the neutral form. */
import { isDeepStrictEqual } from 'node:util';
import type {
  AnthropicContentBlock,
  AnthropicDocumentBlock,
  AnthropicImageBlock,
  AnthropicMessagesRequest,
  AnthropicSearchResultBlock,
  AnthropicTool,
  AnthropicToolChoice,
  AnthropicToolResultBlock,
} from './anthropic-messages-types.js';
import { FOREIGN_REASONING_SIGNATURE } from './anthropic-messages-types.js';
import { refuseForcedChoiceWithoutTools, refuseUndeclaredToolChoice } from './named-tool-choice.js';
import {
  type AssistantPart,
  appendAssistantParts,
  appendUserParts,
  type FilePart,
  type ImagePart,
  type MediaSource,
  type NeutralChatRequest,
  type NeutralMessage,
  type NeutralTool,
  type NeutralToolChoice,
  type TextPart,
  type UserPart,
} from './neutral-request.js';
import { TranslationError } from './translation-error.js';

export function neutralFromAnthropicRequest(request: AnthropicMessagesRequest): NeutralChatRequest {
  // Features Anthropic runs for the request: dropped, the model would answer without them and
  // the caller could not tell (an agent's MCP tools silently missing).
  for (const field of ['mcp_servers', 'container'] as const) {
    if (request[field] != null)
      throw new TranslationError(
        'unsupported_value',
        field,
        `\`${field}\` is run by Anthropic for Claude models only; this model is served by another provider.`,
      );
  }
  // A thread's turns carry only their new messages, the rest held by Anthropic: another model
  // would answer the last tool result alone. Refused as Claude refuses a request it cannot
  // thread, which the Anthropic SDK's tool runner (threaded by default) answers by sending the
  // full conversation without `thread`.
  if (request.thread != null)
    throw new TranslationError(
      'unsupported_value',
      'thread',
      '`thread` (a conversation Anthropic holds between turns) is kept by Anthropic for Claude models only; ' +
        'this model is served by another provider. Send the full conversation without `thread`.',
      { anthropicDetails: { error_code: 'thread_unsupported_request' } },
    );
  const messages: NeutralMessage[] = [];
  request.messages.forEach((message, index) => {
    const path = `messages[${index}].content`;
    const blocks: AnthropicContentBlock[] =
      typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content;
    if (message.role === 'user')
      appendUserParts(
        messages,
        blocks.flatMap((block, i) => userPart(block, `${path}[${i}]`)),
      );
    else {
      appendAssistantParts(
        messages,
        blocks.flatMap((block, i) => assistantPart(block, `${path}[${i}]`)),
      );
      const reasoning = foreignReasoning(blocks);
      const last = messages.at(-1);
      if (reasoning !== '' && last?.role === 'assistant') last.reasoning = (last.reasoning ?? '') + reasoning;
    }
  });
  const neutral: NeutralChatRequest = {
    model: request.model,
    system: systemTexts(request.system),
    messages,
    stream: request.stream === true,
    maxTokens: request.max_tokens,
    tools: (request.tools ?? []).map(tool),
  };
  if (request.temperature !== undefined) neutral.temperature = request.temperature;
  if (request.top_p !== undefined) neutral.topP = request.top_p;
  if (request.top_k !== undefined) neutral.topK = request.top_k;
  if (request.stop_sequences !== undefined && request.stop_sequences.length > 0) {
    neutral.stop = request.stop_sequences;
    neutral.stopParam = 'stop_sequences';
  }
  if (request.tool_choice !== undefined) {
    neutral.toolChoice = toolChoice(
      request.tool_choice,
      neutral.tools.map((t) => t.name),
    );
    if (
      'disable_parallel_tool_use' in request.tool_choice &&
      request.tool_choice.disable_parallel_tool_use === true
    )
      neutral.parallelToolCalls = false;
  }
  const userId = request.metadata?.user_id;
  if (userId != null) neutral.user = userId;
  if (request.thinking != null) {
    const { type, budget_tokens } = request.thinking;
    neutral.thinking = { type, ...(budget_tokens !== undefined ? { budgetTokens: budget_tokens } : {}) };
  }
  const effort = request.output_config?.effort;
  if (effort != null) {
    if (!ANTHROPIC_EFFORTS.has(effort))
      throw new TranslationError(
        'invalid_value',
        'output_config.effort',
        `\`${effort}\` is not an effort; use low, medium, high, xhigh or max.`,
      );
    neutral.reasoningEffort = effort;
    neutral.reasoningEffortParam = 'output_config.effort';
  }
  const format = outputFormat(request);
  if (format) neutral.responseFormat = { type: 'json_schema', name: 'response', schema: format.schema };
  return neutral;
}

/**
 * `output_config.format`, or the deprecated `output_format` it replaced (which Anthropic still
 * takes, and SDKs before the move send). Both, saying different things: refused, naming the old
 * field, rather than one silently winning.
 */
function outputFormat(request: AnthropicMessagesRequest) {
  const format = request.output_config?.format;
  const deprecated = request.output_format;
  if (format && deprecated && !isDeepStrictEqual(format, deprecated))
    throw new TranslationError(
      'invalid_value',
      'output_format',
      '`output_format` and `output_config.format` differ; send only `output_config.format` (output_format is deprecated).',
    );
  return format ?? deprecated;
}

/**
 * Claude's effort levels (`output_config.effort`; @anthropic-ai/sdk 1.14 OutputConfig): how
 * much the model spends, its reasoning included, which the writers give as the target's
 * reasoning effort (reasoning is billed as output: kept, or refused naming the field).
 */
const ANTHROPIC_EFFORTS: ReadonlySet<string> = new Set(['low', 'medium', 'high', 'xhigh', 'max']);

function systemTexts(system: AnthropicMessagesRequest['system']): string[] {
  if (system === undefined) return [];
  const texts = typeof system === 'string' ? [system] : system.map((block) => block.text);
  return texts.filter((text) => text !== '');
}

function userPart(block: AnthropicContentBlock, path: string): UserPart[] {
  switch (block.type) {
    case 'text':
      return block.text === '' ? [] : [{ type: 'text', text: block.text }];
    case 'image':
      return [imagePart(block, path)];
    case 'document':
      return [documentPart(block, path)];
    case 'search_result':
      return [searchResultText(block)];
    case 'tool_result':
      return [toolResult(block, path)];
    case 'tool_use':
    case 'thinking':
    case 'redacted_thinking':
      throw new TranslationError(
        'invalid_value',
        `${path}.type`,
        `A \`${block.type}\` block belongs in an assistant turn.`,
      );
    default: {
      const unknown: never = block;
      throw new Error(`unhandled block ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * The text of the thinking blocks Kordon made from another model's reasoning (signed
 * FOREIGN_REASONING_SIGNATURE): what that model wrote, which it may take back (DeepSeek requires
 * it with tool calls). Blocks signed by Claude are Claude's reasoning, not the target model's,
 * and stay dropped: another model would read Claude's thoughts as its own.
 */
function foreignReasoning(blocks: readonly AnthropicContentBlock[]): string {
  return blocks
    .flatMap((block) =>
      block.type === 'thinking' && block.signature === FOREIGN_REASONING_SIGNATURE ? [block.thinking] : [],
    )
    .join('');
}

/** Thinking blocks are not parts: Claude's are signed for Claude, another model's go as `reasoning`. */
function assistantPart(block: AnthropicContentBlock, path: string): AssistantPart[] {
  switch (block.type) {
    case 'text':
      return block.text === '' ? [] : [{ type: 'text', text: block.text }];
    case 'tool_use':
      return [{ type: 'tool-call', id: block.id, name: block.name, input: block.input }];
    case 'thinking':
    case 'redacted_thinking':
      return [];
    case 'image':
    case 'document':
    case 'search_result':
    case 'tool_result':
      throw new TranslationError(
        'invalid_value',
        `${path}.type`,
        `A \`${block.type}\` block belongs in a user turn.`,
      );
    default: {
      const unknown: never = block;
      throw new Error(`unhandled block ${JSON.stringify(unknown)}`);
    }
  }
}

function imagePart(block: AnthropicImageBlock, path: string): ImagePart {
  return { type: 'image', source: mediaSource(block.source, `${path}.source`), path: `${path}.source` };
}

function documentPart(block: AnthropicDocumentBlock, path: string): TextPart | FilePart {
  const { source } = block;
  if (source.type === 'text')
    return { type: 'text', text: [block.title, block.context, source.data].filter(Boolean).join('\n\n') };
  if (source.type === 'content')
    throw new TranslationError(
      'unsupported_value',
      `${path}.source.type`,
      'Documents with custom `content` sources can only be sent to Claude models.',
    );
  return {
    type: 'file',
    source: mediaSource(source, `${path}.source`),
    ...(block.title ? { title: block.title } : {}),
    ...(block.context ? { context: block.context } : {}),
    path: `${path}.source`,
  };
}

/**
 * A search result as the text a text document is: its title, its source and its text blocks,
 * each apart. Other models have no such block and cannot cite it (`citations` is Claude's).
 */
function searchResultText(block: AnthropicSearchResultBlock): TextPart {
  const texts = block.content.map((item) => item.text);
  return { type: 'text', text: [block.title, block.source, ...texts].filter(Boolean).join('\n\n') };
}

function mediaSource(
  source:
    | { type: 'base64'; media_type: string; data: string }
    | { type: 'url'; url: string }
    | { type: 'file'; file_id: string },
  path: string,
): MediaSource {
  switch (source.type) {
    case 'base64':
      return { kind: 'base64', mediaType: source.media_type, data: source.data };
    case 'url':
      return { kind: 'url', url: source.url };
    case 'file':
      throw new TranslationError(
        'unsupported_value',
        `${path}.file_id`,
        'A `file_id` refers to a file stored at Anthropic and cannot be sent to this model; send the data inline.',
      );
    default: {
      const unknown: never = source;
      throw new Error(`unhandled source ${JSON.stringify(unknown)}`);
    }
  }
}

function toolResult(block: AnthropicToolResultBlock, path: string): UserPart {
  const content: (TextPart | ImagePart | FilePart)[] = [];
  if (typeof block.content === 'string') {
    if (block.content !== '') content.push({ type: 'text', text: block.content });
  } else {
    (block.content ?? []).forEach((item, index) => {
      const itemPath = `${path}.content[${index}]`;
      switch (item.type) {
        case 'text':
          if (item.text !== '') content.push({ type: 'text', text: item.text });
          return;
        case 'image':
          content.push(imagePart(item, itemPath));
          return;
        case 'document':
          // A PDF as the document it is (moved after the results where they take text only), a text document as its text.
          content.push(documentPart(item, itemPath));
          return;
        case 'search_result':
          content.push(searchResultText(item));
          return;
        default: {
          const unknown: never = item;
          throw new Error(`unhandled tool result block ${JSON.stringify(unknown)}`);
        }
      }
    });
  }
  return {
    type: 'tool-result',
    toolCallId: block.tool_use_id,
    content,
    isError: block.is_error === true,
    path: `${path}.tool_use_id`,
  };
}

/** Server tools (web search, code execution, computer use...) run at Anthropic and cannot be offered to another provider. */
function tool(definition: AnthropicTool, index: number): NeutralTool {
  if (definition.type != null && definition.type !== 'custom')
    throw new TranslationError(
      'unsupported_value',
      `tools[${index}].type`,
      `\`${definition.type}\` is an Anthropic server tool; only client tools (with an input_schema) can be offered to this model.`,
    );
  return {
    name: definition.name,
    ...(definition.description !== undefined ? { description: definition.description } : {}),
    ...(definition.input_schema !== undefined ? { parameters: definition.input_schema } : {}),
    ...(definition.strict !== undefined ? { strict: definition.strict } : {}),
  };
}

/** A tool named that the request does not offer is refused as Claude refuses it. */
function toolChoice(choice: AnthropicToolChoice, toolNames: readonly string[]): NeutralToolChoice {
  switch (choice.type) {
    case 'auto':
    case 'none':
      return { type: choice.type };
    case 'any':
      refuseForcedChoiceWithoutTools(toolNames, 'anthropic');
      return { type: 'required' };
    case 'tool':
      refuseUndeclaredToolChoice(choice.name, toolNames, 'anthropic');
      return { type: 'tool', name: choice.name };
    default: {
      const unknown: never = choice;
      throw new Error(`unhandled tool_choice ${JSON.stringify(unknown)}`);
    }
  }
}
