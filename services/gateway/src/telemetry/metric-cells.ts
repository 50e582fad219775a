/**
 * prom-client metrics whose hot path is a plain number: a caller takes a *cell* (one label
 * set) once and adds to it; the labels are hashed and validated when the cell is made, never
 * per request. At scrape time `get()` reads the cells. prom-client's own `inc(labels)` and
 * `observe(labels)` hash and validate the labels on every call (~1 µs each), which the data
 * plane would pay several times per request.
 */
import { Counter, Histogram } from 'prom-client';

type Labels<T extends string> = Record<T, string>;

export interface CounterCell {
  value: number;
}

export interface HistogramCell {
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class CellCounter<T extends string> extends Counter<T> {
  private readonly cells = new Map<string, { labels: Labels<T>; cell: CounterCell }>();
  readonly #labelNames: readonly T[];

  constructor(config: {
    name: string;
    help: string;
    labelNames: readonly T[];
    registers: ConstructorParameters<typeof Counter>[0]['registers'];
  }) {
    super(config);
    this.#labelNames = config.labelNames;
  }

  /** The cell of one label set (the same cell for the same labels). */
  cell(labels: Labels<T>): CounterCell {
    const key = this.#labelNames.map((name) => labels[name]).join('\u0000');
    let entry = this.cells.get(key);
    if (!entry) {
      entry = { labels, cell: { value: 0 } };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  override async get() {
    const base = await super.get();
    const values: typeof base.values = [];
    for (const { labels, cell } of this.cells.values()) values.push({ labels, value: cell.value });
    return { ...base, values };
  }

  override reset(): void {
    super.reset();
    // Also called by prom-client's constructor, before this class's fields exist.
    for (const { cell } of this.cells?.values() ?? []) cell.value = 0;
  }
}

export class CellHistogram<T extends string> extends Histogram<T> {
  private readonly cells = new Map<string, { labels: Labels<T>; cell: HistogramCell }>();
  readonly #labelNames: readonly T[];
  readonly #bounds: readonly number[];
  readonly #name: string;
  readonly #help: string;

  constructor(config: {
    name: string;
    help: string;
    labelNames: readonly T[];
    buckets: readonly number[];
    registers: ConstructorParameters<typeof Histogram>[0]['registers'];
  }) {
    super({ ...config, buckets: [...config.buckets] });
    this.#labelNames = config.labelNames;
    this.#bounds = [...config.buckets].sort((a, b) => a - b);
    this.#name = config.name;
    this.#help = config.help;
  }

  cell(labels: Labels<T>): HistogramCell {
    const key = this.#labelNames.map((name) => labels[name]).join('\u0000');
    let entry = this.cells.get(key);
    if (!entry) {
      entry = { labels, cell: { counts: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 } };
      this.cells.set(key, entry);
    }
    return entry.cell;
  }

  /** One observation: the first bucket whose bound is at least `value` (Prometheus' `le`). */
  record(cell: HistogramCell, value: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    cell.counts[i] = (cell.counts[i] as number) + 1;
    cell.sum += value;
    cell.count += 1;
  }

  override async get(): ReturnType<Histogram<T>['get']> {
    // prom-client's typings declare `type` a numeric enum; at run time it is the string.
    return this.#snapshot() as unknown as Awaited<ReturnType<Histogram<T>['get']>>;
  }

  /** What prom-client's registry reads for the text format (a histogram's own fast path). */
  async getForPromString() {
    return this.#snapshot();
  }

  #snapshot() {
    const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
    for (const { labels, cell } of this.cells.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.#bounds.length; i++) {
        cumulative += cell.counts[i] as number;
        const le = i < this.#bounds.length ? (this.#bounds[i] as number) : '+Inf';
        values.push({ metricName: `${this.#name}_bucket`, labels: { ...labels, le }, value: cumulative });
      }
      values.push({ metricName: `${this.#name}_sum`, labels, value: cell.sum });
      values.push({ metricName: `${this.#name}_count`, labels, value: cell.count });
    }
    return { name: this.#name, help: this.#help, type: 'histogram', aggregator: 'sum', values };
  }

  override reset(): void {
    super.reset();
    // Also called by prom-client's constructor, before this class's fields exist.
    for (const { cell } of this.cells?.values() ?? []) {
      cell.counts.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }
}
