/**
 * The dialect-neutral form of a chat request that every request translation goes through:
 * each client dialect parses into it, each provider dialect is written from it (the way
 * vercel/ai's providers share one prompt type). Adding a dialect is one parser and one
 * writer, and Anthropic -> Gemini loses nothing by passing through OpenAI's shape.
 *
 * Messages alternate roles (consecutive same-role turns are merged while parsing) and tool
 * results are parts of user turns, placed before the other parts, as Anthropic requires and
 * Gemini accepts. Parts that a target may refuse carry `path`, the field in the caller's own
 * request, so the refusal names what the caller sent.
 */
import { TranslationError } from './translation-error.js';

export type MediaSource = { kind: 'base64'; mediaType: string; data: string } | { kind: 'url'; url: string };

export interface TextPart {
  type: 'text';
  text: string;
}

export interface ImagePart {
  type: 'image';
  source: MediaSource;
  path: string;
}

/** A document (a PDF in practice) given inline or by URL. */
export interface FilePart {
  type: 'file';
  source: MediaSource;
  /** OpenAI's file name. */
  filename?: string;
  /**
   * Anthropic's `title` and `context`: text the model reads about the document. Targets without
   * such fields get them as a text part next to it.
   */
  title?: string;
  context?: string;
  path: string;
}

export interface AudioPart {
  type: 'audio';
  /** `wav` or `mp3`, as OpenAI names them. */
  format: string;
  data: string;
  path: string;
}

export interface ToolResultPart {
  type: 'tool-result';
  toolCallId: string;
  /** Text, and the images and documents a tool returned (targets whose tool results take text only move them after the results). */
  content: (TextPart | ImagePart | FilePart)[];
  isError: boolean;
  path: string;
}

export interface ToolCallPart {
  type: 'tool-call';
  id: string;
  name: string;
  input: Record<string, unknown>;
}

export type UserPart = TextPart | ImagePart | FilePart | AudioPart | ToolResultPart;
export type AssistantPart = TextPart | ToolCallPart;

export type NeutralMessage =
  | { role: 'user'; parts: UserPart[] }
  | {
      role: 'assistant';
      parts: AssistantPart[];
      /**
       * What the model that wrote the turn reasoned, as text (an Anthropic caller's thinking
       * blocks Kordon made from an OpenAI-dialect answer's `reasoning_content`): written back only
       * where the server reads it (DeepSeek requires it with tool calls).
       */
      reasoning?: string;
    };

export interface NeutralTool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments (an object schema). */
  parameters?: Record<string, unknown>;
  strict?: boolean;
}

export type NeutralToolChoice =
  | { type: 'auto' }
  | { type: 'none' }
  | { type: 'required' }
  | { type: 'tool'; name: string }
  /**
   * Only the tools named may be called (OpenAI's `allowed_tools`): `auto`, or `required` (one or
   * more of them). `names` are tools of the request, at least two and fewer than all of them
   * (`openAIToolChoice` gives `tool`, `none`, `auto` or `required` otherwise).
   */
  | { type: 'allowed'; mode: 'auto' | 'required'; names: string[] };

export type NeutralResponseFormat =
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      name: string;
      description?: string;
      schema?: Record<string, unknown>;
      strict?: boolean;
    };

export interface NeutralThinking {
  type: string;
  budgetTokens?: number;
}

export interface NeutralChatRequest {
  model: string;
  /** System (and OpenAI developer) instructions, in order. */
  system: string[];
  messages: NeutralMessage[];
  stream: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  /** The caller's field for `stop` (`stop` or `stop_sequences`), named when a writer refuses it. */
  stopParam?: string;
  tools: NeutralTool[];
  toolChoice?: NeutralToolChoice;
  /** False when the caller forbade parallel tool calls; undefined leaves the provider's default. */
  parallelToolCalls?: boolean;
  responseFormat?: NeutralResponseFormat;
  user?: string;
  /** Options only the OpenAI dialect has; writers for other dialects refuse or drop them. */
  n?: number;
  logprobs?: boolean;
  /** OpenAI's `top_logprobs`: the most likely tokens to return at each position. */
  topLogprobs?: number;
  audioOutput?: boolean;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  /**
   * How much the model reasons: OpenAI's `reasoning_effort` as the caller sent it (`none`,
   * `minimal`, `low`...), or Anthropic's `output_config.effort` (`low`, `medium`, `high`,
   * `xhigh`, `max`: the highest the model takes).
   */
  reasoningEffort?: string;
  /** The caller's field for `reasoningEffort`, named when a writer refuses it; `reasoning_effort` when unset. */
  reasoningEffortParam?: 'reasoning_effort' | 'output_config.effort';
  /**
   * Anthropic's `thinking` as the caller sent it (`disabled`, `enabled` with a budget,
   * `adaptive`). Read by the Gemini writer (a thinking config) and the OpenAI writer
   * (`reasoning_effort`, for OpenAI's reasoning models).
   */
  thinking?: NeutralThinking;
}

