import {
  type KordonEvent,
  type KordonEventData,
  kordonCatalogue,
  type NewEvent,
  streams,
} from '@kordon/events';
import {
  Balancer,
  type Candidates,
  DEFAULT_HEALTH,
  type FailureKind,
  type HealthDecision,
  type KeyDescription,
  type Strategy,
} from '../balancer/index.js';

/** One key's health for the admin view. */
export type KeyHealthView = KeyDescription & { provider: string; strategy: Strategy };

import { type PinnedSessionEntry, parseUsd } from '../limits/index.js';
import type { Operation } from '../providers/index.js';
import {
  type ProviderEntry,
  type ProviderKeyEntry,
  providerGroup,
  type RegistryState,
} from '../registry/registry.js';
import type { UpstreamError } from '../upstream/index.js';
import { modelMatches, type Route } from './route-model.js';

/**
 * A request's keys, one per attempt, as the balancer's group was when the request began:
 * an admin may disable or remove a key (or it may leave the provider) while the request
 * waits on another, so once the registry's keys changed each key is checked against them
 * before it is used, and skipped when it no longer serves the route. While nothing changed
 * (nearly always) the check is one version compare.
 */
export class RequestCandidates {
  constructor(
    private readonly choice: KeyChoice,
    private readonly keys: Candidates<ProviderKeyEntry>,
    private readonly route: Route,
    private readonly keysVersion: number,
    private readonly current: () => RegistryState,
  ) {}

  /** The probe ticket of the key `next` returned (0: not a probe), for that attempt's reports. */
  get probe(): number {
    return this.keys.probe;
  }

  /** The keys are peeked (`KeyChoice.peekCandidates`): a key passed over is not reported unused. */
  get peeking(): boolean {
    return this.keys.peeking;
  }

  next(now: number): ProviderKeyEntry | undefined {
    for (let key = this.keys.next(now); key; key = this.keys.next(now)) {
      const registry = this.current();
      if (
        (registry.keysVersion === this.keysVersion || servesRoute(registry, key, this.route)) &&
        this.choice.modelRestUntil(key.providerKeyId, this.route.model, now) === 0
      )
        return key;
      // Handed out but never used: not one of its requests (own rpm, a probe it claimed). A
      // peeked key was not handed out: it has nothing to give back.
      if (!this.keys.peeking) this.choice.balancer.reportUnused(key.providerKeyId, now, this.keys.probe);
    }
    return undefined;
  }
}

/** The key is still in the registry, enabled, and one of the route's provider's keys. */
function servesRoute(registry: RegistryState, key: ProviderKeyEntry, route: Route): boolean {
  const entry = registry.providerKeys.get(key.providerKeyId);
  return (
    entry !== undefined &&
    !entry.disabled &&
    entry.orgId === route.provider.orgId &&
    entry.provider === route.provider.name &&
    registry.providers.get(route.provider.orgId)?.get(route.provider.name) !== undefined
  );
}

/**
 * The data plane's side of the balancer: keeps its groups in step with the registry (an
 * org's keys of one provider; per set of keys serving a model when some serve only some), and
 * turns what the balancer decides about a key into events, so every replica's registry, and
 * through it its balancer, learns of cool-downs and disabled keys.
 */
