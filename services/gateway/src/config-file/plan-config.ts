import {
  type Actor,
  canonicalJson,
  type KordonEventData,
  kordonCatalogue,
  type NewEvent,
  streams,
} from '@kordon/events';
import {
  DEFAULT_LOGGING_POLICY,
  fallbackOrder,
  loggingPolicyOf,
  type OrgEntry,
  type ProviderEntry,
  policyKey,
  providerKeysOf,
  providersOf,
  type RegistryState,
} from '../registry/registry.js';
import type { EncryptedSecret } from '../secrets/index.js';
import type {
  ConfigFile,
  ConfigLimits,
  ConfigLogging,
  ConfigOrg,
  ConfigProvider,
} from './config-file-schema.js';
import { planSso } from './plan-sso.js';
import { planMembership } from './plan-teams.js';

/** What planning needs from outside: ids, crypto, the clock. Injected so the plan is testable. */
export interface PlanDependencies {
  /** Deterministic, unguessable id of a config-declared entity (same on every replica). */
  entityId(kind: 'org' | 'team' | 'provider-key' | 'user' | 'proxy-key', naturalKey: string): string;
  encrypt(secret: string, context: { orgId: string; providerKeyId: string }): EncryptedSecret;
  /** Whether the stored record holds this secret (decrypts; throws when it cannot: never replaced blind). */
  secretMatches(
    record: EncryptedSecret,
    context: { orgId: string; providerKeyId: string },
    secret: string,
  ): boolean;
  last4(secret: string): string;
  /** A proxy key from the file (import) or a new one (issue); null secret means issue. */
  proxyKey(
    secret: string | undefined,
  ):
    | { ok: true; prefix: string; hash: KordonEventData<'ProxyKeyIssued'>['hash']; issuedSecret?: string }
    | { ok: false; reason: string };
  /** Whether `secret` hashes to the stored hash value. */
  proxyKeyMatches(secret: string, hashValue: string, hashKeyId: string): boolean;
  /**
   * The secret's hash values under every proxy-key secret the process holds, current and old
   * (none when it is not a key): a key stored before a rotation is found under the old one.
   */
  proxyKeyHashValues(secret: string): string[];
}

export interface PlannedAppend {
  streamId: string;
  /**
   * The stream's version the plan was made against (the registry's, plus this plan's earlier
   * appends to it), or `no-stream` for one the registry has not seen: a change another replica
   * made meanwhile makes the store refuse it, and applying re-plans (apply-config).
   */
  expected: 'no-stream' | number;
  events: NewEvent[];
}

export interface IssuedProxyKey {
  org: string;
  email: string;
  name: string;
  secret: string;
  /** The stream its ProxyKeyIssued goes to: not handed out when another replica issued it first. */
  streamId: string;
}

export interface ConfigPlan {
  appends: PlannedAppend[];
  /** Keys Kordon issued because the file gave no secret: shown to their owner once. */
  issued: IssuedProxyKey[];
  /** Differences the file asks for that no event expresses yet (reported, not applied). */
  ignored: string[];
}

export const CONFIG_ACTOR: Actor = { kind: 'config', id: 'config-file' };

/**
 * Turns the file into the events that make the registry match it. Only what the file
 * created earlier (actor kind `config`) is changed or removed; entities made through the
 * admin API are left alone. An unchanged file plans nothing.
 */
export function planConfig(
  state: RegistryState,
  file: ConfigFile,
  deps: PlanDependencies,
  now: Date,
): ConfigPlan {
  const plan: ConfigPlan = { appends: [], issued: [], ignored: [] };
  // Each stream's version once this plan's earlier appends to it are in.
  const planned = new Map<string, number>();
  const add = (streamId: string, events: NewEvent[]) => {
    if (events.length === 0) return;
    const version = planned.get(streamId) ?? state.versions.get(streamId) ?? 0;
    plan.appends.push({ streamId, expected: version === 0 ? 'no-stream' : version, events });
    planned.set(streamId, version + events.length);
  };
  // Proxy-key secrets planned so far in this run, with the key each went to: one secret is one key.
  const claimedSecrets = new Map<string, string>();
  for (const org of file.orgs) planOrg(state, org, deps, now, plan, add, claimedSecrets);
  const declaredOrgs = new Set(file.orgs.map((org) => org.slug));
  for (const org of state.orgs.values()) {
    if (!declaredOrgs.has(org.slug)) planOrgGone(state, org, now, plan, add);
  }
  return plan;
}

