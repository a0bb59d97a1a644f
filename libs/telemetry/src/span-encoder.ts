/**
 * OTLP/protobuf encoding of finished spans (an ExportTraceServiceRequest), for the SDK's own
 * gRPC and HTTP transports. It writes the same bytes as the SDK's serializer in one pass
 * instead of two (the SDK sizes the whole request before writing it), writes ids and strings
 * straight into one reused buffer, and keeps the encoding of what repeats from span to span:
 * the resource and scope of a batch, and attribute pairs such as `http.request.method=GET`.
 * At 100% sampling the SDK's serializer was the largest single cost of a traced request.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';

/** Protobuf wire types. */
const Wire = { Varint: 0, Fixed64: 1, LengthDelimited: 2, Fixed32: 5 } as const;
type Wire = (typeof Wire)[keyof typeof Wire];

const twoTo32 = 4_294_967_296;
/** Span and link flags: the context's trace flags, and that whether it is remote is known. */
const flagsHasIsRemote = 0x100;
const flagsIsRemote = 0x200;
const minInt64 = -(2 ** 63);
const maxInt64 = 2 ** 63;

/** The value of each ASCII hex digit; anything else counts as 0. */
const hexDigit = new Uint8Array(128);
for (let i = 0; i < 10; i++) hexDigit[48 + i] = i;
for (let i = 0; i < 6; i++) hexDigit[97 + i] = hexDigit[65 + i] = 10 + i;

/** A growable buffer with the few protobuf primitives that a trace request needs. */
class ProtoWriter {
  buffer: Buffer;
  pos = 0;

  constructor(initialSize: number) {
    this.buffer = Buffer.allocUnsafe(initialSize);
  }

  ensure(bytes: number): void {
    const needed = this.pos + bytes;
    if (needed <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.pos);
    this.buffer = grown;
  }

  tag(field: number, wire: Wire): void {
    this.varint((field << 3) | wire);
  }

