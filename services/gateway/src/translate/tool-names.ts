/**
 * Tool names longer than OpenAI and Gemini take, and names Gemini refuses. Anthropic allows 128 characters
 * (`^[a-zA-Z0-9_-]{1,128}$`) and Claude Code's MCP tools (`mcp__<server>__<tool>`) often pass
 * 64, the most both others take: OpenAI ("string too long. Expected a string with maximum
 * length 64") and Gemini (a function declaration's name "with a maximum length of 64",
 * ai.google.dev/api/caching#FunctionDeclaration).
 */
import { createHash } from 'node:crypto';

/** The longest function name OpenAI and Gemini take. */
const TOOL_NAME_MAX = 64;

/**
 * A tool name as OpenAI and Gemini take it: a longer name goes as its first 55 characters, `_`
 * and 8 hex characters of its sha256 (as LiteLLM shortens them): the same for the same name, in
 * the tools, the tool choice and the history alike. Anthropic's characters are all Gemini's.
 * The answer's calls get the caller's names back by `anthropicToolNamesSent` (requests.ts).
 */
export function shortToolName(name: string): string {
  if (name.length <= TOOL_NAME_MAX) return name;
  return `${name.slice(0, 55)}_${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/** Gemini's first character of a function name: a letter or an underscore. */
const GEMINI_FIRST_CHARACTER = /^[A-Za-z_]/;

/**
 * A tool name as Gemini takes it: shortened as for OpenAI, and `_` before a name that starts with
 * a digit or a dash, which Claude and OpenAI take (`^[a-zA-Z0-9_-]`) and Gemini refuses with a 400
 * naming the declaration ("Invalid function name. Must start with a letter or an underscore",
 * FunctionDeclaration.name). The same for the same name; named back as shortened names are.
 */
export function geminiToolName(name: string): string {
  const short = shortToolName(name);
  return GEMINI_FIRST_CHARACTER.test(short) ? short : shortToolName(`_${name}`);
}
