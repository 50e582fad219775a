import { FOREIGN_REASONING_SIGNATURE } from '../translate/anthropic-messages-types.js';
import { isRecord } from '../translate/json-object.js';
import { geminiAudioTokens } from './audio.js';
import { type DocumentBiller, pdfTokens, textFileContent } from './documents.js';
import {
  anthropicImageTokens,
  geminiImageTokens,
  type ImageSize,
  imageSizeFromBase64,
  imageSizeFromDataUrl,
  openAiImageTokens,
} from './images.js';
import { pdfReadBudget } from './pdf-pages.js';
import {
  type AnthropicBlock,
  type AnthropicInnerBlock,
  type AnthropicMessagesRequest,
  type AnthropicSource,
  type AnthropicTool,
  type OpenAiChatRequest,
  type OpenAiContentPart,
  type OpenAiFunctionDefinition,
  type OpenAiMessage,
  openAiFunctionDefinition,
} from './request-shapes.js';
import {
  type Encoder,
  type EncodingName,
  getEncoder,
  type ModelTokenizer,
  tokenizerForModel,
} from './tokenizer.js';

/*
 * Token counts of strings and of chat prompts.
 *
 * OpenAI chat prompts follow OpenAI's cookbook "How to count tokens with tiktoken"
 * (github.com/openai/openai-cookbook, examples/How_to_count_tokens_with_tiktoken.ipynb,
 * sections 6 and 7), which it checks against the API's own counts:
 *
 *   tokens = 3                                       reply priming (<|start|>assistant<|message|>)
 *          + sum over messages of
 *              3                                    per-message framing
 *            + tokens(role) + tokens(content)
 *            + tokens(name) + 1                     when the message has a name
 *          + tools, when present:
 *              12                                   once
 *            + per function: F + tokens("name:description")    F = 7 (gpt-4o family), 10 (gpt-3.5/gpt-4)
 *                 + if it has properties: 3 + per property: 3 + tokens("key:type:description")
 *                        + if enum: -3 + per item: 3 + tokens(item)
 *                 (a trailing "." of descriptions is dropped)
 *
 * The cookbook's examples give 129 (gpt-3.5-turbo, gpt-4) / 124 (gpt-4o, gpt-4o-mini) tokens
 * for its six-message prompt, and 105 / 101 with its weather tool; the tests replay both.
 * Beyond that formula everything is an approximation and the result lists it:
 *   tokenizer       the model is not OpenAI's: o200k_base stands in for its tokenizer
 *   chat-format     the model's chat framing is not the one the cookbook verified (other
 *                   OpenAI models, array content, Anthropic prompts)
 *   tools           tool definitions outside the verified case (nested parameters, other models,
 *                   Anthropic tools, the legacy functions API)
 *   tool-calls      tool calls and results inside the conversation: name + arguments + 3 each
 *   images          an image whose size or model rule is unknown (see images.ts)
 *   audio           audio input: by its length where Gemini bills it (32 tokens a second,
 *                   audio.ts), else counted as 0 (OpenAI publishes no rate)
 *   documents       inline PDFs by their pages, at the vendor's rate a page (documents.ts);
 *                   inline text files as their text; a document by URL or file id, or an
 *                   inline file that is neither:
 *                   DOCUMENT_TOKENS; Anthropic text and custom content documents are
 *                   counted as their text (and images), with their title and context
 *   response-format a json_schema response format, counted as its JSON text
 *   long-text       more text than one count reads exactly (EXACT_TEXT_CHARS): the rest is
 *                   estimated from samples of it, or at the rate counted so far
 * `exact` is true only when the list is empty.
 */

export type Approximation =
  | 'tokenizer'
  | 'chat-format'
  | 'tools'
  | 'tool-calls'
  | 'images'
  | 'audio'
  | 'documents'
  | 'response-format'
  | 'long-text';

export interface TokenCount {
  readonly tokens: number;
  readonly encoding: EncodingName;
  readonly exact: boolean;
  readonly approximations: readonly Approximation[];
}

