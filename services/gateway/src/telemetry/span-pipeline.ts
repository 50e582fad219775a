/**
 * The spans of data-plane requests, made without the SDK's `Tracer` and `Span` objects.
 *
 * Why not the SDK's tracer: tracing every request with it cost 25-35% of the gateway's
 * throughput (docs/benchmarks.md). Its spans validate and copy every attribute (~21 µs for a
 * request's five spans measured alone; `npm run bench:tracing` measures these), and its
 * serialiser walks them twice more. Here a request's spans are plain objects of the SDK's
 * `ReadableSpan` shape, kept in the form the OTLP/protobuf encoder reads fastest (times in
 * ms, attributes in lists and shared blocks; the SDK's forms are made by getters). When the
 * request's root span ends the request goes to a `SpanPipeline` as `EndedSpans`, whose spans
 * are made when the pipeline asks: the server's OTLP http/protobuf pipeline makes and
 * encodes many requests' spans in one run; for OTLP http/json and gRPC they are made at once
 * and handed to the SDK's own batch processor and exporter. Sampling, resource, serialisers and exporters are
 * the SDK's; ids are Kordon's (trace-ids.ts).
 */
import {
  type Attributes,
  type AttributeValue,
  type HrTime,
  type Link,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  SpanStatusCode,
} from '@opentelemetry/api';
import { type InstrumentationScope, millisToHrTime } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, Sampler, TimedEvent } from '@opentelemetry/sdk-trace-base';

/** Where the spans of each sampled request go. */
export interface SpanPipeline {
  /** Decides for each request's root span (the configured `OTEL_TRACES_SAMPLER`). */
  readonly sampler: Sampler;
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  /**
   * Takes ended spans: a request's when its root ends (`EndedSpans`, made when the pipeline
   * asks), or one span that ended after its root. Must not throw and must not block: it
   * queues, and drops when full.
   */
  export(spans: readonly RecordedSpan[] | EndedSpans): void;
}

/**
 * The spans of an ended request, made when `make` is called (once): a pipeline that encodes
 * requests in runs makes their spans in the same run, where the code that makes them is
 * warm (docs/benchmarks.md, "Where the traced cost is").
 */
export interface EndedSpans {
  /** How many spans `make` returns. */
  readonly count: number;
  make(): readonly RecordedSpan[];
}

/** The spans `export` was given, made now if they were not yet. */
export function spansOf(spans: readonly RecordedSpan[] | EndedSpans): readonly RecordedSpan[] {
  return Array.isArray(spans) ? (spans as readonly RecordedSpan[]) : (spans as EndedSpans).make();
}

/** How many spans `export` was given, without making them. */
export function spanCountOf(spans: readonly RecordedSpan[] | EndedSpans): number {
  return Array.isArray(spans) ? spans.length : (spans as EndedSpans).count;
}

/** The empty list every span without events or links shares (frozen: it is never written). */
const NONE = Object.freeze([]) as never[];
const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });

/**
 * Attributes that recur together from request to request (a caller's ids, an upstream's
 * names), made once and shared by the spans of many requests. A pipeline may keep its own
 * encoding of them here: the OTLP/protobuf encoder then copies one run of bytes per block
 * instead of writing each attribute of each span again.
 */
export class AttributeBlock {
  readonly keys: readonly string[];
  readonly values: readonly AttributeValue[];
  /** These attributes as OTLP/protobuf span attributes (`Span.attributes`), made by the encoder at first use. */
  encoded: Uint8Array | undefined;

  constructor(attributes: Attributes) {
    const keys: string[] = [];
    const values: AttributeValue[] = [];
    for (const key in attributes) {
      const value = attributes[key];
      if (value === undefined) continue;
      keys.push(key);
      values.push(value);
    }
    this.keys = keys;
    this.values = values;
  }
}

/**
 * One span of a request, readable by the SDK's serialisers and exporters as they are. It
 * is only ever made for a sampled request; attributes are set by Kordon's own code (ids,
 * names, counts), so they are not re-validated here.
 */
