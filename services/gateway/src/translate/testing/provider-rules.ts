/**
 * What each provider accepts of a request body, as the property tests judge a translated one:
 * the mock providers' refusals first (`anthropicMessagesRefusal`, `openAIChatRefusal`,
 * `geminiGenerateRefusal`: the same code the mocks answer with), then the providers' documented
 * rules the mocks do not check. Each returns the first break it finds, in words a failing
 * property can show, or undefined.
 */
import { anthropicMessagesRefusal, geminiGenerateRefusal, openAIChatRefusal } from '@kordon/mock-providers';
import type { AnthropicMessagesRequest } from '../anthropic-messages-types.js';
import type { GeminiGenerateContentRequest } from '../gemini-types.js';
import type { OpenAIChatRequest } from '../openai-chat-types.js';

/** Claude's tool name and tool_use id patterns (a 400 "String should match pattern" otherwise). */
const CLAUDE_TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;
const CLAUDE_TOOL_USE_ID = /^[a-zA-Z0-9_-]+$/;
/** The image types Claude takes ("Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"). */
const CLAUDE_IMAGE_TYPES: ReadonlySet<string> = new Set([
  'image/jpeg',
  'image/png',
  'image/gif',
  'image/webp',
]);

export function claudeRefusal(body: AnthropicMessagesRequest): string | undefined {
  const refusal = anthropicMessagesRefusal(body);
  if (refusal !== undefined) return refusal;
  if (body.messages.length === 0) return 'messages: at least one message is required';
  // "a uuid, hash value, or other opaque identifier" of 256 characters at most: Claude refuses
  // one holding an email ("user_id appears to contain an email address").
  const userId = body.metadata?.user_id;
  if (userId != null && (userId.length > 256 || /[^\s@]+@[^\s@]+\.[^\s@]+/.test(userId)))
    return 'metadata.user_id: user_id appears to contain an email address, or is too long';
  if (body.temperature !== undefined && (body.temperature < 0 || body.temperature > 1))
    return 'temperature: Input should be less than or equal to 1';
  for (const sequence of body.stop_sequences ?? [])
    if (sequence.trim() === '') return 'stop_sequences: each stop sequence must contain non-whitespace';
  // Extended thinking: "budget_tokens must be ≥ 1024 and less than max_tokens"; "not compatible
  // with temperature or top_k modifications as well as forced tool use".
  if (body.thinking?.type === 'enabled') {
    const budget = body.thinking.budget_tokens ?? 0;
    if (budget < 1024 || budget >= body.max_tokens)
      return `thinking.budget_tokens: ${budget} must be ≥ 1024 and less than max_tokens (${body.max_tokens})`;
  }
  if (body.thinking != null && body.thinking.type !== 'disabled') {
    if (body.temperature !== undefined || body.top_k !== undefined)
      return 'temperature and top_k may not be set while thinking';
    if (body.tool_choice?.type === 'any' || body.tool_choice?.type === 'tool')
      return 'Thinking may not be enabled when tool_choice forces tool use.';
  }
  for (const tool of body.tools ?? [])
    if (!CLAUDE_TOOL_NAME.test(tool.name)) return `tools.name: ${tool.name} does not match the pattern`;
  for (const [i, message] of body.messages.entries()) {
    if (i > 0 && body.messages[i - 1]?.role === message.role)
      return `messages.${i}: roles must alternate (merged turns)`;
    const blocks = typeof message.content === 'string' ? [] : message.content;
    if (typeof message.content === 'string' && message.content.trim() === '')
      return `messages.${i}: text content must be non-empty`;
    if (blocks.length === 0 && typeof message.content !== 'string')
      return `messages.${i}: content must be non-empty`;
    let sawOther = false;
    for (const [j, block] of blocks.entries()) {
      if (block.type === 'text' && block.text.trim() === '')
        return `messages.${i}.content.${j}: text content blocks must contain non-whitespace text`;
      if (block.type === 'tool_result') {
        if (sawOther) return `messages.${i}.content.${j}: tool_result blocks must come first`;
        if (!CLAUDE_TOOL_USE_ID.test(block.tool_use_id))
          return `messages.${i}.content.${j}: tool_use_id pattern`;
        if (Array.isArray(block.content))
          for (const item of block.content)
            if (item.type === 'text' && item.text.trim() === '')
              return `messages.${i}.content.${j}: tool_result text blocks must contain non-whitespace text`;
      } else sawOther = true;
      const images =
        block.type === 'image'
          ? [block]
          : block.type === 'tool_result' && Array.isArray(block.content)
            ? block.content
            : [];
      for (const image of images)
        if (
          image.type === 'image' &&
          image.source.type === 'base64' &&
          (!CLAUDE_IMAGE_TYPES.has(image.source.media_type) || image.source.data === '')
        )
          return `messages.${i}.content.${j}: image source media_type ${image.source.media_type} (jpeg, png, gif, webp) with data`;
      if (block.type === 'tool_use' && !CLAUDE_TOOL_USE_ID.test(block.id))
        return `messages.${i}.content.${j}: tool_use id pattern`;
      if (message.role === 'user' && (block.type === 'tool_use' || block.type === 'thinking'))
        return `messages.${i}.content.${j}: ${block.type} in a user turn`;
      if (
        message.role === 'assistant' &&
        block.type !== 'text' &&
        block.type !== 'tool_use' &&
        block.type !== 'thinking'
      )
        return `messages.${i}.content.${j}: ${block.type} in an assistant turn`;
    }
  }
  // A prefill: "final assistant content cannot end with trailing whitespace".
  const last = body.messages.at(-1);
  if (last?.role === 'assistant') {
    const lastText = typeof last.content === 'string' ? last.content : last.content.at(-1);
    const text =
      typeof lastText === 'string' ? lastText : lastText?.type === 'text' ? lastText.text : undefined;
    if (text !== undefined && text !== text.trimEnd())
      return 'messages: final assistant content cannot end with trailing whitespace';
  }
  for (const block of typeof body.system === 'string' ? [] : (body.system ?? []))
    if (block.text.trim() === '') return 'system: text content blocks must contain non-whitespace text';
  // "Requests which include `tool_use` or `tool_result` blocks must define tools."
  const usesTools = body.messages.some(
    (message) =>
      typeof message.content !== 'string' &&
      message.content.some((block) => block.type === 'tool_use' || block.type === 'tool_result'),
  );
  if (usesTools && (body.tools ?? []).length === 0)
    return 'Requests which include `tool_use` or `tool_result` blocks must define tools.';
  return undefined;
}

