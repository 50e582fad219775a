import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RecordedSpan, type SpanPipeline } from '@kordon/gateway';
import { SpanKind, TraceFlags } from '@opentelemetry/api';
import { RandomIdGenerator } from '@opentelemetry/sdk-trace-base';
import { startTracing, type Tracing } from './telemetry.js';
import { parseTracingConfig } from './telemetry-config.js';

/** A collector on 127.0.0.1 that keeps each export's body and answers with `status`. */
class Collector {
  readonly exports: Array<{ body: string; contentType: string; tenant: string | undefined }> = [];
  status = 200;
  /** While true, answers wait until `release()`. */
  hold = false;
  readonly #held: Array<() => void> = [];
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.exports.push({
          body: Buffer.concat(chunks).toString('utf8'),
          contentType: String(req.headers['content-type']),
          tenant: req.headers['x-tenant'] as string | undefined,
        });
        const answer = () => res.writeHead(this.status, { 'content-type': 'application/x-protobuf' }).end();
        if (this.hold) this.#held.push(answer);
        else answer();
      });
    });
  }

  release(): void {
    this.hold = false;
    for (const answer of this.#held.splice(0)) answer();
  }

  async listen(): Promise<string> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/v1/traces`;
  }

  /** Names of the test spans received, in the order their exports arrived. */
  names(): string[] {
    return this.exports.flatMap((e) => [...e.body.matchAll(/test-span-\d+-end/g)].map((m) => m[0]));
  }

  async waitFor(exports: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.exports.length < exports) {
      if (Date.now() > deadline) throw new Error(`${this.exports.length} exports, waited for ${exports}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const ids = new RandomIdGenerator();
let counter = 0;

/** One ended span of a new trace, named `test-span-<n>-end`. */
function span(pipeline: SpanPipeline): RecordedSpan {
  const context = {
    traceId: ids.generateTraceId(),
    spanId: ids.generateSpanId(),
    traceFlags: TraceFlags.SAMPLED,
  };
  const recorded = new RecordedSpan(
    pipeline,
    `test-span-${++counter}-end`,
    SpanKind.INTERNAL,
    context,
    undefined,
    Date.now(),
  );
  recorded.setAttribute('kordon.org_id', 'org_1');
  recorded.end(Date.now());
  return recorded;
}

describe('OTLP http/protobuf export of request spans (batched as serialised bytes)', () => {
  const collector = new Collector();
  let url: string;
  const warnings: string[] = [];
  const started: Tracing[] = [];

  const start = async (settings: Record<string, string>) => {
    const { config, problems } = parseTracingConfig({
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url,
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=acme',
      OTEL_BSP_SCHEDULE_DELAY: '60000',
      ...settings,
    });
    assert.deepEqual(problems, []);
    const tracing = await startTracing(config, {
      info: () => {},
      warn: (_object, message) => warnings.push(message),
    });
    assert.ok(tracing);
    started.push(tracing);
    return tracing;
  };

  before(async () => {
    url = await collector.listen();
  });
  after(async () => {
    for (const tracing of started) await tracing.shutdown(1000);
    await collector.close();
  });

  it('a batch goes as soon as it holds OTEL_BSP_MAX_EXPORT_BATCH_SIZE spans, as one protobuf body', async () => {
    collector.exports.length = 0;
    const { pipeline } = await start({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4' });
    const first = [span(pipeline), span(pipeline), span(pipeline)];
    pipeline.export(first);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(collector.exports.length, 0, 'three spans of a batch of four wait');
    const second = [span(pipeline), span(pipeline)];
    pipeline.export(second);
    await collector.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(
      collector.names(),
      [...first, ...second].slice(0, 4).map((s) => s.name),
      'four spans go, the fifth waits for the next batch',
    );
    const [sent] = collector.exports;
    assert.equal(sent?.contentType, 'application/x-protobuf');
    assert.equal(sent?.tenant, 'acme', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS are sent');
    assert.equal(sent?.body.split('service.name').length, 2, 'one resource for the whole batch');
  });

  it('what is left goes after OTEL_BSP_SCHEDULE_DELAY, and at shutdown', async () => {
    collector.exports.length = 0;
    const timed = await start({ OTEL_BSP_SCHEDULE_DELAY: '50' });
    const early = span(timed.pipeline);
    timed.pipeline.export([early]);
    await collector.waitFor(1);
    assert.deepEqual(collector.names(), [early.name]);

    const held = await start({});
    const last = span(held.pipeline);
    held.pipeline.export([last]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(collector.exports.length, 1, 'held for the delay');
    await held.shutdown(2000);
    assert.deepEqual(collector.names(), [early.name, last.name], 'shutdown sends what was held');

    // Spans of requests that ended a moment ago are not encoded yet (they wait for others): shutdown still sends them.
    const quick = await start({});
    const justEnded = [span(quick.pipeline), span(quick.pipeline)];
    quick.pipeline.export(justEnded);
    await quick.shutdown(2000);
    assert.deepEqual(collector.names(), [early.name, last.name, ...justEnded.map((s) => s.name)]);
  });

  it('a full queue drops spans and says so in the log', async () => {
    warnings.length = 0;
    const { pipeline } = await start({ OTEL_BSP_MAX_QUEUE_SIZE: '3', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '3' });
    pipeline.export([span(pipeline), span(pipeline)]);
    pipeline.export([span(pipeline), span(pipeline)]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /span queue full, spans dropped: 2/);
  });

  it('a collector that refuses the export is a warning, not a failure of the request path', async () => {
    warnings.length = 0;
    collector.exports.length = 0;
    collector.status = 400;
    try {
      const { pipeline } = await start({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1' });
      pipeline.export([span(pipeline)]);
      await collector.waitFor(1);
      const deadline = Date.now() + 5000;
      while (warnings.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] ?? '', /export of 1 spans failed/);
      assert.equal(warnings[0]?.includes('acme'), false, 'exporter headers are not logged');
    } finally {
      collector.status = 200;
    }
  });

  it('one export at a time: spans wait for the export in flight, up to the queue bound, in batches of at most the batch size', async () => {
    warnings.length = 0;
    collector.exports.length = 0;
    collector.hold = true;
    try {
      const { pipeline } = await start({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2', OTEL_BSP_MAX_QUEUE_SIZE: '6' });
      const first = [span(pipeline), span(pipeline)];
      pipeline.export(first);
      await collector.waitFor(1);
      // Two requests of three spans each, while the first export is held: 6 spans wait.
      const waiting = [
        span(pipeline),
        span(pipeline),
        span(pipeline),
        span(pipeline),
        span(pipeline),
        span(pipeline),
      ];
      pipeline.export(waiting.slice(0, 3));
      pipeline.export(waiting.slice(3));
      pipeline.export([span(pipeline)]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(collector.exports.length, 1, 'the next batches wait for the first export');
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] ?? '', /span queue full, spans dropped: 1/);
      collector.release();
      await collector.waitFor(4);
      assert.deepEqual(
        collector.names(),
        [...first, ...waiting].map((s) => s.name),
      );
      const perExport = collector.exports.map((e) => [...e.body.matchAll(/test-span-\d+-end/g)].length);
      assert.deepEqual(
        perExport,
        [2, 2, 2, 2],
        'no export carries more than OTEL_BSP_MAX_EXPORT_BATCH_SIZE spans',
      );
    } finally {
      collector.release();
    }
  });
});