export class RecordedSpan implements ReadableSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  readonly #pipeline: SpanPipeline;
  /** Start and end in epoch milliseconds (sub-millisecond digits): the OTLP encoder's input. */
  readonly startMs: number;
  endMs = 0;
  ended = false;
  status: SpanStatus = UNSET;
  /**
   * Attribute names and values side by side, in the order they were first set (the order
   * an object would enumerate them in). Arrays, because a span's attributes grow one by one
   * and an object grown past a dozen names that way becomes a slow dictionary.
   */
  attributeKeys: string[] = NONE;
  attributeValues: AttributeValue[] = NONE;
  /**
   * Shared blocks of attributes, which come before the others (in `attributes` and on the
   * wire). A name in a block is not set again on the same span.
   */
  attributeBlocks: AttributeBlock[] = NONE;
  /** Kordon's spans have no links; the array is shared until one is added (`addLink`). */
  links: Link[] = NONE;
  /** Shared and empty until the first event (most spans have none). */
  events: TimedEvent[] = NONE;
  readonly #context: SpanContext;

  constructor(
    pipeline: SpanPipeline,
    name: string,
    kind: SpanKind,
    context: SpanContext,
    parent: SpanContext | undefined,
    startMs: number,
    attributes?: Attributes,
  ) {
    this.name = name;
    this.kind = kind;
    this.#context = context;
    this.parentSpanContext = parent;
    this.#pipeline = pipeline;
    this.startMs = startMs;
    if (attributes) this.setAttributes(attributes);
  }

  // What is the same for every span is read from the prototype and the pipeline, not kept
  // in each span: a span is made for every step of every traced request.
  get resource(): Resource {
    return this.#pipeline.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this.#pipeline.scope;
  }

  get droppedAttributesCount(): number {
    return 0;
  }

  get droppedEventsCount(): number {
    return 0;
  }

  get droppedLinksCount(): number {
    return 0;
  }

  /** The attributes as an object, for the SDK's serialisers and exporters. */
  get attributes(): Attributes {
    const attributes: Attributes = {};
    for (const block of this.attributeBlocks)
      for (let i = 0; i < block.keys.length; i++) attributes[block.keys[i] as string] = block.values[i];
    const keys = this.attributeKeys;
    for (let i = 0; i < keys.length; i++) attributes[keys[i] as string] = this.attributeValues[i];
    return attributes;
  }

  // `[seconds, nanoseconds]` for the SDK's serialisers and exporters, made when they ask.
  get startTime(): HrTime {
    return millisToHrTime(this.startMs);
  }

  get endTime(): HrTime {
    return millisToHrTime(this.endMs);
  }

  get duration(): HrTime {
    return millisToHrTime(this.endMs - this.startMs);
  }

  spanContext(): SpanContext {
    return this.#context;
  }

  setAttribute(key: string, value: AttributeValue): void {
    if (this.ended) return;
    const at = this.attributeKeys.indexOf(key);
    if (at >= 0) this.attributeValues[at] = value;
    else {
      // Made at the first attribute, as long as that (many spans carry only shared blocks).
      if (this.attributeKeys === NONE) {
        this.attributeKeys = [key];
        this.attributeValues = [value];
        return;
      }
      this.attributeKeys.push(key);
      this.attributeValues.push(value);
    }
  }

  /** Adds a block of shared attributes (none of its names may be set on this span otherwise). */
  addAttributeBlock(block: AttributeBlock): void {
    if (this.ended) return;
    if (this.attributeBlocks === NONE) this.attributeBlocks = [block];
    else this.attributeBlocks.push(block);
  }

  setAttributes(attributes: Attributes): void {
    if (this.ended) return;
    for (const key in attributes) {
      const value = attributes[key];
      if (value !== undefined) this.setAttribute(key, value);
    }
  }

  addEvent(name: string, attributes: Attributes, epochMs: number): void {
    if (this.ended) return;
    if (this.events === NONE) this.events = [];
    this.events.push({ name, attributes, time: millisToHrTime(epochMs), droppedAttributesCount: 0 });
  }

  addLink(link: Link): void {
    if (this.ended) return;
    if (this.links === NONE) this.links = [];
    this.links.push(link);
  }

  setStatus(status: SpanStatus): void {
    if (!this.ended) this.status = status;
  }

  /** Ends the span at `epochMs` (never before its start); false when it had already ended. */
  end(epochMs: number): boolean {
    if (this.ended) return false;
    this.ended = true;
    this.endMs = Math.max(epochMs, this.startMs);
    return true;
  }
}
