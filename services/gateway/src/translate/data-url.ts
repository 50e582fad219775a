/** `data:` URLs, the form in which OpenAI clients inline images and files, and the base64 they carry. */
import { TranslationError } from './translation-error.js';

export interface Base64Data {
  mediaType: string;
  data: string;
}

/**
 * `data:image/png;base64,iVBOR...` gives its media type and base64 payload; undefined for
 * any other URL. Only base64 data URLs are accepted: providers take base64, and re-encoding
 * a percent-encoded payload is not worth a hot-path allocation for a form no SDK sends.
 */
export function parseBase64DataUrl(url: string): Base64Data | undefined {
  const start = base64DataUrlPayloadStart(url);
  if (start === undefined) return undefined;
  const header = url.slice('data:'.length, start - ';base64,'.length);
  const mediaType = header.split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType === '') return undefined;
  return { mediaType, data: url.slice(start) };
}

/**
 * Where the payload of a `data:...;base64,` URL starts; undefined for any other URL. The scheme
 * and `base64` are case-insensitive (RFC 2397, and the Fetch standard's data: URL processor):
 * `data:image/png;BASE64,...` is as valid a data URL, not one to refuse as "not base64".
 */
export function base64DataUrlPayloadStart(url: string): number | undefined {
  if (url.slice(0, 'data:'.length).toLowerCase() !== 'data:') return undefined;
  const comma = url.indexOf(',');
  if (comma < 0 || !url.slice('data:'.length, comma).toLowerCase().endsWith(';base64')) return undefined;
  return comma + 1;
}

/**
 * Other names callers give image types, as OpenAI accepts them (`data:image/jpg;base64,...`):
 * Claude takes only image/jpeg, png, gif and webp (platform.claude.com/docs/en/build-with-claude/vision),
 * and Gemini documents image/jpeg too (ai.google.dev/gemini-api/docs/image-understanding).
 */
const MEDIA_TYPE_ALIASES: Readonly<Record<string, string>> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'image/x-png': 'image/png',
};

/** The registered name of a media type (`image/jpg` is `image/jpeg`), lower case. */
export function canonicalMediaType(mediaType: string): string {
  const lower = mediaType.toLowerCase();
  return MEDIA_TYPE_ALIASES[lower] ?? lower;
}

/**
 * The media type to send for an inline image: the type its bytes show when they are JPEG, PNG,
 * GIF or WebP, else the caller's label by its registered name. OpenAI reads the bytes whatever
 * the label says, so OpenAI callers' labels can be wrong; Claude refuses an image whose bytes do
 * not match its media type ("Image does not match the provided media type").
 */
export function imageMediaType(mediaType: string, data: string): string {
  return imageTypeOfBase64(data) ?? canonicalMediaType(mediaType);
}

/**
 * The image type a base64 payload's first bytes (magic numbers) show, compared as base64 so
 * that nothing is decoded: JPEG FF D8 FF is `/9j/` (`_9j_` in the URL-safe alphabet), PNG's
 * signature `iVBORw0KGg`, `GIF8` `R0lGOD`, and WebP `RIFF` `UklGR` with `WEBP` (bytes 8-11)
 * ending in `RUJQ` at characters 12-15.
 */
export function imageTypeOfBase64(data: string): string | undefined {
  if (data.startsWith('/9j/') || data.startsWith('_9j_')) return 'image/jpeg';
  if (data.startsWith('iVBORw0KGg')) return 'image/png';
  if (data.startsWith('R0lGOD')) return 'image/gif';
  if (data.startsWith('UklGR') && data.startsWith('RUJQ', 12)) return 'image/webp';
  return undefined;
}

/** What some base64 decoder takes: both alphabets, padding, whitespace (line-wrapped base64). */
const BASE64_TEXT = /^[A-Za-z0-9+/=_\s-]*$/;
const BASE64_DATA_CHARACTER = /[A-Za-z0-9+/_-]/;

/**
 * Refuses, naming the caller's field, inline data no provider decodes: empty, or with a
 * character outside base64. Sent on, the provider refuses it naming its own path (Claude
 * "messages.0.content.1.image.source.base64: invalid base64 data" or "image cannot be empty",
 * OpenAI "got empty base64-encoded bytes"). Lenient on what a decoder may take: the URL-safe
 * alphabet (Gemini's JSON bytes accept it: protobuf.dev/programming-guides/json), padding
 * anywhere, whitespace. One regex pass, ~2 ms a megabyte: the data is not decoded.
 */
export function refuseMalformedBase64(data: string, path: string): void {
  if (BASE64_TEXT.test(data) && BASE64_DATA_CHARACTER.test(data)) return;
  throw new TranslationError(
    'invalid_value',
    path,
    data.trim() === ''
      ? 'The inline data is empty: an image or file needs its bytes, base64-encoded.'
      : 'The inline data is not base64: it holds characters outside the base64 alphabet (A-Z, a-z, 0-9, +, /, =).',
  );
}

export function base64DataUrl(mediaType: string, data: string): string {
  return `data:${mediaType};base64,${data}`;
}

export function isHttpUrl(url: string): boolean {
  return url.startsWith('https://') || url.startsWith('http://');
}
