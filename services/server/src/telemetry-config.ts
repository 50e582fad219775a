/**
 * The standard `OTEL_*` variables, read once at start with the rest of the configuration:
 * whether tracing is on and how it exports. Apart from the tracing pipeline (telemetry.ts) so
 * that a process with tracing off never loads the OpenTelemetry SDK and its exporters
 * (~2 MB of heap, docs/benchmarks.md): kordon.ts imports that module only when tracing is on.
 */
import { z } from 'zod';
import { integer } from './env-values.js';

export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

export interface TracingConfig {
  enabled: boolean;
  /** Why tracing is off (for the start log line); undefined when on. */
  offBecause: string | undefined;
  /** Where spans go: the full traces URL (http), or the collector's URL (grpc). */
  endpoint: string;
  protocol: (typeof OTLP_PROTOCOLS)[number];
  /** Exporter headers (a vendor's API key...): never logged. */
  headers: Record<string, string>;
  serviceName: string;
  sampler: (typeof SAMPLERS)[number];
  /** The ratio of the `*traceidratio` samplers, 0..1. */
  samplerArg: number;
  batch: {
    scheduledDelayMillis: number;
    maxQueueSize: number;
    maxExportBatchSize: number;
    exportTimeoutMillis: number;
  };
}

/** Variables whose values may hold credentials: never echoed in a configuration error. */
export const OTEL_SECRET_BEARING = new Set([
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
]);

const url = z
  .string()
  .trim()
  .refine((value) => {
    try {
      const parsed = new URL(value);
      return parsed.protocol === 'http:' || parsed.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'expected an http:// or https:// URL');

/** `key=value,key2=value2`, values URL-encoded (the OTLP exporter spec). */
const headerList = z.string().transform((value, ctx) => {
  const headers: Record<string, string> = {};
  for (const pair of value.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const name = eq > 0 ? pair.slice(0, eq).trim() : '';
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
      ctx.addIssue({ code: 'custom', message: 'expected key=value pairs separated by commas' });
      return z.NEVER;
    }
    try {
      headers[name.toLowerCase()] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      ctx.addIssue({ code: 'custom', message: 'a header value is not valid URL encoding' });
      return z.NEVER;
    }
  }
  return headers;
});

const boolean = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false'], 'expected true or false'));

const OtelSchema = z.object({
  OTEL_SDK_DISABLED: boolean.optional(),
  OTEL_TRACES_EXPORTER: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((item) => item.trim().toLowerCase())
        .filter(Boolean),
    )
    .refine(
      (items) => items.every((item) => item === 'otlp' || item === 'none'),
      'Kordon exports traces with otlp (or none)',
    )
    .optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: url.optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url.optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(OTLP_PROTOCOLS).optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: z.enum(OTLP_PROTOCOLS).optional(),
  OTEL_EXPORTER_OTLP_HEADERS: headerList.optional(),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: headerList.optional(),
  OTEL_SERVICE_NAME: z.string().trim().min(1).max(200).default('kordon'),
  OTEL_TRACES_SAMPLER: z.enum(SAMPLERS).default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: z
    .string()
    .trim()
    .regex(/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, 'expected a ratio from 0 to 1')
    .transform(Number)
    .optional(),
  OTEL_BSP_SCHEDULE_DELAY: integer(0, 600_000).default(5000),
  // Larger than the specification's 2048 and 512: a traced gateway makes ~6 spans a request,
  // and each export is an HTTP call; batches of 2048 cost less per span (docs/benchmarks.md).
  OTEL_BSP_MAX_QUEUE_SIZE: integer(1, 1_000_000).default(8192),
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: integer(1, 1_000_000).default(2048),
  OTEL_BSP_EXPORT_TIMEOUT: integer(1, 600_000).default(30_000),
});

/**
 * The tracing configuration from `OTEL_*` variables (an empty value counts as unset, as the
 * specification says); problems name the variable, like every other setting.
 */
export function parseTracingConfig(env: NodeJS.ProcessEnv): {
  config: TracingConfig;
  problems: Array<{ name: string; message: string }>;
} {
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key.startsWith('OTEL_') && value !== ''),
  );
  const parsed = OtelSchema.safeParse(present);
  if (!parsed.success) {
    return {
      config: OFF,
      problems: parsed.error.issues.map((issue) => ({
        name: String(issue.path[0] ?? '(environment)'),
        message: issue.message,
      })),
    };
  }
  const e = parsed.data;
  const protocol = e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf';
  let endpoint = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (endpoint === undefined && e.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined) {
    // The generic endpoint is a base: HTTP exporters add the signal's path, gRPC takes it as is.
    endpoint =
      protocol === 'grpc'
        ? e.OTEL_EXPORTER_OTLP_ENDPOINT
        : `${e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  }
  const offBecause =
    e.OTEL_SDK_DISABLED === 'true'
      ? 'OTEL_SDK_DISABLED=true'
      : e.OTEL_TRACES_EXPORTER?.includes('none')
        ? 'OTEL_TRACES_EXPORTER=none'
        : endpoint === undefined
          ? 'no OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'
          : undefined;
  return {
    config: {
      enabled: offBecause === undefined,
      offBecause,
      endpoint: endpoint ?? '',
      protocol,
      headers: { ...e.OTEL_EXPORTER_OTLP_HEADERS, ...e.OTEL_EXPORTER_OTLP_TRACES_HEADERS },
      serviceName: e.OTEL_SERVICE_NAME,
      sampler: e.OTEL_TRACES_SAMPLER,
      samplerArg: e.OTEL_TRACES_SAMPLER_ARG ?? 1,
      batch: {
        scheduledDelayMillis: e.OTEL_BSP_SCHEDULE_DELAY,
        maxQueueSize: e.OTEL_BSP_MAX_QUEUE_SIZE,
        maxExportBatchSize: Math.min(e.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, e.OTEL_BSP_MAX_QUEUE_SIZE),
        exportTimeoutMillis: e.OTEL_BSP_EXPORT_TIMEOUT,
      },
    },
    problems: [],
  };
}

const OFF: TracingConfig = {
  enabled: false,
  offBecause: 'invalid configuration',
  endpoint: '',
  protocol: 'http/protobuf',
  headers: {},
  serviceName: 'kordon',
  sampler: 'parentbased_always_on',
  samplerArg: 1,
  batch: {
    scheduledDelayMillis: 5000,
    maxQueueSize: 2048,
    maxExportBatchSize: 512,
    exportTimeoutMillis: 30_000,
  },
};

export interface TelemetryLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

/** Tracing is off: says so (and why) in the start log; there is no pipeline. */
export function tracingOff(config: TracingConfig, logger: TelemetryLogger): undefined {
  logger.info({ tracing: 'off', because: config.offBecause }, 'tracing is off');
  return undefined;
}
