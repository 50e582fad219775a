/**
 * Deterministic answers shared by the three mocks: the same conversation always gets the
 * same text, tool call and token counts, so tests can predict them with these helpers.
 */
import { seededRandom } from './seeded-random.js';

export const DEFAULT_REPLY_PREFIX = 'Mock reply: ';

/** A tool the request offers, reduced to what the mocks need. */
export interface ToolSpec {
  readonly name: string;
  /** JSON schema of the arguments. */
  readonly parameters?: unknown;
}

/** The last turn of a conversation decides the answer. */
export type LastTurn =
  | { readonly kind: 'user'; readonly text: string }
  | { readonly kind: 'tool-result'; readonly text: string };

/** A provider request reduced to the facts that decide the answer and its usage. */
export interface Conversation {
  readonly lastTurn: LastTurn;
  /** Every text of the prompt (system, messages, tool results), for counting input tokens. */
  readonly promptTexts: readonly string[];
  readonly messageCount: number;
  readonly tools: readonly ToolSpec[];
  /**
   * The names of the offered tools the model may call, when the request narrows them (OpenAI's
   * `tool_choice`: `none`, a named tool, `allowed_tools`); every offered tool when undefined.
   * The input tokens count every offered tool either way.
   */
  readonly callable?: ReadonlySet<string> | undefined;
  readonly maxOutputTokens?: number | undefined;
}

export type Answer = TextAnswer | ToolCallAnswer;

export interface TextAnswer {
  readonly kind: 'text';
  readonly text: string;
  /** True when max tokens cut the text short. */
  readonly truncated: boolean;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export interface ToolCallAnswer {
  readonly kind: 'tool-call';
  readonly toolName: string;
  readonly argumentsJson: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** Roughly four UTF-8 bytes a token: plausible, cheap, and the same on every run. */
export function countTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 4);
}

/** Input tokens: the texts plus a small per-message overhead, like real chat templates. */
export function countInputTokens(conversation: Conversation): number {
  const texts = conversation.promptTexts.reduce((sum, text) => sum + countTokens(text), 0);
  const tools = conversation.tools.length > 0 ? countTokens(JSON.stringify(conversation.tools)) : 0;
  return texts + tools + 3 * conversation.messageCount + 3;
}

export function answerFor(conversation: Conversation, replyPrefix: string): Answer {
  const inputTokens = countInputTokens(conversation);
  const call = conversation.lastTurn.kind === 'user' ? requestedToolCall(conversation) : undefined;
  if (call) {
    const outputTokens = countTokens(call.toolName) + countTokens(call.argumentsJson) + 5;
    return { kind: 'tool-call', ...call, inputTokens, outputTokens };
  }
  const full = replyText(conversation.lastTurn, replyPrefix);
  const text = truncateToTokens(full, conversation.maxOutputTokens);
  return { kind: 'text', text, truncated: text !== full, inputTokens, outputTokens: countTokens(text) };
}

/** The echo: prefix plus the last user text, or a note about the tool result it got. */
export function replyText(lastTurn: LastTurn, replyPrefix: string = DEFAULT_REPLY_PREFIX): string {
  const text = lastTurn.text === '' ? '(empty)' : lastTurn.text;
  return lastTurn.kind === 'user' ? `${replyPrefix}${text}` : `${replyPrefix}tool result: ${text}`;
}

/** Cuts whole characters so that the text fits in `maxTokens`. */
export function truncateToTokens(text: string, maxTokens: number | undefined): string {
  if (maxTokens === undefined || countTokens(text) <= maxTokens) return text;
  let kept = '';
  for (const char of text) {
    if (countTokens(kept + char) > maxTokens) break;
    kept += char;
  }
  return kept;
}

/** "... call <toolname> <rest>" in the last user text asks for an offered tool. */
function requestedToolCall(
  conversation: Conversation,
): { toolName: string; argumentsJson: string } | undefined {
  const match = /\bcall\s+([\w.-]+)/i.exec(conversation.lastTurn.text);
  const tool = conversation.tools.find((candidate) => candidate.name === match?.[1]);
  if (!match || !tool || (conversation.callable && !conversation.callable.has(tool.name))) return undefined;
  const rest = conversation.lastTurn.text.slice(match.index + match[0].length).trim();
  return { toolName: tool.name, argumentsJson: JSON.stringify(toolArguments(tool.parameters, rest)) };
}

/** Fills each declared property with a value of its type; strings get the rest of the request. */
export function toolArguments(schema: unknown, rest: string): Record<string, unknown> {
  const properties = isRecord(schema) && isRecord(schema.properties) ? schema.properties : {};
  const args: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    args[name] = sampleValue(property, rest === '' ? name : rest);
  }
  return args;
}

function sampleValue(property: unknown, text: string): unknown {
  if (!isRecord(property)) return text;
  if (Array.isArray(property.enum) && property.enum.length > 0) return property.enum[0];
  switch (property.type) {
    case 'number':
    case 'integer':
      return 42;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object':
      return {};
    default:
      return text;
  }
}

/** Splits text into words that keep their leading whitespace; joined they give the text back. */
export function splitWords(text: string): string[] {
  const words = text.match(/\s*\S+/gu) ?? [];
  const rest = text.slice(words.join('').length);
  if (words.length === 0) return [text];
  words[words.length - 1] += rest;
  return words;
}

/** Groups words `size` at a time: Gemini streams bigger pieces than OpenAI and Anthropic. */
export function splitWordGroups(text: string, size: number): string[] {
  const words = splitWords(text);
  const groups: string[] = [];
  for (let start = 0; start < words.length; start += size)
    groups.push(words.slice(start, start + size).join(''));
  return groups;
}

/** Splits a string into `parts` pieces of whole characters, e.g. tool-call JSON into deltas. */
export function splitIntoParts(text: string, parts: number): string[] {
  const chars = Array.from(text);
  const size = Math.max(1, Math.ceil(chars.length / parts));
  const pieces: string[] = [];
  for (let start = 0; start < chars.length; start += size)
    pieces.push(chars.slice(start, start + size).join(''));
  return pieces.length > 0 ? pieces : [''];
}

/** A unit-length vector derived from the text: same text, same embedding. */
export function embeddingFor(text: string, dimensions: number): number[] {
  const next = seededRandom(fnv1a(text));
  const raw = Array.from({ length: dimensions }, () => next() * 2 - 1);
  const norm = Math.sqrt(raw.reduce((sum, value) => sum + value * value, 0)) || 1;
  return raw.map((value) => Math.fround(value / norm));
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sequential ids per server, so two runs of a test see the same ids. */
export class IdSource {
  #counter = 0;

  next(prefix: string): string {
    this.#counter += 1;
    return `${prefix}${this.#counter.toString().padStart(6, '0')}`;
  }

  /** A hex id of a fixed width, e.g. OpenAI's `req_` + 32 hex digits. */
  hex(prefix: string, width: number): string {
    this.#counter += 1;
    return `${prefix}${this.#counter.toString(16).padStart(width, '0')}`;
  }
}
