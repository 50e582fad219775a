/**
 * Prometheus metrics of the data plane, registered in the server's registry (`/metrics`).
 *
 * Counted on the hot path, from the one event each request writes (so the figures agree
 * with the log): requests, latency and time to first token, tokens, cost, limit
 * rejections, and each upstream attempt's result (a request's, or a token count's: operation
 * `count_tokens`), by provider key. Read at scrape time: every provider key
 * as the balancer sees it, and how far the gateway's in-memory projections are behind the log.
 *
 * Label cardinality stays bounded: `org` is the org's slug and `provider` a configured
 * provider connection, `provider_key_id` a configured key (all bounded by configuration);
 * `model` is bounded by `maxModels` distinct values (later ones are counted as `other`),
 * and is empty for requests refused before routing (and, unless a provider lists it or it is
 * a label already, refused by a limit or failed unanswered); `status`, `outcome`, `endpoint`,
 * `reason`, `scope`, `operation`, `result`, `type`, `currency` and `state` are small fixed sets. The
 * histograms carry no `org` (provider x model x buckets only). No label holds a secret, a
 * user, a proxy key or a client address (`provider_key_id` is a key's id, never its secret).
 */
import type { KordonEventData, NewEvent } from '@kordon/events';
import { Gauge, type Registry } from 'prom-client';
import type { KeyHealthView } from '../http/key-choice.js';
import type { Operation } from '../providers/provider-types.js';
import type { RegistryState } from '../registry/registry.js';
import { CellCounter, CellHistogram, type CounterCell, type HistogramCell } from './metric-cells.js';

type Endpoint = KordonEventData<'RequestCompleted'>['endpoint'];

/** How an upstream attempt ended: `ok`, a failure kind of the balancer, or `refused` (a 4xx about the request). */
export type AttemptResult =
  | 'ok'
  | 'rate_limited'
  | 'server_error'
  | 'timeout'
  | 'connection_failed'
  | 'auth_refused'
  | 'caller_cancelled'
  | 'not_the_key'
  | 'error';

/** One provider call: whose key, for what (a fixed set: the adapters' operations), how it ended. */
export interface UpstreamAttempt {
  orgId: string;
  provider: string;
  providerKeyId: string;
  operation: Operation;
  result: AttemptResult;
}

export interface DataPlaneMetricsSources {
  registry: () => RegistryState;
  /** Every key of an org as the balancer sees it now. */
  keyHealth: (orgId: string) => KeyHealthView[];
  /** The log's head position (a store query, at scrape time only). */
  headPosition: () => Promise<number>;
  /** The in-memory projections the hot path reads, by name, with their position in the log. */
  projections: ReadonlyArray<{ name: string; position: () => number }>;
  /** Request bytes held now, and the most that may be (KORDON_MAX_BODY_BYTES_IN_FLIGHT). */
  bodyBytes?: { held: () => number; max: number };
}

export interface DataPlaneMetricsOptions {
  /** Distinct `model` label values before new ones are counted as `other`. Default 500. */
  maxModels?: number;
}

