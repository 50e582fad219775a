/**
 * Request translation between dialects. Each goes through the neutral form, so that every
 * pair shares one parser per client dialect and one writer per provider dialect.
 * All throw TranslationError (naming the caller's field) for what the target cannot express.
 */
import type { AnthropicMessagesRequest } from './anthropic-messages-types.js';
import { neutralFromAnthropicRequest } from './anthropic-request-to-neutral.js';
import { claudeMaxOutputTokens } from './claude-models.js';
import type { GeminiGenerateContentRequest } from './gemini-types.js';
import { type AnthropicRequestOptions, anthropicRequestFromNeutral } from './neutral-to-anthropic-request.js';
import { type GeminiRequestOptions, geminiRequestFromNeutral } from './neutral-to-gemini-request.js';
import { type OpenAIRequestOptions, openAIRequestFromNeutral } from './neutral-to-openai-request.js';
import type { OpenAIChatRequest } from './openai-chat-types.js';
import { openAIMaxOutputTokens } from './openai-models.js';
import { neutralFromOpenAIRequest } from './openai-request-to-neutral.js';
import { geminiToolName, shortToolName } from './tool-names.js';
import {
  refuseRepeatedToolCallIds,
  refuseSharedToolCallIdsInTurn,
  refuseUnpairedAnthropicTools,
  refuseUnpairedOpenAITools,
} from './tool-pairing.js';
import { TranslationError } from './translation-error.js';

/** An OpenAI-SDK caller asking a Claude model. */
export function openAIToAnthropicRequest(
  request: OpenAIChatRequest,
  options?: AnthropicRequestOptions,
): AnthropicMessagesRequest {
  refuseUnpairedOpenAITools(request);
  refuseRepeatedToolCallIds(request);
  return anthropicRequestFromNeutral(neutralFromOpenAIRequest(request), options);
}

/** An Anthropic-SDK caller asking a GPT (or OpenAI-compatible) model. */
export function anthropicToOpenAIRequest(
  request: AnthropicMessagesRequest,
  options?: OpenAIRequestOptions,
): OpenAIChatRequest {
  refuseUnpairedAnthropicTools(request);
  refuseToolNamesSentAsOne(request, shortToolName, 'GPT');
  return openAIRequestFromNeutral(neutralFromAnthropicRequest(request), options);
}

/**
 * The longest answer a model writes when sent in `dialect`: the ceiling a translated request's
 * maximum is lowered to (`claudeMaxOutputTokens`, `openAIMaxOutputTokens`), so an estimate
 * sized by it and the request sent agree; undefined where those tables do not know the model
 * (and for Gemini, which has no such table).
 */
export function maxOutputTokensIn(
  dialect: 'openai' | 'anthropic' | 'gemini',
  model: string,
): number | undefined {
  if (dialect === 'anthropic') return claudeMaxOutputTokens(model);
  if (dialect === 'openai') return openAIMaxOutputTokens(model);
  return undefined;
}

/**
 * The tool names an Anthropic-SDK caller's request goes to a GPT or Gemini model (`provider`) with
 * in place of its own (longer than the 64 characters both take; for Gemini, starting with a digit
 * or a dash), to the caller's: the answer's calls are named back by it (`toolNames` of the
 * response context and the stream options). Read from the request as sent (its tools and the
 * tool calls of its history), without a second translation.
 */
export function anthropicToolNamesSent(
  request: AnthropicMessagesRequest,
  provider: 'openai' | 'gemini' = 'openai',
): ReadonlyMap<string, string> {
  const nameSent = provider === 'gemini' ? geminiToolName : shortToolName;
  const names = new Map<string, string>();
  const add = (name: string) => {
    const sent = nameSent(name);
    if (sent !== name) names.set(sent, name);
  };
  for (const tool of request.tools ?? []) add(tool.name);
  for (const message of request.messages) {
    if (message.role !== 'assistant' || typeof message.content === 'string') continue;
    for (const block of message.content) if (block.type === 'tool_use') add(block.name);
  }
  return names;
}

/** An OpenAI-SDK caller asking a Gemini model. */
export function openAIToGeminiRequest(
  request: OpenAIChatRequest,
  options?: GeminiRequestOptions,
): GeminiGenerateContentRequest {
  refuseUnpairedOpenAITools(request);
  refuseSharedToolCallIdsInTurn(request);
  refuseFunctionNamesGeminiRefuses(request);
  return geminiRequestFromNeutral(neutralFromOpenAIRequest(request), options);
}

/**
 * A function name over 64 characters is refused as OpenAI refuses it, and one that starts with a
 * digit or a dash (OpenAI takes it) as Gemini refuses it: the Gemini writer would send it
 * changed (as for Anthropic callers, `geminiToolName`), and the OpenAI answer writers do not
 * name the calls back.
 */
function refuseFunctionNamesGeminiRefuses(request: OpenAIChatRequest): void {
  for (const [index, tool] of (request.tools ?? []).entries()) {
    if (tool.type !== 'function') continue;
    const { name } = tool.function;
    const param = `tools[${index}].function.name`;
    if (shortToolName(name) !== name)
      throw new TranslationError(
        'invalid_value',
        param,
        `Invalid '${param}': string too long. Expected a string with maximum length 64.`,
      );
    if (geminiToolName(name) !== name)
      throw new TranslationError(
        'unsupported_value',
        param,
        `Gemini models take function names that start with a letter or an underscore, not '${name}'; rename the function.`,
      );
  }
}

/** An Anthropic-SDK caller asking a Gemini model (top_k is kept: Gemini has topK). */
export function anthropicToGeminiRequest(
  request: AnthropicMessagesRequest,
  options?: GeminiRequestOptions,
): GeminiGenerateContentRequest {
  refuseUnpairedAnthropicTools(request);
  refuseToolNamesSentAsOne(request, geminiToolName, 'Gemini');
  return geminiRequestFromNeutral(neutralFromAnthropicRequest(request), options);
}

/**
 * Two of an Anthropic caller's tool names that would go out as one (a name sent changed,
 * shortened or with Gemini's `_` before it, meeting another name as sent: `0a` and `_0a`): the
 * model would see one tool where the caller has two, and its calls would be named back to one
 * of them whichever it meant. Refused, naming both, for the tools and the history's calls alike.
 */
function refuseToolNamesSentAsOne(
  request: AnthropicMessagesRequest,
  nameSent: (name: string) => string,
  target: string,
): void {
  const callerNameOf = new Map<string, string>();
  const check = (name: string, param: string) => {
    const sent = nameSent(name);
    const other = callerNameOf.get(sent);
    if (other === undefined) callerNameOf.set(sent, name);
    else if (other !== name)
      throw new TranslationError(
        'unsupported_value',
        param,
        `Tool names '${other}' and '${name}' would both reach ${target} models as '${sent}'; rename one of them.`,
      );
  };
  for (const [index, tool] of (request.tools ?? []).entries()) check(tool.name, `tools[${index}].name`);
  for (const [index, message] of request.messages.entries()) {
    if (message.role !== 'assistant' || typeof message.content === 'string') continue;
    for (const [position, block] of message.content.entries())
      if (block.type === 'tool_use') check(block.name, `messages[${index}].content[${position}].name`);
  }
}