export const TOKENS_PER_MESSAGE = 3;
export const TOKENS_PER_NAME = 1;
export const REPLY_PRIMING_TOKENS = 3;
/** Framing of one tool call or result in the conversation (approximate). */
export const TOOL_CALL_TOKENS = 3;
/**
 * A document whose content Kordon does not see (a URL, a file id) or cannot page (not a PDF):
 * about a page of text and its image on Claude, 11 pages on Gemini 2.x.
 */
export const DOCUMENT_TOKENS = 3000;
/**
 * Tokens of the system prompt Anthropic adds when `tools` are present, from the tool-use
 * pricing table of Anthropic's docs (Claude 4.x models): 346 with tool_choice auto or none,
 * 313 with any or tool. Claude models only: another vendor's model never receives it.
 */
export const ANTHROPIC_TOOL_PROMPT_AUTO = 346;
export const ANTHROPIC_TOOL_PROMPT_FORCED = 313;

const TOOL_FUNC_END = 12;
const TOOL_PROP_INIT = 3;
const TOOL_PROP_KEY = 3;
const TOOL_ENUM_INIT = -3;
const TOOL_ENUM_ITEM = 3;

const APPROXIMATION_ORDER: readonly Approximation[] = [
  'tokenizer',
  'chat-format',
  'tools',
  'tool-calls',
  'images',
  'audio',
  'documents',
  'response-format',
  'long-text',
];
const NONE: readonly Approximation[] = Object.freeze([]);

/**
 * The most text one count (one request) runs through the tokenizer: it runs on the event
 * loop, at up to ~1.7 µs a character for dense text (base64) here, so a body of megabytes
 * would hold every other request for seconds. ~0.2 s at worst, ~40 ms for prose.
 */
export const EXACT_TEXT_CHARS = 128 * 1024;
/** Below this much budget left, a text is not sampled but taken at the rate counted so far. */
const MIN_SAMPLE_CHARS = 8 * 1024;
/** Windows a sampled text is read in, spread evenly over it. */
const SAMPLE_WINDOWS = 8;

/** Running count with its approximations as bits, turned into a result once. */
export class Tally {
  tokens = 0;
  #flags = 0;
  readonly encoder: Encoder;
  /** Characters the tokenizer may still read for this count, and what it has read. */
  #budget = EXACT_TEXT_CHARS;
  #countedChars = 0;
  #countedTokens = 0;
  /** What reading the count's PDFs may cost, all of them together. */
  readonly pdfBudget = pdfReadBudget();

  constructor(readonly tokenizer: ModelTokenizer) {
    this.encoder = getEncoder(tokenizer.encoding);
  }

