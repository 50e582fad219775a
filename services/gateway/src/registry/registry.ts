import type { Actor, KordonEvent, KordonEventData } from '@kordon/events';
import type { InMemoryProjection } from '@kordon/projections';

type ProviderType = KordonEventData<'ProviderConfigured'>['type'];
type EncryptedSecret = KordonEventData<'ProviderKeyAdded'>['secret'];
type Limits = KordonEventData<'PolicySet'>['limits'];
type Renewal = NonNullable<KordonEventData<'PolicySet'>['renewal']>;

/** The limits of one scope and how its periodic ones renew. */
export interface PolicyEntry {
  orgId: string;
  scope: KordonEventData<'PolicySet'>['scope'];
  scopeId: string;
  limits: Limits;
  renewal: Renewal;
  managedBy: ManagedBy;
  /** When its PolicySet was written (epoch ms): a period changed by it counts from then. */
  setAt?: number;
  /**
   * Since when (epoch ms) the scope has had its USD budget (`budgetSince`), and its token budget
   * of this kind (`tokensSince`), without a break: a PolicySet without it removes it, and one
   * that sets it again starts a new budget (see docs/limits.md).
   */
  budgetSince?: number;
  tokensSince?: number;
}

type LoggingPolicyData = KordonEventData<'LoggingPolicySet'>;

/** What an org's request log keeps: text (bodies), retention, and its own redaction rules. */
export interface LoggingPolicyEntry {
  orgId: string;
  bodies: LoggingPolicyData['bodies'];
  /** Days requests stay in the request log; null: kept. */
  retentionDays: number | null;
  rules: LoggingPolicyData['rules'];
  managedBy: ManagedBy;
}

/** An org that never set a policy: no text logged, kept, built-in detectors only. */
export const DEFAULT_LOGGING_POLICY: Omit<LoggingPolicyEntry, 'orgId' | 'managedBy'> = Object.freeze({
  bodies: 'none',
  retentionDays: null,
  rules: [],
});

type OidcData = KordonEventData<'OidcConfigured'>;

/** An org's OpenID Connect sign-in to the admin API (the client secret stays encrypted). */
export interface SsoEntry {
  orgId: string;
  issuer: string;
  clientId: string;
  clientSecret: OidcData['clientSecret'];
  allowedDomains: readonly string[];
  autoProvision: boolean;
  managedBy: ManagedBy;
}

export interface TeamEntry {
  orgId: string;
  teamId: string;
  name: string;
  managedBy: ManagedBy;
}
type Role = KordonEventData<'RoleGranted'>['role'];

/** Who made an entity: the config file manages only what it created itself. */
export type ManagedBy = 'config' | 'api';

export interface OrgEntry {
  orgId: string;
  slug: string;
  name: string;
  managedBy: ManagedBy;
}

export interface ProviderEntry {
  orgId: string;
  name: string;
  type: ProviderType;
  baseUrl: string;
  models: readonly string[];
  options: KordonEventData<'ProviderConfigured'>['options'];
  managedBy: ManagedBy;
}

export interface ProviderKeyEntry {
  orgId: string;
  providerKeyId: string;
  provider: string;
  name: string;
  secret: EncryptedSecret;
  last4: string;
  weight: number;
  /** Priority tier, 0 first. */
  tier: number;
  /** The key's own limits at the provider (rpm, tpm); null: none given. */
  limits: { rpm?: number; tpm?: number; dailyUsd?: string } | null;
  /**
   * When the key had a `dailyUsd` (epoch ms, `[from, to)`, `to` null while it has), the last day's:
   * cost is recorded only while it has one, so a replay, read with today's registry, counts the
   * requests the live process counted (docs/balancer.md).
   */
  dailyUsdSpans: { from: number; to: number | null }[];
  models: readonly string[] | null;
  baseUrl: string | null;
  disabled: boolean;
  /** Why it is disabled (ProviderKeyDisabled's reason); null while it is not. */
  disabledFor: KordonEventData<'ProviderKeyDisabled'>['reason'] | null;
  /** Epoch ms until which the key rests after a 429/5xx; 0 when it does not. */
  cooledDownUntil: number;
  /**
   * How many times an admin enabled the key (ProviderKeyEnabled): the balancer clears what it
   * held against the key (a 401) when this moves, even if it never saw the key disabled.
   */
  enabledCount: number;
  /**
   * How many times its secret was replaced (ProviderKeyRotated `replaced`, not `rewrapped`): the
   * balancer and KeyChoice forget what the old secret earned (a 401, an open circuit, a missing
   * scope or model) when this moves, in every replica, as for `enabledCount`.
   */
  secretCount: number;
  managedBy: ManagedBy;
}