type Add = (streamId: string, events: NewEvent[]) => void;

function planOrg(
  state: RegistryState,
  org: ConfigOrg,
  deps: PlanDependencies,
  now: Date,
  plan: ConfigPlan,
  add: Add,
  claimedSecrets: Map<string, string>,
) {
  const existingId = state.orgIdBySlug.get(org.slug);
  const orgId = existingId ?? deps.entityId('org', org.slug);
  const meta = { orgId, actor: CONFIG_ACTOR, time: now };
  const create = kordonCatalogue.create.bind(kordonCatalogue);
  if (!existingId) {
    add(streams.org(orgId), [
      create('OrgCreated', streams.org(orgId), { orgId, slug: org.slug, name: org.name }, meta),
    ]);
  } else if (state.orgs.get(orgId)?.name !== org.name) {
    plan.ignored.push(
      `org ${org.slug}: renaming is not supported yet (name stays "${state.orgs.get(orgId)?.name}")`,
    );
  }

  planPrices(state, orgId, org, meta, add);
  planSso(state, orgId, org.sso, deps, meta, add);
  planLogging(state, orgId, org.logging, meta, add);
  const policy = (scope: PolicyScope, scopeId: string, limits: ConfigLimits | undefined) =>
    planPolicy(state, org, orgId, scope, scopeId, limits, meta, add);
  policy('org', orgId, org.limits);

  const teamIds = new Map<string, string>();
  for (const team of org.teams) {
    const existing = [...state.teams.values()].find((t) => t.orgId === orgId && t.name === team.name);
    const teamId = existing?.teamId ?? deps.entityId('team', `${org.slug}/${team.name}`);
    teamIds.set(team.name, teamId);
    if (!existing) {
      const stream = streams.team(orgId, teamId);
      add(stream, [create('TeamCreated', stream, { teamId, name: team.name }, meta)]);
    }
    policy('team', teamId, team.limits);
  }

  const declaredProviders = new Set(org.providers.map((p) => p.name));
  for (const provider of org.providers) {
    const stream = streams.provider(orgId, provider.name);
    const current = state.providers.get(orgId)?.get(provider.name);
    const wanted = providerData(provider);
    if (!current || !sameProvider(current, wanted)) {
      add(stream, [create('ProviderConfigured', stream, wanted, meta)]);
    }
    planProviderKeys(state, orgId, provider, deps, meta, add);
  }
  for (const provider of providersOf(state, orgId)) {
    if (provider.managedBy !== 'config' || declaredProviders.has(provider.name)) continue;
    for (const key of providerKeysOf(state, orgId, provider.name)) {
      const keyStream = streams.providerKey(orgId, key.providerKeyId);
      add(keyStream, [create('ProviderKeyRemoved', keyStream, { providerKeyId: key.providerKeyId }, meta)]);
    }
    const stream = streams.provider(orgId, provider.name);
    add(stream, [create('ProviderRemoved', stream, { provider: provider.name }, meta)]);
  }
  planProviderOrder(state, orgId, org, meta, add);

  const declaredUsers = new Set<string>();
  for (const user of org.users) {
    const email = user.email.toLowerCase();
    declaredUsers.add(email);
    const existing = [...state.users.values()].find(
      (u) => u.orgId === orgId && u.email.toLowerCase() === email,
    );
    if (existing?.disabled) {
      // Disabling is final for now (the admin API refuses changes to a disabled user too).
      plan.ignored.push(
        `user ${email}: disabled, and no event enables a user again yet (role, team, limits and keys not applied)`,
      );
      continue;
    }
    const userId = existing?.userId ?? deps.entityId('user', `${org.slug}/${email}`);
    const stream = streams.user(orgId, userId);
    const events: NewEvent[] = [];
    if (!existing) {
      events.push(
        create(
          'UserJoined',
          stream,
          { userId, email, displayName: email.split('@')[0]!, method: 'config' },
          meta,
        ),
      );
    }
    if (!existing?.roles.has(user.role)) {
      events.push(create('RoleGranted', stream, { userId, role: user.role, teamId: null }, meta));
    }
    if (existing?.managedBy === 'config') {
      for (const role of existing.roles) {
        if (role !== user.role)
          events.push(create('RoleRevoked', stream, { userId, role, teamId: null }, meta));
      }
    }
    add(stream, events);
    policy('user', userId, user.limits);
    let teamId: string | null = null;
    if (user.team !== undefined) {
      teamId = teamIds.get(user.team) ?? null;
      if (teamId === null) plan.ignored.push(`user ${email}: team ${user.team} is not declared under teams`);
    }
    if (user.team === undefined || teamId !== null)
      add(stream, planMembership(existing, userId, teamId, stream, meta));
    planProxyKeys(
      state,
      orgId,
      org.slug,
      userId,
      email,
      teamId,
      user.proxyKeys,
      deps,
      meta,
      plan,
      add,
      policy,
      claimedSecrets,
    );
  }
  disableUsersNotIn(state, orgId, declaredUsers, 'removed from the configuration file', meta, add);
}

