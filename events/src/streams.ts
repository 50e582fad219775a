import { KordonError } from './errors.js';

/**
 * Every id that can appear in a stream id or in event data: a short, URL- and log-safe token.
 * No ':' (the stream id separator) and no whitespace, so a stream id always splits back into
 * its parts. UUIDs, ULIDs and slugs fit.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Two ids plus the fixed parts stay under the envelope's 300-character stream id. */
export const ID_MAX_LENGTH = 128;

export function isValidId(value: string): boolean {
  return value.length <= ID_MAX_LENGTH && ID_PATTERN.test(value);
}

function part(label: string, value: string): string {
  if (typeof value !== 'string' || !isValidId(value)) {
    throw new KordonError(
      'event_invalid',
      `stream id: ${label} ${JSON.stringify(value)} must be 1-${ID_MAX_LENGTH} characters of [A-Za-z0-9._-] (no ':')`,
    );
  }
  return value;
}

export type PolicyScope = 'org' | 'team' | 'user' | 'proxy-key';

/**
 * Stream ids. Every tenant stream starts with `org:<orgId>` so the tenant can be read from
 * the id alone; only routing is global (egress gateways serve every org).
 */
export const streams = {
  org: (orgId: string) => `org:${part('orgId', orgId)}`,
  team: (orgId: string, teamId: string) => `org:${part('orgId', orgId)}:team:${part('teamId', teamId)}`,
  user: (orgId: string, userId: string) => `org:${part('orgId', orgId)}:user:${part('userId', userId)}`,
  proxyKey: (orgId: string, proxyKeyId: string) =>
    `org:${part('orgId', orgId)}:proxy-key:${part('proxyKeyId', proxyKeyId)}`,
  provider: (orgId: string, provider: string) =>
    `org:${part('orgId', orgId)}:provider:${part('provider', provider)}`,
  providerKey: (orgId: string, providerKeyId: string) =>
    `org:${part('orgId', orgId)}:provider-key:${part('providerKeyId', providerKeyId)}`,
  /** A machine token of the admin API. */
  apiToken: (orgId: string, apiTokenId: string) =>
    `org:${part('orgId', orgId)}:api-token:${part('apiTokenId', apiTokenId)}`,
  /** A signed-in session of the admin API (refresh token rotation, logout). */
  session: (orgId: string, sessionId: string) =>
    `org:${part('orgId', orgId)}:session:${part('sessionId', sessionId)}`,
  /** Category stream of request events (RequestCompleted...): appended in batches, no version check. */
  usage: (orgId: string) => `org:${part('orgId', orgId)}:usage`,
  /** LimitReset and LimitExceeded of the whole org. */
  limits: (orgId: string) => `org:${part('orgId', orgId)}:limits`,
  /** FraudSignalRaised of the whole org. */
  fraud: (orgId: string) => `org:${part('orgId', orgId)}:fraud`,
  /** Global: egress gateways and routes. */
  routing: () => 'routing',
  /** The stream a policy of this scope lives on (PolicySet goes with its subject). */
  policy(orgId: string, scope: PolicyScope, scopeId: string): string {
    switch (scope) {
      case 'org':
        if (scopeId !== orgId) {
          throw new KordonError(
            'event_invalid',
            `stream id: org policy scopeId ${scopeId} is not orgId ${orgId}`,
          );
        }
        return streams.org(orgId);
      case 'team':
        return streams.team(orgId, scopeId);
      case 'user':
        return streams.user(orgId, scopeId);
      case 'proxy-key':
        return streams.proxyKey(orgId, scopeId);
      default: {
        const unknownScope: never = scope;
        throw new KordonError('event_invalid', `stream id: unknown policy scope ${String(unknownScope)}`);
      }
    }
  },
} as const;

export type StreamCategory =
  | 'org'
  | 'team'
  | 'user'
  | 'proxy-key'
  | 'provider'
  | 'provider-key'
  | 'api-token'
  | 'session'
  | 'usage'
  | 'limits'
  | 'fraud';

export type ParsedStreamId =
  | { kind: 'routing' }
  | { kind: 'tenant'; orgId: string; category: StreamCategory; id: string | null };

const ENTITY_CATEGORIES = new Set<string>([
  'team',
  'user',
  'proxy-key',
  'provider',
  'provider-key',
  'api-token',
  'session',
]);
const ORG_CATEGORIES = new Set<string>(['usage', 'limits', 'fraud']);

/** The inverse of `streams`: null for an id no helper makes. */
export function parseStreamId(streamId: string): ParsedStreamId | null {
  if (streamId === 'routing') return { kind: 'routing' };
  const parts = streamId.split(':');
  const [prefix, orgId, category, id] = parts;
  if (prefix !== 'org' || orgId === undefined || !isValidId(orgId)) return null;
  if (parts.length === 2) return { kind: 'tenant', orgId, category: 'org', id: null };
  if (parts.length === 3 && category !== undefined && ORG_CATEGORIES.has(category)) {
    return { kind: 'tenant', orgId, category: category as StreamCategory, id: null };
  }
  if (
    parts.length === 4 &&
    category !== undefined &&
    ENTITY_CATEGORIES.has(category) &&
    id &&
    isValidId(id)
  ) {
    return { kind: 'tenant', orgId, category: category as StreamCategory, id };
  }
  return null;
}