export interface UserEntry {
  orgId: string;
  userId: string;
  email: string;
  roles: Set<Role>;
  /** The team the user is in (a role granted within it); keys issued to them carry it. */
  teamId: string | null;
  /** Who put the user in that team (the config file changes only what it did). */
  teamManagedBy: ManagedBy | null;
  disabled: boolean;
  managedBy: ManagedBy;
}

export type ProxyKeyStatus = 'active' | 'suspended' | 'revoked';

export interface ProxyKeyEntry {
  orgId: string;
  proxyKeyId: string;
  userId: string;
  teamId: string | null;
  name: string;
  prefix: string;
  hashValue: string;
  /** Which server secret the hash was made with (rotation). */
  hashKeyId: string;
  status: ProxyKeyStatus;
  /** Epoch ms, or null for no expiry. */
  expiresAt: number | null;
  managedBy: ManagedBy;
}

/**
 * Everything the data plane looks up per request, kept in memory: orgs, provider
 * connections and keys, users, proxy keys by their keyed hash (O(1) authentication),
 * and policies. Built from the log by an InMemoryProjectionRunner; `evolve` mutates in
 * place for speed and touches nothing outside the state.
 */
export interface RegistryState {
  orgs: Map<string, OrgEntry>;
  orgIdBySlug: Map<string, string>;
  /** orgId -> provider name -> entry, in fallback order (see `fallbackOrder`). */
  providers: Map<string, Map<string, ProviderEntry>>;
  /** orgId -> the provider order of its last ProvidersOrdered (absent: first-configured order). */
  providerOrder: Map<string, readonly string[]>;
  providerKeys: Map<string, ProviderKeyEntry>;
  /** `${orgId}/${provider}` -> its keys: the per-request candidate list without a scan. */
  providerKeysByProvider: Map<string, Map<string, ProviderKeyEntry>>;
  users: Map<string, UserEntry>;
  proxyKeys: Map<string, ProxyKeyEntry>;
  proxyKeyIdByHash: Map<string, string>;
  /**
   * Bumped by every change of a provider or a provider key, so the balancer knows when to
   * re-read a group (entries are changed in place).
   */
  keysVersion: number;
  /** `${orgId}/${scope}/${scopeId}` -> the scope's policy (absent: no limits). */
  policies: Map<string, PolicyEntry>;
  teams: Map<string, TeamEntry>;
  /** orgId -> the org's own prices (PricesSet replaces the whole list). */
  prices: Map<string, KordonEventData<'PricesSet'>['prices']>;
  /** orgId -> who set the org's prices last: the config file resets only prices it set. */
  pricesManagedBy: Map<string, ManagedBy>;
  /** orgId -> the org's logging policy (absent: DEFAULT_LOGGING_POLICY; see `loggingPolicyOf`). */
  loggingPolicies: Map<string, LoggingPolicyEntry>;
  /**
   * orgId -> the latest instant (ms) before which the org's logged texts were erased
   * (LoggedTextErased): the body sealer stops using a key of the org made before it.
   */
  loggedTextErasedBefore: Map<string, number>;
  /** orgId -> the org's OIDC sign-in (read by the config file's plan; the admin API keeps its own). */
  sso: Map<string, SsoEntry>;
  /**
   * Stream id -> the version of its last event seen: the config file appends with it as the
   * expected version, so a change another replica made meanwhile is not made twice.
   */
  versions: Map<string, number>;
}