/**
 * An org the file no longer declares: no event removes an org, but each user the file created
 * in it is removed as a user gone from the file is (disabled: their keys stop working), so
 * deleting an org's block never leaves its people's keys working. The rest stays, reported.
 */
function planOrgGone(state: RegistryState, org: OrgEntry, now: Date, plan: ConfigPlan, add: Add) {
  const meta = { orgId: org.orgId, actor: CONFIG_ACTOR, time: now };
  const note = 'removed from the configuration file with its org';
  const disabled = disableUsersNotIn(state, org.orgId, new Set(), note, meta, add);
  if (disabled === 0) return;
  plan.ignored.push(
    `org ${org.slug}: not in the file any more, so ` +
      (disabled === 1 ? 'the user the file made in it is' : `the ${disabled} users the file made in it are`) +
      ' disabled (their keys stop working); ' +
      'the org, its providers, teams, limits and users made through the admin API stay (no event removes an org)',
  );
}

/** UserDisabled for each active user the file created in the org and no longer declares; returns how many. */
function disableUsersNotIn(
  state: RegistryState,
  orgId: string,
  declaredEmails: ReadonlySet<string>,
  note: string,
  meta: { orgId: string; actor: Actor; time: Date },
  add: Add,
): number {
  let disabled = 0;
  for (const user of state.users.values()) {
    if (user.orgId !== orgId || user.managedBy !== 'config' || user.disabled) continue;
    if (declaredEmails.has(user.email.toLowerCase())) continue;
    const stream = streams.user(orgId, user.userId);
    add(stream, [kordonCatalogue.create('UserDisabled', stream, { userId: user.userId, note }, meta)]);
    disabled++;
  }
  return disabled;
}

/**
 * The file's prices as one PricesSet when they differ; unchanged entries keep their start date.
 * Without a `prices` block the org's prices are the admin API's: reset (to none) only when the
 * file set them last, as a removed `logging` block is.
 */
function planPrices(
  state: RegistryState,
  orgId: string,
  org: ConfigOrg,
  meta: { orgId: string; actor: Actor; time: Date },
  add: Add,
) {
  if (org.prices === undefined && state.pricesManagedBy.get(orgId) !== 'config') return;
  const current = state.prices.get(orgId) ?? [];
  const strip = ({ effectiveFrom: _, ...rest }: KordonEventData<'PricesSet'>['prices'][number]) =>
    canonicalJson(rest);
  const wanted = Object.entries(org.prices ?? {}).map(([model, price]) => {
    const entry: KordonEventData<'PricesSet'>['prices'][number] = {
      model,
      effectiveFrom: meta.time.toISOString(),
    };
    if (price.input !== undefined) entry.input = price.input;
    if (price.cachedInput !== undefined) entry.cachedInput = price.cachedInput;
    if (price.cacheWrite !== undefined) entry.cacheWrite = price.cacheWrite;
    if (price.cacheWrite1h !== undefined) entry.cacheWrite1h = price.cacheWrite1h;
    if (price.output !== undefined) entry.output = price.output;
    if (price.currency !== undefined) entry.currency = price.currency;
    if (price.unitTokens !== undefined) entry.unitTokens = price.unitTokens;
    if (price.tiers !== undefined) entry.tiers = price.tiers;
    if (price.peakHours !== undefined) entry.peakHours = price.peakHours;
    const same = current.find((c) => strip(c) === strip(entry));
    return same ?? entry;
  });
  const changed =
    wanted.length !== current.length || wanted.some((entry, i) => strip(entry) !== strip(current[i]!));
  if (!changed) return;
  const stream = streams.org(orgId);
  add(stream, [kordonCatalogue.create('PricesSet', stream, { prices: wanted }, meta)]);
}

