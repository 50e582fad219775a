/**
 * GigaChat access tokens: the configured authorization key (base64 of client id and
 * secret) is exchanged at the OAuth endpoint for a token that lives 30 minutes.
 *
 * - One token per (OAuth URL, scope, key id), cached until `refreshMarginMs` before its
 *   `expires_at`, so no call starts with a token about to lapse.
 * - Concurrent calls share one exchange in flight; a failed exchange is not cached.
 * - `invalidate` drops a token the API refused (a 401 before its expiry), so the next call
 *   exchanges again; the call layer retries such a 401 once. Only that token is dropped:
 *   when a token lapses, every call in flight meets a 401, and the first to retry may already
 *   have its replacement cached (or its exchange in flight) that the others must use, not drop.
 * - The exchange runs without the caller's abort signal, since its result serves every
 *   caller; it has its own limits (30 s). Each caller waits on it only within its own
 *   first-byte and total limits and abort signal (`upstream_first_byte_timeout`,
 *   `upstream_aborted`), and the exchange goes on for the others.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { CallerSignal } from '../../upstream/caller-signal.js';
import { ACCEPT_IDENTITY } from '../../upstream/content-encoding.js';
import type {
  UpstreamClient,
  UpstreamErrorResponse,
  UpstreamRequest,
} from '../../upstream/upstream-client.js';
import {
  errorTypeForStatus,
  isRetryableStatus,
  isUpstreamError,
  type ProviderErrorInfo,
  UpstreamError,
} from '../../upstream/upstream-error.js';
import { parseBaseUrl, upstreamTarget } from '../../upstream/upstream-target.js';
import type { ProviderConfig, ProviderKey } from '../provider-types.js';
import { gigaChatError, gigaChatToken } from './gigachat-api-types.js';

export const DEFAULT_GIGACHAT_OAUTH_URL = 'https://ngw.devices.sberbank.ru:9443/api/v2/oauth';
export const DEFAULT_GIGACHAT_SCOPE = 'GIGACHAT_API_PERS';

export interface GigaChatTokenOptions {
  readonly now?: () => number;
  /** Refresh this long before `expires_at` (default 60 s). */
  readonly refreshMarginMs?: number;
  /** The `RqUID` of each exchange (default: a random UUID v4). */
  readonly requestId?: () => string;
}

/** What bounds one caller's wait for a token: its abort signal and its call's limits. */
export interface TokenWait {
  readonly signal?: CallerSignal | undefined;
  readonly timeouts?: UpstreamRequest['timeouts'];
}

interface CachedToken {
  readonly token: string;
  readonly refreshAt: number;
  /** When GigaChat stops taking it (its `expires_at`). */
  readonly expiresAt: number;
}

/**
 * A token this close to its expiry is not sent: a call's request must reach GigaChat while the
 * token is still good.
 */
const LAST_USE_MARGIN_MS = 5_000;

const EXCHANGE_TIMEOUTS = { firstByteMs: 30_000, idleMs: 30_000, totalMs: 30_000 };

export function gigaChatErrorInfo(response: UpstreamErrorResponse): ProviderErrorInfo {
  const { status } = response;
  const parsed = gigaChatError.safeParse(response.json);
  return {
    status,
    type: errorTypeForStatus(status),
    message: parsed.success ? parsed.data.message : '',
    code: parsed.success && parsed.data.code !== undefined ? String(parsed.data.code) : undefined,
    retryable: isRetryableStatus(status),
  };
}

/**
 * An OAuth 4xx is never the caller's bad request: it refuses what the gateway sent with the key.
 * GigaChat answers 400 to a key whose API version is not the configured scope (code 7), to an
 * empty scope (code 5) or a missing RqUID: nothing that clears by itself, and another key (of
 * the right version) may serve. So it is reported as the key being refused (403: the key is
 * flagged for an admin, the next key tried, the caller told 502 upstream_auth), with the
 * OAuth answer kept in `provider`. A 401 (wrong key) and a 429 are already what they say; a
 * 4xx that asks for a retry (408, 409, 425) fails over as the server's error, no status.
 */
export function refusedExchange(error: unknown): unknown {
  if (!isUpstreamError(error, 'upstream_http_error')) return error;
  const { status, provider } = error;
  if (status === undefined || status < 400 || status >= 500 || status === 401 || status === 429) return error;
  const said = `GigaChat OAuth answered ${status}${provider?.code === undefined ? '' : ` (code ${provider.code})`}${provider?.message ? `: ${provider.message}` : ''}`;
  if (isRetryableStatus(status)) {
    return new UpstreamError('upstream_invalid_response', `${said}; no token for this call`, {
      phase: error.phase,
      bodyExcerpt: error.bodyExcerpt,
      provider,
      cause: error,
    });
  }
  return new UpstreamError(
    'upstream_http_error',
    `${said}; the token exchange refused the key: check it and the configured scope`,
    {
      phase: error.phase,
      status: 403,
      isRetryable: false,
      bodyExcerpt: error.bodyExcerpt,
      provider,
      cause: error,
    },
  );
}

/** A digest of a key's secret, once per key object (the gateway keeps one a stored record). */
const fingerprints = new WeakMap<ProviderKey, string>();

function secretFingerprint(key: ProviderKey): string {
  let fingerprint = fingerprints.get(key);
  if (fingerprint === undefined) {
    fingerprint = createHash('sha256').update(key.reveal()).digest('base64url');
    fingerprints.set(key, fingerprint);
  }
  return fingerprint;
}

export class GigaChatTokens {
  readonly #now: () => number;
  readonly #refreshMarginMs: number;
  readonly #requestId: () => string;
  readonly #cache = new Map<string, CachedToken>();
  readonly #inFlight = new Map<string, Promise<CachedToken>>();
  #exchanges = 0;

