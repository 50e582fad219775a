/**
 * OpenTelemetry tracing of the one process, when tracing is on (telemetry-config.ts reads the
 * standard `OTEL_*` variables; kordon.ts loads this module only then): the `SpanPipeline` the
 * gateway's request spans go to, with the configured sampler, the SDK's resource detectors, and
 * an OTLP export (http/protobuf, http/json or grpc) in batches.
 *
 * Tracing is off unless an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_ENDPOINT`), and off whatever else is set with `OTEL_SDK_DISABLED=true`
 * or `OTEL_TRACES_EXPORTER=none`: an exporter that defaults to localhost would cost CPU and
 * log errors on every machine where no collector listens.
 *
 * No NodeSDK and no global tracer provider: the gateway makes its spans by hand on the
 * request path (no auto-instrumentation) as plain `ReadableSpan`s (gateway
 * telemetry/span-pipeline.ts says why), passes the trace context explicitly (on Node 20 an
 * AsyncLocalStorage context manager taxes every promise), reads and writes W3C trace
 * context itself, and exports no OTLP metrics or logs (metrics are Prometheus, logs pino).
 */
import { type EndedSpans, type RecordedSpan, type SpanPipeline, spanCountOf, spansOf } from '@kordon/gateway';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { ExportResultCode, type InstrumentationScope } from '@opentelemetry/core';
import type { IOtlpExportDelegate } from '@opentelemetry/otlp-exporter-base';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from '@opentelemetry/otlp-exporter-base/node-http';
import { type ISerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  type Resource,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { OtlpTraceBatch } from './otlp-protobuf.js';
import type { TelemetryLogger, TracingConfig } from './telemetry-config.js';

export function samplerOf(config: Pick<TracingConfig, 'sampler' | 'samplerArg'>): Sampler {
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(config.samplerArg);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.samplerArg) });
    default: {
      const never: never = config.sampler;
      throw new Error(`unknown sampler ${String(never)}`);
    }
  }
}

export interface Tracing {
  /** Where the gateway's request spans go. */
  pipeline: SpanPipeline;
  /** Exports what is left (bounded by `timeoutMs`) and stops. */
  shutdown(timeoutMs?: number): Promise<void>;
}

/** The version spans report as `service.version`. */
const KORDON_VERSION = '0.1.0';

/** The instrumentation scope of every span Kordon makes. */
const KORDON_SCOPE: InstrumentationScope = { name: 'kordon', version: KORDON_VERSION };

/** What a pipeline says about exports that failed or spans it had to drop. */
type Complain = (message: string, args: unknown[]) => void;

/**
 * Ended requests whose spans wait to be encoded together: at most this many, or for at most
 * ENCODE_DELAY_MS. Why not each request's as it ends: encoding one request's spans between
 * requests ran its code cold every time, and cost 7-9% of a traced gateway's throughput
 * where encoding them a second time at once cost nothing measurable; encoded in runs, the
 * same spans cost 3-6% less throughput (docs/benchmarks.md, "Where the traced cost is").
 */
const ENCODE_EVERY_REQUESTS = 64;
const ENCODE_DELAY_MS = 20;

/**
 * OTLP http/protobuf (the default protocol): requests' spans are encoded into the batch's
 * buffer a run of requests at a time, within ENCODE_DELAY_MS of their end
 * (`OtlpTraceBatch`, otlp-protobuf.ts, says why not the SDK's serialiser), so span objects
 * outlive their request by milliseconds and then only bytes wait.
 * A batch is posted by the SDK's OTLP HTTP export delegate (headers, timeout, retries with
 * backoff), one export at a time (`#flush`). The batch settings are the `OTEL_BSP_*` ones,
 * counted in spans.
 */
class ProtobufBatchPipeline implements SpanPipeline {
  readonly sampler: Sampler;
  readonly resource: Resource;
  readonly scope = KORDON_SCOPE;
  readonly #delegate: IOtlpExportDelegate<EncodedBatch>;
  readonly #settings: TracingConfig['batch'];
  readonly #complain: Complain;
  readonly #batch: OtlpTraceBatch;
  #timer: NodeJS.Timeout | undefined;
  #dropped = 0;
  /** The export in flight, if any (one at a time). */
  #exporting: Promise<void> | undefined;
  /** Full batches that came while an export was in flight, oldest first. */
  readonly #sealed: EncodedBatch[] = [];

