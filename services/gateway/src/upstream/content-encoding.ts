/**
 * Providers are asked for `accept-encoding: identity` (a same-dialect answer is forwarded as
 * the provider sent it, and a stream is read frame by frame), but a server may compress
 * anyway: an HTTP request without the header allows any coding, and some proxies ignore it.
 * A finished answer in gzip, deflate or brotli is decoded here, bounded like the answer
 * itself (a small compressed body can expand a thousandfold); another coding is refused.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { HeaderBag } from './headers.js';
import { UpstreamError } from './upstream-error.js';

/** What to send as `accept-encoding` on every provider call. */
export const ACCEPT_IDENTITY = 'identity';

/** The codings of a `content-encoding` header, in the order they were applied; [] for none. */
export function contentCodings(headers: HeaderBag): string[] {
  const value = headers['content-encoding'];
  const text = Array.isArray(value) ? value.join(',') : value;
  if (!text) return [];
  return text
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
}

/** The body with its codings undone (last applied, first undone), at most `maxBytes` long. */
export function decodeContent(
  body: Buffer,
  codings: readonly string[],
  maxBytes: number,
  origin: string,
): Buffer {
  let decoded = body;
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!;
    const options = { maxOutputLength: maxBytes };
    try {
      if (coding === 'gzip' || coding === 'x-gzip') decoded = gunzipSync(decoded, options);
      else if (coding === 'deflate') decoded = inflateSync(decoded, options);
      else if (coding === 'br') decoded = brotliDecompressSync(decoded, options);
      else
        throw new UpstreamError(
          'upstream_invalid_response',
          `the provider sent its answer in ${coding}, which Kordon cannot read`,
          { phase: 'body', origin },
        );
    } catch (error) {
      if (error instanceof UpstreamError) throw error;
      if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE')
        throw new UpstreamError(
          'upstream_response_too_large',
          'the answer from the provider is too large once decoded',
          { phase: 'body', origin, cause: error },
        );
      throw new UpstreamError(
        'upstream_invalid_response',
        `the provider sent a ${coding} answer that does not decode`,
        { phase: 'body', origin, cause: error },
      );
    }
  }
  return decoded;
}
