import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Cross-origin access to the data plane (`/v1/...`) for web pages whose origin the operator
 * allows (KORDON_CORS_ORIGINS), as the providers allow it: a browser app built on either SDK
 * (`dangerouslyAllowBrowser`) can call Kordon as it calls the provider. The key is a bearer
 * header, never a cookie, so an allowed page gains nothing a visitor's browser holds; the list
 * still bounds which pages may use Kordon from a browser at all (it usually sits on a private
 * network, which Chrome's Private Network Access also asks about). Off when unset.
 */
export interface CorsPolicy {
  /** `*` or the exact origins allowed (`https://chat.acme.example`). */
  readonly origins: '*' | ReadonlySet<string>;
}

/**
 * Adds the CORS headers a request from a browser needs; answers a preflight itself. Returns
 * true when the request was answered (a preflight), false when its handler still runs.
 */
export function applyCors(
  policy: CorsPolicy,
  req: IncomingMessage,
  res: ServerResponse,
  origin: string,
): boolean {
  const allowed = policy.origins === '*' || policy.origins.has(origin);
  const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
  if (!preflight) {
    if (!allowed) return false; // served as any request: the browser keeps its answer from the page
    res.setHeader('access-control-allow-origin', policy.origins === '*' ? '*' : origin);
    if (policy.origins !== '*') res.setHeader('vary', 'Origin');
    // Request ids, retry and rate-limit headers: what the SDKs read from an answer.
    res.setHeader('access-control-expose-headers', '*');
    return false;
  }
  if (!allowed) {
    res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', vary: 'Origin' });
    res.end(`origin ${origin} may not call this gateway from a browser (KORDON_CORS_ORIGINS)`);
    return true;
  }
  const headers: Record<string, string> = {
    'access-control-allow-origin': policy.origins === '*' ? '*' : origin,
    // DELETE is not safelisted (Fetch): without it the SDKs' `responses.delete` and
    // `chat.completions.delete` never leave the page.
    'access-control-allow-methods': 'GET, POST, DELETE',
    'access-control-max-age': '7200',
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Private-Network',
  };
  // `*` would not cover `authorization`: the headers asked for are named back, when they are
  // header names (the SDKs send their own `x-stainless-*`, `anthropic-*`, `openai-*`).
  const asked = req.headers['access-control-request-headers'];
  if (typeof asked === 'string' && asked.length <= 4096 && HEADER_LIST.test(asked))
    headers['access-control-allow-headers'] = asked;
  if (req.headers['access-control-request-private-network'] === 'true')
    headers['access-control-allow-private-network'] = 'true';
  res.writeHead(204, headers);
  res.end();
  return true;
}

/** A comma-separated list of header names (RFC 9110 tokens). */
const HEADER_LIST = /^\s*[!#$%&'*+.^`|~\w-]+(\s*,\s*[!#$%&'*+.^`|~\w-]+)*\s*$/;

/**
 * KORDON_CORS_ORIGINS: unset or empty is off; `*` any origin; else origins separated by commas,
 * each a scheme, host and optional port (`https://chat.acme.example`, `http://localhost:5173`).
 * Returns the policy, or the first entry that is not an origin.
 */
export function parseCorsOrigins(value: string): CorsPolicy | undefined | { invalid: string } {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length === 0) return undefined;
  if (entries.length === 1 && entries[0] === '*') return { origins: '*' };
  const origins = new Set<string>();
  for (const entry of entries) {
    const url = URL.canParse(entry) ? new URL(entry) : undefined;
    // An origin has no path, query or credentials; kept as the browser's `Origin` header says it.
    const isOrigin =
      url !== undefined &&
      (url.protocol === 'https:' || url.protocol === 'http:') &&
      url.pathname === '/' &&
      url.search === '' &&
      url.hash === '' &&
      url.username === '' &&
      url.password === '';
    if (!isOrigin) return { invalid: entry };
    origins.add(url.origin);
  }
  return { origins };
}