  /** A non-negative integer below 2^32, the common case: lengths, tags, counts, enums. */
  varint(value: number): void {
    this.ensure(5);
    let v = value >>> 0;
    while (v > 127) {
      this.buffer[this.pos++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buffer[this.pos++] = v;
  }

  /** Any safe integer, negative ones as 64-bit two's complement (ten bytes), as protobuf's int64. */
  int64(value: number): void {
    if (value >= 0 && value < twoTo32) {
      this.varint(value);
      return;
    }
    const magnitude = Math.abs(value);
    let low = magnitude >>> 0;
    let high = Math.floor(magnitude / twoTo32) >>> 0;
    if (value < 0) {
      low = ~low >>> 0;
      high = ~high >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    this.ensure(10);
    while (high > 0 || low > 127) {
      this.buffer[this.pos++] = (low & 127) | 128;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    this.buffer[this.pos++] = low;
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.#uint32(value, this.pos);
    this.pos += 4;
  }

  /** Little-endian by hand: Buffer#writeUInt32LE checks its arguments on every call. */
  #uint32(value: number, at: number): void {
    const buffer = this.buffer;
    buffer[at] = value;
    buffer[at + 1] = value >>> 8;
    buffer[at + 2] = value >>> 16;
    buffer[at + 3] = value >>> 24;
  }

  double(value: number): void {
    this.ensure(8);
    this.buffer.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** Nanoseconds since the epoch as fixed64; seconds × 10^9 exceeds 2^53, so in two 32-bit halves. */
  time([seconds, nanos]: HrTime): void {
    const secondsHigh = Math.floor(seconds / 65_536);
    const secondsLow = seconds - secondsHigh * 65_536;
    const highPart = secondsHigh * 1e9; // × 2^16 still to come
    const highPartAbove16 = Math.floor(highPart / 65_536);
    // Exact in a double: each term stays below 2^53.
    const lowSum = secondsLow * 1e9 + nanos + (highPart - highPartAbove16 * 65_536) * 65_536;
    this.ensure(8);
    this.#uint32(lowSum >>> 0, this.pos);
    this.#uint32((highPartAbove16 + Math.floor(lowSum / twoTo32)) >>> 0, this.pos + 4);
    this.pos += 8;
  }

  string(value: string): void {
    const length = value.length;
    // Short ASCII strings, most of a span's, are copied faster by hand than by a native call.
    if (length < 48) {
      this.ensure(length + 1);
      const start = this.pos;
      this.buffer[this.pos++] = length;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code > 127) break;
        this.buffer[this.pos++] = code;
      }
      if (i === length) return;
      this.pos = start;
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    this.varint(bytes);
    this.ensure(bytes);
    this.pos += this.buffer.write(value, this.pos, bytes, 'utf8');
  }

  /** Bytes from a hex string (trace and span ids), decoded straight into the buffer by table. */
  hexBytes(hex: string): void {
    const bytes = hex.length >>> 1;
    this.varint(bytes);
    this.ensure(bytes);
    const buffer = this.buffer;
    for (let i = 0, p = this.pos; i < bytes; i++, p++) {
      buffer[p] =
        ((hexDigit[hex.charCodeAt(2 * i) & 127] ?? 0) << 4) |
        (hexDigit[hex.charCodeAt(2 * i + 1) & 127] ?? 0);
    }
    this.pos += bytes;
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.ensure(value.length);
    this.buffer.set(value, this.pos);
    this.pos += value.length;
  }

  /**
   * Starts a length-delimited message, reserving `reserve` bytes for its length; `end` moves
   * the content when the length needs more. Spans fit in two bytes (< 16 KiB) almost always.
   */
  begin(reserve: number): number {
    this.ensure(reserve);
    const at = this.pos;
    this.pos += reserve;
    return at;
  }

  end(at: number, reserve: number): void {
    const length = this.pos - at - reserve;
    const needed = varintSize(length);
    if (needed !== reserve) {
      this.ensure(needed - reserve);
      this.buffer.copy(this.buffer, at + needed, at + reserve, this.pos);
      this.pos += needed - reserve;
    }
    let v = length;
    let p = at;
    while (v > 127) {
      this.buffer[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buffer[p] = v;
  }

  /** A copy of what was written since `start`, to be written again later with `raw`. */
  copy(start: number): Buffer {
    return Buffer.from(this.buffer.subarray(start, this.pos));
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }
}

function varintSize(value: number): number {
  if (value < 128) return 1;
  if (value < 16_384) return 2;
  if (value < 2_097_152) return 3;
  if (value < 268_435_456) return 4;
  return 5;
}

function writeAnyValue(writer: ProtoWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      writer.tag(1, Wire.LengthDelimited);
      writer.string(value);
      return;
    case 'boolean':
      writer.tag(2, Wire.Varint);
      writer.varint(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= minInt64 && value < maxInt64) {
        writer.tag(3, Wire.Varint);
        writer.int64(value);
      } else {
        writer.tag(4, Wire.Fixed64);
        writer.double(value);
      }
      return;
    case 'object':
      if (value === null) return;
      if (value instanceof Uint8Array) {
        writer.tag(7, Wire.LengthDelimited);
        writer.bytes(value);
      } else if (Array.isArray(value)) {
        writer.tag(5, Wire.LengthDelimited);
        const array = writer.begin(1);
        for (const item of value as unknown[]) {
          writer.tag(1, Wire.LengthDelimited);
          const element = writer.begin(1);
          writeAnyValue(writer, item);
          writer.end(element, 1);
        }
        writer.end(array, 1);
      } else {
        writer.tag(6, Wire.LengthDelimited);
        const list = writer.begin(1);
        writeKeyValues(writer, value as Record<string, unknown>, 1);
        writer.end(list, 1);
      }
      return;
    default:
      // undefined and the like: an empty AnyValue, as the SDK writes it.
      return;
  }
}

function writeKeyValue(writer: ProtoWriter, field: number, key: string, value: unknown): void {
  writer.tag(field, Wire.LengthDelimited);
  const pair = writer.begin(1);
  writer.tag(1, Wire.LengthDelimited);
  writer.string(key);
  writer.tag(2, Wire.LengthDelimited);
  const anyValue = writer.begin(1);
  writeAnyValue(writer, value);
  writer.end(anyValue, 1);
  writer.end(pair, 1);
}

function writeKeyValues(writer: ProtoWriter, attributes: Record<string, unknown>, field: number): void {
  for (const key in attributes) {
    if (Object.hasOwn(attributes, key)) writeKeyValue(writer, field, key, attributes[key]);
  }
}

/** Span.attributes in the OTLP schema: the cache holds whole fields, tag included. */
const spanAttributesField = 9;
/** Distinct values kept per attribute key: ids and paths would otherwise fill the cache. */
const maxCachedValuesPerKey = 64;
const maxCachedKeys = 256;
/** Longer strings (messages, statements) are rarely repeated and would make the cache large. */
const maxCachedValueLength = 128;

/**
 * Encoded `KeyValue` fields of span attributes whose values repeat (methods, routes, status
 * codes, service names). A key that shows more distinct values than a route or status code
 * would is treated as unique per span and encoded each time. Bounded in both directions.
 */
type CacheableValue = string | number | boolean;

function isCacheable(value: unknown): value is CacheableValue {
  return (
    (typeof value === 'string' && value.length <= maxCachedValueLength) ||
    typeof value === 'number' ||
    typeof value === 'boolean'
  );
}

class AttributeCache {
  readonly #byKey = new Map<string, Map<CacheableValue, Buffer> | null>();

  write(writer: ProtoWriter, attributes: Attributes): void {
    for (const key in attributes) {
      if (!Object.hasOwn(attributes, key)) continue;
      const value = attributes[key];
      if (!isCacheable(value)) {
        writeKeyValue(writer, spanAttributesField, key, value);
        continue;
      }
      const values = this.#valuesOf(key);
      const cached = values?.get(value);
      if (cached !== undefined) {
        writer.raw(cached);
        continue;
      }
      const start = writer.pos;
      writeKeyValue(writer, spanAttributesField, key, value);
      if (values === undefined) continue;
      if (values.size < maxCachedValuesPerKey) values.set(value, writer.copy(start));
      else this.#byKey.set(key, null);
    }
  }

  /** Where this key's encoded pairs are kept; undefined once it has proved to be unique per span. */
  #valuesOf(key: string): Map<CacheableValue, Buffer> | undefined {
    let values = this.#byKey.get(key);
    if (values === undefined && this.#byKey.size < maxCachedKeys) {
      values = new Map();
      this.#byKey.set(key, values);
    }
    return values ?? undefined;
  }
}

function writeEvent(writer: ProtoWriter, event: TimedEvent): void {
  writer.tag(11, Wire.LengthDelimited);
  const at = writer.begin(1);
  writer.tag(1, Wire.Fixed64);
  writer.time(event.time);
  writer.tag(2, Wire.LengthDelimited);
  writer.string(event.name);
  if (event.attributes) writeKeyValues(writer, event.attributes, 3);
  writer.tag(4, Wire.Varint);
  writer.varint(event.droppedAttributesCount ?? 0);
  writer.end(at, 1);
}

function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | flagsHasIsRemote | (isRemote ? flagsIsRemote : 0);
}

type Resource = ReadableSpan['resource'];
type Scope = ReadableSpan['instrumentationScope'];

/** Enough for a batch of 512 server spans; grown when a batch needs more. */
const initialBufferBytes = 256 * 1024;
const maxKeptBufferBytes = 4 * 1024 * 1024;

export interface SpanEncoder {
  /** An ExportTraceServiceRequest holding these spans, grouped by resource and scope. */
  encode(spans: readonly ReadableSpan[]): Uint8Array;
}

export function createSpanEncoder(): SpanEncoder {
  const attributes = new AttributeCache();
  // Encoded once per resource and scope object: a service has one or two of each.
  const resources = new WeakMap<Resource, Buffer>();
  const scopes = new WeakMap<Scope, Buffer>();
  const writer = new ProtoWriter(initialBufferBytes);

  /** Writes what `write` writes, from the cache after the first time. */
  function writeOnce<K extends object>(cache: WeakMap<K, Buffer>, key: K, write: () => void): void {
    const encoded = cache.get(key);
    if (encoded !== undefined) {
      writer.raw(encoded);
      return;
    }
    const start = writer.pos;
    write();
    cache.set(key, writer.copy(start));
  }

  function writeResource(resource: Resource): void {
    writeOnce(resources, resource, () => {
      writer.tag(1, Wire.LengthDelimited);
      const at = writer.begin(2);
      writeKeyValues(writer, resource.attributes, 1);
      writer.tag(2, Wire.Varint);
      writer.varint(0);
      writer.end(at, 2);
    });
  }

  function writeScope(scope: Scope): void {
    writeOnce(scopes, scope, () => {
      writer.tag(1, Wire.LengthDelimited);
      const at = writer.begin(1);
      writer.tag(1, Wire.LengthDelimited);
      writer.string(scope.name);
      if (scope.version) {
        writer.tag(2, Wire.LengthDelimited);
        writer.string(scope.version);
      }
      writer.end(at, 1);
    });
  }

  function writeSpan(span: ReadableSpan): void {
    writer.tag(2, Wire.LengthDelimited);
    const at = writer.begin(2);
    const spanContext = span.spanContext();
    writer.tag(1, Wire.LengthDelimited);
    writer.hexBytes(spanContext.traceId);
    writer.tag(2, Wire.LengthDelimited);
    writer.hexBytes(spanContext.spanId);
    const traceState = spanContext.traceState?.serialize();
    if (traceState) {
      writer.tag(3, Wire.LengthDelimited);
      writer.string(traceState);
    }
    const parent = span.parentSpanContext;
    if (parent?.spanId) {
      writer.tag(4, Wire.LengthDelimited);
      writer.hexBytes(parent.spanId);
    }
    writer.tag(5, Wire.LengthDelimited);
    writer.string(span.name);
    // OTLP's SpanKind counts from UNSPECIFIED = 0; the API's from INTERNAL = 0.
    writer.tag(6, Wire.Varint);
    writer.varint(span.kind + 1);
    writer.tag(7, Wire.Fixed64);
    writer.time(span.startTime);
    writer.tag(8, Wire.Fixed64);
    writer.time(span.endTime);
    attributes.write(writer, span.attributes);
    writer.tag(10, Wire.Varint);
    writer.varint(span.droppedAttributesCount);
    for (const event of span.events) writeEvent(writer, event);
    writer.tag(12, Wire.Varint);
    writer.varint(span.droppedEventsCount);
    for (const link of span.links) {
      writer.tag(13, Wire.LengthDelimited);
      const linkAt = writer.begin(1);
      writer.tag(1, Wire.LengthDelimited);
      writer.hexBytes(link.context.traceId);
      writer.tag(2, Wire.LengthDelimited);
      writer.hexBytes(link.context.spanId);
      const linkTraceState = link.context.traceState?.serialize();
      if (linkTraceState) {
        writer.tag(3, Wire.LengthDelimited);
        writer.string(linkTraceState);
      }
      if (link.attributes) writeKeyValues(writer, link.attributes, 4);
      writer.tag(5, Wire.Varint);
      writer.varint(link.droppedAttributesCount ?? 0);
      writer.tag(6, Wire.Fixed32);
      writer.fixed32(spanFlags(link.context.traceFlags, link.context.isRemote));
      writer.end(linkAt, 1);
    }
    writer.tag(14, Wire.Varint);
    writer.varint(span.droppedLinksCount);
    writer.tag(15, Wire.LengthDelimited);
    const statusAt = writer.begin(1);
    if (span.status.message) {
      writer.tag(2, Wire.LengthDelimited);
      writer.string(span.status.message);
    }
    writer.tag(3, Wire.Varint);
    writer.varint(span.status.code);
    writer.end(statusAt, 1);
    writer.tag(16, Wire.Fixed32);
    writer.fixed32(spanFlags(spanContext.traceFlags, parent?.isRemote));
    writer.end(at, 2);
  }

  return {
    encode(spans) {
      // Grouped by object identity, as the SDK does: spans of one provider share them.
      const byResource = new Map<Resource, Map<Scope, ReadableSpan[]>>();
      for (const span of spans) {
        let byScope = byResource.get(span.resource);
        if (byScope === undefined) {
          byScope = new Map();
          byResource.set(span.resource, byScope);
        }
        const list = byScope.get(span.instrumentationScope);
        if (list === undefined) byScope.set(span.instrumentationScope, [span]);
        else list.push(span);
      }
      writer.pos = 0;
      for (const [resource, byScope] of byResource) {
        writer.tag(1, Wire.LengthDelimited);
        const resourceSpans = writer.begin(3);
        writeResource(resource);
        for (const [scope, scopeSpans] of byScope) {
          writer.tag(2, Wire.LengthDelimited);
          const scopeAt = writer.begin(3);
          writeScope(scope);
          for (const span of scopeSpans) writeSpan(span);
          if (scope.schemaUrl) {
            writer.tag(3, Wire.LengthDelimited);
            writer.string(scope.schemaUrl);
          }
          writer.end(scopeAt, 3);
        }
        if (resource.schemaUrl) {
          writer.tag(3, Wire.LengthDelimited);
          writer.string(resource.schemaUrl);
        }
        writer.end(resourceSpans, 3);
      }
      // A copy: the writer's buffer is reused by the next batch while this one is in flight.
      const request = writer.copy(0);
      // One batch of unusually large spans should not hold its buffer for the life of the service.
      if (writer.buffer.length > maxKeptBufferBytes) writer.buffer = Buffer.allocUnsafe(initialBufferBytes);
      return request;
    },
  };
}
