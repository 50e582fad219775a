/**
 * OTLP/protobuf encoding of request spans straight into one growing batch buffer.
 *
 * Why not the SDK's `ProtobufTraceSerializer` per request: measured in bench:gateway, it
 * cost ~70 µs a request (five spans: a size-estimating pass and a writing pass over every
 * attribute, the resource written again, a new buffer each call), a quarter of a request's
 * whole budget. Here the resource and scope are encoded once, each span is written once
 * into the batch's buffer, and the batch is framed as one `ExportTraceServiceRequest` when
 * it is sent, in place. Attributes that repeat from request to request are copied as the
 * bytes written the first time (`rememberedKeyValue`). The bytes are those the SDK's
 * serialiser writes for the same spans, field for field (`otlp-protobuf.unit.test.ts`
 * compares them), so the collector sees no difference.
 *
 * Field numbers: opentelemetry-proto, trace/v1/trace.proto and common/v1/common.proto.
 */
import { type AttributeBlock, RecordedSpan } from '@kordon/gateway';
import type { Attributes, HrTime, Link } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';

const LENGTH_DELIMITED = 2;
const VARINT = 0;
const FIXED64 = 1;
const FIXED32 = 5;
/** `Span.attributes`: the field most attributes are written to. */
const SPAN_ATTRIBUTES = 9;
/** Span.flags: the W3C trace flags, and "whether the parent is remote" is known (and if so, that it is). */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

/** Hex digit -> value, by char code (ids are validated hex by the API). */
const HEX = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

/** An id last written, as hex and as its length-prefixed bytes (ids of up to 16 bytes are remembered). */
interface LastId {
  hex: string;
  length: number;
  readonly bytes: Uint8Array;
}

