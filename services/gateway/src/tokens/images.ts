import { claudeModel } from '../translate/claude-models.js';
import { base64DataUrlPayloadStart } from '../translate/data-url.js';
import { baseModelName } from './tokenizer.js';

/*
 * Tokens an image in a prompt costs, by the providers' published rules.
 *
 * OpenAI (developers.openai.com/api/docs/guides/images-vision, "Calculating costs"):
 *   Tile models, detail "high"/"auto": fit the image in 2048x2048, then shrink it so its
 *     shortest side is at most 768px; count 512px tiles; tokens = base + tile * tiles.
 *     Detail "low": tokens = base.
 *       gpt-4o, gpt-4.1, gpt-4.5                 base 85,   tile 170
 *       gpt-4o-mini                              base 2833, tile 5667
 *       gpt-5, gpt-5-chat-latest                 base 70,   tile 140
 *       o1, o3                                   base 75,   tile 150
 *       computer-use-preview                     base 65,   tile 129
 *   Patch models: cover the image with 32px patches; above 1536 patches, shrink it (keeping
 *     the aspect ratio, so that whole patches fit) to at most 1536; tokens = patches x multiplier
 *     (rounded up):  gpt-4.1-mini, gpt-5-mini 1.62; gpt-4.1-nano, gpt-5-nano 2.46; o4-mini 1.72.
 *   Other OpenAI-compatible models: the gpt-4o tile rule, marked as an approximation.
 *
 * Anthropic (platform.claude.com/docs/en/build-with-claude/vision): tokens = width x height / 750,
 *   after shrinking the image to the model's maximal native resolution:
 *     Opus 4.7, 4.8, every Claude 5 model      long edge 2576px, 4784 tokens
 *     other models                             long edge 1568px, ~1600 tokens
 *   Images beyond it are scaled down, so that is the model's ceiling.
 *
 * When the size is unknown (an http URL, a format we do not sniff) the estimate is the rule's
 * ceiling, so admission reserves too much rather than too little:
 *   tile models  base + 8 tiles (a 768x2048 image: 2 x 4 tiles; gpt-4o: 1445)
 *   patch models 1536 patches x multiplier
 *   Anthropic    the model's ceiling (4784 on Opus 4.7 and later and Claude 5, 1600 on the others)
 * Sizes of inline (base64) PNG, GIF, WebP and JPEG images are read from their headers.
 */

export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

export interface ImageTokens {
  readonly tokens: number;
  /** False when the size was unknown or the model's rule is not published (an estimate). */
  readonly exact: boolean;
}

type OpenAiImageRule =
  | { readonly kind: 'tile'; readonly base: number; readonly tile: number }
  | { readonly kind: 'patch'; readonly multiplier: number };

/** Most specific first: `gpt-4.1-mini` before `gpt-4.1`, `gpt-4o-mini` before `gpt-4o`. */
const OPENAI_IMAGE_RULES: ReadonlyArray<readonly [RegExp, OpenAiImageRule]> = [
  [/^gpt-4\.1-mini(?:-|$)/, { kind: 'patch', multiplier: 1.62 }],
  [/^gpt-4\.1-nano(?:-|$)/, { kind: 'patch', multiplier: 2.46 }],
  [/^gpt-5-mini(?:-|$)/, { kind: 'patch', multiplier: 1.62 }],
  [/^gpt-5-nano(?:-|$)/, { kind: 'patch', multiplier: 2.46 }],
  [/^o4-mini(?:-|$)/, { kind: 'patch', multiplier: 1.72 }],
  [/^gpt-4o-mini(?:-|$)/, { kind: 'tile', base: 2833, tile: 5667 }],
  [/^gpt-4o(?:-|$)|^chatgpt-4o/, { kind: 'tile', base: 85, tile: 170 }],
  [/^gpt-4\.1(?:-|$)/, { kind: 'tile', base: 85, tile: 170 }],
  [/^gpt-4\.5(?:-|$)/, { kind: 'tile', base: 85, tile: 170 }],
  [/^gpt-5(?:-chat-latest)?(?:-\d{4}-\d{2}-\d{2})?$/, { kind: 'tile', base: 70, tile: 140 }],
  [/^o[13](?:-|$)/, { kind: 'tile', base: 75, tile: 150 }],
  [/^computer-use-preview/, { kind: 'tile', base: 65, tile: 129 }],
];
const DEFAULT_OPENAI_RULE: OpenAiImageRule = { kind: 'tile', base: 85, tile: 170 };

