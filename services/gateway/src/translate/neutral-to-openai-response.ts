/** Writes an OpenAI chat.completion from a neutral answer. */
import { openAIFinishReason } from './finish-reasons.js';
import type { NeutralResponse, ResponseContext } from './neutral-response.js';
import type { OpenAIChatCompletionOut } from './openai-chat-types.js';
import { openAIUsageOf } from './usage.js';

export function openAIResponseFromNeutral(
  response: NeutralResponse,
  context: ResponseContext,
): OpenAIChatCompletionOut {
  const usage = response.usage ?? context.fallbackUsage;
  return {
    id: response.id,
    object: 'chat.completion',
    created: context.created,
    model: context.model ?? response.model,
    choices: response.choices.map((choice) => ({
      index: choice.index,
      message: {
        role: 'assistant',
        content: choice.text,
        refusal: null,
        ...(choice.toolCalls.length > 0
          ? {
              tool_calls: choice.toolCalls.map((call) => ({
                id: call.id,
                type: 'function' as const,
                function: { name: call.name, arguments: JSON.stringify(call.input) },
              })),
            }
          : {}),
      },
      logprobs: choice.logprobs
        ? {
            content: choice.logprobs.map((token) => ({
              token: token.token,
              logprob: token.logprob,
              bytes: null,
              top_logprobs: token.top.map((top) => ({ token: top.token, logprob: top.logprob, bytes: null })),
            })),
            refusal: null,
          }
        : null,
      finish_reason: openAIFinishReason(choice.finishReason),
    })),
    ...(usage ? { usage: openAIUsageOf(usage) } : {}),
  };
}
