import { createRequire } from 'node:module';

/*
 * Real BPE tokenizers (gpt-tokenizer, a port of OpenAI's tiktoken) for counting tokens when a
 * provider reports no usage, and for estimating a request before admission.
 *
 * Each encoding's rank table is large (o200k_base ~2.4 MB of JS: 150-460 ms to load on the
 * project's machine, ~40 MB of heap), so it is loaded on first use, once per process, through
 * the package's CommonJS build (a synchronous require keeps counting synchronous on the hot
 * path). `preloadEncodings()` at boot (KORDON_PRELOAD_TOKENIZERS) moves that cost out of the
 * first request that counts.
 *
 * Which encoding a model uses (OpenAI's published mapping, as in tiktoken's model.py):
 *   o200k_base   gpt-4o*, chatgpt-4o*, gpt-4.1*, gpt-4.5*, gpt-5*, o1*, o3*, o4*, codex-mini*,
 *                computer-use-preview*
 *   cl100k_base  gpt-4, gpt-4-*, gpt-3.5-turbo*, text-embedding-3-small/large,
 *                text-embedding-ada-002
 * Every other model (Claude, Gemini, Mistral, DeepSeek, YandexGPT, GigaChat, open models...)
 * is counted with o200k_base as an approximation and the result says so (`exact: false`):
 * those vendors' tokenizers are not public, and their counts differ by tens of percent.
 */

export type EncodingName = 'o200k_base' | 'cl100k_base';

export interface Encoder {
  readonly name: EncodingName;
  /** Tokens in `text`; special-token strings in it count as ordinary text (never throws). */
  count(text: string): number;
  /** Token ids of `text` (for tests and debugging; `count` does not allocate the array). */
  encode(text: string): number[];
}

export interface ModelTokenizer {
  readonly encoding: EncodingName;
  /** True when the encoding is the model's own (an OpenAI model), false for an approximation. */
  readonly exact: boolean;
  /** The model name as matched: lower case, provider prefix and `ft:` wrapper removed. */
  readonly baseModel: string;
}

/** What we use of gpt-tokenizer's encoding modules. */
interface GptTokenizerModule {
  countTokens(input: string, options: EncodeOptions): number;
  encode(input: string, options: EncodeOptions): number[];
}
interface EncodeOptions {
  readonly disallowedSpecial: ReadonlySet<string>;
}

/**
 * User text may contain `<|endoftext|>` and the like. OpenAI's API encodes such text as plain
 * text; so do we, instead of throwing (tiktoken's default) or treating it as a control token.
 */
const PLAIN_TEXT: EncodeOptions = Object.freeze({ disallowedSpecial: new Set<string>() });

const requireCjs = createRequire(import.meta.url);
const loaded = new Map<EncodingName, Encoder>();

function isGptTokenizerModule(value: unknown): value is GptTokenizerModule {
  if (typeof value !== 'object' || value === null) return false;
  const mod = value as Partial<Record<keyof GptTokenizerModule, unknown>>;
  return typeof mod.countTokens === 'function' && typeof mod.encode === 'function';
}

/** The encoder for `name`, loading its rank table on first use. */
export function getEncoder(name: EncodingName): Encoder {
  let encoder = loaded.get(name);
  if (encoder === undefined) {
    const mod: unknown = requireCjs(`gpt-tokenizer/encoding/${name}`);
    if (!isGptTokenizerModule(mod))
      throw new Error(`gpt-tokenizer/encoding/${name} does not export countTokens/encode`);
    const countSegment = (segment: string) => mod.countTokens(segment, PLAIN_TEXT);
    encoder = {
      name,
      count: (text: string) =>
        text.length === 0
          ? 0
          : text.length <= MAX_SEGMENT_CHARS
            ? countSegment(text)
            : countInSegments(text, countSegment),
      encode: (text: string) => mod.encode(text, PLAIN_TEXT),
    };
    loaded.set(name, encoder);
  }
  return encoder;
}

