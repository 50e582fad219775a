import { timingSafeEqual } from 'node:crypto';

/** A Fetch / undici `Headers` (or anything with a case-insensitive `get`). */
export interface HeaderGetter {
  get(name: string): string | null;
}
/** Node's `req.headers` (names lower case), or a plain object (names compared case-insensitively). */
export type HeaderRecord = Readonly<Record<string, string | readonly string[] | undefined>>;
/** Node's `req.rawHeaders`: `[name, value, name, value, ...]`. Best: repeated headers stay visible. */
export type RawHeaderList = readonly string[];
export type RequestHeaders = HeaderGetter | HeaderRecord | RawHeaderList;

export type ProxyKeySource = 'authorization' | 'x-api-key' | 'both';

export type ProxyKeyHeaderProblem =
  /** Neither header, or only empty ones. */
  | 'missing'
  /** `Authorization` with a scheme other than Bearer (or no scheme). */
  | 'unsupported_scheme'
  /** `Bearer` with no credentials, credentials with spaces or commas in them, or far too long. */
  | 'malformed_header'
  /** Two different keys: in `Authorization` and `x-api-key`, or in a repeated header. */
  | 'conflicting';

export type ExtractProxyKeyResult =
  | { readonly ok: true; readonly candidate: string; readonly source: ProxyKeySource }
  | { readonly ok: false; readonly reason: Exclude<ProxyKeyHeaderProblem, 'conflicting'> }
  /** `header`: where the keys differ, a repeated header or one in each (`both`); for the message. */
  | { readonly ok: false; readonly reason: 'conflicting'; readonly header: ProxyKeySource };

/** A header value longer than this is refused without being looked at (a key has 42 characters). */
export const MAX_CREDENTIAL_HEADER_LENGTH = 1024;

const AUTHORIZATION = 'authorization';
const X_API_KEY = 'x-api-key';
/** RFC 9110 optional whitespace: spaces and tabs. */
const OWS_EDGES = /^[ \t]+|[ \t]+$/g;
const BEARER = /^bearer[ \t]+/i;
/** Anything that cannot be inside one credential: whitespace, separators, controls. */
const NOT_ONE_TOKEN = /[\s,;]/;

function valuesOf(headers: RequestHeaders, name: string): string[] {
  const found: string[] = [];
  const collect = (value: unknown) => {
    if (typeof value === 'string') found.push(value);
    else if (Array.isArray(value)) for (const item of value) if (typeof item === 'string') found.push(item);
  };
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const header = headers[i];
      if (typeof header === 'string' && header.toLowerCase() === name) collect(headers[i + 1]);
    }
  } else if (typeof (headers as HeaderGetter).get === 'function') {
    collect((headers as HeaderGetter).get(name));
  } else {
    for (const [header, value] of Object.entries(headers as HeaderRecord)) {
      if (header.toLowerCase() === name) collect(value);
    }
  }
  return found;
}

type One =
  | { ok: true; candidate: string | null }
  | { ok: false; reason: Exclude<ProxyKeyHeaderProblem, 'conflicting'> }
  | { ok: false; reason: 'conflicting' };

/** The one credential of a header, null when absent or empty; several different ones conflict. */
function single(values: string[], read: (value: string) => One): One {
  let candidate: string | null = null;
  for (const raw of values) {
    if (raw.length > MAX_CREDENTIAL_HEADER_LENGTH) return { ok: false, reason: 'malformed_header' };
    const value = raw.replace(OWS_EDGES, '');
    if (value === '') continue;
    const one = read(value);
    if (!one.ok || one.candidate === null) return one;
    if (candidate !== null && !sameCredential(candidate, one.candidate)) {
      return { ok: false, reason: 'conflicting' };
    }
    candidate = one.candidate;
  }
  return { ok: true, candidate };
}

function readBearer(value: string): One {
  const scheme = BEARER.exec(value);
  if (!scheme) {
    return { ok: false, reason: /^bearer$/i.test(value) ? 'malformed_header' : 'unsupported_scheme' };
  }
  return readToken(value.slice(scheme[0].length));
}

function readToken(value: string): One {
  if (value === '' || NOT_ONE_TOKEN.test(value)) return { ok: false, reason: 'malformed_header' };
  return { ok: true, candidate: value };
}

/** Both are presented credentials; compared without an early exit all the same. */
function sameCredential(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * The proxy key a request presents: `Authorization: Bearer <key>` (scheme in any case) or
 * `x-api-key: <key>`, as the OpenAI and Anthropic SDKs send them. Values are trimmed of spaces
 * and tabs; an empty header counts as absent. Both headers with the same key are fine, with
 * different keys an error. Every header present must be valid: a bad `Authorization` is
 * refused even when `x-api-key` is good. The candidate is not checked here: `parseProxyKey`
 * does that. Never throws.
 */
export function extractProxyKeyCandidate(headers: RequestHeaders): ExtractProxyKeyResult {
  if (typeof headers !== 'object' || headers === null) return { ok: false, reason: 'missing' };
  const bearer = single(valuesOf(headers, AUTHORIZATION), readBearer);
  if (!bearer.ok) return bearer.reason === 'conflicting' ? { ...bearer, header: AUTHORIZATION } : bearer;
  const apiKey = single(valuesOf(headers, X_API_KEY), readToken);
  if (!apiKey.ok) return apiKey.reason === 'conflicting' ? { ...apiKey, header: X_API_KEY } : apiKey;

  if (bearer.candidate !== null && apiKey.candidate !== null) {
    return sameCredential(bearer.candidate, apiKey.candidate)
      ? { ok: true, candidate: bearer.candidate, source: 'both' }
      : { ok: false, reason: 'conflicting', header: 'both' };
  }
  if (bearer.candidate !== null) return { ok: true, candidate: bearer.candidate, source: 'authorization' };
  if (apiKey.candidate !== null) return { ok: true, candidate: apiKey.candidate, source: 'x-api-key' };
  return { ok: false, reason: 'missing' };
}