/** OpenAI's longest function name, and its pattern. */
const OPENAI_FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

export function openAIRefusal(body: OpenAIChatRequest): string | undefined {
  const refusal = openAIChatRefusal(body);
  if (refusal !== undefined) return refusal;
  if (body.messages.length === 0) return 'messages: empty array';
  if (body.user != null && body.user.length > 64)
    return "Invalid 'user': string too long. Expected a string with maximum length 64.";
  if (Array.isArray(body.stop) && body.stop.length > 4 && /^(gpt-|o\d)/.test(body.model))
    return "Invalid 'stop': array too long. Expected an array with maximum length 4.";
  for (const tool of body.tools ?? [])
    if (tool.type === 'function' && !OPENAI_FUNCTION_NAME.test(tool.function.name))
      return `tools.function.name: ${tool.function.name}`;
  for (const [i, message] of body.messages.entries()) {
    if (message.role !== 'assistant') continue;
    for (const call of message.tool_calls ?? [])
      if (!OPENAI_FUNCTION_NAME.test(call.function.name)) return `messages.${i}.tool_calls.function.name`;
    if (message.content == null && (message.tool_calls ?? []).length === 0)
      return `messages.${i}: an assistant message needs content or tool_calls`;
  }
  return undefined;
}

/** `model`: the model the body goes to (in Gemini's URL), whose thinking levels it must take. */
export function geminiRefusal(body: GeminiGenerateContentRequest, model: string): string | undefined {
  const refusal = geminiGenerateRefusal(model, body);
  if (refusal !== undefined) return refusal;
  if ((body.generationConfig?.stopSequences?.length ?? 0) > 5) return 'stop_sequences: at most 5';
  let previousCalls: string[] = [];
  for (const [i, content] of body.contents.entries()) {
    if (content.role !== 'user' && content.role !== 'model') return `contents.${i}.role: ${content.role}`;
    if (content.parts.length === 0) return `contents.${i}.parts must not be empty`;
    const responses: string[] = [];
    const calls: string[] = [];
    for (const [j, part] of content.parts.entries()) {
      if (part.text !== undefined && part.text === '')
        return `contents.${i}.parts.${j}: Unable to submit request because it has an empty text parameter.`;
      if (part.functionCall) {
        if (content.role !== 'model') return `contents.${i}.parts.${j}: functionCall in a user turn`;
        calls.push(part.functionCall.name);
      }
      if (part.functionResponse) {
        if (content.role !== 'user') return `contents.${i}.parts.${j}: functionResponse in a model turn`;
        responses.push(part.functionResponse.name);
      }
    }
    // The count of responses and calls is the mock's to judge (geminiGenerateRefusal).
    for (const name of responses)
      if (!previousCalls.includes(name))
        return `contents.${i}: functionResponse ${name} answers no functionCall`;
    previousCalls = calls;
  }
  return undefined;
}
