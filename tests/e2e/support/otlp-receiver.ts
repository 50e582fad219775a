import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as an OTLP/JSON export carries it, with its attributes as plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span without a remote parent. */
  parentSpanId: string;
  name: string;
  /** 1 internal, 2 server, 3 client (OTLP's SpanKind). */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, unknown>;
  events: Array<{ name: string; timeUnixNano: bigint; attributes: Record<string, unknown> }>;
  /** 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  resource: Record<string, unknown>;
  scope: string;
}

export interface OtlpReceiver {
  /** The traces endpoint: `http://127.0.0.1:<port>/v1/traces`. */
  url: string;
  /** Every request body received, as sent (for looking for what must not be there). */
  readonly bodies: readonly string[];
  /** Every span received so far. */
  spans(): ReceivedSpan[];
  /** Waits until `done` holds for the spans received (polling), or fails after `timeoutMs`. */
  waitFor(done: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: string;
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}

function plainValue(value: AnyValue | undefined): unknown {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(plainValue);
  if (value.kvlistValue) return attributesOf(value.kvlistValue.values);
  return value.bytesValue;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) out[key] = plainValue(value);
  return out;
}

interface ExportRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: Array<{
      scope?: { name?: string };
      spans?: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind?: number;
        startTimeUnixNano: string | number;
        endTimeUnixNano: string | number;
        attributes?: KeyValue[];
        events?: Array<{ name: string; timeUnixNano: string | number; attributes?: KeyValue[] }>;
        status?: { code?: number; message?: string };
      }>;
    }>;
  }>;
}

/** Decodes an OTLP/JSON trace export (`ExportTraceServiceRequest`; ids in hex, as the JSON mapping says). */
export function decodeOtlpJson(body: string): ReceivedSpan[] {
  return spansOf(JSON.parse(body) as ExportRequest);
}

/** The spans of an export request in the JSON mapping's shape (what both decoders make). */
function spansOf(request: ExportRequest): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resource = attributesOf(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        spans.push({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId ?? '',
          name: span.name,
          kind: span.kind ?? 0,
          startTimeUnixNano: BigInt(span.startTimeUnixNano),
          endTimeUnixNano: BigInt(span.endTimeUnixNano),
          attributes: attributesOf(span.attributes),
          events: (span.events ?? []).map((event) => ({
            name: event.name,
            timeUnixNano: BigInt(event.timeUnixNano),
            attributes: attributesOf(event.attributes),
          })),
          status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
          resource,
          scope: scopeSpans.scope?.name ?? '',
        });
      }
    }
  }
  return spans;
}

// --- OTLP/protobuf ------------------------------------------------------------------------
// A reader of protobuf's wire format written for the test, independent of the serialiser
// Kordon uses, that turns an ExportTraceServiceRequest into the JSON mapping's shape above
// (field numbers from opentelemetry-proto: trace/v1/trace.proto, common/v1/common.proto).

type Field = { number: number; wire: number; varint: bigint; bytes: Uint8Array };