/** A protobuf writer over one growing buffer; length prefixes are back-patched. */
class Writer {
  buffer: Buffer;
  pos = 0;
  /** The last trace id and parent span id written (`id`). */
  constructor(size = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  ensure(bytes: number): void {
    if (this.pos + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.pos + bytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.pos);
    this.buffer = grown;
  }

  tag(field: number, wire: number): void {
    const tag = (field << 3) | wire;
    if (tag >= 0x80) {
      this.varint(tag);
      return;
    }
    this.ensure(1);
    this.buffer[this.pos++] = tag;
  }

  /** A non-negative integer up to 2^53, or a negative one as int64 (ten bytes, two's complement). */
  varint(value: number): void {
    this.ensure(10);
    const buffer = this.buffer;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buffer[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buffer[this.pos++] = v;
      return;
    }
    let big = BigInt.asUintN(64, BigInt(Math.trunc(value)));
    while (big > 0x7fn) {
      buffer[this.pos++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    buffer[this.pos++] = Number(big);
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.buffer.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  double(value: number): void {
    this.ensure(8);
    this.buffer.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** `[seconds, nanoseconds]` as fixed64 nanoseconds since the epoch. */
  time(time: HrTime): void {
    this.secondsAndNanos(time[0], time[1]);
  }

  /** Epoch milliseconds, split into seconds and nanoseconds as the SDK's `millisToHrTime` does. */
  timeMs(epochMs: number): void {
    this.secondsAndNanos(Math.trunc(epochMs / 1000), Math.round((epochMs % 1000) * 1_000_000));
  }

  /**
   * Nanoseconds since the epoch as fixed64, exactly, without BigInt: 10^9 = 512 × 1,953,125,
   * and seconds × 1,953,125 stays below 2^53, so the product is split into 32-bit words
   * by a division by 2^23 (then × 512).
   */
  secondsAndNanos(seconds: number, nanos: number): void {
    const scaled = seconds * 1_953_125;
    let high = Math.floor(scaled / 0x800000);
    let low = (scaled - high * 0x800000) * 512 + nanos;
    if (low >= 0x100000000) {
      high += Math.floor(low / 0x100000000);
      low %= 0x100000000;
    }
    this.ensure(8);
    const buffer = this.buffer;
    let at = this.pos;
    for (let word = low >>> 0, i = 0; i < 4; i++, word >>>= 8) buffer[at++] = word & 0xff;
    for (let word = high >>> 0, i = 0; i < 4; i++, word >>>= 8) buffer[at++] = word & 0xff;
    this.pos = at;
  }

  /** UTF-8, length first; ASCII (ids, names, codes: nearly everything here) copied in JS, no native call. */
  string(value: string): void {
    const length = value.length;
    if (length < 0x80) {
      this.ensure(1 + length);
      const buffer = this.buffer;
      const at = this.pos;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code > 0x7f) break;
        buffer[at + 1 + i] = code;
      }
      if (i === length) {
        buffer[at] = length;
        this.pos = at + 1 + length;
        return;
      }
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    this.varint(bytes);
    this.ensure(bytes);
    this.pos += this.buffer.write(value, this.pos, bytes, 'utf8');
  }

  /**
   * A trace id, or a parent's span id, written as bytes: the last one of each is
   * remembered, since a request's spans follow each other with the same trace id and
   * (all but the root) the same parent.
   */
  id(value: string, last: LastId): void {
    if (value !== last.hex) {
      const at = this.pos;
      this.hex(value);
      if (value.length > 32) return; // not a valid id; written, not remembered
      last.hex = value;
      const length = this.pos - at;
      last.length = length;
      const buffer = this.buffer;
      for (let i = 0; i < length; i++) last.bytes[i] = buffer[at + i] as number;
      return;
    }
    const bytes = last.bytes;
    const length = last.length;
    this.ensure(length);
    const buffer = this.buffer;
    const at = this.pos;
    for (let i = 0; i < length; i++) buffer[at + i] = bytes[i] as number;
    this.pos = at + length;
  }

  readonly lastTraceId: LastId = { hex: '', length: 0, bytes: new Uint8Array(17) };
  readonly lastParentId: LastId = { hex: '', length: 0, bytes: new Uint8Array(17) };

  /** Trace and span ids: hex strings on the API side, raw bytes on the wire. */
  hex(value: string): void {
    const length = value.length >>> 1;
    this.varint(length);
    this.ensure(length);
    const buffer = this.buffer;
    for (let i = 0; i < length; i++)
      buffer[this.pos + i] =
        ((HEX[value.charCodeAt(2 * i)] as number) << 4) | (HEX[value.charCodeAt(2 * i + 1)] as number);
    this.pos += length;
  }

  /** Bytes encoded once (an attribute's key field), copied as they are. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.ensure(value.length);
    this.buffer.set(value, this.pos);
    this.pos += value.length;
  }

  /** What was written so far, as a buffer of its own (for bytes encoded once and kept). */
  copy(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.pos));
  }

  /** Reserves one byte for a length; returns where the content starts. */
  begin(): number {
    this.ensure(1);
    this.pos++;
    return this.pos;
  }

  /**
   * Reserves two bytes for a length, for a message that is usually 128 bytes to 16 KiB long (a
   * span): `endWide` then writes the length in place, where `end` would move the message.
   */
  beginWide(): number {
    this.ensure(2);
    this.pos += 2;
    return this.pos;
  }

  /** The length of what was written since `beginWide`, in the fewest bytes (as `end`). */
  endWide(start: number): void {
    const length = this.pos - start;
    if (length >= 0x80 && length < 0x4000) {
      this.buffer[start - 2] = (length & 0x7f) | 0x80;
      this.buffer[start - 1] = length >>> 7;
      return;
    }
    // Shorter or longer than two bytes of length: start from one byte and let `end` move it.
    this.buffer.copyWithin(start - 1, start, this.pos);
    this.pos -= 1;
    this.end(start - 1);
  }

  /** Writes the length of what was written since `begin`, moving it when the length needs more than a byte. */
  end(start: number): void {
    const length = this.pos - start;
    if (length < 0x80) {
      this.buffer[start - 1] = length;
      return;
    }
    let size = 1;
    for (let v = length >>> 7; v > 0; v >>>= 7) size++;
    this.ensure(size - 1);
    this.buffer.copyWithin(start - 1 + size, start, this.pos);
    const end = this.pos + size - 1;
    this.pos = start - 1;
    this.varint(length);
    this.pos = end;
  }
}

function writeAnyValue(w: Writer, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.tag(1, LENGTH_DELIMITED);
      w.string(value);
      return;
    case 'boolean':
      w.tag(2, VARINT);
      w.varint(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) {
        w.tag(3, VARINT);
        w.varint(value);
      } else {
        w.tag(4, FIXED64);
        w.double(value);
      }
      return;
    default:
      break;
  }
  if (value instanceof Uint8Array) {
    w.tag(7, LENGTH_DELIMITED);
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.tag(5, LENGTH_DELIMITED);
    const array = w.begin();
    for (const item of value) {
      w.tag(1, LENGTH_DELIMITED);
      const start = w.begin();
      writeAnyValue(w, item);
      w.end(start);
    }
    w.end(array);
  } else if (typeof value === 'object' && value !== null) {
    w.tag(6, LENGTH_DELIMITED);
    const list = w.begin();
    writeAttributes(w, value as Attributes, 1);
    w.end(list);
  }
}

/**
 * What is known of one attribute name: its `KeyValue.key` field (tag, length, bytes), and
 * whole attribute fields (tag, length, key and value: `keyValue`) already written for it. Most of a request's attributes
 * repeat from request to request (tenant and key ids, model, route, provider, status,
 * outcome): those are copied as bytes. A name seen with many values (a request id, a
 * response id) stops being remembered and is written each time.
 */
interface KeyEntry {
  readonly field: Uint8Array;
  /** The attribute field (`keyValue`) by string value; undefined once the name had too many values. */
  strings: Map<string, Uint8Array> | undefined;
  /** The string value last written, and its attribute field. */
  lastString: string | undefined;
  lastStringBytes: Uint8Array | undefined;
  /** Attribute fields by small integer value (and booleans at 0 and 1 of `booleans`). */
  readonly integers: Array<Uint8Array | undefined>;
  readonly booleans: Array<Uint8Array | undefined>;
}

/** Values remembered per attribute name before it counts as high-cardinality. */
const MAX_VALUES_PER_KEY = 256;
/** Strings longer than this are written each time (they are rarely repeated). */
const MAX_REMEMBERED_STRING = 128;
/** Integers below this are remembered (statuses, attempt numbers, small counts). */
const MAX_REMEMBERED_INTEGER = 1024;
/** Attribute names remembered: Kordon's are a small fixed set; others are written each time. */
const MAX_KEYS = 4096;

const keyEntries = new Map<string, KeyEntry>();

function keyEntry(key: string): KeyEntry {
  let entry = keyEntries.get(key);
  if (!entry) {
    const w = new Writer(64 + key.length * 3);
    w.tag(1, LENGTH_DELIMITED);
    w.string(key);
    entry = {
      field: w.copy(),
      strings: new Map(),
      lastString: undefined,
      lastStringBytes: undefined,
      integers: [],
      booleans: [],
    };
    if (keyEntries.size < MAX_KEYS) keyEntries.set(key, entry);
  }
  return entry;
}

/**
 * One attribute as a whole `Span.attributes` field: its tag (field 9, one byte), the
 * `KeyValue`'s length, the `KeyValue`. Span attributes are copied in one piece; another field
 * (an event's attributes) writes its own tag and copies from the second byte on.
 */
function keyValue(entry: KeyEntry, value: unknown): Uint8Array {
  const w = new Writer(64);
  w.tag(SPAN_ATTRIBUTES, LENGTH_DELIMITED);
  const whole = w.begin();
  w.raw(entry.field);
  w.tag(2, LENGTH_DELIMITED);
  const anyValue = w.begin();
  writeAnyValue(w, value);
  w.end(anyValue);
  w.end(whole);
  return w.copy();
}

/** A remembered `KeyValue` for this value, made now if it may be; undefined when it is written each time. */
function rememberedKeyValue(entry: KeyEntry, value: unknown): Uint8Array | undefined {
  switch (typeof value) {
    case 'string': {
      // Most names carry the value they had last time (an org's id, a model): no lookup then.
      if (value === entry.lastString) return entry.lastStringBytes;
      const strings = entry.strings;
      if (!strings || value.length > MAX_REMEMBERED_STRING) return undefined;
      let bytes = strings.get(value);
      if (!bytes) {
        if (strings.size >= MAX_VALUES_PER_KEY) {
          entry.strings = undefined;
          return undefined;
        }
        bytes = keyValue(entry, value);
        strings.set(value, bytes);
      }
      entry.lastString = value;
      entry.lastStringBytes = bytes;
      return bytes;
    }
    case 'number': {
      if (!(value >= 0 && value < MAX_REMEMBERED_INTEGER && Number.isInteger(value))) return undefined;
      let bytes = entry.integers[value];
      if (!bytes) {
        bytes = keyValue(entry, value);
        entry.integers[value] = bytes;
      }
      return bytes;
    }
    case 'boolean': {
      const index = value ? 1 : 0;
      let bytes = entry.booleans[index];
      if (!bytes) {
        bytes = keyValue(entry, value);
        entry.booleans[index] = bytes;
      }
      return bytes;
    }
    default:
      return undefined;
  }
}

function writeAttributes(w: Writer, attributes: Attributes | Record<string, unknown>, field: number): void {
  for (const key in attributes) {
    if (Object.hasOwn(attributes, key)) writeAttribute(w, key, attributes[key], field);
  }
}

/** Attributes kept as names and values side by side (`RecordedSpan`). */
function writeAttributeList(
  w: Writer,
  keys: readonly string[],
  values: readonly unknown[],
  field: number,
): void {
  for (let i = 0; i < keys.length; i++) writeAttribute(w, keys[i] as string, values[i], field);
}

/** A block's attributes as `Span.attributes` fields, written once and kept on the block. */
function encodedBlock(block: AttributeBlock): Uint8Array {
  const w = new Writer(256);
  writeAttributeList(w, block.keys, block.values, 9);
  return w.copy();
}

function writeAttribute(w: Writer, key: string, value: unknown, field: number): void {
  const entry = keyEntry(key);
  const remembered = rememberedKeyValue(entry, value);
  if (remembered) {
    if (field === SPAN_ATTRIBUTES) w.raw(remembered);
    else {
      w.tag(field, LENGTH_DELIMITED);
      w.raw(remembered.subarray(1));
    }
    return;
  }
  w.tag(field, LENGTH_DELIMITED);
  const keyValue = w.begin();
  w.raw(entry.field);
  w.tag(2, LENGTH_DELIMITED);
  const anyValue = w.begin();
  writeAnyValue(w, value);
  w.end(anyValue);
  w.end(keyValue);
}

function writeSpan(w: Writer, span: ReadableSpan): void {
  const context = span.spanContext();
  w.tag(1, LENGTH_DELIMITED);
  w.id(context.traceId, w.lastTraceId);
  w.tag(2, LENGTH_DELIMITED);
  w.hex(context.spanId);
  const traceState = context.traceState?.serialize();
  if (traceState) {
    w.tag(3, LENGTH_DELIMITED);
    w.string(traceState);
  }
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, LENGTH_DELIMITED);
    w.id(parent.spanId, w.lastParentId);
  }
  // The API's kinds start at INTERNAL = 0; OTLP's at UNSPECIFIED = 0.
  const kind = span.kind == null ? 0 : span.kind + 1;
  w.raw(nameAndKind(span.name, kind));
  // Kordon's own spans keep times in ms and attributes in lists and blocks (span-pipeline.ts).
  if (span instanceof RecordedSpan) {
    w.tag(7, FIXED64);
    w.timeMs(span.startMs);
    w.tag(8, FIXED64);
    w.timeMs(span.endMs);
    // Indexed loops here and below: `for...of` makes an iterator per loop on this path.
    const blocks = span.attributeBlocks;
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i] as AttributeBlock;
      block.encoded ??= encodedBlock(block);
      w.raw(block.encoded);
    }
    writeAttributeList(w, span.attributeKeys, span.attributeValues, 9);
  } else {
    w.tag(7, FIXED64);
    w.time(span.startTime);
    w.tag(8, FIXED64);
    w.time(span.endTime);
    writeAttributes(w, span.attributes, 9);
  }
  const events = span.events;
  const links = span.links;
  if (
    events.length === 0 &&
    links.length === 0 &&
    !span.status.message &&
    span.droppedAttributesCount === 0 &&
    span.droppedEventsCount === 0 &&
    span.droppedLinksCount === 0
  ) {
    // Nearly every request span: nothing dropped, no events or links, a status without a message.
    w.raw(plainTail(span.status.code, flagsOf(context.traceFlags, parent?.isRemote)));
    return;
  }
  w.tag(10, VARINT);
  w.varint(span.droppedAttributesCount);
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as TimedEvent;
    w.tag(11, LENGTH_DELIMITED);
    const start = w.begin();
    w.tag(1, FIXED64);
    w.time(event.time);
    w.tag(2, LENGTH_DELIMITED);
    w.string(event.name);
    if (event.attributes) writeAttributes(w, event.attributes, 3);
    w.tag(4, VARINT);
    w.varint(event.droppedAttributesCount ?? 0);
    w.end(start);
  }
  w.tag(12, VARINT);
  w.varint(span.droppedEventsCount);
  for (let i = 0; i < links.length; i++) {
    const link = links[i] as Link;
    w.tag(13, LENGTH_DELIMITED);
    const start = w.begin();
    w.tag(1, LENGTH_DELIMITED);
    w.hex(link.context.traceId);
    w.tag(2, LENGTH_DELIMITED);
    w.hex(link.context.spanId);
    const linkState = link.context.traceState?.serialize();
    if (linkState) {
      w.tag(3, LENGTH_DELIMITED);
      w.string(linkState);
    }
    if (link.attributes) writeAttributes(w, link.attributes, 4);
    w.tag(5, VARINT);
    w.varint(link.droppedAttributesCount ?? 0);
    w.tag(6, FIXED32);
    w.fixed32(flagsOf(link.context.traceFlags, link.context.isRemote));
    w.end(start);
  }
  w.tag(14, VARINT);
  w.varint(span.droppedLinksCount);
  w.tag(15, LENGTH_DELIMITED);
  const status = w.begin();
  if (span.status.message) {
    w.tag(2, LENGTH_DELIMITED);
    w.string(span.status.message);
  }
  w.tag(3, VARINT);
  w.varint(span.status.code);
  w.end(status);
  w.tag(16, FIXED32);
  w.fixed32(flagsOf(context.traceFlags, parent?.isRemote));
}

