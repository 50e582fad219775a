/**
 * How much input a request continuing stored state may be billed beyond its own body. OpenAI
 * bills a Responses follow-up (`previous_response_id`, `conversation`, a stored `prompt`, input
 * items by `item_reference`) the whole stored conversation as input, and Claude a message
 * thread's continuation (`thread: {type: "continue"}`) the whole conversation its thread holds,
 * which the request's bytes do not bound: admission holds budgets for it by these bounds
 * (docs/limits.md).
 */
import { claudeContextWindow } from '../translate/claude-models.js';
import type { Route } from './route-model.js';

/**
 * Context windows (input and output together, tokens) of OpenAI's Responses models, by name
 * prefix, most specific first: the most input a stored conversation can bill.
 */
const CONTEXT_WINDOWS: readonly (readonly [prefix: string, tokens: number])[] = [
  ['gpt-5.5', 1_050_000],
  ['gpt-5.4', 1_050_000],
  ['gpt-5', 400_000],
  ['gpt-4.1', 1_047_576],
  ['gpt-4o', 128_000],
  ['o1', 200_000],
  ['o3', 200_000],
  ['o4', 200_000],
];
/** A model not in the table: the largest window of an OpenAI model, a bound whatever it is. */
const LARGEST_CONTEXT_WINDOW = 1_050_000;

/**
 * The stored input a request may be billed beyond its body: the recorded size of the
 * conversation its `previous_response_id` ends (`recorded`, when this process knows that answer),
 * added to its own input; else the model's whole context window (`whole`: the bound of all its
 * input). Undefined for a request that carries its whole prompt.
 */
export function storedInputBound(
  route: Route,
  body: Record<string, unknown>,
  recorded: (responseId: string) => number | undefined,
): { tokens: number; whole: boolean } | undefined {
  const previous = body.previous_response_id;
  // An input item `item_reference` brings a stored item (a past answer or input) by its id.
  const references =
    Array.isArray(body.input) &&
    body.input.some((item) => (item as { type?: unknown } | null)?.type === 'item_reference');
  const continues =
    typeof previous === 'string' ||
    references ||
    (body.conversation !== undefined && body.conversation !== null) ||
    (typeof body.prompt === 'object' && body.prompt !== null);
  if (!continues) return undefined;
  // A conversation, a stored prompt or stored items add what no answer recorded here says: the
  // window bounds it.
  if (typeof previous === 'string' && body.conversation == null && body.prompt == null && !references) {
    const tokens = recorded(previous);
    if (tokens !== undefined) return { tokens, whole: false };
  }
  const model = route.model.toLowerCase();
  const window = CONTEXT_WINDOWS.find(([prefix]) => model.startsWith(prefix))?.[1];
  return { tokens: window ?? LARGEST_CONTEXT_WINDOW, whole: true };
}

/**
 * The reply a Claude message thread's turn continues (`thread: {type: "continue",
 * previous_message_id}`), if it is one: its body carries only its new messages.
 */
export function continuedThread(body: Record<string, unknown>): string | undefined {
  const thread = body.thread as { type?: unknown; previous_message_id?: unknown } | null | undefined;
  if (typeof thread !== 'object' || thread === null || thread.type !== 'continue') return undefined;
  return typeof thread.previous_message_id === 'string' ? thread.previous_message_id : undefined;
}

/**
 * The largest context window of a Claude model (Opus 4.6 on, Sonnet 4.6 on, Claude 5, and Sonnet 4
 * and 4.5 with the 1M-context beta): the bound of a model the table does not know.
 */
const CLAUDE_LARGEST_CONTEXT_WINDOW = 1_000_000;

/**
 * The held input a Claude thread's continuation may be billed beyond its own body: the recorded
 * tokens of the turn it continues (`recorded`: that turn's input and output, when this process
 * knows it; a thread holds exactly that turn's prompt and reply), added to its own input; else the
 * context window of the model it is sent to (`whole`; Claude refuses a continuation for another
 * model than its thread's), with the `anthropic-beta` features it is sent with (Sonnet 4 and 4.5
 * have 1M tokens only with `context-1m-...`), and Claude's largest window for a model the table
 * does not know. Undefined for a request that continues no thread.
 */
export function claudeThreadInputBound(
  body: Record<string, unknown>,
  model: string,
  anthropicBeta: string | undefined,
  recorded: (messageId: string) => number | undefined,
): { tokens: number; whole: boolean } | undefined {
  const previous = continuedThread(body);
  if (previous === undefined) return undefined;
  const tokens = recorded(previous);
  return tokens === undefined
    ? { tokens: claudeContextWindow(model, anthropicBeta) ?? CLAUDE_LARGEST_CONTEXT_WINDOW, whole: true }
    : { tokens, whole: false };
}