function fieldsOf(buffer: Uint8Array): Field[] {
  const fields: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buffer.length) throw new Error('truncated varint');
      const byte = buffer[pos++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  const take = (n: number) => {
    if (pos + n > buffer.length) throw new Error('truncated field');
    const bytes = buffer.subarray(pos, pos + n);
    pos += n;
    return bytes;
  };
  while (pos < buffer.length) {
    const key = Number(varint());
    const number = key >>> 3;
    const wire = key & 7;
    const empty = new Uint8Array(0);
    if (wire === 0) fields.push({ number, wire, varint: varint(), bytes: empty });
    else if (wire === 1) fields.push({ number, wire, varint: 0n, bytes: take(8) });
    else if (wire === 2) fields.push({ number, wire, varint: 0n, bytes: take(Number(varint())) });
    else if (wire === 5) fields.push({ number, wire, varint: 0n, bytes: take(4) });
    else throw new Error(`wire type ${wire} not expected in OTLP traces`);
  }
  return fields;
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const fixed64 = (bytes: Uint8Array) => Buffer.from(bytes).readBigUInt64LE(0);
const all = (fields: Field[], number: number) => fields.filter((f) => f.number === number);
const first = (fields: Field[], number: number) => fields.find((f) => f.number === number);

function anyValueOf(bytes: Uint8Array): AnyValue {
  const value: AnyValue = {};
  for (const f of fieldsOf(bytes)) {
    if (f.number === 1) value.stringValue = text(f.bytes);
    else if (f.number === 2) value.boolValue = f.varint !== 0n;
    else if (f.number === 3) value.intValue = BigInt.asIntN(64, f.varint).toString();
    else if (f.number === 4) value.doubleValue = Buffer.from(f.bytes).readDoubleLE(0);
    else if (f.number === 5)
      value.arrayValue = { values: all(fieldsOf(f.bytes), 1).map((item) => anyValueOf(item.bytes)) };
    else if (f.number === 6)
      value.kvlistValue = { values: all(fieldsOf(f.bytes), 1).map((kv) => keyValueOf(kv.bytes)) };
    else if (f.number === 7) value.bytesValue = Buffer.from(f.bytes).toString('base64');
  }
  return value;
}

function keyValueOf(bytes: Uint8Array): KeyValue {
  const fields = fieldsOf(bytes);
  const key = first(fields, 1);
  const value = first(fields, 2);
  return { key: key ? text(key.bytes) : '', ...(value ? { value: anyValueOf(value.bytes) } : {}) };
}

const attributeList = (fields: Field[], number: number) =>
  all(fields, number).map((f) => keyValueOf(f.bytes));

/** Decodes an OTLP/protobuf trace export into the shape of its JSON mapping. */
export function decodeOtlpProtobuf(body: Uint8Array): ReceivedSpan[] {
  const request: ExportRequest = { resourceSpans: [] };
  for (const rs of all(fieldsOf(body), 1)) {
    const rsFields = fieldsOf(rs.bytes);
    const resource = first(rsFields, 1);
    request.resourceSpans?.push({
      resource: { attributes: resource ? attributeList(fieldsOf(resource.bytes), 1) : [] },
      scopeSpans: all(rsFields, 2).map((ss) => {
        const ssFields = fieldsOf(ss.bytes);
        const scope = first(ssFields, 1);
        const scopeName = scope ? first(fieldsOf(scope.bytes), 1) : undefined;
        return {
          scope: { name: scopeName ? text(scopeName.bytes) : '' },
          spans: all(ssFields, 2).map((spanField) => {
            const f = fieldsOf(spanField.bytes);
            const status = first(f, 15);
            const statusFields = status ? fieldsOf(status.bytes) : [];
            const parent = first(f, 4);
            return {
              traceId: hex(first(f, 1)?.bytes ?? new Uint8Array()),
              spanId: hex(first(f, 2)?.bytes ?? new Uint8Array()),
              ...(parent ? { parentSpanId: hex(parent.bytes) } : {}),
              name: text(first(f, 5)?.bytes ?? new Uint8Array()),
              kind: Number(first(f, 6)?.varint ?? 0n),
              startTimeUnixNano: fixed64(first(f, 7)?.bytes ?? new Uint8Array(8)).toString(),
              endTimeUnixNano: fixed64(first(f, 8)?.bytes ?? new Uint8Array(8)).toString(),
              attributes: attributeList(f, 9),
              events: all(f, 11).map((eventField) => {
                const e = fieldsOf(eventField.bytes);
                return {
                  name: text(first(e, 2)?.bytes ?? new Uint8Array()),
                  timeUnixNano: fixed64(first(e, 1)?.bytes ?? new Uint8Array(8)).toString(),
                  attributes: attributeList(e, 3),
                };
              }),
              status: {
                code: Number(first(statusFields, 3)?.varint ?? 0n),
                message: text(first(statusFields, 2)?.bytes ?? new Uint8Array()),
              },
            };
          }),
        };
      }),
    });
  }
  return spansOf(request);
}

/**
 * A real OTLP/HTTP receiver on 127.0.0.1: `POST /v1/traces` with an OTLP/JSON or
 * OTLP/protobuf body (by its content type) is decoded and kept; `keep: false` only drains and acknowledges (a no-op collector, for
 * benchmarks). Anything else is a 404 or a 400, so a wrong exporter setting fails loudly.
 */
export async function startOtlpReceiver(options: { keep?: boolean } = {}): Promise<OtlpReceiver> {
  const keep = options.keep ?? true;
  const bodies: string[] = [];
  const spans: ReceivedSpan[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      if (keep) chunks.push(chunk);
    });
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      if (keep) {
        const raw = Buffer.concat(chunks);
        // Strings are UTF-8 in both encodings: a secret would show in this text either way.
        const body = raw.toString('utf8');
        const type = String(req.headers['content-type']);
        try {
          if (type.startsWith('application/json')) spans.push(...decodeOtlpJson(body));
          else if (type.startsWith('application/x-protobuf')) spans.push(...decodeOtlpProtobuf(raw));
          else throw new Error(`content-type ${type}`);
          bodies.push(body);
        } catch (error) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
          return;
        }
      }
      // An empty ExportTraceServiceResponse, in the encoding of the request.
      if (String(req.headers['content-type']).startsWith('application/x-protobuf'))
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    bodies,
    spans: () => [...spans],
    waitFor: async (done, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!done([...spans])) {
        if (Date.now() > deadline)
          throw new Error(`spans not received in ${timeoutMs} ms: ${spans.length} so far`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return [...spans];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