/** `Span.name` and `Span.kind` fields, written once per name (Kordon's span names are a few). */
const nameFields = new Map<string, { kind: number; bytes: Uint8Array }>();

function nameAndKind(name: string, kind: number): Uint8Array {
  const known = nameFields.get(name);
  if (known?.kind === kind) return known.bytes;
  const w = new Writer(64 + name.length * 3);
  w.tag(5, LENGTH_DELIMITED);
  w.string(name);
  if (kind !== 0) {
    w.tag(6, VARINT);
    w.varint(kind);
  }
  const bytes = w.copy();
  if (nameFields.size < 1024) nameFields.set(name, { kind, bytes });
  return bytes;
}

/**
 * The fields after a span's attributes when nothing was dropped and there are no events or
 * links: the three dropped counts (0), the status (its code, no message) and the flags,
 * written once per status code and flags.
 */
const plainTails = new Map<number, Uint8Array>();

function plainTail(code: number, flags: number): Uint8Array {
  const key = code * 0x100000000 + flags;
  let bytes = plainTails.get(key);
  if (!bytes) {
    const w = new Writer(32);
    w.tag(10, VARINT);
    w.varint(0);
    w.tag(12, VARINT);
    w.varint(0);
    w.tag(14, VARINT);
    w.varint(0);
    w.tag(15, LENGTH_DELIMITED);
    const status = w.begin();
    w.tag(3, VARINT);
    w.varint(code);
    w.end(status);
    w.tag(16, FIXED32);
    w.fixed32(flags);
    bytes = w.copy();
    if (plainTails.size < 64) plainTails.set(key, bytes);
  }
  return bytes;
}

