/**
 * The order of tool messages OpenAI's Chat Completions API requires, and its 400 for each break.
 *
 * An assistant message with `tool_calls` must be followed, before any other message, by one
 * `tool` message for each of its call ids, and a `tool` message must answer a call of the
 * assistant message its run of tool messages follows. A gateway that translates another
 * dialect's thread (Anthropic `tool_result` blocks, Gemini `functionResponse` parts) can break
 * either rule; a mock that let it through would hide the bug the real API refuses.
 *
 * The answers, as OpenAI sends them (status 400, `type: invalid_request_error`, `code: null`,
 * `param` the index of the message where the order broke):
 * - a `tool` message after something other than an assistant's tool calls:
 *   "Invalid parameter: messages with role 'tool' must be a response to a preceeding message
 *   with 'tool_calls'." (OpenAI's spelling), param `messages.[i].role` (github.com/sdcb/chats
 *   pull 132, github.com/miurla/morphic issue 136, github.com/smarter-sh/smarter issue 264);
 * - a message other than `tool` while calls are unanswered: "An assistant message with
 *   'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The
 *   following tool_call_ids did not have response messages: <ids>", param `messages.[i].role` of
 *   that message (github.com/sdcb/chats pull 132, github.com/router-for-me/CLIProxyAPI issue
 *   2798). The sources show an index but not the thread it counts in: the mock takes the
 *   message where a tool message was due; and they show one id at a time: more are joined
 *   with ", " here;
 * - a `tool` message whose `tool_call_id` the assistant did not call: "Invalid parameter:
 *   'tool_call_id' of '<id>' not found in 'tool_calls' of previous message." (the message as
 *   quoted in github.com/dapr/dapr-agents issue 145; no source found shows its param, so the
 *   mock names the field, `messages.[i].tool_call_id`);
 * - a second `tool` message for one call: "Invalid parameter: Duplicate value for 'tool_call_id'
 *   of '<id>', in messages[<i>] and messages[<j>].", param `messages.[<j>].tool_call_id`
 *   (github.com/agno-agi/agno issue 5116, the answer quoted whole).
 * A thread that ends on an assistant's unanswered calls is answered: no source shows that case.
 */
import { z } from 'zod';
import type { OpenAIErrorShape } from './openai-error.js';

const orderedMessage = z.object({
  role: z.string(),
  tool_calls: z.array(z.object({ id: z.string() })).nullish(),
  tool_call_id: z.string().nullish(),
});
const orderedRequest = z.object({ messages: z.array(orderedMessage) });

export interface ToolOrderError {
  readonly shape: OpenAIErrorShape;
  readonly param: string;
}

function refusal(message: string, param: string): ToolOrderError {
  return { shape: { status: 400, message, type: 'invalid_request_error', code: null }, param };
}

/** The first break of the tool-message order in a request's `messages`, or undefined. */
export function toolOrderError(body: unknown): ToolOrderError | undefined {
  const parsed = orderedRequest.safeParse(body);
  // A message of another shape is the request schema's to refuse, not this check's.
  if (!parsed.success) return undefined;
  /** The calls of the assistant message the current run of tool messages follows. */
  let calls:
    | {
        readonly ids: ReadonlySet<string>;
        readonly unanswered: Set<string>;
        readonly answeredAt: Map<string, number>;
      }
    | undefined;
  for (const [index, message] of parsed.data.messages.entries()) {
    if (message.role === 'tool') {
      if (calls === undefined)
        return refusal(
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          `messages.[${index}].role`,
        );
      const id = message.tool_call_id ?? '';
      if (!calls.ids.has(id))
        return refusal(
          `Invalid parameter: 'tool_call_id' of '${id}' not found in 'tool_calls' of previous message.`,
          `messages.[${index}].tool_call_id`,
        );
      const first = calls.answeredAt.get(id);
      if (first !== undefined)
        return refusal(
          `Invalid parameter: Duplicate value for 'tool_call_id' of '${id}', in messages[${first}] and messages[${index}].`,
          `messages.[${index}].tool_call_id`,
        );
      calls.answeredAt.set(id, index);
      calls.unanswered.delete(id);
      continue;
    }
    if (calls !== undefined && calls.unanswered.size > 0)
      return refusal(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. " +
          `The following tool_call_ids did not have response messages: ${[...calls.unanswered].join(', ')}`,
        `messages.[${index}].role`,
      );
    const ids = message.role === 'assistant' ? (message.tool_calls ?? []).map((call) => call.id) : [];
    calls =
      ids.length > 0 ? { ids: new Set(ids), unanswered: new Set(ids), answeredAt: new Map() } : undefined;
  }
  return undefined;
}
