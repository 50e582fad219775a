/**
 * bench:tracing — what tracing one request costs, measured alone: the spans of a request
 * made through `RequestTrace` (auth, admission, the balancer's choice, one upstream attempt,
 * and for a stream the streamed body), then dropped, encoded by Kordon's OTLP/protobuf
 * batch (`OtlpTraceBatch`, as the server's default pipeline does), or serialised by the
 * SDK's `ProtobufTraceSerializer` (what the pipeline used before, for comparison); and the
 * unsampled path every request pays when tracing is on (ids, the sampler, `traceparent`).
 *
 * Prints µs per request (best of `--runs`, default 3, of `--requests`, default 200,000, after
 * a warm-up) and the bytes allocated per request (V8's sampling heap profiler, counting the
 * objects already collected too). In the loaded gateway the same work costs more than alone
 * (docs/benchmarks.md, "What telemetry costs"): these figures are for comparing builds.
 *   node --conditions=development --import tsx tests/bench/tracing.bench.ts [--requests 200000]
 */
import type { IncomingMessage } from 'node:http';
import { Session } from 'node:inspector';
import { RecordedSpan as ExportedRecordedSpan } from '@kordon/gateway';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace-base';
import type { Caller } from '../../services/gateway/src/http/authenticate.js';
import type { Route } from '../../services/gateway/src/http/route-model.js';
import type { ProviderAnswer } from '../../services/gateway/src/providers/index.js';
import type { ProviderKeyEntry } from '../../services/gateway/src/registry/registry.js';
import { RequestTracing } from '../../services/gateway/src/telemetry/request-trace.js';
import {
  RecordedSpan,
  type SpanPipeline,
  spansOf,
} from '../../services/gateway/src/telemetry/span-pipeline.js';
import type { StreamFacts } from '../../services/gateway/src/translate/stream-translator.js';
import type { NormalisedUsage } from '../../services/gateway/src/translate/usage.js';
import { OtlpTraceBatch } from '../../services/server/src/otlp-protobuf.js';
import { argNumber } from './bench-args.js';

const REQUESTS = argNumber('requests', 200_000);
const RUNS = argNumber('runs', 3);
/** `--case kordon`: only the cases whose label holds this text (case-insensitive). */
const CASE = ((i) => (i >= 0 ? process.argv[i + 3] : undefined))(
  process.argv.slice(2).indexOf('--case'),
)?.toLowerCase();
const BATCH = 2048;

// The encoder's fast path recognises Kordon's spans by class: one module instance, or the
// figures would be of its slow path.
if (RecordedSpan !== ExportedRecordedSpan) throw new Error('two copies of RecordedSpan are loaded');

const resource = resourceFromAttributes({
  'service.name': 'kordon',
  'service.version': '0.1.0',
  'host.name': 'gw-1',
  'process.pid': 4242,
});
const scope = { name: 'kordon', version: '0.1.0' };

type Sink = 'drop' | 'kordon' | 'sdk';

function pipeline(sink: Sink, sampler: Sampler): SpanPipeline {
  const batch = new OtlpTraceBatch(resource, scope);
  let bytes = 0;
  return {
    sampler,
    resource,
    scope,
    export: (ended) => {
      // The spans are made here, request by request: their cost alone.
      const spans = spansOf(ended);
      if (sink === 'kordon') {
        batch.add(spans);
        if (batch.size >= BATCH) bytes += batch.take().length;
      } else if (sink === 'sdk') bytes += ProtobufTraceSerializer.serializeRequest([...spans])?.length ?? 0;
      if (bytes < 0) throw new Error('unreachable: keeps the result alive');
    },
  };
}

// One tenant, one upstream: the registry entries a real gateway reuses from request to request.
const request = {
  headers: { host: 'kordon', 'content-type': 'application/json' },
} as unknown as IncomingMessage;
const caller = {
  key: { orgId: 'org_01JBENCH0000000000000000', proxyKeyId: 'pk_01JBENCH0000000000000000', teamId: null },
  user: { userId: 'usr_01JBENCH0000000000000000' },
} as unknown as Caller;
const route = {
  provider: { name: 'openai-main', type: 'openai', baseUrl: 'http://127.0.0.1:4000/v1', options: {} },
  model: 'gpt-4o-mini',
} as unknown as Route;
const key = { providerKeyId: 'prk_01JBENCH0000000000000000' } as ProviderKeyEntry;
const usage = { inputTokens: 12, outputTokens: 5, cachedInputTokens: 0 } as NormalisedUsage;
const completed = {
  type: 'RequestCompleted',
  data: { status: 200, attempts: 1, usage, cost: '0.0000049', currency: 'USD' },
} as never;
const facts: StreamFacts = {
  finishReasons: ['stop'],
  responseId: 'chatcmpl-B1',
  responseModel: 'gpt-4o-mini-2024-07-18',
};