const flagsOf = (traceFlags: number, remote: boolean | undefined) =>
  (traceFlags & 0xff) | HAS_IS_REMOTE | (remote ? IS_REMOTE : 0);

/** The parts of a batch around its spans, encoded once: the same for every batch. */
interface Framing {
  /** `ResourceSpans.resource` with its tag. */
  resource: Buffer;
  /** `ScopeSpans.scope` with its tag. */
  scope: Buffer;
  /** `ScopeSpans.schema_url` with its tag, or empty. */
  scopeSchemaUrl: Buffer;
  /** `ResourceSpans.schema_url` with its tag, or empty. */
  resourceSchemaUrl: Buffer;
}

function encodeFraming(resource: Resource, scope: InstrumentationScope): Framing {
  const w = new Writer(1024);
  const taken = () => {
    const bytes = w.copy();
    w.pos = 0;
    return bytes;
  };
  w.tag(1, LENGTH_DELIMITED);
  const r = w.begin();
  writeAttributes(w, resource.attributes, 1);
  w.tag(2, VARINT);
  w.varint(0);
  w.end(r);
  const resourceBytes = taken();
  w.tag(1, LENGTH_DELIMITED);
  const s = w.begin();
  w.tag(1, LENGTH_DELIMITED);
  w.string(scope.name);
  if (scope.version) {
    w.tag(2, LENGTH_DELIMITED);
    w.string(scope.version);
  }
  const scoped = scope as InstrumentationScope & { attributes?: Attributes; droppedAttributesCount?: number };
  if (scoped.attributes) writeAttributes(w, scoped.attributes, 3);
  if (scoped.droppedAttributesCount) {
    w.tag(4, VARINT);
    w.varint(scoped.droppedAttributesCount);
  }
  w.end(s);
  const scopeBytes = taken();
  const schemaUrl = (url: string | undefined) => {
    if (url) {
      w.tag(3, LENGTH_DELIMITED);
      w.string(url);
    }
    return taken();
  };
  return {
    resource: resourceBytes,
    scope: scopeBytes,
    scopeSchemaUrl: schemaUrl(scope.schemaUrl),
    resourceSchemaUrl: schemaUrl(resource.schemaUrl),
  };
}