type LoggingPolicy = KordonEventData<'LoggingPolicySet'>;

/**
 * The file's `logging` block as one LoggingPolicySet when it differs from the policy in force;
 * a block removed from the file resets the policy to the default (only when the file set it).
 */
function planLogging(
  state: RegistryState,
  orgId: string,
  logging: ConfigLogging | undefined,
  meta: { orgId: string; actor: Actor; time: Date },
  add: Add,
) {
  const current = state.loggingPolicies.get(orgId);
  let wanted: LoggingPolicy;
  if (logging === undefined) {
    if (current?.managedBy !== 'config') return;
    wanted = { ...DEFAULT_LOGGING_POLICY, rules: [] };
  } else {
    wanted = {
      bodies: logging.bodies,
      retentionDays: logging.retentionDays,
      rules: logging.redact.map((rule) => ({
        name: rule.name,
        pattern: rule.pattern,
        action: rule.action,
        caseInsensitive: rule.caseInsensitive,
        group: rule.group,
        keepLast: rule.keepLast,
      })),
    };
  }
  const inForce = loggingPolicyOf(state, orgId);
  const comparable = (p: LoggingPolicy) => canonicalJson([p.bodies, p.retentionDays, p.rules]);
  if (comparable(inForce) === comparable(wanted)) return;
  const stream = streams.org(orgId);
  add(stream, [kordonCatalogue.create('LoggingPolicySet', stream, wanted, meta)]);
}

/**
 * The file's order of its providers is their fallback order: one ProvidersOrdered when the
 * registry, with this run's new providers added, would try them in another order. Providers
 * made through the admin API keep their places; the file's are permuted among the places they
 * hold.
 */
function planProviderOrder(
  state: RegistryState,
  orgId: string,
  org: ConfigOrg,
  meta: { orgId: string; actor: Actor; time: Date },
  add: Add,
) {
  const declared = org.providers.map((p) => p.name);
  const present = providersOf(state, orgId).map((p) => p.name);
  const added = declared.filter((name) => !state.providers.get(orgId)?.has(name));
  // Where the registry will have them once this run's ProviderConfigured events are in.
  const after = fallbackOrder([...present, ...added], state.providerOrder.get(orgId));
  const isDeclared = new Set(declared);
  if (canonicalJson(after.filter((name) => isDeclared.has(name))) === canonicalJson(declared)) return;
  let next = 0;
  const providers = after.map((name) => (isDeclared.has(name) ? declared[next++]! : name));
  const stream = streams.org(orgId);
  add(stream, [kordonCatalogue.create('ProvidersOrdered', stream, { providers }, meta)]);
}

function providerData(provider: ConfigProvider): KordonEventData<'ProviderConfigured'> {
  const options: KordonEventData<'ProviderConfigured'>['options'] = {};
  if (provider.deployments) options.deployments = provider.deployments;
  if (provider.apiVersion) options.apiVersion = provider.apiVersion;
  if (provider.folderId) options.folderId = provider.folderId;
  if (provider.oauthUrl) options.oauthUrl = provider.oauthUrl;
  if (provider.scope) options.scope = provider.scope;
  if (provider.balancer) options.balancer = provider.balancer;
  if (provider.stickiness) options.stickiness = provider.stickiness;
  if (provider.defaultMaxTokens) options.defaultMaxTokens = provider.defaultMaxTokens;
  if (provider.vendor) options.vendor = provider.vendor;
  if (provider.authScheme) options.authScheme = provider.authScheme;
  if (provider.organization) options.organization = provider.organization;
  if (provider.project) options.project = provider.project;
  if (provider.caCertificate) options.caCertificate = provider.caCertificate;
  if (provider.timeouts && Object.keys(provider.timeouts).length > 0) options.timeouts = provider.timeouts;
  return {
    provider: provider.name,
    type: provider.type,
    baseUrl: provider.baseUrl,
    models: provider.models,
    options,
  };
}

