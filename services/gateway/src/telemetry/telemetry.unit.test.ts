import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { kordonCatalogue, streams } from '@kordon/events';
import type { Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, InMemorySpanExporter, ParentBasedSampler } from '@opentelemetry/sdk-trace-base';
import * as stable from '@opentelemetry/semantic-conventions';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import { Registry } from 'prom-client';
import type { Caller } from '../http/authenticate.js';
import type { Route } from '../http/route-model.js';
import type { ProviderKeyEntry, RegistryState } from '../registry/registry.js';
import * as attributes from './attributes.js';
import { DataPlaneMetrics } from './data-plane-metrics.js';
import { answerFacts, RequestTracing } from './request-trace.js';
import { type SpanPipeline, spansOf } from './span-pipeline.js';
import { PooledIdGenerator } from './trace-ids.js';

describe('telemetry attributes', () => {
  it('the GenAI and HTTP names copied here are those of the semantic conventions', () => {
    const pairs: Array<[string, string]> = [
      [attributes.ATTR_GEN_AI_PROVIDER_NAME, incubating.ATTR_GEN_AI_PROVIDER_NAME],
      [attributes.ATTR_GEN_AI_SYSTEM, incubating.ATTR_GEN_AI_SYSTEM],
      [attributes.ATTR_GEN_AI_OPERATION_NAME, incubating.ATTR_GEN_AI_OPERATION_NAME],
      [attributes.ATTR_GEN_AI_REQUEST_MODEL, incubating.ATTR_GEN_AI_REQUEST_MODEL],
      [attributes.ATTR_GEN_AI_REQUEST_MAX_TOKENS, incubating.ATTR_GEN_AI_REQUEST_MAX_TOKENS],
      [attributes.ATTR_GEN_AI_REQUEST_STREAM, incubating.ATTR_GEN_AI_REQUEST_STREAM],
      [attributes.ATTR_GEN_AI_REQUEST_SEED, incubating.ATTR_GEN_AI_REQUEST_SEED],
      [attributes.ATTR_GEN_AI_REQUEST_CHOICE_COUNT, incubating.ATTR_GEN_AI_REQUEST_CHOICE_COUNT],
      [attributes.ATTR_GEN_AI_RESPONSE_MODEL, incubating.ATTR_GEN_AI_RESPONSE_MODEL],
      [attributes.ATTR_GEN_AI_RESPONSE_ID, incubating.ATTR_GEN_AI_RESPONSE_ID],
      [attributes.ATTR_GEN_AI_RESPONSE_FINISH_REASONS, incubating.ATTR_GEN_AI_RESPONSE_FINISH_REASONS],
      [attributes.ATTR_GEN_AI_USAGE_INPUT_TOKENS, incubating.ATTR_GEN_AI_USAGE_INPUT_TOKENS],
      [attributes.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS, incubating.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS],
      [
        attributes.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        incubating.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
      ],
      [attributes.ATTR_ERROR_TYPE, stable.ATTR_ERROR_TYPE],
      [attributes.ATTR_HTTP_REQUEST_METHOD, stable.ATTR_HTTP_REQUEST_METHOD],
      [attributes.ATTR_HTTP_RESPONSE_STATUS_CODE, stable.ATTR_HTTP_RESPONSE_STATUS_CODE],
      [attributes.ATTR_HTTP_ROUTE, stable.ATTR_HTTP_ROUTE],
      [attributes.ATTR_SERVER_ADDRESS, stable.ATTR_SERVER_ADDRESS],
      [attributes.ATTR_SERVER_PORT, stable.ATTR_SERVER_PORT],
      [attributes.ATTR_URL_PATH, stable.ATTR_URL_PATH],
      [attributes.ATTR_URL_SCHEME, stable.ATTR_URL_SCHEME],
    ];
    for (const [ours, theirs] of pairs) assert.equal(ours, theirs);
    assert.equal(attributes.GEN_AI_PROVIDER_NAME.openai, incubating.GEN_AI_PROVIDER_NAME_VALUE_OPENAI);
    assert.equal(attributes.GEN_AI_PROVIDER_NAME.anthropic, incubating.GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC);
    assert.equal(attributes.GEN_AI_PROVIDER_NAME.gemini, incubating.GEN_AI_PROVIDER_NAME_VALUE_GCP_GEMINI);
    assert.equal(
      attributes.GEN_AI_PROVIDER_NAME['azure-openai'],
      incubating.GEN_AI_PROVIDER_NAME_VALUE_AZURE_AI_OPENAI,
    );
    assert.equal(attributes.GEN_AI_OPERATION.chat, incubating.GEN_AI_OPERATION_NAME_VALUE_CHAT);
    assert.equal(
      attributes.GEN_AI_OPERATION.generate_content,
      incubating.GEN_AI_OPERATION_NAME_VALUE_GENERATE_CONTENT,
    );
    assert.equal(attributes.GEN_AI_OPERATION.embeddings, incubating.GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS);
  });

  it('reads id, model and finish reasons from an answer in each dialect', () => {
    const facts = (json: unknown) => {
      const out: Attributes = {};
      answerFacts({ setAttribute: (key, value) => (out[key] = value) }, json);
      return out;
    };
    assert.deepEqual(
      facts({
        id: 'chatcmpl-1',
        model: 'gpt-4o-mini-2024',
        choices: [{ finish_reason: 'stop' }, { finish_reason: 'length' }],
      }),
      {
        'gen_ai.response.id': 'chatcmpl-1',
        'gen_ai.response.model': 'gpt-4o-mini-2024',
        'gen_ai.response.finish_reasons': ['stop', 'length'],
      },
    );
    assert.deepEqual(facts({ id: 'msg_1', model: 'claude-x', stop_reason: 'end_turn', content: [] }), {
      'gen_ai.response.id': 'msg_1',
      'gen_ai.response.model': 'claude-x',
      'gen_ai.response.finish_reasons': ['end_turn'],
    });
    assert.deepEqual(
      facts({ responseId: 'r1', modelVersion: 'gemini-2.5-flash', candidates: [{ finishReason: 'STOP' }] }),
      {
        'gen_ai.response.id': 'r1',
        'gen_ai.response.model': 'gemini-2.5-flash',
        'gen_ai.response.finish_reasons': ['STOP'],
      },
    );
    assert.deepEqual(facts({ object: 'response', id: 'resp_1', model: 'gpt-4.1', status: 'completed' }), {
      'gen_ai.response.id': 'resp_1',
      'gen_ai.response.model': 'gpt-4.1',
      'gen_ai.response.finish_reasons': ['completed'],
    });
    assert.deepEqual(facts('not json'), {});
    assert.equal(String(facts({ model: 'x'.repeat(5000) })['gen_ai.response.model']).length, 200);
  });
});

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';

