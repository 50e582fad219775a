import { type KordonEventData, kordonCatalogue, type NewEvent, streams } from '@kordon/events';
import {
  Balancer,
  type Candidates,
  type FailureKind,
  type HealthDecision,
  type KeyDescription,
  type Strategy,
} from '../balancer/index.js';

/** One key's health for the admin view. */
export type KeyHealthView = KeyDescription & { provider: string; strategy: Strategy };

import { type ProviderKeyEntry, providerGroup, type RegistryState } from '../registry/registry.js';
import type { UpstreamError } from '../upstream/index.js';
import { modelMatches, type Route } from './route-model.js';

/**
 * The data plane's side of the balancer: keeps its groups in step with the registry (an
 * org's keys of one provider; per model too when some keys serve only some models), and
 * turns what the balancer decides about a key into events, so every replica's registry, and
 * through it its balancer, learns of cool-downs and disabled keys.
 */
export class KeyChoice {
  readonly balancer = new Balancer<ProviderKeyEntry>();
  /** `${provider group}\n${model}` -> the balancer group and the registry version it was read at. */
  readonly #groups = new Map<string, { group: string; version: number }>();

  /** The keys a request tries, best first, computed as it fails over. */
  candidates(
    registry: RegistryState,
    route: Route,
    session: string | undefined,
  ): Candidates<ProviderKeyEntry> {
    return this.balancer.candidates(this.groupOf(registry, route), session);
  }

  /** When the first key of the route may be used again (epoch ms), or null. */
  nextUsableAt(registry: RegistryState, route: Route, now: number): number | null {
    return this.balancer.nextUsableAt(this.groupOf(registry, route), now);
  }

  /**
   * Every key of the org as the balancer sees it now: state, effective weight, error rate,
   * latency, what the provider says is left, and its own rpm/tpm use (for the admin).
   */
  describeOrg(registry: RegistryState, orgId: string, now: number): KeyHealthView[] {
    const views: KeyHealthView[] = [];
    for (const provider of registry.providers.get(orgId)?.values() ?? []) {
      const base = providerGroup(orgId, provider.name);
      const keys = [...(registry.providerKeysByProvider.get(base)?.values() ?? [])];
      if (keys.length === 0) continue;
      // A group of all the provider's keys (health is per key, shared by every group it is in).
      const group = `${base}#all`;
      this.balancer.setGroup(group, keys, { strategy: provider.options.balancer ?? 'adaptive' });
      for (const description of this.balancer.describe(group, now))
        views.push({
          provider: provider.name,
          strategy: provider.options.balancer ?? 'adaptive',
          ...description,
        });
    }
    return views;
  }

  groupOf(registry: RegistryState, route: Route): string {
    const base = providerGroup(route.provider.orgId, route.provider.name);
    const cacheKey = `${base}\n${route.model}`;
    const known = this.#groups.get(cacheKey);
    if (known && known.version === registry.keysVersion) return known.group;
    const all = [...(registry.providerKeysByProvider.get(base)?.values() ?? [])];
    const restricted = all.some((key) => key.models !== null);
    const group = restricted ? `${base}#${route.model}` : base;
    const keys = restricted ? all.filter((key) => !key.models || modelMatches(key.models, route.model)) : all;
    this.balancer.setGroup(group, keys, { strategy: route.provider.options.balancer ?? 'adaptive' });
    this.#groups.set(cacheKey, { group, version: registry.keysVersion });
    return group;
  }
}

/** How an attempt's failure counts for the key (the caller leaving never counts). */
export function failureKind(error: UpstreamError, callerLeft: boolean): FailureKind | 'not_the_key' {
  if (callerLeft) return 'caller_cancelled';
  const status = error.status;
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth_refused';
  if (status !== undefined && status >= 500) return 'server_error';
  if (status !== undefined) return 'not_the_key'; // the provider refused the request itself
  if (error.code.includes('timeout')) return 'timeout';
  return 'connection_failed';
}

/** The event a balancer decision becomes; null when nothing changed that others must know. */
export function decisionEvent(
  decision: HealthDecision,
  key: ProviderKeyEntry,
  upstream: { status: number | undefined; retryAfterMs: number | undefined },
): NewEvent | null {
  const stream = streams.providerKey(key.orgId, key.providerKeyId);
  const meta = { orgId: key.orgId, actor: { kind: 'system' as const, id: 'gateway' } };
  switch (decision.type) {
    case 'cooled_down':
    case 'circuit_opened': {
      const reason: KordonEventData<'ProviderKeyCooledDown'>['reason'] =
        upstream.status === 529 ? 'overloaded' : decision.reason;
      return kordonCatalogue.create(
        'ProviderKeyCooledDown',
        stream,
        {
          providerKeyId: key.providerKeyId,
          until: new Date(decision.until).toISOString(),
          reason,
          retryAfterMs: upstream.retryAfterMs ?? null,
          upstreamStatus: upstream.status ?? null,
        },
        meta,
      );
    }
    case 'disabled':
      return kordonCatalogue.create(
        'ProviderKeyDisabled',
        stream,
        {
          providerKeyId: key.providerKeyId,
          reason: 'invalid_credentials',
          upstreamStatus: upstream.status ?? null,
          note: `the provider refused the key (${upstream.status ?? 'no status'}); enable it once it is fixed`,
        },
        meta,
      );
    default:
      return null;
  }
}
