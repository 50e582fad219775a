/**
 * Tool calls and their results paired as the caller's own provider requires, checked before a
 * conversation goes to a provider of another dialect, and refused in the caller's provider's
 * words when they are not.
 *
 * Each API refuses a thread whose tool results do not answer the calls before them (a result for
 * a call that is not there, a call left unanswered before the next turn, two results for one
 * call). Translated, such a thread reaches the other provider as a thread of its dialect, which
 * either refuses it in its own words, naming a message of the translated body the caller never
 * sent (GPT's "'tool_call_id' of 'x' not found" to an Anthropic-SDK caller), or answers it (the
 * Gemini API pairs results by position, not by id): a 200 the caller's provider would have
 * refused, billed. So Kordon refuses such a request itself, before any provider is asked, with the
 * status (400), wording and `param` of the caller's provider. A request of the provider's own
 * dialect is not checked here: that provider judges it.
 */
import type { AnthropicMessagesRequest } from './anthropic-messages-types.js';
import type { OpenAIChatRequest } from './openai-chat-types.js';
import { TranslationError } from './translation-error.js';

/**
 * Claude's rules for an Anthropic-SDK caller's thread, in Claude's words (400
 * `invalid_request_error`; the messages are as Claude's 400s quote them in the issues below):
 * - a `tool_result` whose `tool_use_id` is not a `tool_use` of the assistant turn right before:
 *   "messages.<i>.content.<j>: unexpected `tool_use_id` found in `tool_result` blocks: <id>. Each
 *   `tool_result` block must have a corresponding `tool_use` block in the previous message."
 *   (github.com/anthropics/claude-code issue 18947, router-for-me/CLIProxyAPI issue 497);
 * - two `tool_result` blocks for one call: "messages.<i>.content.<j>: each tool_use must have a
 *   single result. Found multiple `tool_result` blocks with id: <id>" (forkwright/aletheia pull 57,
 *   the sketch.dev fix of insertMissingToolResults), <j> the second result;
 * - a `tool_use` id used twice in the request: "messages.<i>.content.<j>: `tool_use` ids must be
 *   unique" (anthropics/claude-code issues 20901 and 21317), <j> the second use;
 * - a turn of `tool_use` blocks followed by a user turn that does not answer each: "messages.<i>:
 *   `tool_use` ids were found without `tool_result` blocks immediately after: <ids>. Each `tool_use`
 *   block must have a corresponding `tool_result` block in the next message." (anthropics/claude-code
 *   issue 5989, with two ids joined by ", "; Kilo-Org/kilocode issue 5163).
 * Not seen in those sources, so chosen here: <i> of that last message is the assistant turn's
 * (the quotes show an index but not the thread it counts in); where a result both names an
 * unknown id and leaves a call unanswered, the unknown id is the one said. Claude combines
 * consecutive turns of one role, so they are read as one turn here (a call answered in the
 * second of two user messages is answered), each block keeping the index it was sent with.
 * A thread ending on calls (nothing after them) is not refused: no source shows Claude's answer.
 */
export function refuseUnpairedAnthropicTools(request: AnthropicMessagesRequest): void {
  const used = new Set<string>();
  /**
   * The tool_use ids of the last assistant turn, while the next user turn has not answered them:
   * kept in place (a list for the message's order, a set to look ids up), so a thread of many
   * calls costs linear time, not a copy of the list per call.
   */
  let calls: { readonly index: number; readonly ids: string[]; readonly known: Set<string> } | undefined;
  let answered = new Set<string>();
  let previousRole: 'user' | 'assistant' | undefined;
  const unanswered = () => {
    if (calls === undefined) return;
    const missing = calls.ids.filter((id) => !answered.has(id));
    if (missing.length > 0)
      throw claudeRefusal(
        `messages[${calls.index}].content`,
        `messages.${calls.index}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. ` +
          'Each `tool_use` block must have a corresponding `tool_result` block in the next message.',
      );
  };
  for (const [index, message] of request.messages.entries()) {
    const blocks = typeof message.content === 'string' ? [] : message.content;
    if (message.role === 'assistant') {
      for (const [position, block] of blocks.entries()) {
        if (block.type !== 'tool_use') continue;
        if (used.has(block.id))
          throw claudeRefusal(
            `messages[${index}].content[${position}].id`,
            `messages.${index}.content.${position}: \`tool_use\` ids must be unique`,
          );
        used.add(block.id);
        calls ??= { index, ids: [], known: new Set() };
        calls.ids.push(block.id);
        calls.known.add(block.id);
      }
    } else {
      // The first user message after the calls: what it and the user messages joined to it answer.
      if (previousRole !== 'user') answered = new Set();
      for (const [position, block] of blocks.entries()) {
        if (block.type !== 'tool_result') continue;
        const id = block.tool_use_id;
        if (!calls?.known.has(id))
          throw claudeRefusal(
            `messages[${index}].content[${position}].tool_use_id`,
            `messages.${index}.content.${position}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${id}. ` +
              'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.',
          );
        if (answered.has(id))
          throw claudeRefusal(
            `messages[${index}].content[${position}].tool_use_id`,
            `messages.${index}.content.${position}: each tool_use must have a single result. Found multiple \`tool_result\` blocks with id: ${id}`,
          );
        answered.add(id);
      }
      // The calls are answered by this user turn, or left unanswered: said once it has ended.
      const next = request.messages[index + 1];
      if (next?.role !== 'user') {
        unanswered();
        calls = undefined;
      }
    }
    previousRole = message.role;
  }
}

