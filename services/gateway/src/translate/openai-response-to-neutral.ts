/** Reads an OpenAI chat.completion into the neutral form. */
import { finishReasonFromOpenAI } from './finish-reasons.js';
import { parseJsonObject } from './json-object.js';
import type { NeutralResponse } from './neutral-response.js';
import type { OpenAIChatCompletion } from './openai-chat-types.js';
import { usageFromOpenAI } from './usage.js';

/**
 * A refusal becomes the answer text (other dialects have no refusal field; the finish
 * reason then says content_filter). Tool arguments that are not a JSON object (a model
 * glitch; rare with OpenAI) become `{}`: Anthropic's tool_use input must be an object.
 */
export function neutralFromOpenAIResponse(completion: OpenAIChatCompletion): NeutralResponse {
  const usage = usageFromOpenAI(completion.usage);
  return {
    id: completion.id,
    model: completion.model,
    choices: completion.choices.map((choice) => {
      const { content, refusal, tool_calls, reasoning_content, reasoning } = choice.message;
      const text = content ?? refusal ?? null;
      const thought = [reasoning_content, reasoning].find(
        (value) => typeof value === 'string' && value !== '',
      );
      return {
        ...(typeof thought === 'string' ? { reasoning: thought } : {}),
        index: choice.index,
        text,
        toolCalls: (tool_calls ?? []).map((call) => ({
          id: call.id,
          name: call.function.name,
          input: parseJsonObject(call.function.arguments) ?? {},
        })),
        finishReason:
          refusal && !content
            ? 'content_filter'
            : finishReasonFromOpenAI(choice.finish_reason, (tool_calls ?? []).length > 0),
      };
    }),
    ...(usage ? { usage } : {}),
  };
}
