/**
 * Where an upstream call goes, built so that only configuration decides the host.
 *
 * - `parseBaseUrl` takes the provider's base URL from the admin's configuration (never from a
 *   request) and splits it into the origin, which picks the connection pool, and a base path.
 * - Values that come from a request (a model name, an Azure deployment) enter a path only
 *   through `pathSegment`, which refuses anything that could leave its segment: `/`, `\`,
 *   `..`, `%`, `?`, `#`, `:` (with `//`, a scheme), whitespace and control characters.
 * - `upstreamTarget` joins them and checks the result once more. `UpstreamClient` accepts only
 *   the branded `UpstreamTarget` this returns, so no string assembled elsewhere reaches it.
 */
import { UpstreamError } from './upstream-error.js';

declare const targetBrand: unique symbol;

/** An origin from configuration and a path built by the guard; only `upstreamTarget` makes one. */
export interface UpstreamTarget {
  /** `https://api.openai.com`: scheme, host and port, nothing else. */
  readonly origin: string;
  /** Absolute path with its query, e.g. `/v1/chat/completions`. */
  readonly path: string;
  readonly [targetBrand]: true;
}

/** A configured base URL, parsed once. */
export interface BaseUrl {
  readonly origin: string;
  /** The path part without a trailing slash: `''` or `/v1`. */
  readonly basePath: string;
}

function refused(message: string): UpstreamError {
  return new UpstreamError('upstream_target_refused', message, { phase: 'connect' });
}

const parsedBaseUrls = new Map<string, BaseUrl>();
const MAX_CACHED_BASE_URLS = 1024;
/** Paths `upstreamTarget` checked already (every request builds one of a few): checked once each. */
const checkedPaths = new Set<string>();
const MAX_CHECKED_PATHS = 1024;

/**
 * Parses a configured base URL: http(s) only, no credentials, query or fragment (they would
 * ride along on every call). Parsed once per distinct URL and cached.
 */
export function parseBaseUrl(baseUrl: string): BaseUrl {
  const cached = parsedBaseUrls.get(baseUrl);
  if (cached) return cached;
  if (!URL.canParse(baseUrl))
    throw refused(`base URL is not a URL: ${JSON.stringify(baseUrl.slice(0, 100))}`);
  const url = new URL(baseUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw refused(`base URL must be http or https, got ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') throw refused('base URL must not contain credentials');
  if (url.search !== '' || url.hash !== '') throw refused('base URL must not contain a query or a fragment');
  const basePath = url.pathname.replace(/\/+$/, '');
  checkPath(basePath === '' ? '/' : basePath);
  const parsed: BaseUrl = { origin: url.origin, basePath };
  if (parsedBaseUrls.size < MAX_CACHED_BASE_URLS) parsedBaseUrls.set(baseUrl, parsed);
  return parsed;
}

/** Characters a value from a request may have inside one path segment. */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._~@+-]{0,199}$/;

/**
 * A value from a request (model, deployment) made safe to be one path segment, or refused.
 * Nothing in the allowed set needs percent-encoding, so the value goes in as is.
 */
export function pathSegment(value: string, what: string): string {
  if (!SEGMENT.test(value) || value.includes('..')) {
    throw refused(`${what} ${JSON.stringify(value.slice(0, 100))} cannot be used in an upstream path`);
  }
  return value;
}

/**
 * The target for a path under a configured base URL. `path` is relative to the base path
 * (`/chat/completions`); query values are percent-encoded here, a list as the name repeated
 * (`include[]=a&include[]=b`, as the OpenAI SDK writes arrays).
 */
export function upstreamTarget(
  base: BaseUrl,
  path: string,
  query?: Readonly<Record<string, string | readonly string[] | undefined>>,
): UpstreamTarget {
  const fullPath = `${base.basePath}${path.startsWith('/') ? path : `/${path}`}`;
  if (!checkedPaths.has(fullPath)) {
    checkPath(fullPath);
    if (checkedPaths.size < MAX_CHECKED_PATHS) checkedPaths.add(fullPath);
  }
  let search = '';
  if (query) {
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined) continue;
      for (const one of typeof value === 'string' ? [value] : value)
        search += `${search === '' ? '?' : '&'}${encodeURIComponent(name)}=${encodeURIComponent(one)}`;
    }
  }
  return { origin: base.origin, path: `${fullPath}${search}` } as UpstreamTarget;
}

/** Whitespace, control characters, `\`, `?` and `#`: none belongs in a path we build. */
function hasForbiddenCharacter(path: string): boolean {
  for (let index = 0; index < path.length; index += 1) {
    const code = path.charCodeAt(index);
    if (code <= 0x20 || code === 0x7f || code === 0x5c || code === 0x3f || code === 0x23) return true;
  }
  return /\s/.test(path);
}

/** Rechecks a whole path: absolute, no `//` start, no dot segments (encoded or not), no odd characters. */
function checkPath(path: string): void {
  if (!path.startsWith('/') || path.startsWith('//')) throw refused('upstream path must be absolute');
  if (hasForbiddenCharacter(path)) throw refused('upstream path has characters that are not allowed');
  for (const segment of path.split('/')) {
    const decoded = segment.replace(/%2e/gi, '.');
    if (decoded === '.' || decoded === '..') throw refused('upstream path must not contain dot segments');
    if (/%2f|%5c/i.test(segment)) throw refused('upstream path must not contain encoded slashes');
  }
}
