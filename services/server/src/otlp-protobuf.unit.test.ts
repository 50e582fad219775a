import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AttributeBlock, RecordedSpan, type SpanPipeline } from '@kordon/gateway';
import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, RandomIdGenerator } from '@opentelemetry/sdk-trace-base';
import { OtlpTraceBatch } from './otlp-protobuf.js';

const ids = new RandomIdGenerator();
const pipeline: SpanPipeline = {
  sampler: new AlwaysOnSampler(),
  resource: resourceFromAttributes({
    'service.name': 'kordon',
    'service.version': '0.1.0',
    'host.name': 'gw-1',
    'telemetry.sdk.language': 'nodejs',
  }),
  scope: { name: 'kordon', version: '0.1.0' },
  export: () => {},
};

/** Attributes shared by spans of every request (encoded once, at first use, then copied). */
const shared = new AttributeBlock({
  'gen_ai.provider.name': 'openai',
  'server.address': 'api.example.test',
  'server.port': 443,
  'kordon.flag': false,
});
const sharedToo = new AttributeBlock({ 'kordon.team_id': 'team_1' });

/** Spans with every kind of value the encoder must write as the SDK's serialiser does. */
function spans(on: SpanPipeline = pipeline): RecordedSpan[] {
  const traceId = ids.generateTraceId();
  const remoteParent = {
    traceId,
    spanId: ids.generateSpanId(),
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('vendor=a,other=b'),
  };
  const rootContext = { traceId, spanId: ids.generateSpanId(), traceFlags: TraceFlags.SAMPLED };
  const start = Date.now() + 0.123456;
  const root = new RecordedSpan(
    on,
    'POST /v1/chat/completions',
    SpanKind.SERVER,
    rootContext,
    remoteParent,
    start,
    {
      'http.request.method': 'POST',
    },
  );
  root.setAttributes({
    'kordon.org_id': 'org_0123456789abcdef',
    'gen_ai.request.stream': true,
    'gen_ai.usage.input_tokens': 0,
    'gen_ai.usage.output_tokens': 127,
    'kordon.small': 128,
    'kordon.big': 2 ** 31 + 5,
    'kordon.bigger': 2 ** 40 + 3,
    'kordon.negative': -5,
    'kordon.ratio': 0.5,
    'kordon.negative_ratio': -1.25,
    'kordon.cost': '0.0000102',
    'kordon.cyrillic': 'Привет, мир',
    'kordon.long': 'x'.repeat(300),
    'kordon.longer': 'y'.repeat(20_000),
    'gen_ai.response.finish_reasons': ['stop', 'length'],
    'kordon.empty_list': [],
    'kordon.empty': '',
  });
  root.addAttributeBlock(shared);
  root.addAttributeBlock(sharedToo);
  root.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream_timeout' });
  const child = new RecordedSpan(
    on,
    'gateway.stream',
    SpanKind.INTERNAL,
    { ...rootContext, spanId: ids.generateSpanId() },
    rootContext,
    start + 1.5,
  );
  child.addEvent('kordon.first_token', { 'kordon.time_to_first_token_ms': 12 }, start + 3.25);
  child.addEvent('bare', {}, start + 4);
  child.addLink({ context: { ...remoteParent }, attributes: { 'link.kind': 'caller' } });
  child.end(start + 9.75);
  const client = new RecordedSpan(
    on,
    'provider.openai.chat',
    SpanKind.CLIENT,
    { ...rootContext, spanId: ids.generateSpanId() },
    rootContext,
    start + 2,
  );
  client.addAttributeBlock(shared);
  client.setAttribute('kordon.attempt', 1);
  client.end(start + 8);
  root.end(start + 10);
  return [child, client, root];
}

