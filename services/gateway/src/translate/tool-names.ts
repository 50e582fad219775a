/**
 * Tool names longer than OpenAI and Gemini take. Anthropic allows 128 characters
 * (`^[a-zA-Z0-9_-]{1,128}$`) and Claude Code's MCP tools (`mcp__<server>__<tool>`) often pass
 * 64, the most both others take: OpenAI ("string too long. Expected a string with maximum
 * length 64") and Gemini (a function declaration's name "with a maximum length of 64",
 * ai.google.dev/api/caching#FunctionDeclaration).
 */
import { createHash } from 'node:crypto';
import { type NeutralChatRequest, toolNamesUsed } from './neutral-request.js';

/** The longest function name OpenAI and Gemini take. */
const TOOL_NAME_MAX = 64;

/**
 * A tool name as OpenAI and Gemini take it: a longer name goes as its first 55 characters, `_`
 * and 8 hex characters of its sha256 (as LiteLLM shortens them): the same for the same name, in
 * the tools, the tool choice and the history alike. Anthropic's characters are all Gemini's.
 * The answer's calls get the caller's names back by `toolNamesSent`.
 */
export function shortToolName(name: string): string {
  if (name.length <= TOOL_NAME_MAX) return name;
  return `${name.slice(0, 55)}_${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/**
 * The names sent in place of the caller's (shortened to the 64-character limit) to the caller's
 * names, for the request's tools and the calls in its history; empty when none was shortened.
 */
export function toolNamesSent(request: NeutralChatRequest): Map<string, string> {
  const names = new Map<string, string>();
  for (const name of [...request.tools.map((tool) => tool.name), ...toolNamesUsed(request.messages)]) {
    const sent = shortToolName(name);
    if (sent !== name) names.set(sent, name);
  }
  return names;
}
