import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.js';
import { samplerOf } from './telemetry.js';
import { parseTracingConfig } from './telemetry-config.js';

const tracing = (env: Record<string, string>) => {
  const { config, problems } = parseTracingConfig(env);
  assert.deepEqual(problems, []);
  return config;
};

describe('tracing configuration (OTEL_*)', () => {
  it('is off without an OTLP endpoint, and off with OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none', () => {
    assert.equal(tracing({}).enabled, false);
    assert.match(tracing({}).offBecause ?? '', /OTEL_EXPORTER_OTLP_ENDPOINT/);
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    assert.equal(tracing(endpoint).enabled, true);
    assert.equal(tracing({ ...endpoint, OTEL_SDK_DISABLED: 'TRUE' }).enabled, false);
    assert.equal(tracing({ ...endpoint, OTEL_SDK_DISABLED: 'false' }).enabled, true);
    assert.equal(tracing({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).enabled, false);
    assert.equal(tracing({ ...endpoint, OTEL_TRACES_EXPORTER: '' }).enabled, true, 'empty is unset');
  });

  it('the generic endpoint gets /v1/traces for HTTP; the traces endpoint is taken as it is; gRPC as it is', () => {
    assert.equal(
      tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).endpoint,
      'http://collector:4318/v1/traces',
    );
    assert.equal(
      tracing({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/otlp',
      }).endpoint,
      'https://traces.example/otlp',
    );
    const grpc = tracing({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4317',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
    });
    assert.equal(grpc.endpoint, 'http://collector:4317');
    assert.equal(grpc.protocol, 'grpc');
    assert.equal(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).protocol, 'http/protobuf');
    assert.equal(
      tracing({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      }).protocol,
      'http/json',
    );
  });

  it('reads headers, the service name, the sampler and the batch settings', () => {
    const config = tracing({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=a,authorization=Api-Key%20s3cr3t',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=b',
      OTEL_SERVICE_NAME: 'gateway-eu',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512',
    });
    assert.deepEqual(config.headers, { 'x-tenant': 'b', authorization: 'Api-Key s3cr3t' });
    assert.equal(config.serviceName, 'gateway-eu');
    assert.equal(config.samplerArg, 0.25);
    assert.equal(config.batch.scheduledDelayMillis, 200);
    assert.equal(config.batch.maxExportBatchSize, 100, 'a batch is never larger than the queue');
    assert.match(samplerOf(config).toString(), /ParentBased\{root=TraceIdRatioBased\{0.25\}/);
    assert.equal(tracing({}).serviceName, 'kordon');
    assert.equal(tracing({}).sampler, 'parentbased_always_on');
  });

  it('refuses bad values naming the variable, and never echoes an endpoint or headers', () => {
    const base = {
      KORDON_DEV_MODE: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
    };
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ ...base, ...env });
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.problems;
      }
      assert.fail('the configuration was accepted');
    };
    assert.match(
      problems({ OTEL_TRACES_SAMPLER: 'sometimes' })[0]!,
      /^OTEL_TRACES_SAMPLER: .*\(got "sometimes"\)$/,
    );
    assert.match(
      problems({ OTEL_TRACES_SAMPLER_ARG: '2' })[0]!,
      /^OTEL_TRACES_SAMPLER_ARG: expected a ratio/,
    );
    assert.match(problems({ OTEL_EXPORTER_OTLP_PROTOCOL: 'udp' })[0]!, /^OTEL_EXPORTER_OTLP_PROTOCOL: /);
    assert.match(problems({ OTEL_TRACES_EXPORTER: 'zipkin' })[0]!, /^OTEL_TRACES_EXPORTER: /);
    const endpoint = problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://user:hunter2@collector' })[0]!;
    assert.match(endpoint, /^OTEL_EXPORTER_OTLP_ENDPOINT: expected an http/);
    assert.equal(endpoint.includes('hunter2'), false);
    const headers = problems({ OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign-s3cr3t' })[0]!;
    assert.match(headers, /^OTEL_EXPORTER_OTLP_HEADERS: /);
    assert.equal(headers.includes('s3cr3t'), false);
    // Problems of both kinds come together.
    assert.equal(problems({ KORDON_PORT: 'eighty', OTEL_TRACES_SAMPLER: 'sometimes' }).length, 2);
  });

  it('KORDON_METRICS turns the data-plane metrics off; tracing rides in the config', () => {
    const config = loadConfig({ KORDON_DEV_MODE: 'true', KORDON_METRICS: 'false' });
    assert.equal(config.metrics, false);
    assert.equal(config.tracing.enabled, false);
    assert.equal(loadConfig({ KORDON_DEV_MODE: 'true' }).metrics, true);
  });
});