/**
 * The longest text handed to the tokenizer at once. gpt-tokenizer's merge is quadratic in the
 * length of one pre-token, and a pre-token has no length limit (a run of one letter, of spaces,
 * of symbols): 32,000 × "a" took 0.8 s here, and a megabyte of it would hold the event loop
 * for minutes. Longer text is counted in segments (`segmentEnd`).
 */
export const MAX_SEGMENT_CHARS = 256;

/** Tokens of a long text, segment by segment: a sum of pieces no longer than MAX_SEGMENT_CHARS. */
function countInSegments(text: string, countSegment: (segment: string) => number): number {
  let tokens = 0;
  let start = 0;
  while (text.length - start > MAX_SEGMENT_CHARS) {
    const end = segmentEnd(text, start);
    tokens += countSegment(text.slice(start, end));
    start = end;
  }
  return tokens + countSegment(text.slice(start));
}

const WHITESPACE = /\s/;

/**
 * Where the segment that begins at `start` ends: just before a space that follows a
 * non-space and precedes a non-space, in the segment's second half, where the encodings'
 * pre-tokenizer always starts a new piece (" word", " 42", " (") and no piece crosses, so
 * ordinary text counts exactly as if whole. A run with no such place (base64, one repeated
 * letter) is cut at the limit, outside a surrogate pair; such a cut may add a token.
 */
export function segmentEnd(text: string, start: number): number {
  const limit = start + MAX_SEGMENT_CHARS;
  for (let at = limit - 1; at > start + MAX_SEGMENT_CHARS / 2; at--) {
    if (
      text.charCodeAt(at) === 0x20 &&
      !WHITESPACE.test(text.charAt(at - 1)) &&
      !WHITESPACE.test(text.charAt(at + 1))
    )
      return at;
  }
  const high = text.charCodeAt(limit - 1);
  return high >= 0xd800 && high <= 0xdbff ? limit - 1 : limit;
}

/** Loads the rank tables now (boot), so that no request pays for it. */
export function preloadEncodings(names: readonly EncodingName[] = ['o200k_base', 'cl100k_base']): void {
  for (const name of names) getEncoder(name);
}

/** The encodings loaded so far (for the start's log and tests). */
export function loadedEncodings(): EncodingName[] {
  return [...loaded.keys()];
}

const O200K_MODELS = [
  /^gpt-4o(?:-|$)/,
  /^chatgpt-4o/,
  /^gpt-4\.1(?:-|$)/,
  /^gpt-4\.5(?:-|$)/,
  /^gpt-5(?:\.\d+)?(?:-|$)/,
  /^o[134](?:-|$)/,
  /^codex-mini/,
  /^computer-use-preview/,
];
const CL100K_MODELS = [
  /^gpt-4(?:-|$)/,
  /^gpt-3\.5-turbo/,
  // Azure's name of gpt-3.5-turbo (tiktoken's model.py maps it so: "Azure deployment name").
  /^gpt-35-turbo/,
  /^text-embedding-3-(?:small|large)$/,
  /^text-embedding-ada-002$/,
];

/** `openai/gpt-4o` -> `gpt-4o`; `ft:gpt-4o-mini-2024-07-18:acme::id` -> `gpt-4o-mini-2024-07-18`. */
export function baseModelName(model: string): string {
  let name = model.trim().toLowerCase();
  const slash = name.lastIndexOf('/');
  if (slash >= 0) name = name.slice(slash + 1);
  if (name.startsWith('ft:')) name = name.slice(3).split(':', 1)[0] ?? name;
  return name;
}

/** Model names come from clients: the memo is bounded and simply starts over when full. */
const MEMO_LIMIT = 512;
const memo = new Map<string, ModelTokenizer>();

export function tokenizerForModel(model: string): ModelTokenizer {
  let found = memo.get(model);
  if (found === undefined) {
    const baseModel = baseModelName(model);
    if (O200K_MODELS.some((re) => re.test(baseModel)))
      found = { encoding: 'o200k_base', exact: true, baseModel };
    else if (CL100K_MODELS.some((re) => re.test(baseModel)))
      found = { encoding: 'cl100k_base', exact: true, baseModel };
    else found = { encoding: 'o200k_base', exact: false, baseModel };
    Object.freeze(found);
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(model, found);
  }
  return found;
}
