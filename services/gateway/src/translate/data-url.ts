/** `data:` URLs, the form in which OpenAI clients inline images and files. */

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
  if (!url.startsWith('data:')) return undefined;
  const comma = url.indexOf(',');
  if (comma < 0) return undefined;
  const header = url.slice('data:'.length, comma);
  if (!header.endsWith(';base64')) return undefined;
  const mediaType = header.slice(0, -';base64'.length).split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType === '') return undefined;
  return { mediaType, data: url.slice(comma + 1) };
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

export function base64DataUrl(mediaType: string, data: string): string {
  return `data:${mediaType};base64,${data}`;
}

export function isHttpUrl(url: string): boolean {
  return url.startsWith('https://') || url.startsWith('http://');
}
