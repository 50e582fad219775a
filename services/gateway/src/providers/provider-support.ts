/** Small pieces the adapters share: base URLs, JSON bodies, stream flags, refusals. */

import { ACCEPT_IDENTITY } from '../upstream/content-encoding.js';
import { UpstreamError } from '../upstream/upstream-error.js';
import { type BaseUrl, parseBaseUrl, type UpstreamTarget } from '../upstream/upstream-target.js';
import type {
  AuthHeaders,
  Operation,
  PreparedRequest,
  ProviderAdapter,
  ProviderConfig,
} from './provider-types.js';

export const JSON_CONTENT = 'application/json';
export const SSE_ACCEPT = 'text/event-stream';

/**
 * Headers of a JSON POST; streamed answers accept SSE. Hoisted: no allocation per call.
 * Every call asks for an uncompressed answer (upstream/content-encoding.ts says why).
 */
export const POST_JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': JSON_CONTENT,
  accept: JSON_CONTENT,
  'accept-encoding': ACCEPT_IDENTITY,
});
export const POST_SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': JSON_CONTENT,
  accept: SSE_ACCEPT,
  'accept-encoding': ACCEPT_IDENTITY,
});
export const GET_JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  accept: JSON_CONTENT,
  'accept-encoding': ACCEPT_IDENTITY,
});

/** A JSON call to prepare: a GET has no body; a streamed answer comes as SSE. */
export interface JsonCall {
  readonly target: UpstreamTarget;
  readonly get?: boolean;
  readonly streamed: boolean;
  readonly body: string | undefined;
  /** Headers beside the content headers (an API version). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The call prepared: its method, content headers, SSE framing when streamed and the configured CA. */
export function prepareJsonCall(call: JsonCall, config: ProviderConfig): PreparedRequest {
  const contentHeaders = call.get ? GET_JSON_HEADERS : call.streamed ? POST_SSE_HEADERS : POST_JSON_HEADERS;
  return {
    target: call.target,
    method: call.get ? 'GET' : 'POST',
    headers: call.headers ? { ...contentHeaders, ...call.headers } : contentHeaders,
    body: call.body,
    framing: call.streamed ? 'sse' : undefined,
    tls: configuredTls(config),
  };
}

/** The configured CA certificate, for providers whose servers the system store does not trust. */
export function configuredTls(config: ProviderConfig): PreparedRequest['tls'] {
  return config.caCertificate ? { ca: config.caCertificate } : undefined;
}

/** Auth by a header that carries the key as it is (`x-api-key`, `api-key`...). */
export function keyHeaderAuth(header: string, secret: string): AuthHeaders {
  return { headers: { [header]: secret }, secrets: [secret] };
}

/** The configured base URL, or the adapter's public one; refused when neither exists. */
export function baseUrlOf(
  adapter: Pick<ProviderAdapter, 'name' | 'defaultBaseUrl'>,
  config: ProviderConfig,
): BaseUrl {
  const url = config.baseUrl ?? adapter.defaultBaseUrl;
  if (url === undefined) {
    throw new UpstreamError(
      'upstream_target_refused',
      `${adapter.name} needs a baseUrl in its configuration`,
      {
        phase: 'connect',
      },
    );
  }
  return parseBaseUrl(url);
}

export function unsupportedOperation(adapterName: string, operation: Operation): UpstreamError {
  return new UpstreamError('upstream_target_refused', `${adapterName} does not serve ${operation}`, {
    phase: 'connect',
  });
}

/** The body with `stream` set as the call wants it (a copy; the caller's object is not touched). */
export function withStream(
  body: Readonly<Record<string, unknown>> | undefined,
  stream: boolean,
): Record<string, unknown> {
  return { ...body, stream };
}

/**
 * An OpenAI-style streamed request that asks for the usage chunk. The gateway strips that
 * chunk for callers that did not ask for it; their own stream_options are kept otherwise.
 */
export function withStreamUsage(body: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const options = body.stream_options;
  const current = typeof options === 'object' && options !== null ? options : {};
  return { ...body, stream: true, stream_options: { ...current, include_usage: true } };
}

/**
 * Whether the `service_tier` an answer names prices it: OpenAI's priority and flex tiers bill
 * at their own rates, and so does Azure OpenAI's priority processing. Other servers name tiers
 * of their own, priced their own way (Groq's `flex` bills at its on-demand rates), so their
 * answers are priced at the model's standard rates whatever tier they name.
 */
export function pricesByServiceTier(adapter: Pick<ProviderAdapter, 'id'>): boolean {
  return adapter.id === 'openai' || adapter.id === 'azure-openai';
}

/**
 * Whether the provider bills the cache reads it reports. GigaChat does not: its
 * `precached_prompt_tokens` are left out of the tokens it bills, so a price without its own
 * `cachedInput` charges them nothing there (`PriceRequestOptions.cacheReadsUnbilled`).
 */
export function billsCacheReads(providerType: ProviderAdapter['id']): boolean {
  return providerType !== 'gigachat';
}

/** Problems of the configured base URL, for `configProblems`. */
export function baseUrlProblems(
  adapter: Pick<ProviderAdapter, 'name' | 'defaultBaseUrl'>,
  config: ProviderConfig,
): string[] {
  try {
    baseUrlOf(adapter, config);
    return [];
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
}

/** The settings only some provider types read; `baseUrl` and `caCertificate` apply to every type. */
const TYPE_OPTIONS = [
  'apiVersion',
  'deployments',
  'folderId',
  'authScheme',
  'oauthUrl',
  'scope',
  'vendor',
  'organization',
  'project',
] as const satisfies readonly (keyof ProviderConfig)[];
export type TypeOption = (typeof TYPE_OPTIONS)[number];

/**
 * Settings given that this adapter never reads, for `configProblems`: refused rather than
 * ignored, since a `vendor` on a Claude provider or an `authScheme` on OpenAI is a mistake
 * whose effect the admin expects and would not get.
 */
export function foreignOptionProblems(
  adapterName: string,
  config: ProviderConfig,
  reads: readonly TypeOption[],
): string[] {
  return TYPE_OPTIONS.filter((option) => config[option] !== undefined && !reads.includes(option)).map(
    (option) => `${option} does not apply to ${adapterName} providers`,
  );
}

/** Reads `{ [field]: string }` from an unknown JSON value without trusting its shape. */
export function stringField(value: unknown, field: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const found = (value as Record<string, unknown>)[field];
  return typeof found === 'string' ? found : undefined;
}