function claudeRefusal(param: string, message: string): TranslationError {
  return new TranslationError('invalid_value', param, message);
}

/**
 * OpenAI's rules for an OpenAI-SDK caller's thread, in OpenAI's words (400
 * `invalid_request_error`, code null, `param` as OpenAI names it): the three the OpenAI mock
 * answers, with their sources (tests/mock-providers/src/openai-tool-order.ts), and a second
 * `tool` message for one call: "Invalid parameter: Duplicate value for 'tool_call_id' of '<id>',
 * in messages[<i>] and messages[<j>].", param `messages.[<j>].tool_call_id`
 * (github.com/agno-agi/agno issue 5116, OpenAI's answer quoted whole). The mock's guesses are
 * this check's too: the index of the message where a tool message was due, ids joined by ", ",
 * and the param of an unknown `tool_call_id`. A thread that ends on unanswered calls is not
 * refused (no source shows OpenAI's answer), nor one whose calls repeat an id: GPT takes those
 * (github.com/latitude-dev/latitude-llm pull 1840); Claude does not (`refuseRepeatedToolCallIds`).
 */
export function refuseUnpairedOpenAITools(request: OpenAIChatRequest): void {
  /** The calls of the assistant message the current run of tool messages follows. */
  let calls: { readonly ids: ReadonlySet<string>; readonly answeredAt: Map<string, number> } | undefined;
  for (const [index, message] of request.messages.entries()) {
    if (message.role === 'tool') {
      if (calls === undefined)
        throw new TranslationError(
          'invalid_value',
          `messages.[${index}].role`,
          "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
        );
      const id = message.tool_call_id;
      if (!calls.ids.has(id))
        throw new TranslationError(
          'invalid_value',
          `messages.[${index}].tool_call_id`,
          `Invalid parameter: 'tool_call_id' of '${id}' not found in 'tool_calls' of previous message.`,
        );
      const first = calls.answeredAt.get(id);
      if (first !== undefined)
        throw new TranslationError(
          'invalid_value',
          `messages.[${index}].tool_call_id`,
          `Invalid parameter: Duplicate value for 'tool_call_id' of '${id}', in messages[${first}] and messages[${index}].`,
        );
      calls.answeredAt.set(id, index);
      continue;
    }
    if (calls !== undefined) {
      const { ids, answeredAt } = calls;
      const unanswered = [...ids].filter((id) => !answeredAt.has(id));
      if (unanswered.length > 0)
        throw new TranslationError(
          'invalid_value',
          `messages.[${index}].role`,
          "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. " +
            `The following tool_call_ids did not have response messages: ${unanswered.join(', ')}`,
        );
    }
    const ids = message.role === 'assistant' ? (message.tool_calls ?? []).map((call) => call.id) : [];
    calls = ids.length > 0 ? { ids: new Set(ids), answeredAt: new Map() } : undefined;
  }
}

/**
 * Claude refuses a thread whose tool call ids repeat ("`tool_use` ids must be unique", above),
 * which GPT takes; the results of such calls cannot be told apart, so no id can be made up for
 * them. Refused naming the caller's field before Claude is asked, so that a provider of another
 * dialect in the model's chain may take it.
 */
export function refuseRepeatedToolCallIds(request: OpenAIChatRequest): void {
  const used = new Set<string>();
  for (const [index, message] of request.messages.entries()) {
    if (message.role !== 'assistant') continue;
    for (const [position, call] of (message.tool_calls ?? []).entries()) {
      if (used.has(call.id))
        throw new TranslationError(
          'unsupported_value',
          `messages[${index}].tool_calls[${position}].id`,
          `Claude models refuse a conversation in which two tool calls have one id ('${call.id}'); give each call its own id.`,
        );
      used.add(call.id);
    }
  }
}

/**
 * Gemini answers a turn of function calls only with as many function responses ("Please ensure
 * that the number of function response parts is equal to the number of function call parts of
 * the function call turn"), and pairs them by position: calls of one assistant message that
 * share an id, which GPT takes, are answered by one `tool` message, so the translated turn
 * would hold fewer responses than calls. Refused naming the call's `id`, as for Claude
 * (`refuseRepeatedToolCallIds`); ids repeated across turns pair by turn and are taken.
 */
export function refuseSharedToolCallIdsInTurn(request: OpenAIChatRequest): void {
  for (const [index, message] of request.messages.entries()) {
    if (message.role !== 'assistant') continue;
    const ids = new Set<string>();
    for (const [position, call] of (message.tool_calls ?? []).entries()) {
      if (ids.has(call.id))
        throw new TranslationError(
          'unsupported_value',
          `messages[${index}].tool_calls[${position}].id`,
          `Gemini models need one result for each function call, and two calls of this message share the id '${call.id}'; give each call its own id.`,
        );
      ids.add(call.id);
    }
  }
}
