/**
 * The pairing of tool calls and results Claude's Messages API requires, and its 400 for each
 * break (`invalid_request_error`, the messages as Claude's 400s quote them):
 * - a `tool_result` whose `tool_use_id` is not a `tool_use` of the assistant turn right before:
 *   "messages.<i>.content.<j>: unexpected `tool_use_id` found in `tool_result` blocks: <id>. Each
 *   `tool_result` block must have a corresponding `tool_use` block in the previous message."
 *   (github.com/anthropics/claude-code issue 18947, router-for-me/CLIProxyAPI issue 497);
 * - two results for one call: "messages.<i>.content.<j>: each tool_use must have a single result.
 *   Found multiple `tool_result` blocks with id: <id>" (forkwright/aletheia pull 57);
 * - a `tool_use` id used twice in the request: "messages.<i>.content.<j>: `tool_use` ids must be
 *   unique" (anthropics/claude-code issues 20901, 21317);
 * - calls a user turn leaves unanswered: "messages.<i>: `tool_use` ids were found without
 *   `tool_result` blocks immediately after: <ids>. Each `tool_use` block must have a corresponding
 *   `tool_result` block in the next message." (anthropics/claude-code issue 5989, two ids joined
 *   by ", ").
 * Guesses, as no source shows them: <i> of the last is the assistant turn's; consecutive turns
 * of one role are read as one (Claude documents combining them), each block keeping its index;
 * a result naming an unknown id is said before the calls it leaves unanswered; a thread that
 * ends on calls is answered.
 */
import { z } from 'zod';

const pairedBlock = z.object({
  type: z.string(),
  id: z.string().optional(),
  tool_use_id: z.string().optional(),
});
const pairedRequest = z.object({
  messages: z.array(z.object({ role: z.string(), content: z.union([z.string(), z.array(pairedBlock)]) })),
});

/** Claude's message for the first break of the pairing in a request's `messages`, or undefined. */
export function toolPairingError(body: unknown): string | undefined {
  const parsed = pairedRequest.safeParse(body);
  // A body of another shape is the request schema's to refuse, not this check's.
  if (!parsed.success) return undefined;
  const messages = parsed.data.messages;
  const used = new Set<string>();
  let calls: { index: number; ids: string[] } | undefined;
  let answered = new Set<string>();
  for (const [index, message] of messages.entries()) {
    const blocks = typeof message.content === 'string' ? [] : message.content;
    const previousRole = messages[index - 1]?.role;
    if (message.role === 'assistant') {
      for (const [position, block] of blocks.entries()) {
        if (block.type !== 'tool_use' || block.id === undefined) continue;
        if (used.has(block.id))
          return `messages.${index}.content.${position}: \`tool_use\` ids must be unique`;
        used.add(block.id);
        calls = calls ?? { index, ids: [] };
        calls.ids.push(block.id);
      }
      continue;
    }
    if (previousRole !== 'user') answered = new Set();
    for (const [position, block] of blocks.entries()) {
      if (block.type !== 'tool_result') continue;
      const id = block.tool_use_id ?? '';
      if (!calls?.ids.includes(id))
        return (
          `messages.${index}.content.${position}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${id}. ` +
          'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.'
        );
      if (answered.has(id))
        return `messages.${index}.content.${position}: each tool_use must have a single result. Found multiple \`tool_result\` blocks with id: ${id}`;
      answered.add(id);
    }
    if (messages[index + 1]?.role === 'user') continue;
    const missing = (calls?.ids ?? []).filter((id) => !answered.has(id));
    if (calls !== undefined && missing.length > 0)
      return (
        `messages.${calls.index}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. ` +
        'Each `tool_use` block must have a corresponding `tool_result` block in the next message.'
      );
    calls = undefined;
  }
  return undefined;
}