export class KeyChoice {
  readonly balancer = new Balancer<ProviderKeyEntry>();
  /**
   * `${provider group}\n${model}` -> the balancer group and the versions it was read at. The
   * model is the caller's: at most MAX_ROUTES entries, the oldest dropped first (a dropped
   * entry costs one pass over the provider's keys; its group lives on, see groupOf).
   */
  readonly #routes = new Map<string, { group: string; version: number; spend: number }>();
  /** Per provider group: its keys limited to some models, and the groups made from them. */
  readonly #restricted = new Map<string, { version: number; models: string; groups: Set<string> }>();
  /** Spend of each key today (UTC), from the request events of every replica. */
  readonly #spentToday = new Map<string, KeySpend>();
  /**
   * A pinned session (a stored Responses answer, a Claude thread) -> the provider and key that
   * stored it, made here (`pin`) or by another replica (`observePin`, from its request event);
   * oldest forgotten first. Kept here, not in a balancer group: a group is renamed or dropped when
   * the keys serving a model change, and a follow-up may name another model the key serves.
   * With it, when known, the tokens of the conversation the answer ends (its input and output),
   * which a follow-up is billed again as input.
   */
  readonly #storedAt = new Map<string, StoredAnswer>();
  /** Bumped when a key starts or stops resting on its daily budget: groups are re-read. */
  #spendVersion = 0;
  /**
   * `${providerKeyId}\n${model}` -> until when the key is not asked for the model, and what its
   * provider said: its project lately answered that it has no such model (OpenAI's
   * model_not_found; keys of different projects reach different models). Oldest forgotten first.
   */
  readonly #lacking = new RecentRefusals(LACKING_MODEL_MS);
  /**
   * `${providerKeyId}\n${model}` -> until when the key is not asked for the model: its provider
   * said the model's own quota is spent (Gemini's per-model limits), while the key's other
   * models keep theirs. Per process, as `#lacking`; oldest forgotten first.
   */
  readonly #modelRests = new Map<string, number>();
  /**
   * `${providerKeyId}\n${operation}` -> until when the key is not asked for the operation, and
   * what its provider said: the key may not call that endpoint (OpenAI's restricted keys grant
   * endpoints one by one: 401 "Missing scopes"), and serves the others. Oldest forgotten first.
   */
  readonly #scopesMissing = new RecentRefusals(MISSING_SCOPE_MS);
  /**
   * `${providerKeyId}\nurl-fetch` -> until when the key is not asked for a request that makes
   * Claude fetch a URL, and what Claude said: its organization has URL fetching turned off (400
   * `organization_url_fetch_disabled`), while the key serves every other request. Oldest
   * forgotten first.
   */
  readonly #urlFetchOff = new RecentRefusals(URL_FETCH_DISABLED_MS);
  /**
   * providerKeyId -> until when the key is not asked at all, and what Claude said: its workspace
   * is still being connected to its storage (503 `storage_not_ready`, "try again in a minute").
   * Neither a fault of the key nor of the provider at large: per process, as `#scopesMissing`.
   */
  readonly #notReady = new Map<string, { until: number; error: UpstreamError }>();
  /**
   * providerKeyId -> until when the key is not asked to count tokens, and the 429 it answered a
   * count with: providers limit counting apart from messages, so this rests the key for counting
   * alone (never its health, circuit or requests). Per process, as `#notReady`.
   */
  readonly #countingRests = new Map<string, CountingRest>();
  /**
   * Provider -> model -> until when its route goes last in a chain: none of its keys has the
   * model (Azure's DeploymentNotFound: all reach the same deployments), so a chain whose first
   * provider lacks it does not pay that 404 on every request. Per provider entry: one
   * configured anew starts afresh.
   */
  readonly #absent = new WeakMap<ProviderEntry, Map<string, number>>();
  /**
   * Per key, the `secretCount` its memories above (lacking a model or a scope, a model's rest,
   * URL fetching off, a workspace not ready, a counting rest) were made under: a replaced secret (another
   * project's or organization's key, other scopes) starts afresh.
   */
  readonly #secrets = new Map<string, number>();

  /**
   * A request event of another replica (or of this one before a restart; this process's own
   * take `observeSpend` alone): counts its cost against its provider key's daily budget
   * (`limits.dailyUsd`), past which the key rests until midnight UTC; and pins the answer the
   * provider stored for a follow-up (`storedAnswer`), see `observePin`.
   */
  observe(event: KordonEvent, registry: RegistryState): void {
    if (event.type !== 'RequestCompleted' && event.type !== 'RequestFailed') return;
    const { providerKeyId, cost, currency } = event.data;
    this.observeSpend(providerKeyId, cost, currency, event.time.getTime(), registry);
    if (event.type === 'RequestCompleted' && event.data.storedAnswer !== null)
      this.observePin(event.orgId, event.data, registry);
  }

