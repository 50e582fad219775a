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

export function base64DataUrl(mediaType: string, data: string): string {
  return `data:${mediaType};base64,${data}`;
}

export function isHttpUrl(url: string): boolean {
  return url.startsWith('https://') || url.startsWith('http://');
}