export const providerGroup = (orgId: string, provider: string) => `${orgId}/${provider}`;

export const policyKey = (orgId: string, scope: string, scopeId: string) => `${orgId}/${scope}/${scopeId}`;

const DAY_MS = 86_400_000;

const managedBy = (actor: Actor): ManagedBy => (actor.kind === 'config' ? 'config' : 'api');

/** The events the registry acts on; the runner skips (and never decodes) the rest. */
const REGISTRY_EVENT_TYPES = [
  'OrgCreated',
  'TeamCreated',
  'ProviderConfigured',
  'ProviderRemoved',
  'ProvidersOrdered',
  'PricesSet',
  'ProviderKeyAdded',
  'ProviderKeyRotated',
  'ProviderKeyWeightChanged',
  'ProviderKeyLimitsChanged',
  'ProviderKeyModelsChanged',
  'ProviderKeyDisabled',
  'ProviderKeyEnabled',
  'ProviderKeyCooledDown',
  'ProviderKeyRemoved',
  'UserJoined',
  'RoleGranted',
  'RoleRevoked',
  'UserDisabled',
  'ProxyKeyIssued',
  'ProxyKeySuspended',
  'ProxyKeyReinstated',
  'ProxyKeyRevoked',
  'PolicySet',
  'LoggingPolicySet',
  'LoggedTextErased',
  'OidcConfigured',
] as const satisfies readonly KordonEvent['type'][];
type RegistryEvent = Extract<KordonEvent, { type: (typeof REGISTRY_EVENT_TYPES)[number] }>;
const HANDLED: ReadonlySet<string> = new Set(REGISTRY_EVENT_TYPES);
/** Other events on the streams the config file writes: read for `versions` only. */
const VERSION_ONLY = ['UserInvited', 'UserPasswordSet'] as const satisfies readonly KordonEvent['type'][];
const SUBSCRIBED: ReadonlySet<string> = new Set([...REGISTRY_EVENT_TYPES, ...VERSION_ONLY]);