  /**
   * Pins a stored answer another replica made (a `RequestCompleted` naming its `storedAnswer`)
   * to the key that made it, under the session of the event's org, with the conversation's
   * tokens from the event's usage: a follow-up through this replica then reaches that key, and
   * is held at that conversation. A session this process already knows keeps its pin (made here
   * when it served the answer, or learnt by asking the keys in turn): an event neither moves it
   * nor renews its place among the MAX_PINNED_SESSIONS remembered. A key that is not the org's
   * (as the registry has it) is not pinned.
   */
  observePin(
    orgId: string | null,
    data: Pick<KordonEventData<'RequestCompleted'>, 'storedAnswer' | 'provider' | 'providerKeyId' | 'usage'>,
    registry: RegistryState,
  ): void {
    const answer = data.storedAnswer;
    if (answer === null || orgId === null) return;
    if (registry.providerKeys.get(data.providerKeyId)?.orgId !== orgId) return;
    const session =
      answer.kind === 'thread'
        ? claudeThreadSession(orgId, answer.id)
        : storedResponseSession(orgId, answer.id);
    if (this.#storedAt.has(session)) return;
    // No tokens: the answer's usage was not known (recorded as zero), as a local pin without it.
    const tokens = data.usage.inputTokens + data.usage.outputTokens;
    setNewest(
      this.#storedAt,
      session,
      {
        provider: data.provider,
        providerKeyId: data.providerKeyId,
        conversationTokens: tokens > 0 ? tokens : undefined,
      },
      MAX_PINNED_SESSIONS,
    );
  }

  /** The cost of one request on one key (from its event), against the key's daily budget. */
  observeSpend(
    providerKeyId: string | null,
    cost: string | null,
    currency: string | null,
    at: number,
    registry: RegistryState,
  ): void {
    if (!providerKeyId || cost === null || currency !== 'USD') return;
    const key = registry.providerKeys.get(providerKeyId);
    const budget = key?.limits?.dailyUsd;
    if (key === undefined || budget === undefined) return;
    // Made while the key had no budget: not recorded (by the event's time, not when it is read,
    // so that a replay with today's registry counts what the live process counted).
    if (!key.dailyUsdSpans.some((span) => span.from <= at && (span.to === null || at < span.to))) return;
    const day = Math.floor(at / DAY_MS);
    const spent = this.#spentToday.get(providerKeyId);
    // A late event of an earlier day (another replica's, near midnight) is not today's spend.
    if (spent && day < spent.day) return;
    const usd = (spent && spent.day === day ? spent.usd : 0n) + parseUsd(cost);
    this.#decide(providerKeyId, day, usd, budget);
  }

  /**
   * The keys a request tries, best first, computed as it fails over. `current` gives the
   * registry as it is when the next key is asked for (it moves on while the request runs).
   */
  candidates(
    registry: RegistryState,
    route: Route,
    session: string | undefined,
    current: () => RegistryState = () => registry,
  ): RequestCandidates {
    const stored = session === undefined ? undefined : this.#storedAt.get(session);
    const pinned = stored?.provider === route.provider.name ? stored.providerKeyId : undefined;
    const group = this.groupOf(registry, route);
    return new RequestCandidates(
      this,
      this.balancer.candidates(group, session, pinned),
      route,
      registry.keysVersion,
      current,
    );
  }

  /**
   * The keys a call that is not one of their requests tries (Anthropic's token counting, limited
   * apart from messages), best first, as `candidates` gives a request's but peeked: no key's own
   * rpm is spent, no half-open key's one probe taken (`Balancer.peekCandidates`). `session`: what
   * the call continues (a stored response, a conversation), whose key is peeked first.
   */
  peekCandidates(route: Route, current: () => RegistryState, session?: string): RequestCandidates {
    const registry = current();
    const stored = session === undefined ? undefined : this.#storedAt.get(session);
    const pinned = stored?.provider === route.provider.name ? stored.providerKeyId : undefined;
    return new RequestCandidates(
      this,
      this.balancer.peekCandidates(this.groupOf(registry, route), pinned),
      route,
      registry.keysVersion,
      current,
    );
  }

  /**
   * What a key said lately that keeps it from this call, while remembered: it may not call the
   * operation (a scope), its workspace is not ready (Claude's 503 storage_not_ready), or its
   * organization fetches no URL and the call has Claude fetch one (`fetchesUrl`, asked only
   * then). The next key is asked; with none left the caller hears it, as from a call.
   */
  rememberedRefusal(
    providerKeyId: string,
    operation: Operation,
    now: number,
    fetchesUrl: () => boolean,
  ): UpstreamError | undefined {
    const urlFetchOff = this.urlFetchDisabled(providerKeyId, now);
    return (
      this.scopeMissing(providerKeyId, operation, now) ??
      this.notReady(providerKeyId, now) ??
      (urlFetchOff !== undefined && fetchesUrl() ? urlFetchOff : undefined)
    );
  }

  /**
   * Sends a session (a stored answer, see `generate.ts` sessionOf) to the key that stored it
   * from now on: `candidates` tries that key first while it is usable.
   */
  pin(
    route: Pick<Route, 'provider'>,
    session: string,
    providerKeyId: string,
    conversationTokens?: number | undefined,
  ): void {
    setNewest(
      this.#storedAt,
      session,
      { provider: route.provider.name, providerKeyId, conversationTokens },
      MAX_PINNED_SESSIONS,
    );
  }

  /**
   * The tokens of the conversation a pinned session's answer ends, when this process made it
   * (and its usage was known) or learnt it from its event (`observePin`): what a follow-up to it
   * is billed on top of its own input.
   */
  conversationTokens(session: string): number | undefined {
    return this.#storedAt.get(session)?.conversationTokens;
  }

  /** The provider a pinned session's answer is stored at (this process knows it), if any. */
  storedAt(session: string): string | undefined {
    return this.#storedAt.get(session)?.provider;
  }

  /** The provider and key that stored a pinned session's answer (this process knows it), if any. */
  storedKey(session: string): { provider: string; providerKeyId: string } | undefined {
    return this.#storedAt.get(session);
  }

  /** Forgets where a session's answer is stored: the provider deleted it. */
  unpin(session: string): void {
    this.#storedAt.delete(session);
  }

  /**
   * The key's provider said it has no such model (OpenAI's model_not_found): for
   * LACKING_MODEL_MS the key is not asked for it, its other keys are (another project's key
   * may have the model). Per process, as the balancer's view of the keys.
   */
  markLacking(providerKeyId: string, model: string, error: UpstreamError, now: number): void {
    this.#lacking.remember(providerKeyId, model, error, now);
  }

  /**
   * An OpenAI-compatible server said it has no such model: every key of the provider that calls
   * the same server sees the same models (a vLLM box, a hosted vendor's catalogue), so each is
   * marked as `markLacking` marks one, and one refusal speaks for all of them, not one a key.
   * A key with a base URL of its own calls another server: its answer is its own.
   */
  markLackingAtServer(
    registry: RegistryState,
    route: Route,
    refusedBy: ProviderKeyEntry,
    error: UpstreamError,
    now: number,
  ): void {
    const server = refusedBy.baseUrl ?? route.provider.baseUrl;
    const keys = registry.providerKeysByProvider.get(
      providerGroup(route.provider.orgId, route.provider.name),
    );
    for (const key of keys?.values() ?? [])
      if ((key.baseUrl ?? route.provider.baseUrl) === server)
        this.#lacking.remember(key.providerKeyId, route.model, error, now);
  }

  /** What the key's provider said lately of not having the model, while it is remembered. */
  lacking(providerKeyId: string, model: string, now: number): UpstreamError | undefined {
    return this.#lacking.recall(providerKeyId, model, now);
  }

  /**
   * The key may not call the operation (`ProviderErrorInfo.scopeMissing`): for
   * MISSING_SCOPE_MS it is not asked for it (each request would otherwise pay a refused call
   * before the next key), and keeps serving the others. Per process, as `markLacking`.
   */
  markScopeMissing(providerKeyId: string, operation: Operation, error: UpstreamError, now: number): void {
    this.#scopesMissing.remember(providerKeyId, operation, error, now);
  }

  /** What the key's provider said lately of the key lacking the operation's scope, while remembered. */
  scopeMissing(providerKeyId: string, operation: Operation, now: number): UpstreamError | undefined {
    return this.#scopesMissing.recall(providerKeyId, operation, now);
  }

  /**
   * The key's Claude organization has URL fetching turned off (`saysUrlFetchDisabled`): for
   * URL_FETCH_DISABLED_MS it is not asked for a request that fetches a URL (an image or document
   * `source.type: "url"`, the `web_fetch` tool, `mcp_servers`): another key, of another
   * organization, may fetch it. It keeps serving every other request. Per process.
   */
  markUrlFetchDisabled(providerKeyId: string, error: UpstreamError, now: number): void {
    this.#urlFetchOff.remember(providerKeyId, URL_FETCH, error, now);
  }

  /** What Claude said lately of the key's organization not fetching URLs, while remembered. */
  urlFetchDisabled(providerKeyId: string, now: number): UpstreamError | undefined {
    return this.#urlFetchOff.recall(providerKeyId, URL_FETCH, now);
  }

  /**
   * The key's workspace is not ready (`saysStorageNotReady`): the key rests for the provider's
   * Retry-After, else STORAGE_NOT_READY_REST_MS (at most MAX_NOT_READY_REST_MS), for every
   * request, without counting against its health (no error sample, no circuit failure): the
   * probe it may have claimed (`probe`) is freed. Per process, no event.
   */
  markNotReady(providerKeyId: string, error: UpstreamError, now: number, probe = 0): void {
    const restMs = Math.min(error.retryAfterMs ?? STORAGE_NOT_READY_REST_MS, MAX_NOT_READY_REST_MS);
    setNewest(this.#notReady, providerKeyId, { until: now + restMs, error }, MAX_LACKING);
    this.balancer.releaseProbe(providerKeyId, now, probe);
  }

  /** What Claude said of the key's workspace not being ready, while the key rests on it. */
  notReady(providerKeyId: string, now: number): UpstreamError | undefined {
    if (this.#notReady.size === 0) return undefined;
    const rest = this.#notReady.get(providerKeyId);
    if (rest === undefined) return undefined;
    if (rest.until > now) return rest.error;
    this.#notReady.delete(providerKeyId);
    return undefined;
  }

  /**
   * The key answered a count with a 429 (`countedByProvider`): it is not asked to count for the
   * provider's Retry-After, else COUNTING_REST_MS (at most MAX_COUNTING_REST_MS). Its requests and
   * its health are untouched: counting has limits of its own.
   */
  markCountingRefused(providerKeyId: string, error: UpstreamError, now: number): CountingRest {
    const restMs = Math.min(error.retryAfterMs ?? COUNTING_REST_MS, MAX_COUNTING_REST_MS);
    const rest = { until: now + restMs, error };
    setNewest(this.#countingRests, providerKeyId, rest, MAX_LACKING);
    return rest;
  }

  /** Until when, and why, the key is not asked to count, while it rests on a counting 429. */
  countingRefused(providerKeyId: string, now: number): CountingRest | undefined {
    if (this.#countingRests.size === 0) return undefined;
    const rest = this.#countingRests.get(providerKeyId);
    if (rest === undefined) return undefined;
    if (rest.until > now) return rest;
    this.#countingRests.delete(providerKeyId);
    return undefined;
  }

  /** Until when the key rests on a workspace not ready (epoch ms), 0 when it does not. */
  #notReadyUntil(providerKeyId: string, now: number): number {
    const rest = this.#notReady.get(providerKeyId);
    return rest !== undefined && rest.until > now ? rest.until : 0;
  }

  /**
   * The key's provider refused the model for its own quota (`ProviderErrorInfo.quotaModel`): the
   * key rests for that model alone, for the provider's retry delay (else the balancer's default
   * cool-down), and serves the others; the probe it may have claimed (`probe`) is freed.
   */
  restForModel(
    providerKeyId: string,
    model: string,
    retryAfterMs: number | undefined,
    now: number,
    probe = 0,
  ): void {
    const restMs = retryAfterMs ?? DEFAULT_HEALTH.defaultCooldownMs;
    setNewest(this.#modelRests, `${providerKeyId}\n${model}`, now + restMs, MAX_LACKING);
    this.balancer.releaseProbe(providerKeyId, now, probe);
  }

  /** Until when the key rests for the model alone (epoch ms), 0 when it does not. */
  modelRestUntil(providerKeyId: string, model: string, now: number): number {
    if (this.#modelRests.size === 0) return 0;
    const entry = `${providerKeyId}\n${model}`;
    const until = this.#modelRests.get(entry);
    if (until === undefined) return 0;
    if (until > now) return until;
    this.#modelRests.delete(entry);
    return 0;
  }

  /**
   * None of the route's provider keys has its model: for LACKING_MODEL_MS the route is tried
   * after the rest of its chain (still tried when no other provider answers).
   */
  markAbsent(route: Route, now: number): void {
    let models = this.#absent.get(route.provider);
    if (models === undefined) {
      models = new Map();
      this.#absent.set(route.provider, models);
    }
    setNewest(models, route.model, now + LACKING_MODEL_MS, MAX_ABSENT_MODELS);
  }

  /** The chain with the routes whose provider lately lacked the model moved to its end. */
  presentFirst(routes: Route[], now: number): Route[] {
    if (routes.length < 2) return routes;
    const absent = (route: Route) => (this.#absent.get(route.provider)?.get(route.model) ?? 0) > now;
    if (!routes.some(absent)) return routes;
    return [...routes.filter((route) => !absent(route)), ...routes.filter(absent)];
  }

  /**
   * When the first key of the route may be used again (epoch ms), or null; a rest for its model
   * counts, and so does a rest on a workspace not ready.
   */
  nextUsableAt(registry: RegistryState, route: Route, now: number): number | null {
    const group = this.groupOf(registry, route);
    if (this.#modelRests.size === 0 && this.#notReady.size === 0)
      return this.balancer.nextUsableAt(group, now);
    return this.balancer.nextUsableAt(group, now, (providerKeyId) =>
      Math.max(this.modelRestUntil(providerKeyId, route.model, now), this.#notReadyUntil(providerKeyId, now)),
    );
  }

  /**
   * Every key of the org as the balancer sees it now: state, effective weight, error rate,
   * latency, what the provider says is left, and its own rpm/tpm use (for the admin).
   */
  describeOrg(registry: RegistryState, orgId: string, now: number): KeyHealthView[] {
    const views: KeyHealthView[] = [];
    for (const provider of registry.providers.get(orgId)?.values() ?? []) {
      const base = providerGroup(orgId, provider.name);
      const keys = [...(registry.providerKeysByProvider.get(base)?.values() ?? [])].map((key) =>
        this.#withDailyBudget(key),
      );
      if (keys.length === 0) continue;
      this.#noteSecrets(keys);
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

  /**
   * The balancer group of a route: the provider's keys that may serve its model. Groups are
   * named by that set of keys, not by the model: the caller picks the model name (any name
   * under a `gpt-4.1*` pattern), and models served by the same keys share their turns,
   * sessions and weights, as all models do when no key is limited to some.
   */
  groupOf(registry: RegistryState, route: Route): string {
    const base = providerGroup(route.provider.orgId, route.provider.name);
    const cacheKey = `${base}\n${route.model}`;
    const known = this.#routes.get(cacheKey);
    if (known && known.version === registry.keysVersion && known.spend === this.#spendVersion)
      return known.group;
    const all = [...(registry.providerKeysByProvider.get(base)?.values() ?? [])].map((key) =>
      this.#withDailyBudget(key),
    );
    const keys: ProviderKeyEntry[] = [];
    // The base group holds the keys serving every model; a key limited to some joins the name.
    let group = base;
    for (const key of all) {
      if (key.models === null) keys.push(key);
      else if (modelMatches(key.models, route.model)) {
        keys.push(key);
        group += `\n${key.providerKeyId}`;
      }
    }
    this.#noteSecrets(all);
    this.#noteRestricted(base, group, all, registry.keysVersion);
    this.balancer.setGroup(group, keys, { strategy: route.provider.options.balancer ?? 'adaptive' });
    if (known) {
      known.group = group;
      known.version = registry.keysVersion;
      known.spend = this.#spendVersion;
    } else {
      if (this.#routes.size >= MAX_ROUTES) this.#routes.delete(this.#routes.keys().next().value!);
      this.#routes.set(cacheKey, { group, version: registry.keysVersion, spend: this.#spendVersion });
    }
    return group;
  }

  /** Forgets what the provider said of a key's old secret once the registry has a new one. */
  #noteSecrets(keys: readonly ProviderKeyEntry[]): void {
    for (const key of keys) {
      const known = this.#secrets.get(key.providerKeyId);
      if (known === key.secretCount) continue;
      if (known !== undefined) {
        this.#lacking.forget(key.providerKeyId);
        this.#scopesMissing.forget(key.providerKeyId);
        this.#urlFetchOff.forget(key.providerKeyId);
        this.#notReady.delete(key.providerKeyId);
        this.#countingRests.delete(key.providerKeyId);
        for (const entry of this.#modelRests.keys())
          if (entry.startsWith(`${key.providerKeyId}\n`)) this.#modelRests.delete(entry);
      }
      this.#secrets.set(key.providerKeyId, key.secretCount);
    }
  }

  /**
   * Keeps the groups of a provider's model-limited keys bounded: their number is bounded by
   * the configured `models` lists, and when those change (a key limited, widened, added or
   * removed) the groups made under the old lists are dropped, not left listening to every key.
   */
  #noteRestricted(base: string, group: string, all: readonly ProviderKeyEntry[], version: number): void {
    let restricted = this.#restricted.get(base);
    if (restricted === undefined || restricted.version !== version) {
      let models = '';
      for (const key of all)
        if (key.models !== null) models += `${key.providerKeyId}=${JSON.stringify(key.models)}\n`;
      if (restricted === undefined) {
        restricted = { version, models, groups: new Set() };
        this.#restricted.set(base, restricted);
      } else {
        restricted.version = version;
        if (restricted.models !== models) {
          for (const stale of restricted.groups) if (stale !== group) this.balancer.removeGroup(stale);
          restricted.groups.clear();
          restricted.models = models;
        }
      }
    }
    if (group !== base) restricted.groups.add(group);
  }

  /** Today's spend per key, for the counters snapshot (JSON-safe). */
  snapshotSpend(): Array<[string, number, string]> {
    return [...this.#spentToday].map(([key, { day, usd }]) => [key, day, usd.toString()]);
  }

  /**
   * The pinned sessions, oldest first, for the counters snapshot (JSON-safe): a replica that
   * starts from the snapshot replays only the log after it, so the pins learnt before it come
   * from here (at most MAX_PINNED_SESSIONS, about 160 bytes each as JSON: a stored response's
   * session names its org's and its response's ids, 97 characters).
   */
  snapshotPins(): PinnedSessionEntry[] {
    const entries: PinnedSessionEntry[] = [];
    for (const [session, { provider, providerKeyId, conversationTokens }] of this.#storedAt)
      entries.push([session, provider, providerKeyId, conversationTokens ?? null]);
    return entries;
  }

  /** Pins the sessions of a snapshot (before the log after it is replayed), oldest first. */
  restorePins(entries: readonly PinnedSessionEntry[]): void {
    for (const [session, provider, providerKeyId, tokens] of entries)
      setNewest(
        this.#storedAt,
        session,
        { provider, providerKeyId, conversationTokens: tokens ?? undefined },
        MAX_PINNED_SESSIONS,
      );
  }

  restoreSpend(entries: Array<[string, number, string]>, registry: RegistryState): void {
    for (const [key, day, usd] of entries)
      this.#decide(key, day, BigInt(usd), registry.providerKeys.get(key)?.limits?.dailyUsd);
  }

  /** Records a key's spend on `day` and whether it rests under `budget` (its limit now). */
  #decide(providerKeyId: string, day: number, usd: bigint, budget: string | undefined): void {
    const restUntil = budget !== undefined && usd >= parseUsd(budget) ? (day + 1) * DAY_MS : 0;
    const before = this.#spentToday.get(providerKeyId)?.restUntil ?? 0;
    this.#spentToday.set(providerKeyId, { day, usd, budget, restUntil });
    if (restUntil !== before) this.#spendVersion++;
  }

  /**
   * A key past today's budget rests until midnight UTC (the entry itself is the registry's).
   * The rest was decided under the budget of its time: an admin's change (raised, lowered,
   * removed) is weighed against the day's spend as soon as the registry has it.
   */
  #withDailyBudget(key: ProviderKeyEntry): ProviderKeyEntry {
    let spent = this.#spentToday.get(key.providerKeyId);
    if (spent === undefined) return key;
    const budget = key.limits?.dailyUsd;
    if (spent.budget !== budget) {
      this.#decide(key.providerKeyId, spent.day, spent.usd, budget);
      spent = this.#spentToday.get(key.providerKeyId)!;
    }
    const until = spent.restUntil;
    if (until <= Date.now() || key.cooledDownUntil >= until) return key;
    return { ...key, cooledDownUntil: until };
  }
}

/** A key's spend on `day`, the budget it was last weighed against, and its rest (0: none). */
interface KeySpend {
  day: number;
  usd: bigint;
  budget: string | undefined;
  restUntil: number;
}

const DAY_MS = 86_400_000;
/**
 * Stored answers whose provider is remembered for a follow-up (`previous_response_id`, a Claude
 * thread's `previous_message_id`).
 */
const MAX_PINNED_SESSIONS = 65_536;
/** Routes (provider, model name) whose group is remembered: far more than any configuration serves. */
const MAX_ROUTES = 4096;
/** How long a key that said it lacks a model is not asked for it (a model allowed since is seen then). */
const LACKING_MODEL_MS = 60_000;
/**
 * How long a key that said it lacks an endpoint's scope is not asked for it: a scope granted
 * since (in OpenAI's key settings) is used within this.
 */
const MISSING_SCOPE_MS = 60_000;
/**
 * How long a key whose Claude organization has URL fetching off is not asked for a request that
 * fetches a URL: an organization setting, changed by Anthropic or its admin, not in seconds.
 */
const URL_FETCH_DISABLED_MS = 5 * 60_000;
/** What `#urlFetchOff` remembers a key by. */
const URL_FETCH = 'url-fetch';
/** How long a key whose workspace is not ready rests without a Retry-After: Claude says a minute. */
export const STORAGE_NOT_READY_REST_MS = 60_000;
/** The longest rest on a workspace not ready, whatever a Retry-After says. */
const MAX_NOT_READY_REST_MS = 10 * 60_000;
/**
 * How long a key whose count got a 429 without any Retry-After (nor quota reset headers) is not
 * asked to count: the counts Claude Code makes around one message come within seconds, and each
 * would pay the refused call; a guess longer than that would keep a key from counting for nothing.
 */
export const COUNTING_REST_MS = 5_000;
/** The longest counting rest, whatever a Retry-After says (a bogus hour would idle the key). */
const MAX_COUNTING_REST_MS = 10 * 60_000;
/** Keys and models remembered as lacking (a `gpt-4.1*` pattern lets callers name any number). */
const MAX_LACKING = 4096;
/** Models remembered as absent per provider. */
const MAX_ABSENT_MODELS = 256;

/** Sets `key` as the newest entry of an insertion-ordered map, forgetting the oldest past `max`. */
/** A key resting for counting: until when (epoch ms), and the 429 it answered. */
export interface CountingRest {
  until: number;
  error: UpstreamError;
}

interface StoredAnswer {
  provider: string;
  providerKeyId: string;
  conversationTokens?: number | undefined;
}

/**
 * What a provider said lately of a key (it lacks a model, an endpoint's scope), each for a
 * while after it was said: at most MAX_LACKING entries, the oldest forgotten first.
 */
class RecentRefusals {
  readonly #entries = new Map<string, { until: number; error: UpstreamError }>();
  readonly #forMs: number;

  constructor(forMs: number) {
    this.#forMs = forMs;
  }

  /** What the provider said of the key and `what` (a model, an operation). */
  remember(providerKeyId: string, what: string, error: UpstreamError, now: number): void {
    setNewest(this.#entries, `${providerKeyId}\n${what}`, { until: now + this.#forMs, error }, MAX_LACKING);
  }

  /** Forgets all it remembers of the key. */
  forget(providerKeyId: string): void {
    for (const entry of this.#entries.keys())
      if (entry.startsWith(`${providerKeyId}\n`)) this.#entries.delete(entry);
  }

  /** What it said, while remembered; every request asks, so an empty memory answers first. */
  recall(providerKeyId: string, what: string, now: number): UpstreamError | undefined {
    if (this.#entries.size === 0) return undefined;
    const entry = `${providerKeyId}\n${what}`;
    const known = this.#entries.get(entry);
    if (known === undefined) return undefined;
    if (known.until > now) return known.error;
    this.#entries.delete(entry);
    return undefined;
  }
}

function setNewest<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as K);
}

/**
 * The session of a stored Responses answer, under which its key is pinned: `generate.ts` pins a
 * created answer under it (and sends a `previous_response_id` follow-up by it), and the
 * stored-response routes look it up. Keyed by org too: another org naming the id (ids are not
 * secret) finds neither the pin nor the remembered conversation size.
 */
export function storedResponseSession(orgId: string, responseId: string): string {
  return `stored:${orgId}:${responseId}`;
}

/**
 * The session of a Claude message thread, under which the key whose account holds it is pinned:
 * `generate.ts` pins a threaded answer under its message id, and sends a continuation (`thread:
 * {type: "continue", previous_message_id}`) by it. Anthropic keeps a thread for the account that
 * answered; another account's key answers 404 `thread_not_found`. Keyed by org, as above.
 */
export function claudeThreadSession(orgId: string, messageId: string): string {
  return `thread:${orgId}:${messageId}`;
}

/**
 * The key's provider account cannot pay, whatever is asked: a 402 (DeepSeek, OpenRouter),
 * OpenAI's 429 `insufficient_quota`, Claude's 400 "credit balance is too low", Gemini's 400
 * FAILED_PRECONDITION of a project without billing (their adapters tell them apart). Waiting seconds does not help; another key (another account) may serve.
 */
export function outOfCredit(error: UpstreamError): boolean {
  return error.status === 402 || error.provider?.type === 'quota_exceeded';
}

/**
 * Claude's 503 `storage_not_ready` (`error.details.error_code`; @anthropic-ai/sdk 1.16's
 * StorageNotReadyError: "This workspace isn't ready yet: it's still being connected to its
 * storage. Try again in a minute."): the key's workspace cannot serve yet; a key of another
 * workspace can. Not an overload, and not the key failing.
 */
export function saysStorageNotReady(error: UpstreamError): boolean {
  return error.status === 503 && error.provider?.anthropicDetails?.error_code === 'storage_not_ready';
}

/**
 * Claude's 400 `organization_url_fetch_disabled` (@anthropic-ai/sdk 1.17's
 * OrganizationURLFetchDisabledError): Anthropic turned off URL image and document sources, the
 * `web_fetch` tool and `mcp_servers` for the key's organization. Another organization's key may
 * fetch the URL.
 */
export function saysUrlFetchDisabled(error: UpstreamError): boolean {
  return (
    error.status === 400 && error.provider?.anthropicDetails?.error_code === 'organization_url_fetch_disabled'
  );
}

/** How long a key whose account is out of credit rests (without a Retry-After) before it is tried again. */
export const OUT_OF_CREDIT_REST_MS = 5 * 60_000;

/** How an attempt's failure counts for the key (the caller leaving never counts). */
export function failureKind(error: UpstreamError, callerLeft: boolean): FailureKind | 'not_the_key' {
  if (callerLeft) return 'caller_cancelled';
  // The key works and the provider answered (and charged): the same request would make an
  // answer as large again, paid once more by every other key it went to.
  if (error.code === 'upstream_response_too_large') return 'not_the_key';
  const status = error.status;
  // A 2xx that is not what was asked for (another shape, an error object, a page): the server's fault.
  if (error.code === 'upstream_invalid_response') return 'server_error';
  // A request larger than the key's whole tokens-per-minute limit (OpenAI's 429 "Request too
  // large"): the caller's request is refused, the key's budget is untouched.
  if (error.provider?.type === 'request_too_large') return 'not_the_key';
  // The key's account is out of credit: it rests (see OUT_OF_CREDIT_REST_MS), the next key serves.
  if (status === 429 || outOfCredit(error)) return 'rate_limited';
  // The key's project may not use this model (OpenAI's 403 model_not_found, "Project `proj_…`
  // does not have access to model `…`"): the key serves its other models, so it is not refused.
  if (error.provider?.modelNotServed) return 'not_the_key';
  // The provider's filter refused the caller's content (OpenRouter's moderation says so with a
  // 403): the key works, and any other key would be refused the same input.
  if (error.provider?.type === 'content_filter') return 'not_the_key';
  // A restricted key without this endpoint's scope (OpenAI's 401 "Missing scopes:
  // api.responses.write"): it serves the endpoints it has, so it is not refused for all.
  if (error.provider?.scopeMissing) return 'not_the_key';
  // Gemini refuses a wrong or revoked key with a 400 INVALID_ARGUMENT (ErrorInfo
  // API_KEY_INVALID), which its adapter reads as an authentication error: the key's fault.
  const keyRefused = error.provider?.type === 'authentication';
  if (status === 401 || status === 403 || keyRefused) return 'auth_refused';
  // 498: Groq's flex capacity is gone for now, as a 503 says.
  if (status !== undefined && (status >= 500 || status === 498)) return 'server_error';
  // The provider's own timeout (OpenRouter's 408 "Your request timed out"), as Kordon's would be.
  if (status === 408) return 'timeout';
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