describe('OTLP protobuf encoding of request spans', () => {
  it('writes the same bytes as the SDK serialiser for the same spans, added in one go or request by request', () => {
    const first = spans();
    const second = spans();
    const one = new OtlpTraceBatch(pipeline.resource, pipeline.scope);
    one.add([...first, ...second]);
    const expected = Buffer.from(ProtobufTraceSerializer.serializeRequest([...first, ...second]) ?? []);
    assert.ok(expected.length > 20_000);
    assert.equal(one.size, 6);
    assert.deepEqual(Buffer.from(one.take()), expected);
    assert.equal(one.size, 0, 'a taken batch starts empty');

    const byRequest = new OtlpTraceBatch(pipeline.resource, pipeline.scope);
    byRequest.add(first);
    byRequest.add(second);
    assert.deepEqual(Buffer.from(byRequest.take()), expected);
  });

  it('frames spans of every length as the SDK does: under 128 bytes, up to 16 KiB, and past it', () => {
    const context = () => ({ traceId: ids.generateTraceId(), spanId: ids.generateSpanId(), traceFlags: 1 });
    const tiny = new RecordedSpan(pipeline, 'a', SpanKind.INTERNAL, context(), undefined, Date.now());
    tiny.end(Date.now() + 1);
    const sized = (chars: number) => {
      const span = new RecordedSpan(pipeline, 'b', SpanKind.INTERNAL, context(), undefined, Date.now());
      span.setAttribute('kordon.text', 'z'.repeat(chars));
      span.end(Date.now() + 1);
      return span;
    };
    // Around each boundary of a one-, two- and three-byte length.
    const all = [tiny, sized(40), sized(60), sized(70), sized(16_300), sized(16_330), sized(16_400)];
    const batch = new OtlpTraceBatch(pipeline.resource, pipeline.scope);
    batch.add(all);
    assert.deepEqual(
      Buffer.from(batch.take()),
      Buffer.from(ProtobufTraceSerializer.serializeRequest(all) ?? []),
    );
  });

  it('a batch taken again holds only what was added since, on a buffer that grew past its start size', () => {
    const batch = new OtlpTraceBatch(pipeline.resource, pipeline.scope);
    for (let i = 0; i < 10; i++) batch.add(spans());
    batch.take();
    const again = spans();
    batch.add(again);
    assert.deepEqual(
      Buffer.from(batch.take()),
      Buffer.from(ProtobufTraceSerializer.serializeRequest(again) ?? []),
    );
  });

  it('a batch taken as a copy keeps its bytes while the next ones are written, and the one in flight is untouched', () => {
    const batch = new OtlpTraceBatch(pipeline.resource, pipeline.scope);
    const [a, b, c] = [spans(), spans(), spans()];
    const expected = (s: ReturnType<typeof spans>) =>
      Buffer.from(ProtobufTraceSerializer.serializeRequest(s) ?? []);
    batch.add(a);
    const inFlight = batch.take(); // being sent: must stay as it is
    batch.add(b);
    const sealed = batch.takeCopy();
    assert.equal(batch.size, 0, 'a batch taken as a copy starts empty');
    batch.add(c);
    batch.add(spans());
    assert.deepEqual(Buffer.from(sealed), expected(b), 'sealed');
    assert.deepEqual(Buffer.from(inFlight), expected(a), 'in flight');
    batch.takeCopy();
    batch.add(c);
    assert.deepEqual(Buffer.from(batch.take()), expected(c), 'after');
  });

  it('spans that cannot be encoded are left out whole: the batch stays what the others make', () => {
    const good = spans();
    const bad = spans();
    const unreadable = Object.defineProperty({}, 'field', {
      enumerable: true,
      get() {
        throw new Error('unreadable attribute');
      },
    });
    // The span has ended (setAttribute would ignore it): into its lists directly.
    bad[1]?.attributeKeys.push('kordon.broken');
    bad[1]?.attributeValues.push(unreadable as never);
    const batch = new OtlpTraceBatch(pipeline.resource, pipeline.scope);
    batch.add(good.slice(0, 1));
    assert.throws(() => batch.add(bad), /unreadable attribute/);
    batch.add(good.slice(1));
    assert.equal(batch.size, 3);
    assert.deepEqual(
      Buffer.from(batch.take()),
      Buffer.from(ProtobufTraceSerializer.serializeRequest(good) ?? []),
    );
  });

  it('writes start and end times to the nanosecond as the SDK does, across the range of epoch times', () => {
    const context = { traceId: ids.generateTraceId(), spanId: ids.generateSpanId(), traceFlags: 1 };
    const times = [
      0,
      0.000001,
      999.9999996, // rounds up to a whole second's worth of nanoseconds
      1_764_500_000_123.5,
      1_764_500_000_999.75,
      4_102_444_800_000.875, // 2100-01-01
      2 ** 32 * 1000 - 0.5, // the last second fixed64 nanoseconds hold in this encoding's range
    ];
    for (let i = 0; i < 1000; i++) times.push(Math.random() * 4_000_000_000_000);
    const made = times.map((start) => {
      const span = new RecordedSpan(pipeline, 't', SpanKind.INTERNAL, context, undefined, start);
      span.end(start + Math.random() * 5000);
      return span;
    });
    const batch = new OtlpTraceBatch(pipeline.resource, pipeline.scope);
    batch.add(made);
    assert.deepEqual(
      Buffer.from(batch.take()),
      Buffer.from(ProtobufTraceSerializer.serializeRequest(made) ?? []),
    );
  });

  it('writes the schema URLs of the resource and the scope where the SDK serialiser does', () => {
    const schemaPipeline: SpanPipeline = {
      ...pipeline,
      resource: resourceFromAttributes(
        { 'service.name': 'kordon' },
        { schemaUrl: 'https://opentelemetry.io/schemas/1.37.0' },
      ),
      scope: { name: 'kordon', version: '0.1.0', schemaUrl: 'https://opentelemetry.io/schemas/1.36.0' },
    };
    const made = spans(schemaPipeline);
    const batch = new OtlpTraceBatch(schemaPipeline.resource, schemaPipeline.scope);
    batch.add(made);
    assert.deepEqual(
      Buffer.from(batch.take()),
      Buffer.from(ProtobufTraceSerializer.serializeRequest(made) ?? []),
    );
  });
});