/**
 * Appends parts to the conversation, merging them into the last message when it has the
 * same role, and keeping tool results ahead of the other parts of a user turn.
 */
export function appendUserParts(messages: NeutralMessage[], parts: UserPart[]): void {
  if (parts.length === 0) return;
  const last = messages.at(-1);
  if (last?.role === 'user') {
    last.parts = toolResultsFirst([...last.parts, ...parts]);
    return;
  }
  messages.push({ role: 'user', parts: toolResultsFirst(parts) });
}

export function appendAssistantParts(messages: NeutralMessage[], parts: AssistantPart[]): void {
  if (parts.length === 0) return;
  const last = messages.at(-1);
  if (last?.role === 'assistant') {
    last.parts.push(...parts);
    return;
  }
  messages.push({ role: 'assistant', parts });
}

function toolResultsFirst(parts: UserPart[]): UserPart[] {
  if (!parts.some((part) => part.type === 'tool-result')) return parts;
  return [
    ...parts.filter((part) => part.type === 'tool-result'),
    ...parts.filter((part) => part.type !== 'tool-result'),
  ];
}

/**
 * A document's title and context (Anthropic's fields, text the model reads about it) as the
 * text that goes right before it where the target has no such fields (OpenAI, whose documented
 * PDF input gives the model the pages only; Gemini): as text documents carry their title.
 */
export function documentNote(part: FilePart): string | undefined {
  const note = [part.title, part.context].filter(Boolean).join('\n\n');
  return note === '' ? undefined : note;
}

/**
 * Claude and Gemini answer a conversation only: a request whose messages are all system
 * messages or empty (an OpenAI caller's `[{role: "system", ...}]`, which OpenAI answers) would
 * reach them with no turn at all and be refused in words about a body the caller never sent
 * (Claude's "at least one message is required", Gemini's "contents is not specified").
 * Refused here, naming `messages`, so the caller learns it in its own dialect.
 */
export function refuseEmptyConversation(request: NeutralChatRequest, models: string): void {
  if (request.messages.length > 0) return;
  throw new TranslationError(
    'invalid_value',
    'messages',
    `${models} need at least one user or assistant message with content; ` +
      'this request has only system messages or empty ones. Send the instruction as a user message.',
  );
}

/** Tool names used in the conversation, for providers that require every used tool to be declared. */
export function toolNamesUsed(messages: readonly NeutralMessage[]): string[] {
  const names = new Set<string>();
  for (const message of messages) {
    if (message.role !== 'assistant') continue;
    for (const part of message.parts) if (part.type === 'tool-call') names.add(part.name);
  }
  return [...names];
}

/**
 * Thinking budgets (tokens) for OpenAI's `reasoning_effort` values, as Google's own OpenAI
 * compatibility maps them (ai.google.dev/gemini-api/docs/openai#thinking); the Gemini and the
 * Claude writers both use them (1,024 is also Claude's minimum budget).
 */
export const EFFORT_BUDGETS = { minimal: 1024, low: 1024, medium: 8192, high: 24576 } as const;

/** Efforts from least to most, to tell which of two asks for less. */
const EFFORT_ORDER: readonly string[] = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'];

/** The effort that asks for less reasoning: a `budget_tokens` stays the ceiling of an effort. */
export function lesserEffort<E extends string>(a: E, b: E): E {
  return EFFORT_ORDER.indexOf(b) < EFFORT_ORDER.indexOf(a) ? b : a;
}

/**
 * The highest effort whose budget `budget_tokens` reaches (below medium's low, below high's
 * medium, else high), so that the caller's budget stays the ceiling.
 */
export function effortForBudget(budget: number): 'low' | 'medium' | 'high' {
  if (budget >= EFFORT_BUDGETS.high) return 'high';
  if (budget >= EFFORT_BUDGETS.medium) return 'medium';
  return 'low';
}