function tracing() {
  const exporter = new InMemorySpanExporter();
  const pipeline: SpanPipeline = {
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    resource: resourceFromAttributes({ 'service.name': 'test' }),
    scope: { name: 'test' },
    export: (spans) => exporter.export([...spansOf(spans)], () => {}),
  };
  return { exporter, tracing: new RequestTracing(pipeline) };
}

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
const caller = {
  key: { orgId: 'org_1', proxyKeyId: 'pk_1', teamId: null },
  user: { userId: 'usr_1' },
} as unknown as Caller;
const route = {
  provider: {
    name: 'main',
    type: 'openai',
    baseUrl: 'https://api.example.test/v1',
    options: {},
    orgId: 'org_1',
  },
  model: 'gpt-4o-mini',
} as unknown as Route;
const key = { providerKeyId: 'prk_1' } as ProviderKeyEntry;

describe('request traces', () => {
  it("passes the caller's tracestate on to the provider, sampled or not", () => {
    const { exporter, tracing: t } = tracing();
    const sampled = t.startGenerate(
      request({ traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, tracestate: 'vendor=a,other=b' }),
      'chat.completions',
      'req_1',
      performance.now(),
    );
    const attempt = sampled.attempt(route, 'chat', key, 1);
    assert.match(attempt.headers.traceparent ?? '', new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    assert.equal(attempt.headers.tracestate, 'vendor=a,other=b');
    attempt.failed(new Error('x'), undefined, false);
    sampled.end(500);
    assert.equal(exporter.getFinishedSpans()[0]?.spanContext().traceState?.serialize(), 'vendor=a,other=b');

    const unsampled = t.startGenerate(
      request({ traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-00`, tracestate: 'vendor=c' }),
      'chat.completions',
      'req_2',
      performance.now(),
    );
    const headers = unsampled.attempt(route, 'chat', key, 1).headers;
    assert.match(headers.traceparent ?? '', new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
    assert.equal(headers.tracestate, 'vendor=c');
    assert.equal(
      headers.traceparent?.split('-')[2] === CALLER_SPAN,
      false,
      "the root's own span id, not the caller's",
    );
  });

  it("continues the caller's trace, and the provider gets the attempt span as parent", () => {
    const { exporter, tracing: t } = tracing();
    const trace = t.startGenerate(
      request({ traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01` }),
      'chat.completions',
      'req_1',
      performance.now(),
    );
    assert.equal(trace.traceId, TRACE_ID);
    trace.authenticated(performance.now(), caller);
    const attempt = trace.attempt(route, 'chat', key, 1, 100);
    const [, , spanId] = attempt.headers.traceparent!.split('-');
    attempt.failed(Object.assign(new Error('x'), { code: 'upstream_timeout' }), 'timeout', true);
    attempt.failed(new Error('twice'), undefined, false); // ended: nothing more
    trace.end(504, 'upstream_timeout');
    trace.end(500); // once only
    const spans = exporter.getFinishedSpans();
    assert.deepEqual(spans.map((s) => s.name).sort(), [
      'POST /v1/chat/completions',
      'gateway.auth',
      'provider.openai.chat',
    ]);
    const call = spans.find((s) => s.name === 'provider.openai.chat')!;
    assert.equal(call.spanContext().spanId, spanId);
    assert.equal(call.attributes['error.type'], 'upstream_timeout');
    assert.equal(call.attributes['server.address'], 'api.example.test');
    assert.equal(call.attributes['server.port'], 443);
    const root = spans.find((s) => s.name === 'POST /v1/chat/completions')!;
    assert.equal(root.parentSpanContext?.spanId, CALLER_SPAN);
    assert.equal(root.attributes['http.response.status_code'], 504);
  });

  it('an unsampled request records nothing and still passes its trace id on, unsampled', () => {
    const { exporter, tracing: t } = tracing();
    const trace = t.startGenerate(
      request({ traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-00` }),
      'messages',
      'req_2',
      performance.now(),
    );
    assert.equal(trace.recording, false);
    trace.authenticated(performance.now(), caller);
    const attempt = trace.attempt(route, 'messages', key, 1);
    assert.match(attempt.headers.traceparent!, new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
    trace.end(200);
    assert.equal(exporter.getFinishedSpans().length, 0);
  });

  it('steps kept as times become spans when the root ends, each with its own times, nested in the root', async () => {
    const { exporter, tracing: t } = tracing();
    // A timer may fire early against performance.now() (libuv caches the loop's time), so each
    // pause waits until at least 2 ms have passed on the clock the spans use.
    const pause = async () => {
      const until = performance.now() + 2;
      while (performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 1));
    };
    const arrived = performance.now();
    const trace = t.startGenerate(request({}), 'chat.completions', 'req_1', arrived);
    await pause();
    trace.authenticated(arrived, caller);
    trace.requested('gpt-4o-mini', true, 64);
    await pause();
    const admitting = performance.now();
    trace.admission(admitting, undefined);
    const choosing = performance.now();
    trace.chose(choosing, route, key, 1);
    const attempt = trace.attempt(route, 'chat', key, 1, 64);
    attempt.streaming(200);
    trace.streamStarted();
    assert.equal(exporter.getFinishedSpans().length, 0, 'nothing goes before the root ends');
    await pause();
    attempt.streamEnded({ inputTokens: 3, outputTokens: 2, cachedInputTokens: 0 }, 'complete', {
      finishReasons: ['stop'],
      responseId: 'chatcmpl-1',
      responseModel: 'gpt-4o-mini-2024-07-18',
    });
    trace.streamEnded('complete', arrived, arrived + 1);
    trace.end(200);
    const spans = exporter.getFinishedSpans();
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    assert.deepEqual(Object.keys(byName).sort(), [
      'POST /v1/chat/completions',
      'gateway.admission',
      'gateway.auth',
      'gateway.route',
      'gateway.stream',
      'provider.openai.chat',
    ]);
    const ms = (time: [number, number]) => time[0] * 1000 + time[1] / 1e6;
    const root = byName['POST /v1/chat/completions']!;
    for (const span of spans) {
      assert.ok(ms(span.startTime) >= ms(root.startTime) - 0.001, `${span.name} starts within the root`);
      assert.ok(ms(span.endTime) <= ms(root.endTime) + 0.001, `${span.name} ends within the root`);
      if (span !== root) assert.equal(span.parentSpanContext?.spanId, root.spanContext().spanId);
    }
    const auth = byName['gateway.auth']!;
    assert.ok(ms(auth.endTime) - ms(auth.startTime) >= 1.5, 'auth ran from arrival past the first pause');
    assert.ok(
      ms(byName['gateway.admission']!.startTime) >= ms(auth.endTime) + 1.5,
      'admission began after the second pause',
    );
    assert.ok(ms(byName['provider.openai.chat']!.endTime) - ms(byName['gateway.route']!.endTime) >= 1.5);
    assert.equal(auth.attributes['kordon.org_id'], 'org_1');
    assert.equal(root.attributes['kordon.user_id'], 'usr_1');
    assert.equal(root.attributes['gen_ai.request.max_tokens'], 64);
    assert.equal(root.attributes['gen_ai.request.stream'], true);
    assert.equal(byName['gateway.route']!.attributes['kordon.attempt'], 1);
    const call = byName['provider.openai.chat']!;
    assert.equal(call.attributes['http.response.status_code'], 200);
    // Conditionally Required on the inference span "if and only if the request is streaming".
    assert.equal(call.attributes['gen_ai.request.stream'], true);
    assert.equal(call.attributes['gen_ai.usage.output_tokens'], 2);
    assert.deepEqual(call.attributes['gen_ai.response.finish_reasons'], ['stop']);
    assert.equal(byName['gateway.stream']!.events[0]?.name, 'kordon.first_token');
    assert.equal(new Set(spans.map((s) => s.spanContext().spanId)).size, 6, 'six span ids');
  });

  it('an attempt still open when the root ends goes alone when it ends; an open stream ends with the root', () => {
    const { exporter, tracing: t } = tracing();
    const trace = t.startGenerate(request({}), 'chat.completions', 'req_1', performance.now());
    trace.authenticated(performance.now(), caller);
    const attempt = trace.attempt(route, 'chat', key, 1);
    trace.streamStarted();
    trace.end(499, 'client_disconnected');
    assert.deepEqual(
      exporter
        .getFinishedSpans()
        .map((s) => s.name)
        .sort(),
      ['POST /v1/chat/completions', 'gateway.auth', 'gateway.stream'],
    );
    trace.streamEnded('client_disconnected', 0, undefined); // ended with the root: nothing more
    attempt.streamEnded(undefined, 'client_disconnected');
    attempt.failed(new Error('late'), undefined, false); // ended: nothing more
    const spans = exporter.getFinishedSpans();
    assert.deepEqual(
      spans.map((s) => s.name),
      ['POST /v1/chat/completions', 'gateway.auth', 'gateway.stream', 'provider.openai.chat'],
    );
    assert.equal(spans[3]?.parentSpanContext?.spanId, spans[0]?.spanContext().spanId);
    assert.equal(spans[2]?.attributes['kordon.stream.end'], undefined, 'cut short: no end recorded');
  });

  it('a stream that failed before anything reached the caller is no gateway.stream', () => {
    const { exporter, tracing: t } = tracing();
    const trace = t.startGenerate(request({}), 'chat.completions', 'req_1', performance.now());
    // Its headers came, then an error event before any content: the attempt failed, the
    // caller was answered with the error status (no other key was left).
    const attempt = trace.attempt(route, 'chat', key, 1);
    attempt.streaming(200);
    trace.streamStarted();
    attempt.failed(
      Object.assign(new Error('overloaded'), { code: 'upstream_overloaded', status: 529 }),
      'server_error',
      true,
    );
    trace.end(529, 'upstream_overloaded');
    assert.deepEqual(
      exporter
        .getFinishedSpans()
        .map((s) => s.name)
        .sort(),
      ['POST /v1/chat/completions', 'provider.openai.chat'],
    );
  });

  // Recording errors: a failed operation SHOULD set status Error AND `error.type`, which the
  // GenAI inference span makes Conditionally Required "if the operation ended in an error".
  it('a streamed attempt that broke or whose answer failed has an error.type, as its stream span has', () => {
    const { exporter, tracing: t } = tracing();
    const usage = { inputTokens: 3, outputTokens: 2, cachedInputTokens: 0 };
    const facts = { finishReasons: [] };
    const streamed = (end: 'complete' | 'interrupted', errorType?: string) => {
      exporter.reset();
      const trace = t.startGenerate(request({}), 'chat.completions', 'req_1', performance.now());
      const attempt = trace.attempt(route, 'chat', key, 1);
      attempt.streaming(200);
      trace.streamStarted();
      attempt.streamEnded(usage, end, facts, errorType);
      trace.streamEnded(end, 0, undefined);
      trace.end(200);
      const spans = exporter.getFinishedSpans();
      return {
        call: spans.find((s) => s.name === 'provider.openai.chat')!,
        stream: spans.find((s) => s.name === 'gateway.stream')!,
      };
    };
    const reset = streamed('interrupted', 'upstream_reset');
    assert.equal(reset.call.attributes['error.type'], 'upstream_reset');
    assert.equal(reset.call.status.code, 2);
    assert.equal(reset.call.attributes['gen_ai.usage.output_tokens'], 2, 'what it produced is still told');
    assert.equal(reset.stream.attributes['error.type'], 'stream_interrupted');
    assert.equal(reset.stream.status.code, 2);

    const cut = streamed('interrupted');
    assert.equal(cut.call.attributes['error.type'], 'stream_interrupted', 'nothing more known of the break');
    assert.equal(cut.call.status.code, 2);

    // A Responses stream that ended in `response.failed`: complete, and yet a failed answer.
    const failed = streamed('complete', 'upstream_rate_limited');
    assert.equal(failed.call.attributes['error.type'], 'upstream_rate_limited');
    assert.equal(failed.call.status.code, 2);
    assert.equal(failed.stream.attributes['error.type'], undefined, 'the stream itself ended cleanly');

    const clean = streamed('complete');
    assert.equal(clean.call.attributes['error.type'], undefined);
    assert.equal(clean.call.status.code, 0);
  });

  it("the root tells the request's event: a server fault is an error, a caller who left or a refusal is not", () => {
    const { exporter, tracing: t } = tracing();
    const usage = { inputTokens: 7, outputTokens: 3, cachedInputTokens: 2, reasoningTokens: 0 };
    const root = (event: object, streamed = false) => {
      exporter.reset();
      const trace = t.startGenerate(request({}), 'chat.completions', 'req_1', performance.now());
      trace.authenticated(performance.now(), caller);
      if (streamed) trace.streamStarted();
      trace.finish(event as never);
      return exporter.getFinishedSpans().find((s) => s.name === 'POST /v1/chat/completions')!;
    };
    const failed = root({
      type: 'RequestFailed',
      data: { errorCode: 'upstream_timeout', status: 504, attempts: 2, usage, cost: null, currency: null },
    });
    assert.equal(failed.attributes['kordon.outcome'], 'failed');
    assert.equal(failed.attributes['error.type'], 'upstream_timeout');
    assert.equal(failed.attributes['http.response.status_code'], 504);
    assert.equal(failed.attributes['kordon.attempts'], 2);
    assert.equal(failed.attributes['gen_ai.usage.cache_read.input_tokens'], 2);
    assert.equal(failed.attributes['kordon.cost'], undefined, 'no cost when none was charged');
    assert.deepEqual(failed.status, { code: 2, message: 'upstream_timeout' });

    const left = root({
      type: 'RequestFailed',
      data: {
        errorCode: 'client_disconnected',
        status: null,
        attempts: 1,
        usage,
        cost: '0.01',
        currency: 'USD',
      },
    });
    assert.equal(left.attributes['http.response.status_code'], undefined);
    assert.equal(left.attributes['kordon.cost'], '0.01');
    assert.equal(left.status.code, 0, 'the caller leaving is no fault of the server');

    // A stream that began is answered 200, though its event (cut, or failed by the provider) has no status.
    const cut = root(
      {
        type: 'RequestFailed',
        data: {
          errorCode: 'stream_interrupted',
          status: null,
          attempts: 1,
          usage,
          cost: null,
          currency: null,
        },
      },
      true,
    );
    assert.equal(cut.attributes['http.response.status_code'], 200);
    assert.deepEqual(cut.status, { code: 2, message: 'stream_interrupted' });
    const refusedMidStream = root(
      {
        type: 'RequestFailed',
        data: {
          errorCode: 'upstream_rejected',
          status: null,
          attempts: 1,
          usage,
          cost: null,
          currency: null,
        },
      },
      true,
    );
    assert.equal(refusedMidStream.attributes['http.response.status_code'], 200);
    assert.equal(refusedMidStream.status.code, 0, 'a refused prompt is no fault of the server');

    const refused = root({
      type: 'RequestRejected',
      data: { reason: 'limit_exceeded', status: 429, limitScope: { scope: 'team' } },
    });
    assert.equal(refused.attributes['kordon.outcome'], 'rejected');
    assert.equal(refused.attributes['kordon.limit.scope'], 'team');
    assert.equal(refused.attributes['http.response.status_code'], 429);
    assert.equal(refused.attributes['kordon.attempts'], undefined);
    assert.equal(refused.status.code, 0);
  });

  // The HTTP server span's Required attributes (stable), which the sampler is also to be shown.
  it("the root span has the HTTP server span's required attributes, and the sampler sees them", () => {
    const seen: Attributes[] = [];
    const exporter = new InMemorySpanExporter();
    const sampler = new AlwaysOnSampler();
    const t = new RequestTracing({
      sampler: {
        shouldSample: (...args) => {
          seen.push(args[4]);
          return sampler.shouldSample();
        },
      },
      resource: resourceFromAttributes({ 'service.name': 'test' }),
      scope: { name: 'test' },
      export: (spans) => exporter.export([...spansOf(spans)], () => {}),
    });
    t.startGenerate(request({}), 'chat.completions', 'req_1', performance.now()).end(200);
    const required = {
      'http.request.method': 'POST',
      'url.path': '/v1/chat/completions',
      'url.scheme': 'http',
    };
    const [root] = exporter.getFinishedSpans();
    for (const [name, value] of Object.entries(required)) {
      assert.equal(root?.attributes[name], value, name);
      assert.equal(seen[0]?.[name], value, `${name}, shown to the sampler`);
    }
  });

  // Conditionally Required on the inference span: the seed "if the request includes a seed",
  // the choice count "if available, in the request, and !=1".
  it("the attempt span has the request's seed and choice count when it sets them", () => {
    const { exporter, tracing: t } = tracing();
    const call = (sampling: { seed?: unknown; n?: unknown } | undefined, type = 'openai') => {
      exporter.reset();
      const trace = t.startGenerate(request({}), 'chat.completions', 'req_1', performance.now());
      trace.requested('gpt-4o-mini', false, null, sampling);
      const to = { ...route, provider: { ...route.provider, type } } as Route;
      trace.attempt(to, 'chat', key, 1).failed(new Error('x'), undefined, false);
      trace.end(500);
      const span = exporter.getFinishedSpans().find((s) => s.name.startsWith('provider.'))!;
      return [span.attributes['gen_ai.request.seed'], span.attributes['gen_ai.request.choice.count']];
    };
    assert.deepEqual(call({ seed: 42, n: 3 }), [42, 3]);
    assert.deepEqual(call({ seed: 0, n: 1 }), [0, undefined], 'one choice: no count');
    assert.deepEqual(call({ seed: 'x', n: 2.5 }), [undefined, undefined], 'not integers: not told');
    assert.deepEqual(call({}), [undefined, undefined]);
    assert.deepEqual(call(undefined), [undefined, undefined]);
    assert.deepEqual(call({ seed: 42, n: 3 }, 'gemini'), [42, 3]);
    assert.deepEqual(call({ seed: 42, n: 1 }, 'anthropic'), [undefined, undefined], 'Claude is sent no seed');
  });

  it('a malformed traceparent starts a new trace', () => {
    const { exporter, tracing: t } = tracing();
    const trace = t.startGenerate(request({ traceparent: 'garbage' }), 'embeddings', 'r', performance.now());
    assert.notEqual(trace.traceId, TRACE_ID);
    trace.end(200);
    const [root] = exporter.getFinishedSpans();
    assert.equal(root?.parentSpanContext, undefined);
    assert.equal(root?.attributes['gen_ai.operation.name'], 'embeddings');
  });

  // The conventions' well-known values (semconv 1.37+): a DeepSeek, Groq or Mistral call is
  // `deepseek`, `groq`, `mistral_ai`, whichever dialect made it; other vendors keep the type.
  for (const [vendor, expected] of [
    ['deepseek', incubating.GEN_AI_PROVIDER_NAME_VALUE_DEEPSEEK],
    ['groq', incubating.GEN_AI_PROVIDER_NAME_VALUE_GROQ],
    ['mistral', incubating.GEN_AI_PROVIDER_NAME_VALUE_MISTRAL_AI],
    ['openrouter', 'openai-compatible'],
    [undefined, 'openai-compatible'],
  ] as const) {
    it(`an OpenAI-compatible provider of vendor ${vendor} is gen_ai.provider.name "${expected}"`, () => {
      const { exporter, tracing: t } = tracing();
      const trace = t.startGenerate(request({}), 'chat.completions', 'req_1', performance.now());
      const compatible = {
        provider: { ...route.provider, type: 'openai-compatible', options: vendor ? { vendor } : {} },
        model: 'some-model',
      } as unknown as Route;
      trace.attempt(compatible, 'chat', key, 1).failed(new Error('x'), undefined, false);
      trace.end(200);
      const span = exporter.getFinishedSpans().find((s) => s.name.startsWith('provider.'));
      assert.equal(span?.attributes['gen_ai.provider.name'], expected);
      assert.equal(span?.attributes['gen_ai.system'], expected);
    });
  }
});

describe('data-plane metrics', () => {
  const ORG = 'org_1';
  const registry = {
    orgs: new Map([[ORG, { orgId: ORG, slug: 'acme' }]]),
    providers: new Map([[ORG, new Map([['main', { name: 'main', models: ['gpt-4o-mini', 'gpt-5*'] }]])]]),
    providerKeys: new Map(),
  };
  const metricsWith = (maxModels?: number) => {
    const prom = new Registry();
    const metrics = new DataPlaneMetrics(
      prom,
      {
        registry: () => registry as unknown as RegistryState,
        keyHealth: () => [],
        headPosition: async () => 10,
        projections: [{ name: 'registry', position: () => 7 }],
      },
      maxModels === undefined ? {} : { maxModels },
    );
    return { prom, metrics };
  };
  const completed = (model: string) =>
    kordonCatalogue.create(
      'RequestCompleted',
      streams.usage(ORG),
      {
        requestId: 'req',
        proxyKeyId: 'pk',
        userId: 'usr',
        teamId: null,
        provider: 'main',
        providerKeyId: 'prk',
        model,
        endpoint: 'chat.completions',
        stream: false,
        usage: { inputTokens: 3, outputTokens: 5, cachedInputTokens: 1, reasoningTokens: 2 },
        cost: '0.25',
        currency: 'USD',
        latencyMs: 120,
        timeToFirstTokenMs: null,
        status: 200,
        clientIp: '127.0.0.1',
        attempts: 1,
        redactedPrompt: null,
        redactedResponse: null,
      },
      { orgId: ORG, actor: { kind: 'proxy-key', id: 'pk' } },
    );

  it('counts a completed request under the org slug, with its tokens and cost', async () => {
    const { prom, metrics } = metricsWith();
    metrics.request(completed('gpt-4o-mini'));
    const text = await prom.metrics();
    assert.match(
      text,
      /kordon_requests_total\{org="acme",provider="main",model="gpt-4o-mini",endpoint="chat.completions",status="200",outcome="completed"\} 1/,
    );
    assert.match(
      text,
      /kordon_tokens_total\{org="acme",provider="main",model="gpt-4o-mini",type="cached_input"\} 1/,
    );
    assert.match(
      text,
      /kordon_tokens_total\{org="acme",provider="main",model="gpt-4o-mini",type="reasoning"\} 2/,
    );
    assert.match(
      text,
      /kordon_cost_total\{org="acme",provider="main",model="gpt-4o-mini",currency="USD"\} 0.25/,
    );
    assert.match(
      text,
      /kordon_request_duration_seconds_sum\{provider="main",model="gpt-4o-mini",endpoint="chat.completions"\} 0.12/,
    );
    assert.match(text, /kordon_projection_lag_events\{projection="registry"\} 3/);
  });

  it('bounds the model label: past maxModels new names count as other', async () => {
    const { prom, metrics } = metricsWith(2);
    for (const model of ['a', 'b', 'c', 'd', 'a']) metrics.request(completed(model));
    const text = await prom.metrics();
    const models = [...text.matchAll(/^kordon_requests_total\{[^}]*model="([^"]*)"/gm)].map((m) => m[1]);
    assert.deepEqual(models.sort(), ['a', 'b', 'other']);
    assert.match(text, /kordon_requests_total\{[^}]*model="a"[^}]*\} 2/);
    assert.match(text, /kordon_requests_total\{[^}]*model="other"[^}]*\} 2/);
  });

  it('holds no memory per model name past maxModels: they share the one other series', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { prom, metrics } = metricsWith(2);
    for (const model of ['a', 'b']) metrics.request(completed(model));
    await prom.metrics();
    gc();
    const before = process.memoryUsage().heapUsed;
    // Any name under a pattern route reaches the provider: the caller can send new ones at will.
    const NAMES = 20_000;
    for (let i = 0; i < NAMES; i++)
      metrics.request(completed(`gpt-4.1-${String(i).padStart(6, '0')}-${'x'.repeat(170)}`));
    gc();
    const retained = process.memoryUsage().heapUsed - before;
    const text = await prom.metrics();
    assert.match(text, new RegExp(`kordon_requests_total\\{[^}]*model="other"[^}]*\\} ${NAMES}\n`));
    assert.ok(metrics, 'kept alive until measured');
    assert.ok(
      retained < 4_000_000,
      `${NAMES} names counted as other retain ${(retained / 1e6).toFixed(1)} MB (${Math.round(retained / NAMES)} bytes a name)`,
    );
  });

  it("a refusal before routing does not make the caller's model a label", async () => {
    const { prom, metrics } = metricsWith();
    metrics.request(
      kordonCatalogue.create(
        'RequestRejected',
        streams.usage(ORG),
        {
          requestId: 'req',
          reason: 'model_forbidden',
          limitScope: null,
          proxyKeyId: 'pk',
          userId: 'usr',
          teamId: null,
          model: 'made-up-model-123',
          endpoint: 'chat.completions',
          status: 404,
          clientIp: '127.0.0.1',
        },
        { orgId: ORG, actor: { kind: 'proxy-key', id: 'pk' } },
      ),
    );
    const text = await prom.metrics();
    assert.equal(text.includes('made-up-model-123'), false);
    assert.match(text, /kordon_requests_total\{org="acme",provider="",model="",[^}]*outcome="rejected"\} 1/);
    assert.equal(/^kordon_limit_rejections_total\{/m.test(text), false, 'not a limit');
  });

  it("a limit's refusal on a pattern route does not make the caller's made-up model a label", async () => {
    const { prom, metrics } = metricsWith();
    const refusedOf = (model: string) =>
      kordonCatalogue.create(
        'RequestRejected',
        streams.usage(ORG),
        {
          requestId: 'req',
          reason: 'rate_limit_rpm',
          limitScope: { scope: 'proxy-key', scopeId: 'pk' },
          proxyKeyId: 'pk',
          userId: 'usr',
          teamId: null,
          model,
          endpoint: 'chat.completions',
          status: 429,
          clientIp: '127.0.0.1',
        },
        { orgId: ORG, actor: { kind: 'proxy-key', id: 'pk' } },
      );
    // Routed (gpt-5* matches any such name), refused before any provider was asked.
    metrics.request(refusedOf('gpt-5-nope-a81f'));
    // Listed by name, or known from a completion: labels as ever.
    metrics.request(refusedOf('gpt-4o-mini'));
    metrics.request(completed('gpt-5-nano'));
    metrics.request(refusedOf('gpt-5-nano'));
    const text = await prom.metrics();
    assert.equal(text.includes('nope'), false);
    const rejected = [
      ...text.matchAll(/^kordon_requests_total\{[^}]*model="([^"]*)"[^}]*outcome="rejected"\} (\d+)/gm),
    ];
    assert.deepEqual(Object.fromEntries(rejected.map((m) => [m[1], Number(m[2])])), {
      '': 1,
      'gpt-4o-mini': 1,
      'gpt-5-nano': 1,
    });
    assert.match(
      text,
      /kordon_limit_rejections_total\{org="acme",reason="rate_limit_rpm",scope="proxy-key"\} 3/,
    );
  });

  it('a model no provider answered for, or said does not exist, is not a label unless known', async () => {
    const { prom, metrics } = metricsWith();
    const failedOf = (model: string, upstreamStatus: number | null, errorCode: string) =>
      kordonCatalogue.create(
        'RequestFailed',
        streams.usage(ORG),
        {
          requestId: 'req',
          errorCode: errorCode as 'upstream_rejected',
          proxyKeyId: 'pk',
          userId: 'usr',
          teamId: null,
          provider: 'main',
          providerKeyId: 'prk',
          model,
          endpoint: 'chat.completions',
          stream: false,
          usage: { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, reasoningTokens: 0 },
          cost: null,
          currency: null,
          latencyMs: 20,
          status: 404,
          upstreamStatus,
          clientIp: '127.0.0.1',
          attempts: 1,
        },
        { orgId: ORG, actor: { kind: 'proxy-key', id: 'pk' } },
      );
    // Made-up names on the gpt-5* route: the provider's 404, or no answer at all.
    metrics.request(failedOf('gpt-5-nope-a81f', 404, 'upstream_rejected'));
    metrics.request(failedOf('gpt-5-nope-b92e', null, 'upstream_unavailable'));
    // Real ones: answered (a 400 about the request), listed by name, or known from a completion.
    metrics.request(failedOf('gpt-5-mini', 400, 'upstream_rejected'));
    metrics.request(failedOf('gpt-4o-mini', null, 'upstream_timeout'));
    metrics.request(completed('gpt-5-nano'));
    metrics.request(failedOf('gpt-5-nano', 404, 'upstream_rejected'));
    const text = await prom.metrics();
    assert.equal(text.includes('nope'), false);
    const failed = [
      ...text.matchAll(/^kordon_requests_total\{[^}]*model="([^"]*)"[^}]*outcome="failed"\} (\d+)/gm),
    ];
    assert.deepEqual(Object.fromEntries(failed.map((m) => [m[1], Number(m[2])])), {
      '': 2,
      'gpt-5-mini': 1,
      'gpt-4o-mini': 1,
      'gpt-5-nano': 1,
    });
  });
});

describe('trace and span ids', () => {
  it('are lowercase hex of the W3C lengths, never repeated across the random blocks they come from', () => {
    const ids = new PooledIdGenerator();
    const seen = new Set<string>();
    // 10,000 of each: dozens of blocks of random bytes, ids taken across their ends.
    for (let i = 0; i < 10_000; i++) {
      const traceId = ids.generateTraceId();
      const spanId = ids.generateSpanId();
      assert.match(traceId, /^[0-9a-f]{32}$/);
      assert.match(spanId, /^[0-9a-f]{16}$/);
      assert.notEqual(traceId, '0'.repeat(32));
      assert.notEqual(spanId, '0'.repeat(16));
      seen.add(traceId);
      seen.add(spanId);
    }
    assert.equal(seen.size, 20_000);
  });
});