function sameProvider(current: ProviderEntry, wanted: KordonEventData<'ProviderConfigured'>): boolean {
  return (
    current.type === wanted.type &&
    current.baseUrl === wanted.baseUrl &&
    JSON.stringify(current.models) === JSON.stringify(wanted.models) &&
    // Options hold maps (Azure deployments) whose key order means nothing.
    canonicalJson(current.options) === canonicalJson(wanted.options)
  );
}

function planProviderKeys(
  state: RegistryState,
  orgId: string,
  provider: ConfigProvider,
  deps: PlanDependencies,
  meta: { orgId: string; actor: Actor; time: Date },
  add: Add,
) {
  const create = kordonCatalogue.create.bind(kordonCatalogue);
  const existing = providerKeysOf(state, orgId, provider.name);
  const declared = new Set<string>();
  for (const key of provider.keys) {
    declared.add(key.name);
    const current = existing.find((k) => k.name === key.name);
    const providerKeyId =
      current?.providerKeyId ?? deps.entityId('provider-key', `${orgId}/${provider.name}/${key.name}`);
    const context = { orgId, providerKeyId };
    const stream = streams.providerKey(orgId, providerKeyId);
    if (!current) {
      add(stream, [
        create(
          'ProviderKeyAdded',
          stream,
          {
            providerKeyId,
            provider: provider.name,
            name: key.name,
            secret: deps.encrypt(key.secret, context),
            last4: deps.last4(key.secret),
            weight: key.weight,
            models: key.models ?? null,
            baseUrl: null,
            ...(key.tier !== 0 && { tier: key.tier }),
            ...(key.limits && { limits: key.limits }),
          },
          meta,
        ),
      ]);
      continue;
    }
    const events: NewEvent[] = [];
    if (!deps.secretMatches(current.secret, context, key.secret)) {
      events.push(
        create(
          'ProviderKeyRotated',
          stream,
          {
            providerKeyId,
            kind: 'replaced',
            secret: deps.encrypt(key.secret, context),
            last4: deps.last4(key.secret),
          },
          meta,
        ),
      );
      // As the admin API's rotate: a key the provider refused serves again with its new secret.
      if (current.disabled && current.disabledFor === 'invalid_credentials')
        events.push(create('ProviderKeyEnabled', stream, { providerKeyId }, meta));
    }
    if (current.weight !== key.weight) {
      events.push(create('ProviderKeyWeightChanged', stream, { providerKeyId, weight: key.weight }, meta));
    }
    if (current.tier !== key.tier || canonicalJson(current.limits) !== canonicalJson(key.limits ?? null)) {
      events.push(
        create(
          'ProviderKeyLimitsChanged',
          stream,
          { providerKeyId, tier: key.tier, limits: key.limits ?? null },
          meta,
        ),
      );
    }
    if (JSON.stringify(current.models) !== JSON.stringify(key.models ?? null)) {
      events.push(
        create('ProviderKeyModelsChanged', stream, { providerKeyId, models: key.models ?? null }, meta),
      );
    }
    add(stream, events);
  }
  for (const key of existing) {
    if (key.managedBy !== 'config' || declared.has(key.name)) continue;
    const stream = streams.providerKey(orgId, key.providerKeyId);
    add(stream, [create('ProviderKeyRemoved', stream, { providerKeyId: key.providerKeyId }, meta)]);
  }
}