  text(s: string | undefined | null): void {
    if (!s) return;
    // Another vendor's model: o200k_base stands in (flagged once any text is counted).
    if (!this.tokenizer.exact) this.flag('tokenizer');
    if (s.length <= this.#budget) {
      this.tokens += this.#count(s);
      return;
    }
    this.flag('long-text');
    if (this.#budget >= MIN_SAMPLE_CHARS) {
      // Evenly spaced windows of it, as much as the budget allows: the rate there, for all of it.
      const window = Math.floor(this.#budget / SAMPLE_WINDOWS);
      const step = Math.floor(s.length / SAMPLE_WINDOWS);
      let chars = 0;
      let tokens = 0;
      for (let at = 0; at < SAMPLE_WINDOWS; at++) {
        const sample = s.slice(at * step, at * step + window);
        chars += sample.length;
        tokens += this.#count(sample);
      }
      this.tokens += Math.ceil((tokens / chars) * s.length);
      return;
    }
    this.tokens += Math.ceil((this.#countedTokens / this.#countedChars) * s.length);
  }

  #count(s: string): number {
    const tokens = this.encoder.count(s);
    this.#budget -= s.length;
    this.#countedChars += s.length;
    this.#countedTokens += tokens;
    return tokens;
  }

  flag(a: Approximation): void {
    this.#flags |= 1 << APPROXIMATION_ORDER.indexOf(a);
  }

  result(): TokenCount {
    const approximations =
      this.#flags === 0
        ? NONE
        : Object.freeze(APPROXIMATION_ORDER.filter((_, i) => (this.#flags & (1 << i)) !== 0));
    return {
      tokens: Math.max(0, this.tokens),
      encoding: this.tokenizer.encoding,
      exact: approximations.length === 0,
      approximations,
    };
  }
}

/** Tokens of a plain string (a completion's output, an embedding input) for `model`. */
export function countTextTokens(text: string, model: string): TokenCount {
  const tally = new Tally(tokenizerForModel(model));
  tally.text(text);
  return tally.result();
}

/**
 * Whether Claude serves the model (its Anthropic or Vertex name, `claude-...`, or its Bedrock name,
 * `anthropic.claude-...`): then Claude's own rules apply (images, the tool-use system prompt),
 * whichever dialect the caller spoke.
 */
function isClaudeModel(t: ModelTokenizer): boolean {
  return /(?:^|\.)claude-/.test(t.baseModel);
}

// ---- images and documents, whichever dialect carried them -----------------------------------

/** Whose rules bill the model's images and documents: OpenAI's, Gemini's, or Claude's (others: an estimate). */
function billerOf(t: ModelTokenizer): DocumentBiller {
  if (t.exact) return 'openai';
  return t.baseModel.startsWith('gemini') ? 'gemini' : 'other';
}

/** Image tokens by the rule of the vendor that will bill them, not of the client's dialect. */
function addImage(tally: Tally, model: string, detail: string | undefined, size: ImageSize | null): void {
  const biller = billerOf(tally.tokenizer);
  if (biller === 'openai') {
    const r = openAiImageTokens(model, detail, size);
    tally.tokens += r.tokens;
    if (!r.exact) tally.flag('images');
    return;
  }
  // Gemini's rule where Gemini bills; Claude's published rule elsewhere (other vendors: an estimate).
  const r = biller === 'gemini' ? geminiImageTokens(model, size) : anthropicImageTokens(model, size);
  tally.tokens += r.tokens;
  if (!r.exact || !(biller === 'gemini' || isClaudeModel(tally.tokenizer))) tally.flag('images');
}

/**
 * Audio by its length where Gemini bills it (32 tokens a second); elsewhere uncounted, as OpenAI
 * publishes no rate for it. Always an estimate.
 */
function addAudio(tally: Tally, data: string | undefined): void {
  if (data !== undefined && billerOf(tally.tokenizer) === 'gemini') tally.tokens += geminiAudioTokens(data);
  tally.flag('audio');
}

/**
 * A document or file: an inline PDF by its pages at the billing vendor's rate a page, an inline
 * text file (text, Markdown, JSON, code) as its text, anything else (a URL, a file id, another
 * file type) at DOCUMENT_TOKENS. Always an estimate.
 */
function addDocument(tally: Tally, model: string, data: string | undefined): void {
  tally.flag('documents');
  const tokens =
    data === undefined ? null : pdfTokens(billerOf(tally.tokenizer), model, data, tally.pdfBudget);
  if (tokens !== null) {
    tally.tokens += tokens;
    return;
  }
  const text = data === undefined ? null : textFileContent(data);
  if (text !== null) tally.text(text);
  else tally.tokens += DOCUMENT_TOKENS;
}

// ---- OpenAI chat ---------------------------------------------------------------------------

/** The chat framing and tool formula of the cookbook were verified on these models. */
function cookbookFamily(t: ModelTokenizer): 'gpt-4o' | 'gpt-4' | null {
  if (!t.exact) return null;
  if (/^gpt-4o(?:-|$)/.test(t.baseModel)) return 'gpt-4o';
  if (/^gpt-4(?:-|$)|^gpt-3\.?5-turbo/.test(t.baseModel)) return 'gpt-4';
  return null;
}

function openAiPart(tally: Tally, model: string, part: OpenAiContentPart): void {
  switch (part.type) {
    case 'text':
      tally.text(part.text);
      return;
    case 'image_url': {
      const image = part.image_url;
      const url = typeof image === 'string' ? image : image?.url;
      const detail = typeof image === 'string' ? undefined : image?.detail;
      addImage(tally, model, detail, url === undefined ? null : imageSizeFromDataUrl(url));
      return;
    }
    case 'input_audio':
      addAudio(tally, part.input_audio?.data);
      return;
    case 'file':
      addDocument(tally, model, part.file?.file_data);
      return;
    case 'refusal':
      tally.text(part.refusal);
      return;
    default:
      tally.text(part.text);
      tally.flag('chat-format');
  }
}

function openAiMessage(tally: Tally, model: string, m: OpenAiMessage): void {
  tally.tokens += TOKENS_PER_MESSAGE;
  tally.text(m.role);
  if (typeof m.content === 'string') tally.text(m.content);
  else if (Array.isArray(m.content)) {
    if (m.content.length !== 1 || m.content[0]?.type !== 'text') tally.flag('chat-format');
    for (const part of m.content) openAiPart(tally, model, part);
  }
  if (m.name != null) {
    tally.text(m.name);
    tally.tokens += TOKENS_PER_NAME;
  }
  for (const call of m.tool_calls ?? []) {
    tally.text(call.function?.name);
    tally.text(call.function?.arguments);
    tally.tokens += TOOL_CALL_TOKENS;
    tally.flag('tool-calls');
  }
  if (m.function_call != null) {
    tally.text(m.function_call.name);
    tally.text(m.function_call.arguments);
    tally.tokens += TOOL_CALL_TOKENS;
    tally.flag('tool-calls');
  }
  if (m.tool_call_id != null) {
    tally.text(m.tool_call_id);
    tally.flag('tool-calls');
  }
  if (typeof m.refusal === 'string') tally.text(m.refusal);
}

const withoutFinalDot = (s: string) => (s.endsWith('.') ? s.slice(0, -1) : s);

/** The fields of a property the cookbook formula counts; any other is counted as JSON. */
const COOKBOOK_PROPERTY_FIELDS = new Set(['type', 'description', 'enum']);

/** The cookbook's tool formula (section 7). Returns false when it had to approximate. */
function openAiFunctions(
  tally: Tally,
  functions: readonly OpenAiFunctionDefinition[],
  funcInit: number,
): boolean {
  let faithful = true;
  for (const fn of functions) {
    tally.tokens += funcInit;
    tally.text(`${fn.name}:${withoutFinalDot(fn.description ?? '')}`);
    const properties = Object.entries(fn.parameters?.properties ?? {});
    if (properties.length > 0) {
      tally.tokens += TOOL_PROP_INIT;
      for (const [key, prop] of properties) {
        tally.tokens += TOOL_PROP_KEY;
        if (prop.enum !== undefined) {
          tally.tokens += TOOL_ENUM_INIT;
          for (const item of prop.enum) {
            tally.tokens += TOOL_ENUM_ITEM;
            if (typeof item !== 'string') faithful = false;
            tally.text(typeof item === 'string' ? item : JSON.stringify(item));
          }
        }
        // The cookbook reads top-level properties only; the model is sent what they nest too
        // (an object's fields, an array's items, anyOf...): counted as its JSON, not dropped.
        if (typeof prop.type !== 'string' || prop.type === 'object' || prop.type === 'array')
          faithful = false;
        const type = Array.isArray(prop.type) ? prop.type.join('|') : (prop.type ?? '');
        tally.text(`${key}:${type}:${withoutFinalDot(prop.description ?? '')}`);
        const nested = Object.entries(prop).filter(([field]) => !COOKBOOK_PROPERTY_FIELDS.has(field));
        if (nested.length > 0) {
          faithful = false;
          tally.text(JSON.stringify(Object.fromEntries(nested)));
        }
      }
    }
    // Definitions the properties refer to (`$ref`) are sent as well.
    const definitions = fn.parameters?.$defs ?? fn.parameters?.definitions;
    if (definitions != null) {
      faithful = false;
      tally.text(JSON.stringify(definitions));
    }
  }
  if (functions.length > 0) tally.tokens += TOOL_FUNC_END;
  return faithful;
}

/** Function tools by the cookbook formula for the tally's model, flagged beyond the verified case. */
function openAiFunctionTools(tally: Tally, functions: readonly OpenAiFunctionDefinition[]): void {
  if (functions.length === 0) return;
  const family = cookbookFamily(tally.tokenizer);
  const faithful = openAiFunctions(tally, functions, family === 'gpt-4' ? 10 : 7);
  if (!faithful || family === null) tally.flag('tools');
}

/** Tokens of an OpenAI chat prompt (messages, tools, response format) for `model`. */
export function countOpenAiChat(request: Omit<OpenAiChatRequest, 'model'>, model: string): TokenCount {
  const tally = new Tally(tokenizerForModel(model));
  const family = cookbookFamily(tally.tokenizer);
  if (family === null) tally.flag('chat-format');

  for (const m of request.messages) openAiMessage(tally, model, m);
  tally.tokens += REPLY_PRIMING_TOKENS;

  const functions: OpenAiFunctionDefinition[] = [];
  for (const tool of request.tools ?? []) {
    if (tool.function !== undefined) functions.push(tool.function);
    else tally.flag('tools'); // built-in tool types: their cost is the vendor's secret
  }
  openAiFunctionTools(tally, functions);
  if (request.functions != null && request.functions.length > 0) {
    openAiFunctions(tally, request.functions, family === 'gpt-4' ? 10 : 7);
    tally.flag('tools');
  }
  const schema = request.response_format?.json_schema;
  if (schema !== undefined) {
    tally.text(JSON.stringify(schema));
    tally.flag('response-format');
  }
  return tally.result();
}

// ---- Anthropic messages --------------------------------------------------------------------

function anthropicImage(
  tally: Tally,
  model: string,
  block: { readonly source?: AnthropicSource | string },
): void {
  const source = typeof block.source === 'object' ? block.source : undefined;
  const size =
    source?.type === 'base64' && source.data !== undefined ? imageSizeFromBase64(source.data) : null;
  addImage(tally, model, undefined, size);
}

/**
 * A document block: its title and context (text the model reads), then a text source as its
 * text, a custom content source as its text and images, base64 data (a PDF) by its pages.
 */
function anthropicDocument(tally: Tally, model: string, block: AnthropicBlock | AnthropicInnerBlock): void {
  tally.text(block.title);
  tally.text(block.context);
  const source = typeof block.source === 'object' ? block.source : undefined;
  if (source?.type === 'text') {
    tally.text(source.data);
    tally.flag('documents');
  } else if (source?.type === 'content') {
    if (typeof source.content === 'string') tally.text(source.content);
    else
      for (const item of source.content ?? []) {
        if (item.type === 'image') anthropicImage(tally, model, item);
        else tally.text(item.text);
      }
    tally.flag('documents');
  } else addDocument(tally, model, source?.type === 'base64' ? source.data : undefined);
}

function anthropicInner(tally: Tally, model: string, block: AnthropicInnerBlock): void {
  if (block.type === 'text') tally.text(block.text);
  else if (block.type === 'image') anthropicImage(tally, model, block);
  else if (block.type === 'document') anthropicDocument(tally, model, block);
  else if (block.text !== undefined) {
    tally.text(block.text);
    tally.flag('chat-format');
  } else {
    // A search result and the like: its text as JSON, roughly.
    tally.text(JSON.stringify(block));
    tally.flag('chat-format');
  }
}

function anthropicBlock(tally: Tally, model: string, block: AnthropicBlock): void {
  switch (block.type) {
    case 'text':
      tally.text(block.text);
      return;
    case 'image':
      anthropicImage(tally, model, block);
      return;
    case 'document':
      anthropicDocument(tally, model, block);
      return;
    case 'tool_use':
      tally.text(block.name);
      tally.text(JSON.stringify(block.input ?? {}));
      tally.tokens += TOOL_CALL_TOKENS;
      tally.flag('tool-calls');
      return;
    case 'tool_result':
      if (typeof block.content === 'string') tally.text(block.content);
      else if (Array.isArray(block.content))
        for (const inner of block.content) anthropicInner(tally, model, inner);
      else if (block.content !== undefined) tally.text(JSON.stringify(block.content));
      tally.tokens += TOOL_CALL_TOKENS;
      tally.flag('tool-calls');
      return;
    // Another model (GPT, Gemini...) is sent no thinking Claude wrote (the translate layer drops
    // it: that model would read Claude's thoughts as its own), only the reasoning it wrote itself,
    // which Kordon signed as foreign when it made the block.
    case 'thinking':
      if (isClaudeModel(tally.tokenizer) || block.signature === FOREIGN_REASONING_SIGNATURE)
        tally.text(block.thinking);
      return;
    case 'redacted_thinking':
      if (!isClaudeModel(tally.tokenizer)) return;
      tally.text(block.data);
      tally.flag('chat-format');
      return;
    default:
      // server tool use and results, search results...: their text as JSON, roughly.
      tally.text(JSON.stringify(block));
      tally.flag('chat-format');
  }
}

function anthropicToolText(tool: AnthropicTool): string {
  return JSON.stringify({ name: tool.name, description: tool.description, input_schema: tool.input_schema });
}

/**
 * A client tool as the OpenAI function the translate layer makes of it (name, description,
 * input_schema as parameters), or null for a server tool or a schema the cookbook formula
 * cannot read (a property that is not an object schema).
 */
function anthropicToolAsFunction(tool: AnthropicTool): OpenAiFunctionDefinition | null {
  if (tool.type !== undefined && tool.type !== 'custom') return null;
  const fn = openAiFunctionDefinition.safeParse({
    name: tool.name,
    description: tool.description,
    parameters: tool.input_schema,
  });
  return fn.success ? fn.data : null;
}

/**
 * Tokens of an Anthropic Messages prompt for `model`. Anthropic publishes neither its
 * tokenizer nor its framing, so this is always an estimate: the OpenAI framing above, text
 * through o200k_base (or the model's own encoding when an OpenAI model serves the request).
 * Tools, for a Claude model: their JSON plus Anthropic's tool system prompt; for any other
 * model (served through the translate layer): the functions they become, as countOpenAiChat
 * counts them, so one prompt is charged alike from either SDK.
 */
export function countAnthropicMessages(
  request: Omit<AnthropicMessagesRequest, 'model' | 'max_tokens'>,
  model: string,
): TokenCount {
  const tally = new Tally(tokenizerForModel(model));
  tally.flag('chat-format');

  if (request.system !== undefined) {
    tally.tokens += TOKENS_PER_MESSAGE;
    tally.text('system');
    if (typeof request.system === 'string') tally.text(request.system);
    else for (const block of request.system) tally.text(block.text);
  }
  for (const m of request.messages) {
    tally.tokens += TOKENS_PER_MESSAGE;
    tally.text(m.role);
    if (typeof m.content === 'string') tally.text(m.content);
    else for (const block of m.content) anthropicBlock(tally, model, block);
  }
  tally.tokens += REPLY_PRIMING_TOKENS;

  const tools = request.tools ?? [];
  if (tools.length > 0) {
    tally.flag('tools');
    if (isClaudeModel(tally.tokenizer)) {
      // Anthropic adds its tool-use system prompt itself, and bills it as input.
      const forced = request.tool_choice?.type === 'any' || request.tool_choice?.type === 'tool';
      tally.tokens += forced ? ANTHROPIC_TOOL_PROMPT_FORCED : ANTHROPIC_TOOL_PROMPT_AUTO;
      for (const tool of tools) tally.text(anthropicToolText(tool));
    } else {
      // GPT, Gemini...: they get the tools as functions, and no Claude prompt.
      const functions: OpenAiFunctionDefinition[] = [];
      for (const tool of tools) {
        const fn = anthropicToolAsFunction(tool);
        if (fn === null) tally.text(anthropicToolText(tool));
        else functions.push(fn);
      }
      openAiFunctionTools(tally, functions);
    }
  }
  // Its schema is prompt as a json_schema response_format's is (which a GPT or Gemini model
  // gets it as): counted alike, so one prompt counts the same from either SDK.
  const format = request.output_config?.format ?? request.output_format;
  if (format != null) {
    tally.text(JSON.stringify(format));
    tally.flag('response-format');
  }
  return tally.result();
}

// ---- OpenAI Responses ----------------------------------------------------------------------

/**
 * Tokens of a Responses API prompt: instructions, input items, tools. The API publishes no
 * framing formula, so items are framed as chat messages are (always `chat-format`); images
 * count by the vendor's rule and files as documents, as in chat, never as the text of their
 * base64 (which would make one photo hundreds of thousands of tokens).
 */
export function countOpenAiResponses(body: Readonly<Record<string, unknown>>, model: string): TokenCount {
  const tally = new Tally(tokenizerForModel(model));
  tally.flag('chat-format');
  if (typeof body.instructions === 'string') {
    tally.tokens += TOKENS_PER_MESSAGE;
    tally.text(body.instructions);
  }
  if (typeof body.input === 'string') {
    tally.tokens += TOKENS_PER_MESSAGE;
    tally.text(body.input);
  } else if (Array.isArray(body.input)) {
    for (const item of body.input) responsesItem(tally, model, item, 0);
  }
  tally.tokens += REPLY_PRIMING_TOKENS;
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    tally.flag('tools');
    for (const tool of body.tools) {
      if (!isRecord(tool)) continue;
      tally.text(stringOr(tool.name) ?? stringOr(tool.type));
      tally.text(stringOr(tool.description));
      if (tool.parameters !== undefined) tally.text(JSON.stringify(tool.parameters));
    }
  }
  return tally.result();
}

/** Deeper than this, an input item's parts are not read (a hostile body, not a prompt). */
const MAX_ITEM_DEPTH = 8;

function responsesItem(tally: Tally, model: string, item: unknown, depth: number): void {
  if (typeof item === 'string') {
    tally.text(item);
    return;
  }
  if (!isRecord(item) || depth > MAX_ITEM_DEPTH) return;
  switch (item.type) {
    case 'input_text':
    case 'output_text':
    case 'summary_text':
    case 'reasoning_text':
      tally.text(stringOr(item.text));
      return;
    case 'refusal':
      tally.text(stringOr(item.refusal));
      return;
    case 'input_image': {
      const url = stringOr(item.image_url);
      addImage(tally, model, stringOr(item.detail), url === undefined ? null : imageSizeFromDataUrl(url));
      return;
    }
    case 'input_file':
      addDocument(tally, model, stringOr(item.file_data));
      return;
    case 'input_audio':
      tally.flag('audio');
      return;
    case 'function_call':
    case 'custom_tool_call':
      tally.text(stringOr(item.name));
      tally.text(stringOr(item.arguments) ?? stringOr(item.input));
      tally.tokens += TOOL_CALL_TOKENS;
      tally.flag('tool-calls');
      return;
    case 'function_call_output':
    case 'custom_tool_call_output':
      tally.tokens += TOOL_CALL_TOKENS;
      tally.flag('tool-calls');
      responsesContent(tally, model, item.output, depth);
      return;
    case 'reasoning':
      // Its summary is text; `encrypted_content` is the provider's own and is not counted.
      responsesContent(tally, model, item.summary, depth);
      return;
    default:
      break;
  }
  if (item.type === 'message' || typeof item.role === 'string') {
    tally.tokens += TOKENS_PER_MESSAGE;
    tally.text(stringOr(item.role));
    responsesContent(tally, model, item.content, depth);
    return;
  }
  // Another item (a built-in tool's call, a reference): whatever text it carries.
  for (const field of ['text', 'content', 'output', 'arguments', 'name'] as const)
    responsesContent(tally, model, item[field], depth);
}

function responsesContent(tally: Tally, model: string, content: unknown, depth: number): void {
  if (typeof content === 'string') tally.text(content);
  else if (Array.isArray(content)) for (const part of content) responsesItem(tally, model, part, depth + 1);
  else if (isRecord(content)) responsesItem(tally, model, content, depth + 1);
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