  constructor(config: TracingConfig, resource: Resource, complain: Complain) {
    this.sampler = samplerOf(config);
    this.resource = resource;
    this.#settings = config.batch;
    this.#complain = complain;
    this.#batch = new OtlpTraceBatch(resource, this.scope);
    const serializer: ISerializer<EncodedBatch, unknown> = {
      serializeRequest: (batch) => batch.bytes,
      deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
    };
    this.#delegate = createOtlpHttpExportDelegate(
      convertLegacyHttpOptions(
        { url: config.endpoint, headers: config.headers, timeoutMillis: config.batch.exportTimeoutMillis },
        'TRACES',
        'v1/traces',
        { 'Content-Type': 'application/x-protobuf' },
      ),
      serializer,
      'otlp_http_span_exporter',
      { name: 'span', countItems: (batch) => batch.spans },
      undefined,
    );
  }

  /** Ended requests' spans not made or encoded yet (`ENCODE_EVERY_REQUESTS`), and how many spans they hold. */
  #ended: (readonly RecordedSpan[] | EndedSpans)[] = [];
  #endedSpans = 0;
  #encodeTimer: NodeJS.Timeout | undefined;

  export(spans: readonly RecordedSpan[] | EndedSpans): void {
    const count = spanCountOf(spans);
    if (count === 0) return;
    if (this.#queued + count > this.#settings.maxQueueSize) {
      // As the SDK's batch processor: a full queue drops, and says so (at most once a minute).
      this.#dropped += count;
      this.#complain('span queue full, spans dropped:', [this.#dropped]);
      return;
    }
    this.#ended.push(spans);
    this.#endedSpans += count;
    if (this.#ended.length >= ENCODE_EVERY_REQUESTS) this.#encodeEnded();
    else if (!this.#encodeTimer) {
      this.#encodeTimer = setTimeout(() => this.#encodeEnded(), ENCODE_DELAY_MS);
      this.#encodeTimer.unref();
    }
  }

  /** Encodes the ended requests' spans into the batch, then sends what is due. */
  #encodeEnded(): void {
    clearTimeout(this.#encodeTimer);
    this.#encodeTimer = undefined;
    const ended = this.#ended;
    if (ended.length === 0) return;
    this.#ended = [];
    this.#endedSpans = 0;
    for (let i = 0; i < ended.length; i++) this.#encode(ended[i] as readonly RecordedSpan[] | EndedSpans);
    this.#sendOrWait();
  }

  /** One request's spans into the batch; a request whose spans cannot be made or encoded is left out, and said so. */
  #encode(ended: readonly RecordedSpan[] | EndedSpans): void {
    const max = this.#settings.maxExportBatchSize;
    try {
      const spans = spansOf(ended);
      // No batch holds more than OTEL_BSP_MAX_EXPORT_BATCH_SIZE spans: a request's spans
      // may be split between two.
      for (let from = 0; from < spans.length; ) {
        if (this.#batch.size >= max) this.#seal();
        const room = max - this.#batch.size;
        const part = from === 0 && spans.length <= room ? spans : spans.slice(from, from + room);
        this.#batch.add(part);
        from += part.length;
      }
    } catch (error) {
      this.#complain('could not encode spans:', [error]);
    }
  }

  /** Spans waiting to be sent: those not encoded yet, the batch being written and the full ones sealed. */
  get #queued(): number {
    let queued = this.#endedSpans + this.#batch.size;
    for (const batch of this.#sealed) queued += batch.spans;
    return queued;
  }

  /** The batch is full: it goes now, or waits as bytes of its own behind the export in flight. */
  #seal(): void {
    if (!this.#exporting) this.#flush();
    else this.#sealed.push({ spans: this.#batch.size, bytes: this.#batch.takeCopy() });
  }

  /** A full batch goes now; one that is not waits for the delay (`OTEL_BSP_SCHEDULE_DELAY`). */
  #sendOrWait(): void {
    if (this.#sealed.length > 0 || this.#batch.size >= this.#settings.maxExportBatchSize) this.#flush();
    else if (this.#batch.size > 0 && !this.#timer) {
      this.#timer = setTimeout(() => this.#flush(), this.#settings.scheduledDelayMillis);
      this.#timer.unref();
    }
  }

  /**
   * Sends the oldest sealed batch, or what the batch being written holds, unless an export
   * is in flight: as the specification asks of a batch processor, one export at a time.
   * Spans keep arriving meanwhile, up to `OTEL_BSP_MAX_QUEUE_SIZE`; the export that ends
   * sends the next batch if one is full.
   */
  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#exporting) return;
    const batch =
      this.#sealed.shift() ??
      (this.#batch.size > 0 ? { spans: this.#batch.size, bytes: this.#batch.take() } : undefined);
    if (!batch) return;
    this.#exporting = new Promise<void>((resolve) => {
      this.#delegate.export(batch, (result) => {
        if (result.code !== ExportResultCode.SUCCESS)
          this.#complain(`export of ${batch.spans} spans failed:`, [result.error ?? 'unknown error']);
        resolve();
      });
    }).then(() => {
      this.#exporting = undefined;
      this.#sendOrWait();
    });
  }

  async shutdown(): Promise<void> {
    this.#encodeEnded();
    for (;;) {
      if (this.#exporting) await this.#exporting;
      else if (this.#sealed.length > 0 || this.#batch.size > 0) this.#flush();
      else break;
    }
    clearTimeout(this.#timer);
    await this.#delegate.shutdown();
  }
}

interface EncodedBatch {
  spans: number;
  bytes: Uint8Array;
}

/**
 * OTLP http/json and gRPC: the request's spans go to the SDK's batch span processor and
 * exporter as they are (these protocols serialise a whole batch at once).
 */
class SdkExporterPipeline implements SpanPipeline {
  readonly sampler: Sampler;
  readonly resource: Resource;
  readonly scope = KORDON_SCOPE;
  readonly #processor: BatchSpanProcessor;

  constructor(config: TracingConfig, resource: Resource, exporter: SpanExporter) {
    this.sampler = samplerOf(config);
    this.resource = resource;
    this.#processor = new BatchSpanProcessor(exporter, config.batch);
  }

  export(spans: readonly RecordedSpan[] | EndedSpans): void {
    for (const span of spansOf(spans)) this.#processor.onEnd(span);
  }

  shutdown(): Promise<void> {
    return this.#processor.shutdown();
  }
}

async function sdkExporterOf(config: TracingConfig): Promise<SpanExporter> {
  const options = {
    url: config.endpoint,
    headers: config.headers,
    timeoutMillis: config.batch.exportTimeoutMillis,
  };
  switch (config.protocol) {
    case 'http/json':
      return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter(options);
    case 'grpc': {
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc');
      const { Metadata } = await import('@grpc/grpc-js');
      const metadata = new Metadata();
      for (const [name, value] of Object.entries(config.headers)) metadata.set(name, value);
      return new OTLPTraceExporter({ url: config.endpoint, metadata, timeoutMillis: options.timeoutMillis });
    }
    default:
      throw new Error(`no SDK exporter for ${config.protocol}`);
  }
}

/**
 * The resource every span reports: the SDK's defaults (`telemetry.sdk.*`), what the
 * environment and host detectors find (`OTEL_RESOURCE_ATTRIBUTES`, `host.*`), then Kordon's
 * service name and version, later ones winning (as the NodeSDK merges them).
 */
async function resourceOf(config: TracingConfig): Promise<Resource> {
  const resource = defaultResource()
    .merge(detectResources({ detectors: [envDetector, hostDetector] }))
    .merge(resourceFromAttributes({ 'service.name': config.serviceName, 'service.version': KORDON_VERSION }));
  await resource.waitForAsyncAttributes?.();
  return resource;
}

/**
 * Starts tracing, for a configuration with tracing on (kordon.ts imports this module only
 * then; with it off the data plane makes no span and sends no `traceparent`). Export problems
 * (an unreachable collector, a full queue) go to the log as warnings, at most one line a minute.
 */
export async function startTracing(config: TracingConfig, logger: TelemetryLogger): Promise<Tracing> {
  let lastLine = 0;
  let suppressed = 0;
  const line: Complain = (message, args) => {
    const now = Date.now();
    if (now - lastLine < 60_000) {
      suppressed++;
      return;
    }
    lastLine = now;
    const detail = args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(' ');
    logger.warn({ suppressed }, `opentelemetry: ${message}${detail ? ` ${detail}` : ''}`.slice(0, 500));
    suppressed = 0;
  };
  diag.setLogger(
    {
      error: (message, ...args) => line(message, args),
      warn: (message, ...args) => line(message, args),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  const resource = await resourceOf(config);
  const pipeline =
    config.protocol === 'http/protobuf'
      ? new ProtobufBatchPipeline(config, resource, line)
      : new SdkExporterPipeline(config, resource, await sdkExporterOf(config));
  logger.info(
    { tracing: 'on', protocol: config.protocol, sampler: config.sampler, serviceName: config.serviceName },
    'tracing is on: spans go to the OTLP endpoint',
  );
  return {
    pipeline,
    shutdown: async (timeoutMs = 5000) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        pipeline.shutdown().catch((error: unknown) => line('shutdown failed', [error])),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
      diag.disable();
    },
  };
}
