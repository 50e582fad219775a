/** Writes an Anthropic message from a neutral answer. */
import {
  type AnthropicMessageOut,
  type AnthropicResponseBlockOut,
  FOREIGN_REASONING_SIGNATURE,
} from './anthropic-messages-types.js';
import { anthropicStopReason } from './finish-reasons.js';
import type { NeutralResponse, ResponseContext } from './neutral-response.js';
import { anthropicUsageOf, type NormalisedUsage } from './usage.js';

const NO_USAGE: NormalisedUsage = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };

/**
 * Anthropic answers have one choice: the first is taken (a caller of this dialect cannot
 * ask for more). The usage object is required by the dialect: without provider usage or a
 * fallback it is all zeros.
 */
export function anthropicResponseFromNeutral(
  response: NeutralResponse,
  context: Omit<ResponseContext, 'created'> = {},
): AnthropicMessageOut {
  const choice = response.choices[0];
  const content: AnthropicResponseBlockOut[] = [];
  // Another model's reasoning comes first, as Claude's thinking does; the caller sends it back.
  if (choice?.reasoning)
    content.push({ type: 'thinking', thinking: choice.reasoning, signature: FOREIGN_REASONING_SIGNATURE });
  if (choice?.text) content.push({ type: 'text', text: choice.text });
  for (const call of choice?.toolCalls ?? [])
    content.push({
      type: 'tool_use',
      id: call.id,
      name: context.toolNames?.get(call.name) ?? call.name,
      input: call.input,
    });
  return {
    id: response.id,
    type: 'message',
    role: 'assistant',
    model: context.model ?? response.model,
    content,
    stop_reason: anthropicStopReason(choice?.finishReason ?? 'stop'),
    stop_sequence: null,
    usage: anthropicUsageOf(response.usage ?? context.fallbackUsage ?? NO_USAGE),
  };
}
