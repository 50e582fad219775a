/** Reads an Anthropic message (non-streamed answer) into the neutral form. */
import type { AnthropicMessageResponse } from './anthropic-messages-types.js';
import { finishReasonFromAnthropic } from './finish-reasons.js';
import { isRecord } from './json-object.js';
import type { NeutralResponse, NeutralToolCall } from './neutral-response.js';
import { usageFromAnthropic } from './usage.js';

/**
 * Text blocks are joined without a separator (Claude splits one text into several blocks,
 * around citations for instance); thinking and server-tool blocks are left out, since no
 * other dialect has a place for them.
 */
export function neutralFromAnthropicResponse(message: AnthropicMessageResponse): NeutralResponse {
  const texts: string[] = [];
  const toolCalls: NeutralToolCall[] = [];
  for (const block of message.content) {
    if ('text' in block && block.type === 'text') texts.push(block.text);
    else if ('input' in block && block.type === 'tool_use')
      toolCalls.push({ id: block.id, name: block.name, input: isRecord(block.input) ? block.input : {} });
  }
  const usage = usageFromAnthropic(message.usage);
  return {
    id: message.id,
    model: message.model,
    choices: [
      {
        index: 0,
        text: texts.length > 0 ? texts.join('') : null,
        toolCalls,
        finishReason: finishReasonFromAnthropic(message.stop_reason),
      },
    ],
    ...(usage ? { usage } : {}),
  };
}