export const registryProjection: InMemoryProjection<RegistryState, KordonEvent> = {
  name: 'gateway-registry',
  eventTypes: SUBSCRIBED,
  initialState: () => ({
    orgs: new Map(),
    orgIdBySlug: new Map(),
    providers: new Map(),
    providerOrder: new Map(),
    providerKeys: new Map(),
    providerKeysByProvider: new Map(),
    users: new Map(),
    proxyKeys: new Map(),
    proxyKeyIdByHash: new Map(),
    keysVersion: 0,
    policies: new Map(),
    teams: new Map(),
    prices: new Map(),
    pricesManagedBy: new Map(),
    loggingPolicies: new Map(),
    loggedTextErasedBefore: new Map(),
    sso: new Map(),
    versions: new Map(),
  }),
  evolve(state, anyEvent) {
    if (!SUBSCRIBED.has(anyEvent.type)) return state; // the runner skips these already
    state.versions.set(anyEvent.streamId, anyEvent.streamVersion);
    if (!HANDLED.has(anyEvent.type)) return state;
    const event = anyEvent as RegistryEvent;
    const orgId = event.orgId;
    if (orgId === null) return state;
    switch (event.type) {
      case 'OrgCreated': {
        const { slug, name } = event.data;
        state.orgs.set(orgId, { orgId, slug, name, managedBy: managedBy(event.actor) });
        state.orgIdBySlug.set(slug, orgId);
        return state;
      }
      case 'ProviderConfigured': {
        state.keysVersion++;
        const byName = state.providers.get(orgId) ?? new Map<string, ProviderEntry>();
        const previous = byName.get(event.data.provider);
        byName.set(event.data.provider, {
          orgId,
          name: event.data.provider,
          type: event.data.type,
          baseUrl: event.data.baseUrl,
          models: event.data.models,
          options: event.data.options,
          managedBy: previous?.managedBy ?? managedBy(event.actor),
        });
        // A new provider the order names takes its place there; an unnamed one goes last.
        const order = state.providerOrder.get(orgId);
        state.providers.set(
          orgId,
          !previous && order?.includes(event.data.provider) ? reordered(byName, order) : byName,
        );
        return state;
      }
      case 'ProviderRemoved':
        state.keysVersion++;
        state.providers.get(orgId)?.delete(event.data.provider);
        return state;
      case 'ProvidersOrdered': {
        state.providerOrder.set(orgId, event.data.providers);
        const byName = state.providers.get(orgId);
        if (byName) state.providers.set(orgId, reordered(byName, event.data.providers));
        return state;
      }
      case 'ProviderKeyAdded': {
        state.keysVersion++;
        const d = event.data;
        const entry: ProviderKeyEntry = {
          orgId,
          providerKeyId: d.providerKeyId,
          provider: d.provider,
          name: d.name,
          secret: d.secret,
          last4: d.last4,
          weight: d.weight,
          tier: d.tier ?? 0,
          limits: d.limits ?? null,
          dailyUsdSpans: d.limits?.dailyUsd === undefined ? [] : [{ from: event.time.getTime(), to: null }],
          models: d.models,
          baseUrl: d.baseUrl,
          disabled: false,
          disabledFor: null,
          cooledDownUntil: 0,
          enabledCount: 0,
          secretCount: 0,
          managedBy: managedBy(event.actor),
        };
        state.providerKeys.set(d.providerKeyId, entry);
        const group = providerGroup(orgId, d.provider);
        const byId = state.providerKeysByProvider.get(group) ?? new Map<string, ProviderKeyEntry>();
        byId.set(d.providerKeyId, entry);
        state.providerKeysByProvider.set(group, byId);
        return state;
      }
      case 'ProviderKeyRotated':
        state.keysVersion++;
        return updateKey(state, orgId, event.data.providerKeyId, (key) => {
          key.secret = event.data.secret;
          key.last4 = event.data.last4;
          if (event.data.kind !== 'replaced') return; // the same secret re-wrapped: nothing to forget
          // A new secret is judged afresh: the old one's rests were the old one's.
          key.cooledDownUntil = 0;
          key.secretCount++;
        });
      case 'ProviderKeyWeightChanged':
        state.keysVersion++;
        return updateKey(state, orgId, event.data.providerKeyId, (key) => {
          key.weight = event.data.weight;
        });
      case 'ProviderKeyLimitsChanged':
        state.keysVersion++;
        return updateKey(state, orgId, event.data.providerKeyId, (key) => {
          const at = event.time.getTime();
          const had = key.limits?.dailyUsd !== undefined;
          const has = event.data.limits?.dailyUsd !== undefined;
          if (!had && has) key.dailyUsdSpans.push({ from: at, to: null });
          else if (had && !has) for (const span of key.dailyUsdSpans) span.to ??= at;
          // Spans over for a day count no request of today any more.
          key.dailyUsdSpans = key.dailyUsdSpans.filter((span) => span.to === null || span.to > at - DAY_MS);
          key.tier = event.data.tier;
          key.limits = event.data.limits;
        });
      case 'ProviderKeyModelsChanged':
        state.keysVersion++;
        return updateKey(state, orgId, event.data.providerKeyId, (key) => {
          key.models = event.data.models;
        });
      case 'ProviderKeyDisabled':
        state.keysVersion++;
        return updateKey(state, orgId, event.data.providerKeyId, (key) => {
          key.disabled = true;
          key.disabledFor = event.data.reason;
        });
      case 'ProviderKeyEnabled':
        state.keysVersion++;
        return updateKey(state, orgId, event.data.providerKeyId, (key) => {
          key.disabled = false;
          key.disabledFor = null;
          key.cooledDownUntil = 0;
          key.enabledCount++;
        });
      case 'ProviderKeyCooledDown':
        state.keysVersion++;
        return updateKey(state, orgId, event.data.providerKeyId, (key) => {
          // Replicas rest a key apart and their events land in any order: a shorter rest decided
          // before another replica's longer one was seen does not end that one (an enable does).
          key.cooledDownUntil = Math.max(key.cooledDownUntil, Date.parse(event.data.until));
        });
      case 'ProviderKeyRemoved': {
        state.keysVersion++;
        const key = state.providerKeys.get(event.data.providerKeyId);
        if (key?.orgId === orgId) {
          state.providerKeys.delete(key.providerKeyId);
          state.providerKeysByProvider.get(providerGroup(orgId, key.provider))?.delete(key.providerKeyId);
        }
        return state;
      }
      case 'UserJoined':
        state.users.set(event.data.userId, {
          orgId,
          userId: event.data.userId,
          email: event.data.email,
          roles: new Set(),
          teamId: null,
          teamManagedBy: null,
          disabled: false,
          managedBy: managedBy(event.actor),
        });
        return state;
      case 'RoleGranted': {
        const user = ownUser(state, orgId, event.data.userId);
        // A role within a team is membership of the team; it grants no org-level role.
        if (user && event.data.teamId !== null) {
          user.teamId = event.data.teamId;
          user.teamManagedBy = managedBy(event.actor);
        } else user?.roles.add(event.data.role);
        return state;
      }
      case 'RoleRevoked': {
        const user = ownUser(state, orgId, event.data.userId);
        if (user && event.data.teamId !== null) {
          if (user.teamId === event.data.teamId) {
            user.teamId = null;
            user.teamManagedBy = null;
          }
        } else user?.roles.delete(event.data.role);
        return state;
      }
      case 'UserDisabled': {
        const user = ownUser(state, orgId, event.data.userId);
        if (user) user.disabled = true;
        return state;
      }
      case 'ProxyKeyIssued': {
        const d = event.data;
        state.proxyKeys.set(d.proxyKeyId, {
          orgId,
          proxyKeyId: d.proxyKeyId,
          userId: d.userId,
          teamId: d.teamId,
          name: d.name,
          prefix: d.prefix,
          hashValue: d.hash.value,
          hashKeyId: d.hash.keyId,
          status: 'active',
          expiresAt: d.expiresAt === null ? null : Date.parse(d.expiresAt),
          managedBy: managedBy(event.actor),
        });
        state.proxyKeyIdByHash.set(d.hash.value, d.proxyKeyId);
        return state;
      }
      case 'ProxyKeySuspended':
        return updateProxyKey(state, orgId, event.data.proxyKeyId, 'suspended');
      case 'ProxyKeyReinstated':
        return updateProxyKey(state, orgId, event.data.proxyKeyId, 'active');
      case 'ProxyKeyRevoked':
        return updateProxyKey(state, orgId, event.data.proxyKeyId, 'revoked');
      case 'PricesSet':
        state.prices.set(orgId, event.data.prices);
        state.pricesManagedBy.set(orgId, managedBy(event.actor));
        return state;
      case 'PolicySet': {
        const { scope, scopeId, limits, renewal } = event.data;
        const key = policyKey(orgId, scope, scopeId);
        const previous = state.policies.get(key);
        // An empty policy removes the scope's limits.
        if (Object.keys(limits).length === 0) state.policies.delete(key);
        else {
          const at = event.time.getTime();
          const entry: PolicyEntry = {
            orgId,
            scope,
            scopeId,
            limits,
            renewal: renewal ?? {},
            managedBy: managedBy(event.actor),
            setAt: at,
          };
          // A budget kept (raised, lowered, its period changed) is the same budget.
          const budgetSince = previous?.limits.budget ? previous.budgetSince : at;
          if (limits.budget && budgetSince !== undefined) entry.budgetSince = budgetSince;
          const sameTokens = previous?.limits.tokens?.kind === limits.tokens?.kind;
          const tokensSince = sameTokens && previous?.limits.tokens ? previous.tokensSince : at;
          if (limits.tokens && tokensSince !== undefined) entry.tokensSince = tokensSince;
          state.policies.set(key, entry);
        }
        return state;
      }
      case 'LoggingPolicySet':
        state.loggingPolicies.set(orgId, {
          orgId,
          bodies: event.data.bodies,
          retentionDays: event.data.retentionDays,
          rules: event.data.rules,
          managedBy: managedBy(event.actor),
        });
        return state;
      case 'LoggedTextErased': {
        const before = Date.parse(event.data.before);
        const erased = state.loggedTextErasedBefore.get(orgId);
        if (erased === undefined || erased < before) state.loggedTextErasedBefore.set(orgId, before);
        return state;
      }
      case 'OidcConfigured':
        state.sso.set(orgId, { orgId, ...event.data, managedBy: managedBy(event.actor) });
        return state;
      case 'TeamCreated':
        state.teams.set(event.data.teamId, {
          orgId,
          teamId: event.data.teamId,
          name: event.data.name,
          managedBy: managedBy(event.actor),
        });
        return state;
      default: {
        // Exhaustive: a type listed above without a case here fails to compile.
        const unhandled: never = event;
        void unhandled;
        return state;
      }
    }
  },
};