const TILE_FIT = 2048;
const TILE_SHORT_SIDE = 768;
const TILE_PX = 512;
/** 768 x 2048 after scaling: 2 x 4 tiles, the most any image can take. */
const MAX_TILES = 8;
const PATCH_PX = 32;
const PATCH_BUDGET = 1536;

export function openAiImageRule(model: string): { rule: OpenAiImageRule; published: boolean } {
  const base = baseModelName(model);
  for (const [re, rule] of OPENAI_IMAGE_RULES) if (re.test(base)) return { rule, published: true };
  return { rule: DEFAULT_OPENAI_RULE, published: false };
}

function tileCount(size: ImageSize): number {
  let { width: w, height: h } = size;
  if (w > TILE_FIT || h > TILE_FIT) {
    const s = TILE_FIT / Math.max(w, h);
    w *= s;
    h *= s;
  }
  const shortest = Math.min(w, h);
  if (shortest > TILE_SHORT_SIDE) {
    const s = TILE_SHORT_SIDE / shortest;
    w *= s;
    h *= s;
  }
  return Math.ceil(Math.round(w) / TILE_PX) * Math.ceil(Math.round(h) / TILE_PX);
}

function patchCount(size: ImageSize): number {
  const { width: w, height: h } = size;
  const raw = Math.ceil(w / PATCH_PX) * Math.ceil(h / PATCH_PX);
  if (raw <= PATCH_BUDGET) return raw;
  const shrink = Math.sqrt((PATCH_PX * PATCH_PX * PATCH_BUDGET) / (w * h));
  const fitW = (w * shrink) / PATCH_PX;
  const fitH = (h * shrink) / PATCH_PX;
  const adjusted = shrink * Math.min(Math.floor(fitW) / fitW, Math.floor(fitH) / fitH);
  const patches = Math.ceil((w * adjusted) / PATCH_PX) * Math.ceil((h * adjusted) / PATCH_PX);
  return Math.min(patches, PATCH_BUDGET);
}

function validSize(size: ImageSize | null): size is ImageSize {
  return (
    size !== null &&
    size.width > 0 &&
    size.height > 0 &&
    Number.isFinite(size.width) &&
    Number.isFinite(size.height)
  );
}

/** Tokens of one image in an OpenAI chat prompt. `detail` as sent (`low`, `high`, `auto`, absent). */
export function openAiImageTokens(
  model: string,
  detail: string | undefined,
  size: ImageSize | null,
): ImageTokens {
  const { rule, published } = openAiImageRule(model);
  const known = validSize(size);
  if (rule.kind === 'patch') {
    const patches = known ? patchCount(size) : PATCH_BUDGET;
    return { tokens: Math.ceil(patches * rule.multiplier), exact: published && known };
  }
  if (detail === 'low') return { tokens: rule.base, exact: published };
  const tiles = known ? tileCount(size) : MAX_TILES;
  return { tokens: rule.base + rule.tile * tiles, exact: published && known };
}

/**
 * Gemini 2.x and earlier (ai.google.dev/gemini-api/docs/tokens): an image with both sides at
 * most 384px is 258 tokens; a larger one is cropped and scaled into 768x768 tiles, 258 tokens
 * each. An image of unknown size is taken as 1120 (more than 4 tiles).
 *
 * Gemini 3 and later bill an image at its media resolution, whatever its pixel size
 * (ai.google.dev/gemini-api/docs/media-resolution, "Token counts": LOW 280, MEDIUM 560,
 * HIGH 1120; with none set, images are HIGH and PDF pages MEDIUM). Kordon's callers speak the
 * OpenAI or Anthropic dialect, which cannot name a media resolution, and the translate layer
 * sends none: Gemini bills the default.
 */