/** Seconds; LLM answers take from milliseconds (cached, embeddings) to minutes. */
const LATENCY_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const TTFT_BUCKETS = [0.005, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The cells of one org x provider x model x endpoint, made on first use. */
interface Series {
  org: string;
  provider: string;
  model: string;
  endpoint: string;
  /** `${status}\n${outcome}` -> its request count. */
  requests: Map<string, CounterCell>;
  /** The count last added to, and its status and outcome (most requests repeat the last one's). */
  lastRequests: { status: number | null; outcome: string; cell: CounterCell } | undefined;
  duration: HistogramCell | undefined;
  ttft: HistogramCell | undefined;
  tokens: Partial<Record<TokenType, CounterCell>>;
  cost: Map<string, CounterCell>;
}

type TokenType = 'input' | 'output' | 'cached_input' | 'reasoning';

export class DataPlaneMetrics {
  readonly #sources: DataPlaneMetricsSources;
  readonly #maxModels: number;
  readonly #models = new Set<string>();
  readonly #series = new Map<string, Series>();
  #lastSeries:
    | { orgId: string; provider: string; model: string; endpoint: string; series: Series }
    | undefined;
  /** `${orgId}\n${providerKeyId}\n${operation}\n${result}` and `${orgId}\n${reason}\n${scope}` -> their cells. */
  readonly #attemptCells = new Map<string, CounterCell>();
  #lastAttempt: (UpstreamAttempt & { cell: CounterCell }) | undefined;
  readonly #rejectionCells = new Map<string, CounterCell>();
  readonly #requests: CellCounter<'org' | 'provider' | 'model' | 'endpoint' | 'status' | 'outcome'>;
  readonly #duration: CellHistogram<'provider' | 'model' | 'endpoint'>;
  readonly #ttft: CellHistogram<'provider' | 'model' | 'endpoint'>;
  readonly #tokens: CellCounter<'org' | 'provider' | 'model' | 'type'>;
  readonly #cost: CellCounter<'org' | 'provider' | 'model' | 'currency'>;
  readonly #rejections: CellCounter<'org' | 'reason' | 'scope'>;
  readonly #attempts: CellCounter<'org' | 'provider' | 'provider_key_id' | 'operation' | 'result'>;

  constructor(registry: Registry, sources: DataPlaneMetricsSources, options: DataPlaneMetricsOptions = {}) {
    this.#sources = sources;
    this.#maxModels = options.maxModels ?? 500;
    const registers = [registry];
    this.#requests = new CellCounter({
      name: 'kordon_requests_total',
      help: 'Data-plane requests by org, provider, model, endpoint, HTTP status and outcome (completed, failed, rejected, unauthenticated)',
      labelNames: ['org', 'provider', 'model', 'endpoint', 'status', 'outcome'] as const,
      registers,
    });
    this.#duration = new CellHistogram({
      name: 'kordon_request_duration_seconds',
      help: 'Completed requests: arrival to the last byte sent',
      labelNames: ['provider', 'model', 'endpoint'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#ttft = new CellHistogram({
      name: 'kordon_time_to_first_token_seconds',
      help: 'Completed streamed requests: arrival to the first content byte sent',
      labelNames: ['provider', 'model', 'endpoint'] as const,
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.#tokens = new CellCounter({
      name: 'kordon_tokens_total',
      help: 'Tokens charged (completed requests, and what failed streams produced); cached_input is part of input, reasoning part of output',
      labelNames: ['org', 'provider', 'model', 'type'] as const,
      registers,
    });
    this.#cost = new CellCounter({
      name: 'kordon_cost_total',
      help: 'Cost of requests from the price book, in the price currency (unpriced models are not counted)',
      labelNames: ['org', 'provider', 'model', 'currency'] as const,
      registers,
    });
    this.#rejections = new CellCounter({
      name: 'kordon_limit_rejections_total',
      help: 'Requests refused by a limit, by reason and the scope whose limit it was',
      labelNames: ['org', 'reason', 'scope'] as const,
      registers,
    });
    this.#attempts = new CellCounter({
      name: 'kordon_upstream_attempts_total',
      help: 'Provider calls by provider key, operation (chat, messages, generate_content, embeddings, responses, responses_compact; count_tokens: a token count) and result: ok, a failure that moves on to the next key (rate_limited, server_error, timeout, connection_failed, auth_refused), not_the_key (the provider refused the request itself), caller_cancelled, error',
      labelNames: ['org', 'provider', 'provider_key_id', 'operation', 'result'] as const,
      registers,
    });
    this.#keyGauges(registers);
    this.#projectionGauges(registers);
  }

  /** One request's event, as `record()` writes it. */
  request(event: NewEvent): void {
    switch (event.type) {
      case 'RequestCompleted': {
        const data = event.data as KordonEventData<'RequestCompleted'>;
        const s = this.#seriesOf(event.orgId, data.provider, data.model, data.endpoint);
        this.#count(s, data.status, 'completed');
        s.duration ??= this.#duration.cell({ provider: s.provider, model: s.model, endpoint: s.endpoint });
        this.#duration.record(s.duration, data.latencyMs / 1000);
        if (data.timeToFirstTokenMs !== null) {
          s.ttft ??= this.#ttft.cell({ provider: s.provider, model: s.model, endpoint: s.endpoint });
          this.#ttft.record(s.ttft, data.timeToFirstTokenMs / 1000);
        }
        this.#charge(s, data.usage, data.cost, data.currency);
        return;
      }
      case 'RequestFailed': {
        const data = event.data as KordonEventData<'RequestFailed'>;
        const provider = data.provider ?? '';
        const model = this.#verifiedModel(event.orgId, provider, data.model, data.upstreamStatus);
        const s = this.#seriesOf(event.orgId, provider, model, data.endpoint);
        this.#count(s, data.status, 'failed');
        this.#charge(s, data.usage, data.cost, data.currency);
        return;
      }
      case 'RequestRejected': {
        const data = event.data as KordonEventData<'RequestRejected'>;
        // A limit names its scope; any other refusal came before routing, where the model is
        // the caller's free text: not a label then. A limit refuses before any provider is
        // asked: on a pattern route its name is free text too, a label only when vouched for.
        const limit = data.limitScope !== null;
        const model = limit ? this.#listedModel(event.orgId, data.model ?? '') : '';
        const s = this.#seriesOf(event.orgId, '', model, data.endpoint);
        this.#count(s, data.status, 'rejected');
        if (limit) {
          const scope = data.limitScope?.scope ?? '';
          const key = `${event.orgId ?? ''}\n${data.reason}\n${scope}`;
          let cell = this.#rejectionCells.get(key);
          if (!cell) {
            cell = this.#rejections.cell({ org: s.org, reason: data.reason, scope });
            this.#rejectionCells.set(key, cell);
          }
          cell.value += 1;
        }
        return;
      }
      default:
        return;
    }
  }

  /** A request without a valid key: no org, no event, counted all the same. */
  unauthenticated(endpoint: Endpoint, status: number): void {
    this.#count(this.#seriesOf('', '', '', endpoint), status, 'unauthenticated');
  }

  /** One upstream attempt's result: a request's, or a token count's (`count_tokens`). */
  attempt(attempt: UpstreamAttempt): void {
    const last = this.#lastAttempt;
    if (
      last !== undefined &&
      last.providerKeyId === attempt.providerKeyId &&
      last.result === attempt.result &&
      last.operation === attempt.operation &&
      last.orgId === attempt.orgId &&
      last.provider === attempt.provider
    ) {
      last.cell.value += 1;
      return;
    }
    const { orgId, provider, providerKeyId, operation, result } = attempt;
    // A key id belongs to one org and provider: the two are labels, not part of the memo's key.
    const key = `${orgId}\n${providerKeyId}\n${operation}\n${result}`;
    let cell = this.#attemptCells.get(key);
    if (!cell) {
      cell = this.#attempts.cell({
        org: this.#orgLabel(orgId),
        provider,
        provider_key_id: providerKeyId,
        operation,
        result,
      });
      // Bounded by configuration (keys x operations x results); the guard is for a churning registry.
      if (this.#attemptCells.size < 100_000) this.#attemptCells.set(key, cell);
    }
    this.#lastAttempt = { ...attempt, cell };
    cell.value += 1;
  }

  #count(s: Series, status: number | null, outcome: string): void {
    const last = s.lastRequests;
    if (last !== undefined && last.status === status && last.outcome === outcome) {
      last.cell.value += 1;
      return;
    }
    const key = `${status ?? ''}\n${outcome}`;
    let cell = s.requests.get(key);
    if (!cell) {
      cell = this.#requests.cell({
        org: s.org,
        provider: s.provider,
        model: s.model,
        endpoint: s.endpoint,
        status: status === null ? '' : String(status),
        outcome,
      });
      s.requests.set(key, cell);
    }
    s.lastRequests = { status, outcome, cell };
    cell.value += 1;
  }

  #charge(
    s: Series,
    usage: KordonEventData<'RequestCompleted'>['usage'],
    cost: string | null,
    currency: string | null,
  ): void {
    if (usage.inputTokens > 0) this.#token(s, 'input').value += usage.inputTokens;
    if (usage.outputTokens > 0) this.#token(s, 'output').value += usage.outputTokens;
    if (usage.cachedInputTokens > 0) this.#token(s, 'cached_input').value += usage.cachedInputTokens;
    if (usage.reasoningTokens) this.#token(s, 'reasoning').value += usage.reasoningTokens;
    if (cost !== null && currency !== null) {
      const amount = Number(cost);
      if (amount > 0) {
        let cell = s.cost.get(currency);
        if (!cell) {
          cell = this.#cost.cell({ org: s.org, provider: s.provider, model: s.model, currency });
          s.cost.set(currency, cell);
        }
        cell.value += amount;
      }
    }
  }

  #token(s: Series, type: TokenType): CounterCell {
    let cell = s.tokens[type];
    if (!cell) {
      cell = this.#tokens.cell({ org: s.org, provider: s.provider, model: s.model, type });
      s.tokens[type] = cell;
    }
    return cell;
  }

  #seriesOf(orgId: string | null | undefined, provider: string, model: string, endpoint: string): Series {
    // Requests come in runs of the same org, provider, model and endpoint: compared before a key is built.
    const last = this.#lastSeries;
    if (
      last !== undefined &&
      last.orgId === (orgId ?? '') &&
      last.provider === provider &&
      last.model === model &&
      last.endpoint === endpoint
    )
      return last.series;
    // Keyed by the model's label, not the caller's name: every name past maxModels shares the
    // one `other` series, so the memo is bounded like the labels (orgs and providers by
    // configuration, models by maxModels); the size check is only a backstop.
    const modelLabel = this.#modelLabel(model);
    const key = `${orgId ?? ''}\n${provider}\n${modelLabel}\n${endpoint}`;
    let series = this.#series.get(key);
    if (!series) {
      series = {
        org: this.#orgLabel(orgId ?? ''),
        provider,
        model: modelLabel,
        endpoint,
        requests: new Map(),
        duration: undefined,
        ttft: undefined,
        tokens: {},
        cost: new Map(),
        lastRequests: undefined,
      };
      if (this.#series.size < 100_000) this.#series.set(key, series);
    }
    this.#lastSeries = { orgId: orgId ?? '', provider, model, endpoint, series };
    return series;
  }

  /**
   * A failed request's model as a label, or '' (as a refusal before routing) when nothing
   * vouches for the name: on a wildcard route it is the caller's free text, and a caller
   * making up names would fill the `model` values with junk. A name vouches for itself when a
   * provider answered for it with anything but 404 (no such model or deployment), when it is
   * a label already (an earlier request of it), or when its provider lists it by name.
   */
  #verifiedModel(
    orgId: string | null | undefined,
    provider: string,
    model: string,
    upstreamStatus: number | null,
  ) {
    if ((upstreamStatus !== null && upstreamStatus !== 404) || this.#models.has(model)) return model;
    const listed = this.#sources
      .registry()
      .providers.get(orgId ?? '')
      ?.get(provider)?.models;
    return listed?.includes(model) ? model : '';
  }

  /**
   * A refused request's model as a label, or '': no provider was asked, so only a label
   * already or a name a provider of the org lists (`provider/model`: that provider) vouches.
   */
  #listedModel(orgId: string | null | undefined, model: string): string {
    if (model === '' || this.#models.has(model)) return model;
    const providers = this.#sources.registry().providers.get(orgId ?? '');
    if (!providers) return '';
    const slash = model.indexOf('/');
    if (slash > 0 && providers.get(model.slice(0, slash))?.models.includes(model.slice(slash + 1)))
      return model;
    for (const provider of providers.values()) if (provider.models.includes(model)) return model;
    return '';
  }

  #orgLabel(orgId: string): string {
    if (orgId === '') return '';
    return this.#sources.registry().orgs.get(orgId)?.slug ?? orgId;
  }

  #modelLabel(model: string): string {
    if (model === '' || this.#models.has(model)) return model;
    if (this.#models.size >= this.#maxModels) return 'other';
    this.#models.add(model);
    return model;
  }

  /** Every provider key as the balancer sees it, read at scrape time. */
  #keyGauges(registers: Registry[]): void {
    const labelNames = ['org', 'provider', 'provider_key_id', 'key'] as const;
    type KeyLabels = Record<(typeof labelNames)[number], string>;
    let views: Array<{ labels: KeyLabels; view: KeyHealthView }> = [];
    let readAt = -1;
    const sources = this.#sources;
    // The gauges of one scrape share one reading of the balancer.
    const read = () => {
      const now = Date.now();
      if (now - readAt < 1000) return views;
      readAt = now;
      const registry = sources.registry();
      views = [];
      for (const org of registry.orgs.values()) {
        for (const view of sources.keyHealth(org.orgId)) {
          views.push({
            labels: {
              org: org.slug,
              provider: view.provider,
              provider_key_id: view.providerKeyId,
              key: registry.providerKeys.get(view.providerKeyId)?.name ?? '',
            },
            view,
          });
        }
      }
      return views;
    };
    const gauge = (name: string, help: string, value: (view: KeyHealthView) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const { labels, view } of read()) {
            const v = value(view);
            if (v !== null) this.set(labels, v);
          }
        },
      });
    gauge('kordon_provider_key_usable', '1 when a request could be sent to the key now', (v) =>
      Number(v.usable),
    );
    gauge('kordon_provider_key_weight', 'Configured weight of the key', (v) => v.weight);
    gauge(
      'kordon_provider_key_effective_weight',
      'Weight the balancer selects with now (adaptive: configured weight x health, latency and quota factors)',
      (v) => v.effectiveWeight,
    );
    gauge(
      'kordon_provider_key_error_rate',
      'Recent failure rate of the key (EWMA), 0..1',
      (v) => v.errorRate,
    );
    gauge('kordon_provider_key_latency_seconds', 'Latency EWMA of the key (absent until measured)', (v) =>
      v.latencyEwmaMs === null ? null : v.latencyEwmaMs / 1000,
    );
    gauge(
      'kordon_provider_key_consecutive_failures',
      'Failures in a row (the circuit opens at its threshold)',
      (v) => v.consecutiveFailures,
    );
    new Gauge({
      name: 'kordon_provider_key_state',
      help: '1 for the state the key is in: ok, cooling, circuit_open, half_open, disabled',
      labelNames: [...labelNames, 'state'] as const,
      registers,
      collect() {
        this.reset();
        for (const { labels, view } of read()) {
          for (const state of KEY_STATES) this.set({ ...labels, state }, Number(view.state === state));
        }
      },
    });
  }

  /** How far the hot path's in-memory views are behind the log. */
  #projectionGauges(registers: Registry[]): void {
    const sources = this.#sources;
    const bodyBytes = sources.bodyBytes;
    if (bodyBytes) {
      new Gauge({
        name: 'kordon_request_body_bytes_in_flight',
        help: 'Request body bytes held by requests now; past the max, requests are refused with 503 (overloaded)',
        registers,
        collect() {
          this.set(bodyBytes.held());
        },
      });
      new Gauge({
        name: 'kordon_request_body_bytes_in_flight_max',
        help: 'Request body bytes the process may hold at once (KORDON_MAX_BODY_BYTES_IN_FLIGHT)',
        registers,
        collect() {
          this.set(bodyBytes.max);
        },
      });
    }
    new Gauge({
      name: 'kordon_projection_position',
      help: 'Last log position applied by each of the gateway in-memory projections',
      labelNames: ['projection'] as const,
      registers,
      collect() {
        for (const projection of sources.projections)
          this.set({ projection: projection.name }, projection.position());
      },
    });
    new Gauge({
      name: 'kordon_projection_lag_events',
      help: 'Events in the log not yet applied by each gateway projection (absent while the store is unreachable)',
      labelNames: ['projection'] as const,
      registers,
      async collect() {
        this.reset();
        let head: number;
        try {
          head = await sources.headPosition();
        } catch {
          return; // the store is unreachable: kordon_event_store_reachable says so
        }
        for (const projection of sources.projections)
          this.set({ projection: projection.name }, Math.max(0, head - projection.position()));
      },
    });
  }
}

const KEY_STATES = ['ok', 'cooling', 'circuit_open', 'half_open', 'disabled'] as const;