/**
 * The spans of one batch, all of one resource and instrumentation scope, as the
 * `ExportTraceServiceRequest` that carries them.
 *
 * Spans are written after room left for the batch's head (resource, scope and the two
 * lengths around them), so a batch is framed where it lies: `take` copies nothing and
 * allocates nothing. Two buffers take turns, so the bytes `take` returns stay as they are
 * while the next batch is written, until the following `take`.
 */
export class OtlpTraceBatch {
  readonly #framing: Framing;
  /** Room before the spans: the head, and two length prefixes of at most 10 bytes each. */
  readonly #headRoom: number;
  #spans: Writer;
  #spare: Writer;
  #count = 0;

  constructor(resource: Resource, scope: InstrumentationScope) {
    this.#framing = encodeFraming(resource, scope);
    this.#headRoom = 2 * 11 + this.#framing.resource.length + this.#framing.scope.length;
    this.#spans = this.#writer();
    this.#spare = this.#writer();
  }

  #writer(): Writer {
    const writer = new Writer();
    writer.pos = this.#headRoom;
    return writer;
  }

  /** Spans written so far. */
  get size(): number {
    return this.#count;
  }

  /** Adds spans; when one cannot be encoded (it throws), none of them is added. */
  add(spans: readonly ReadableSpan[]): void {
    const w = this.#spans;
    const mark = w.pos;
    try {
      for (let i = 0; i < spans.length; i++) {
        w.tag(2, LENGTH_DELIMITED);
        const start = w.beginWide();
        writeSpan(w, spans[i] as ReadableSpan);
        w.endWide(start);
      }
    } catch (error) {
      // A half-written span would corrupt the whole batch: back to where this call began.
      w.pos = mark;
      throw error;
    }
    this.#count += spans.length;
  }

  /**
   * The batch as one `ExportTraceServiceRequest`; the batch starts empty again. The bytes
   * are valid until the next `take` (the exporter sends one batch at a time).
   */
  take(): Uint8Array {
    const w = this.#spans;
    const out = this.#frame();
    // The other buffer is written next; one that a huge batch grew is not kept.
    this.#spans = this.#spare.buffer.length > 8 * 1024 * 1024 ? this.#writer() : this.#spare;
    this.#spans.pos = this.#headRoom;
    this.#spare = w;
    this.#count = 0;
    return out;
  }

  /**
   * The batch as `take` gives it, but a copy of its own, and the buffer written again from
   * empty: for a full batch sealed while the bytes of the last `take` are still being sent.
   */
  takeCopy(): Uint8Array {
    const framed = this.#frame();
    // A copy (the buffer may be a Node Buffer, whose `slice` is a view).
    const out = new Uint8Array(framed.length);
    out.set(framed);
    this.#spans.pos = this.#headRoom;
    this.#count = 0;
    return out;
  }

  /** Frames the spans written where they lie: the head before them, the tail after. */
  #frame(): Uint8Array {
    const framing = this.#framing;
    const w = this.#spans;
    const spansLength = w.pos - this.#headRoom;
    // ExportTraceServiceRequest { 1: ResourceSpans { 1: resource, 2: ScopeSpans { 1: scope,
    // 2: spans..., 3: schema_url }, 3: schema_url } }
    w.raw(framing.scopeSchemaUrl);
    w.raw(framing.resourceSchemaUrl);
    const end = w.pos;
    const scopeSpansLength = framing.scope.length + spansLength + framing.scopeSchemaUrl.length;
    const scopeSpansHead = prefix(2, scopeSpansLength);
    const resourceSpansLength =
      framing.resource.length + scopeSpansHead.length + scopeSpansLength + framing.resourceSchemaUrl.length;
    const resourceSpansHead = prefix(1, resourceSpansLength);
    // The head, written backwards so that it ends where the spans begin.
    let at = this.#headRoom;
    for (const part of [framing.scope, scopeSpansHead, framing.resource, resourceSpansHead]) {
      at -= part.length;
      w.buffer.set(part, at);
    }
    return w.buffer.subarray(at, end);
  }
}

/** A length-delimited field's tag and length. */
function prefix(field: number, length: number): Uint8Array {
  const head = new Writer(16);
  head.tag(field, LENGTH_DELIMITED);
  head.varint(length);
  return head.buffer.subarray(0, head.pos);
}