const GEMINI_TILE_TOKENS = 258;
const GEMINI_SMALL_EDGE = 384;
const GEMINI_TILE_EDGE = 768;
const GEMINI_UNKNOWN_SIZE_TOKENS = 1120;
/** Gemini 3's default media resolution for images, HIGH. */
const GEMINI_3_IMAGE_TOKENS = 1120;

/** `gemini-<major>[.<minor>]-...`, as Google names its models (`models/` or a vendor prefix dropped). */
const GEMINI_VERSIONED = /^gemini-(\d+)(?:[.-]|$)/;

/**
 * How a Gemini model bills media: by `media-resolution` (Gemini 3 and later), by `tiles`
 * (Gemini 2.x and earlier), or `unknown` for a name without a version (`gemini-flash-latest`,
 * an alias that may point to either).
 */
export function geminiMediaRule(model: string): 'media-resolution' | 'tiles' | 'unknown' {
  const major = GEMINI_VERSIONED.exec(baseModelName(model))?.[1];
  if (major === undefined) return 'unknown';
  return Number(major) >= 3 ? 'media-resolution' : 'tiles';
}

function geminiTileTokens(size: ImageSize | null): ImageTokens {
  if (!validSize(size)) return { tokens: GEMINI_UNKNOWN_SIZE_TOKENS, exact: false };
  if (size.width <= GEMINI_SMALL_EDGE && size.height <= GEMINI_SMALL_EDGE)
    return { tokens: GEMINI_TILE_TOKENS, exact: true };
  const tiles = Math.ceil(size.width / GEMINI_TILE_EDGE) * Math.ceil(size.height / GEMINI_TILE_EDGE);
  // Google crops as well as scales, so the tile count is an estimate.
  return { tokens: tiles * GEMINI_TILE_TOKENS, exact: false };
}

/** Tokens of one image in a prompt for the Gemini `model`. */
export function geminiImageTokens(model: string, size: ImageSize | null): ImageTokens {
  const rule = geminiMediaRule(model);
  if (rule === 'tiles') return geminiTileTokens(size);
  // Not exact: Google gives the resolutions' token budgets, and may yet bill a small image less.
  if (rule === 'media-resolution') return { tokens: GEMINI_3_IMAGE_TOKENS, exact: false };
  // An alias: whichever rule bills more.
  return { tokens: Math.max(geminiTileTokens(size).tokens, GEMINI_3_IMAGE_TOKENS), exact: false };
}

/** The largest image a Claude model reads as is: larger ones are scaled down to fit. */
interface ClaudeImageResolution {
  readonly longEdge: number;
  readonly maxTokens: number;
}

/** Opus 4.7 and later read images at up to ~3.75 MP (2576 x 1456): about three times the others. */
const CLAUDE_HIGH_RESOLUTION: ClaudeImageResolution = { longEdge: 2576, maxTokens: 4784 };
const CLAUDE_RESOLUTION: ClaudeImageResolution = { longEdge: 1568, maxTokens: 1600 };

/**
 * The maximal native image resolution of a Claude model (the vision guide's per-model limits:
 * "Claude Opus 5, Claude Sonnet 5, Claude Opus 4.8, and Claude Opus 4.7 accept up to 2576 pixels
 * on the long edge"): Opus from 4.7 and every Claude 5 model, by any of their names (Anthropic,
 * Bedrock, Vertex, OpenRouter).
 */
function claudeImageResolution(model: string): ClaudeImageResolution {
  const claude = claudeModel(model);
  const high =
    claude !== null &&
    (claude.major >= 5 || (claude.family === 'opus' && claude.major === 4 && claude.minor >= 7));
  return high ? CLAUDE_HIGH_RESOLUTION : CLAUDE_RESOLUTION;
}

/**
 * Tokens of one image in an Anthropic prompt for `model` (width x height / 750, capped as
 * Claude resizes it). An image of unknown size (a URL) is the model's ceiling.
 */