  constructor(options: GigaChatTokenOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#refreshMarginMs = options.refreshMarginMs ?? 60_000;
    this.#requestId = options.requestId ?? randomUUID;
  }

  /** Exchanges made so far (for tests and metrics). */
  get exchanges(): number {
    return this.#exchanges;
  }

  async token(
    client: UpstreamClient,
    config: ProviderConfig,
    key: ProviderKey,
    wait: TokenWait = {},
  ): Promise<string> {
    const cacheKey = this.#cacheKey(config, key);
    const cached = this.#cache.get(cacheKey);
    const now = this.#now();
    if (cached && now < cached.refreshAt) return cached.token;
    let pending = this.#inFlight.get(cacheKey);
    if (!pending) {
      pending = this.#exchange(client, config, key)
        .then((fresh) => {
          // Cached once, when the exchange ends (not by each caller waiting on it), and a
          // rotated key's old token is not kept beside the new one.
          const ofThisKey = cacheKey.slice(0, cacheKey.lastIndexOf('\n') + 1);
          for (const other of this.#cache.keys()) if (other.startsWith(ofThisKey)) this.#cache.delete(other);
          this.#cache.set(cacheKey, fresh);
          return fresh;
        })
        .finally(() => this.#inFlight.delete(cacheKey));
      this.#inFlight.set(cacheKey, pending);
    }
    // In its last minute the token still serves while its successor is exchanged: a slow or
    // failing exchange then holds up or fails no call the old token could serve (a failure is
    // met by the first call after the token's end, which waits for an exchange of its own).
    if (cached && now < cached.expiresAt - LAST_USE_MARGIN_MS) {
      pending.catch(() => {});
      return cached.token;
    }
    return (await this.#within(pending, client, wait)).token;
  }

  /** The exchange, or the caller's own limit or abort, whichever comes first. */
  #within(pending: Promise<CachedToken>, client: UpstreamClient, { signal, timeouts }: TokenWait) {
    const limitMs = Math.min(
      timeouts?.firstByteMs ?? client.timeouts.firstByteMs,
      timeouts?.totalMs ?? client.timeouts.totalMs,
    );
    if (limitMs >= EXCHANGE_TIMEOUTS.totalMs && signal === undefined) return pending;
    return new Promise<CachedToken>((resolve, reject) => {
      const stop = (error: UpstreamError) => {
        settle();
        reject(error);
      };
      const onAbort = () =>
        stop(
          new UpstreamError('upstream_aborted', 'the caller left while a GigaChat token was exchanged', {
            phase: 'connect',
          }),
        );
      const timer = setTimeout(
        () =>
          stop(
            new UpstreamError(
              'upstream_first_byte_timeout',
              `no GigaChat access token within the call's ${limitMs} ms (the OAuth exchange did not answer)`,
              { phase: 'connect' },
            ),
          ),
        limitMs,
      );
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      pending.then(
        (fresh) => {
          settle();
          resolve(fresh);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }

  /**
   * After the API refused `refused` (a 401): forgets it if it is still the key's cached token.
   * A newer token (cached or being exchanged) stays: calls refused with the old one retry with
   * it instead of each dropping the others' and exchanging again. True: the retry gets another
   * token (that newer one, or a new exchange); the call layer retries once, so a second 401
   * with a fresh token is final.
   */
  invalidate(config: ProviderConfig, key: ProviderKey, refused: string): boolean {
    const cacheKey = this.#cacheKey(config, key);
    if (this.#cache.get(cacheKey)?.token === refused) this.#cache.delete(cacheKey);
    return true;
  }

  /**
   * Per endpoint, scope, key and secret: a rotation keeps the key's id and changes its secret,
   * and the token of the secret it replaced must not serve (it did until it expired, ~30 min).
   */
  #cacheKey(config: ProviderConfig, key: ProviderKey): string {
    return `${config.oauthUrl ?? DEFAULT_GIGACHAT_OAUTH_URL}\n${config.scope ?? DEFAULT_GIGACHAT_SCOPE}\n${key.id}\n${secretFingerprint(key)}`;
  }

  async #exchange(client: UpstreamClient, config: ProviderConfig, key: ProviderKey): Promise<CachedToken> {
    this.#exchanges += 1;
    const base = parseBaseUrl(config.oauthUrl ?? DEFAULT_GIGACHAT_OAUTH_URL);
    const secret = key.reveal();
    const response = await client
      .request({
        target: upstreamTarget({ origin: base.origin, basePath: '' }, base.basePath),
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          'accept-encoding': ACCEPT_IDENTITY,
          rquid: this.#requestId(),
          authorization: `Basic ${secret}`,
        },
        body: `scope=${encodeURIComponent(config.scope ?? DEFAULT_GIGACHAT_SCOPE)}`,
        timeouts: EXCHANGE_TIMEOUTS,
        secrets: [secret],
        tls: config.caCertificate ? { ca: config.caCertificate } : undefined,
        mapError: gigaChatErrorInfo,
      })
      .catch((error: unknown) => {
        throw refusedExchange(error);
      });
    const parsed = gigaChatToken.safeParse(response.json());
    if (!parsed.success) {
      throw new UpstreamError(
        'upstream_invalid_response',
        'GigaChat OAuth answer has no access_token/expires_at',
        {
          phase: 'body',
        },
      );
    }
    const { access_token: token, expires_at: expiresAt } = parsed.data;
    // expires_at is in milliseconds; a value in seconds (as some proxies send) is converted.
    const expiresAtMs = expiresAt < 1e12 ? expiresAt * 1000 : expiresAt;
    return { token, refreshAt: expiresAtMs - this.#refreshMarginMs, expiresAt: expiresAtMs };
  }
}