/** Entities are only ever changed by events of their own org. */
function updateKey(state: RegistryState, orgId: string, id: string, change: (key: ProviderKeyEntry) => void) {
  const key = state.providerKeys.get(id);
  if (key && key.orgId === orgId) change(key);
  return state;
}

function ownUser(state: RegistryState, orgId: string, userId: string): UserEntry | undefined {
  const user = state.users.get(userId);
  return user?.orgId === orgId ? user : undefined;
}

function updateProxyKey(state: RegistryState, orgId: string, id: string, status: ProxyKeyStatus) {
  const key = state.proxyKeys.get(id);
  // Revoked is final: no later event brings a revoked key back.
  if (key && key.orgId === orgId && key.status !== 'revoked') key.status = status;
  return state;
}

/** The org's logging policy, or the default (no text, kept, built-in detectors only). */
export function loggingPolicyOf(
  state: RegistryState,
  orgId: string,
): Omit<LoggingPolicyEntry, 'orgId' | 'managedBy'> {
  return state.loggingPolicies.get(orgId) ?? DEFAULT_LOGGING_POLICY;
}

/**
 * Names in fallback order: those `order` names first, in its order; the others after them, in
 * the order given (the order they were configured). The same on every replica and every replay.
 */
export function fallbackOrder(names: readonly string[], order: readonly string[] | undefined): string[] {
  if (!order || order.length === 0) return [...names];
  const rank = new Map(order.map((name, i) => [name, i]));
  // Array.prototype.sort is stable: unnamed providers keep their relative order.
  return [...names].sort((a, b) => (rank.get(a) ?? order.length) - (rank.get(b) ?? order.length));
}

function reordered(byName: Map<string, ProviderEntry>, order: readonly string[]): Map<string, ProviderEntry> {
  return new Map(fallbackOrder([...byName.keys()], order).map((name) => [name, byName.get(name)!]));
}

/** The org's providers in fallback order: the order a model's providers are tried in. */
export function providersOf(state: RegistryState, orgId: string): ProviderEntry[] {
  return [...(state.providers.get(orgId)?.values() ?? [])];
}

export function providerKeysOf(state: RegistryState, orgId: string, provider?: string): ProviderKeyEntry[] {
  if (provider !== undefined)
    return [...(state.providerKeysByProvider.get(providerGroup(orgId, provider))?.values() ?? [])];
  return [...state.providerKeys.values()].filter((key) => key.orgId === orgId);
}