export function anthropicImageTokens(model: string, size: ImageSize | null): ImageTokens {
  const { longEdge, maxTokens } = claudeImageResolution(model);
  if (!validSize(size)) return { tokens: maxTokens, exact: false };
  const s = Math.min(1, longEdge / Math.max(size.width, size.height));
  const tokens = Math.ceil((size.width * s * (size.height * s)) / 750);
  return { tokens: Math.min(tokens, maxTokens), exact: true };
}

// ---- reading sizes from inline images --------------------------------------------------

/** Base64 characters decoded to find a header: enough for PNG, GIF and WebP. */
const SMALL_PREFIX = 64;
/** JPEG's size marker can follow EXIF data; look at most this far (64 KiB). */
const JPEG_PREFIX = 87_384;

/** Size of an image given as base64 (an Anthropic `source.data`), or null if not readable. */
export function imageSizeFromBase64(data: string, offset = 0): ImageSize | null {
  const head = Buffer.from(data.slice(offset, offset + SMALL_PREFIX), 'base64');
  const quick = sniffImageSize(head);
  if (quick !== null || !(head[0] === 0xff && head[1] === 0xd8)) return quick;
  return sniffImageSize(Buffer.from(data.slice(offset, offset + JPEG_PREFIX), 'base64'));
}

/** Size of an image given as a `data:image/...;base64,` URL, or null (http URLs, other encodings). */
export function imageSizeFromDataUrl(url: string): ImageSize | null {
  // Read as the translators read it (`DATA:...;BASE64,` too), so the size is that of what is sent.
  const start = base64DataUrlPayloadStart(url);
  return start === undefined ? null : imageSizeFromBase64(url, start);
}

/** Width and height from the first bytes of a PNG, GIF, WebP or JPEG file. */
export function sniffImageSize(b: Uint8Array): ImageSize | null {
  const at = (i: number) => b[i] ?? 0;
  const u16be = (i: number) => (at(i) << 8) | at(i + 1);
  const u16le = (i: number) => at(i) | (at(i + 1) << 8);
  const u24le = (i: number) => at(i) | (at(i + 1) << 8) | (at(i + 2) << 16);
  const u32be = (i: number) => ((at(i) << 24) >>> 0) + (at(i + 1) << 16) + (at(i + 2) << 8) + at(i + 3);
  const ascii = (i: number, s: string) => {
    for (let k = 0; k < s.length; k++) if (at(i + k) !== s.charCodeAt(k)) return false;
    return true;
  };
  const size = (width: number, height: number) => (width > 0 && height > 0 ? { width, height } : null);

  // PNG: signature, then the IHDR chunk.
  if (b.length >= 24 && at(0) === 0x89 && ascii(1, 'PNG') && ascii(12, 'IHDR'))
    return size(u32be(16), u32be(20));
  // GIF87a / GIF89a: logical screen size.
  if (b.length >= 10 && ascii(0, 'GIF8')) return size(u16le(6), u16le(8));
  // WebP: RIFF....WEBP then a VP8 / VP8L / VP8X chunk.
  if (b.length >= 30 && ascii(0, 'RIFF') && ascii(8, 'WEBP')) {
    if (ascii(12, 'VP8 ')) return size(u16le(26) & 0x3fff, u16le(28) & 0x3fff);
    if (ascii(12, 'VP8L')) {
      const bits = at(21) | (at(22) << 8) | (at(23) << 16) | (at(24) << 24);
      return size((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
    }
    if (ascii(12, 'VP8X')) return size(u24le(24) + 1, u24le(27) + 1);
    return null;
  }
  // JPEG: walk the segments to the first start-of-frame marker.
  if (at(0) === 0xff && at(1) === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (at(i) !== 0xff) return null;
      const marker = at(i + 1);
      if (marker === 0xff) {
        i += 1; // fill byte
        continue;
      }
      const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (isSof) return size(u16be(i + 7), u16be(i + 5));
      if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
        i += 2; // markers without a length
        continue;
      }
      i += 2 + u16be(i + 2);
    }
  }
  return null;
}