function planProxyKeys(
  state: RegistryState,
  orgId: string,
  orgSlug: string,
  userId: string,
  email: string,
  teamId: string | null,
  keys: ConfigOrg['users'][number]['proxyKeys'],
  deps: PlanDependencies,
  meta: { orgId: string; actor: Actor; time: Date },
  plan: ConfigPlan,
  add: Add,
  policy: (scope: PolicyScope, scopeId: string, limits: ConfigLimits | undefined) => void,
  claimedSecrets: Map<string, string>,
) {
  const create = kordonCatalogue.create.bind(kordonCatalogue);
  // The user's keys, revoked ones too (an issued key's id counts them), and those still in use.
  const usersKeys = [...state.proxyKeys.values()].filter((k) => k.orgId === orgId && k.userId === userId);
  const owned = usersKeys.filter((k) => k.status !== 'revoked');
  const declared = new Set<string>();
  for (const key of keys) {
    declared.add(key.name);
    const current = owned.find((k) => k.name === key.name);
    const label = `proxy key ${orgSlug}/${email}/${key.name}`;
    if (key.secret !== undefined) {
      // A secret an earlier declaration of this run took is held by another key already, as one
      // in the registry is (the file's schema refuses this; planning never trusts it).
      const first = claimedSecrets.get(key.secret);
      if (first !== undefined) {
        plan.ignored.push(
          `${label}: this secret is given to ${first} too, and one secret is one key (not imported)`,
        );
        if (current) policy('proxy-key', current.proxyKeyId, key.limits);
        continue;
      }
      claimedSecrets.set(key.secret, label);
    }
    if (
      current &&
      (key.secret === undefined || deps.proxyKeyMatches(key.secret, current.hashValue, current.hashKeyId))
    ) {
      if (current.teamId !== teamId)
        plan.ignored.push(`${label}: moving a key to another team needs a new key (not applied)`);
      const expiresAt = key.expiresAt === undefined ? null : Date.parse(key.expiresAt);
      if (current.expiresAt !== expiresAt) {
        // A key's expiry is fixed when it is issued: no event changes it.
        const kept = current.expiresAt === null ? 'never' : new Date(current.expiresAt).toISOString();
        plan.ignored.push(
          `${label}: a key's expiresAt cannot change (it stays ${kept}; not applied): remove the key ` +
            'to revoke it now, or give it a new name or another secret for a new key with this expiry',
        );
      }
      policy('proxy-key', current.proxyKeyId, key.limits);
      continue;
    }
    // Checked before the current key is revoked: a secret that cannot replace it leaves it working.
    const made = deps.proxyKey(key.secret);
    if (!made.ok) {
      plan.ignored.push(`${label}: ${made.reason} (not imported${current ? '; the current key stays' : ''})`);
      if (current) policy('proxy-key', current.proxyKeyId, key.limits);
      continue;
    }
    // Looked up under every hasher key, as authentication does: after KORDON_PROXY_KEY_SECRET is
    // rotated the secret's hash under the new key is unknown, yet a key holds it (maybe revoked).
    const hashValues = key.secret === undefined ? [made.hash.value] : deps.proxyKeyHashValues(key.secret);
    const holderId = hashValues.map((value) => state.proxyKeyIdByHash.get(value)).find((id) => id);
    const holder = state.proxyKeys.get(holderId ?? '');
    // The same secret under a new name: the old name is revoked below, the secret moves over.
    const renamed =
      holder?.status !== 'revoked' &&
      holder?.orgId === orgId &&
      holder.userId === userId &&
      holder.managedBy === 'config' &&
      !keys.some((k) => k.name === holder.name);
    if (holder && !renamed) {
      // A revoked key never works again, and one secret is one key: issuing it would revive it
      // (or take it from its holder) under the same hash.
      plan.ignored.push(
        holder.status === 'revoked'
          ? `${label}: this secret was revoked, and a revoked key never works again; give another secret, or none to have one issued (not imported)`
          : `${label}: this secret is another key's (not imported)`,
      );
      if (current) policy('proxy-key', current.proxyKeyId, key.limits);
      continue;
    }
    const events: NewEvent[] = [];
    if (current) {
      // The file holds another secret for this key: the old one stops working.
      const stream = streams.proxyKey(orgId, current.proxyKeyId);
      add(stream, [
        create(
          'ProxyKeyRevoked',
          stream,
          { proxyKeyId: current.proxyKeyId, reason: 'manual', note: 'replaced in the configuration file' },
          meta,
        ),
      ]);
    }
    // A replaced key gets a new id: a revoked id is never used again. An issued key's secret is
    // random, so its id counts the user's keys of that name instead: replicas starting together
    // plan the same id, and the store takes one key, not one per replica.
    const proxyKeyId = deps.entityId(
      'proxy-key',
      key.secret === undefined
        ? `${orgId}/${userId}/${key.name}/issued/${usersKeys.filter((k) => k.name === key.name).length}`
        : `${orgId}/${userId}/${key.name}/${made.hash.value}`,
    );
    const stream = streams.proxyKey(orgId, proxyKeyId);
    events.push(
      create(
        'ProxyKeyIssued',
        stream,
        {
          proxyKeyId,
          userId,
          teamId,
          name: key.name,
          prefix: made.prefix,
          hash: made.hash,
          expiresAt: key.expiresAt ?? null,
        },
        meta,
      ),
    );
    add(stream, events);
    policy('proxy-key', proxyKeyId, key.limits);
    if (made.issuedSecret)
      plan.issued.push({ org: orgSlug, email, name: key.name, secret: made.issuedSecret, streamId: stream });
  }
  for (const key of owned) {
    if (key.managedBy !== 'config' || declared.has(key.name)) continue;
    const stream = streams.proxyKey(orgId, key.proxyKeyId);
    add(stream, [
      create(
        'ProxyKeyRevoked',
        stream,
        { proxyKeyId: key.proxyKeyId, reason: 'manual', note: 'removed from the configuration file' },
        meta,
      ),
    ]);
  }
}