// Request ids and answers made beforehand (a thousand distinct ones, as many as Kordon would
// see in a burst), so that what is allocated per request is tracing's alone.
const DISTINCT = 1024;
const requestIds = Array.from(
  { length: DISTINCT },
  (_, i) => `01JBENCHREQUEST${String(i).padStart(11, '0')}`,
);
const answers = Array.from({ length: DISTINCT }, (_, i) => {
  const body = {
    id: `chatcmpl-B${String(i).padStart(20, '0')}`,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, finish_reason: 'stop' }],
  };
  return { status: 200, json: () => body } as unknown as ProviderAnswer;
});

function requestOnce(tracing: RequestTracing, i: number, stream: boolean): void {
  const startedAt = performance.now();
  const trace = tracing.startGenerate(
    request,
    'chat.completions',
    requestIds[i % DISTINCT] as string,
    startedAt,
  );
  trace.authenticated(startedAt, caller);
  trace.requested('gpt-4o-mini', stream, null);
  trace.admission(performance.now(), undefined);
  trace.chose(performance.now(), route, key, 1);
  const attempt = trace.attempt(route, 'chat', key, 1);
  if (!attempt.headers.traceparent) throw new Error('no traceparent for the provider');
  if (stream) {
    attempt.streaming(200);
    trace.streamStarted();
    attempt.streamEnded(usage, 'complete', facts);
    trace.streamEnded('complete', startedAt, startedAt + 0.4);
  } else attempt.answered(answers[i % DISTINCT] as ProviderAnswer, usage);
  trace.finish(completed);
}

function timed(tracing: RequestTracing, stream: boolean): number {
  for (let i = 0; i < Math.min(REQUESTS, 100_000); i++) requestOnce(tracing, i, stream);
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < RUNS; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < REQUESTS; i++) requestOnce(tracing, i, stream);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1000 / REQUESTS);
  }
  return best;
}

const session = new Session();
session.connect();
const post = <T>(method: string, params?: object) =>
  new Promise<T>((resolve, reject) =>
    session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T))),
  );

interface SamplingNode {
  selfSize: number;
  children: SamplingNode[];
}

/** Bytes allocated per request: every sampled allocation, live or already collected. */
async function allocated(tracing: RequestTracing, stream: boolean): Promise<number> {
  const requests = Math.min(REQUESTS, 50_000);
  await post('HeapProfiler.startSampling', {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  for (let i = 0; i < requests; i++) requestOnce(tracing, i, stream);
  const { profile } = await post<{ profile: { head: SamplingNode } }>('HeapProfiler.stopSampling');
  let total = 0;
  const walk = (node: SamplingNode) => {
    total += node.selfSize;
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  return total / requests;
}

const cases: Array<{ label: string; sink: Sink; sampler: Sampler }> = [
  {
    label: 'not sampled (ids, sampler, traceparent)',
    sink: 'drop',
    sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }),
  },
  {
    label: 'spans made, dropped',
    sink: 'drop',
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
  },
  {
    label: 'spans made, encoded (OtlpTraceBatch)',
    sink: 'kordon',
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
  },
  {
    label: "spans made, SDK's ProtobufTraceSerializer",
    sink: 'sdk',
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
  },
];

console.log(
  `bench:tracing — one request's tracing, alone (${REQUESTS.toLocaleString('en')} requests, best of ${RUNS})`,
);
console.log('| case | mode | µs / request | KB allocated / request |');
console.log('| --- | --- | ---: | ---: |');
for (const { label, sink, sampler } of cases.filter((c) => !CASE || c.label.toLowerCase().includes(CASE))) {
  for (const stream of [false, true]) {
    const tracing = new RequestTracing(pipeline(sink, sampler));
    const micros = timed(tracing, stream);
    const bytes = await allocated(tracing, stream);
    console.log(
      `| ${label} | ${stream ? 'stream' : 'plain'} | ${micros.toFixed(2)} | ${(bytes / 1024).toFixed(1)} |`,
    );
  }
}
session.disconnect();