type PolicyScope = KordonEventData<'PolicySet'>['scope'];
type PolicyLimits = KordonEventData<'PolicySet'>['limits'];
type PolicyRenewal = NonNullable<KordonEventData<'PolicySet'>['renewal']>;

/**
 * One PolicySet when the file's limits of a scope differ from the registry's; a scope whose
 * limits the file no longer gives loses them (only when the file set them).
 */
function planPolicy(
  state: RegistryState,
  org: ConfigOrg,
  orgId: string,
  scope: PolicyScope,
  scopeId: string,
  limits: ConfigLimits | undefined,
  meta: { orgId: string; actor: Actor; time: Date },
  add: Add,
) {
  const current = state.policies.get(policyKey(orgId, scope, scopeId));
  const stream = streams.policy(orgId, scope, scopeId);
  if (limits === undefined) {
    if (current?.managedBy === 'config')
      add(stream, [
        kordonCatalogue.create('PolicySet', stream, { scope, scopeId, limits: {}, renewal: {} }, meta),
      ]);
    return;
  }
  const wanted = { limits: policyLimits(limits), renewal: policyRenewal(org, limits) };
  // No limits (`limits: {}`, or only rollover settings) is what an absent policy already means:
  // an empty PolicySet deletes the entry, so appending one would repeat on every start.
  if (!current && Object.keys(wanted.limits).length === 0) return;
  if (
    current &&
    canonicalJson(current.limits) === canonicalJson(wanted.limits) &&
    canonicalJson(current.renewal) === canonicalJson(wanted.renewal)
  )
    return;
  add(stream, [kordonCatalogue.create('PolicySet', stream, { scope, scopeId, ...wanted }, meta)]);
}

/** The file's limits block in the event's shape. */
export function policyLimits(limits: ConfigLimits): PolicyLimits {
  const out: PolicyLimits = {};
  if (limits.rpm !== undefined) out.rpm = limits.rpm;
  if (limits.tpm !== undefined) out.tpm = limits.tpm;
  if (limits.concurrency !== undefined) out.concurrency = limits.concurrency;
  if (limits.budget) out.budget = { usd: limits.budget.usd, period: limits.budget.period };
  if (limits.tokens) {
    const { total, input, output, period } = limits.tokens;
    out.tokens =
      total !== undefined
        ? { kind: 'total', count: total, period }
        : input !== undefined
          ? { kind: 'input', count: input, period }
          : { kind: 'output', count: output ?? 0, period };
  }
  if (limits.maxDistinctIps !== undefined) {
    out.maxDistinctIps =
      typeof limits.maxDistinctIps === 'number'
        ? { count: limits.maxDistinctIps, period: limits.budget?.period ?? '1d' }
        : { count: limits.maxDistinctIps.count, period: limits.maxDistinctIps.period };
  }
  if (limits.ipAllow) out.ipAllow = limits.ipAllow;
  if (limits.ipDeny) out.ipDeny = limits.ipDeny;
  if (limits.models) out.models = limits.models;
  return out;
}

function policyRenewal(org: ConfigOrg, limits: ConfigLimits): PolicyRenewal {
  const renewal: PolicyRenewal = { timeZone: org.timeZone };
  if (org.monthStartDay !== undefined) renewal.monthStartDay = org.monthStartDay;
  if (limits.rollover !== undefined) renewal.rollover = limits.rollover;
  if (limits.rolloverMaxPercent !== undefined) renewal.rolloverMaxPercent = limits.rolloverMaxPercent;
  return renewal;
}
