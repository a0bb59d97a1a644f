/**
 * OpenTelemetry log records: what a call of the library's logger becomes, and the LoggerProvider
 * that takes it (and the records of any other log bridge, such as pino's instrumentation) to
 * the exporters. The provider carries the service's resource; the SDK takes trace_id, span_id
 * and trace_flags from the context each record is emitted in.
 */
import { inspect } from 'node:util';
import {
  type AnyValue,
  type Attributes,
  type Context,
  type LogRecord,
  type MeterProvider,
  SeverityNumber,
} from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import {
  LoggerProvider,
  type LogRecordProcessor,
  type ReadableLogRecord,
  type ReadWriteLogRecord,
} from '@opentelemetry/sdk-logs';
import type { LogLevel, LogRecordLimits } from './config.ts';

const severityNumbers: Record<LogLevel, SeverityNumber> = {
  debug: SeverityNumber.DEBUG,
  info: SeverityNumber.INFO,
  warn: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
};

/**
 * For JSON.stringify: what the JSON line shows of values that JSON has no form for. An Error
 * keeps its type, message and stack (its own properties are not enumerable: `{}` otherwise); a
 * bigint becomes its decimal digits (JSON.stringify would throw).
 */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { type: value.name, message: value.message, stack: value.stack };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * What the JSON line and the record show of a value JSON cannot write (one with a cycle): Node's
 * own rendering, which marks the cycle, rather than an exception in the caller's code.
 */
export function unserialisable(value: unknown): string {
  return inspect(value, { depth: 4, breakLength: Number.POSITIVE_INFINITY });
}

/**
 * A field as an attribute value: as the JSON line shows it, so that both outputs agree. Objects
 * go through JSON (toJSON, Dates as ISO strings, nested Errors as above).
 */
function attributeValue(value: unknown): AnyValue {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'object':
      if (value === null) return null;
      try {
        return JSON.parse(JSON.stringify(value, jsonReplacer)) as AnyValue;
      } catch {
        return unserialisable(value);
      }
    default:
      // undefined, functions and symbols: JSON leaves them out, and so do attributes.
      return undefined;
  }
}

/**
 * One call of the logger as a log record: the message is the body, the fields are attributes,
 * and the first Error among them is the record's exception, which the SDK records as
 * `exception.type`, `exception.message` and `exception.stacktrace`, as the conventions ask of
 * logs (further Errors are attributes in the JSON line's form). The context is given, not left to
 * the SDK to find: it is the caller's, with the span the record belongs to.
 */
export function logRecordOf(
  level: LogLevel,
  message: string,
  fields: Record<string, unknown>,
  timestamp: number,
  context: Context,
): LogRecord {
  const attributes: Attributes = {};
  let exception: Error | undefined;
  for (const [key, value] of Object.entries(fields)) {
    if (value instanceof Error && exception === undefined) {
      exception = value;
      continue;
    }
    const attribute = attributeValue(value);
    if (attribute !== undefined) attributes[key] = attribute;
  }
  return {
    timestamp,
    severityNumber: severityNumbers[level],
    // As the source knows it, and as the JSON line's `level` says.
    severityText: level,
    body: message,
    attributes,
    ...(exception ? { exception } : {}),
    context,
  };
}

/**
 * Cuts string bodies to `limit` characters, before any other processor sees the record (the SDK
 * lets a processor change a record during onEmit). With the SDK's attribute limits, this bounds
 * what one record can hold, whoever emitted it: this library's logger, pino's instrumentation or
 * any other user of the provider. Other bodies (maps, bytes) are left as given: no bridge here
 * makes them.
 */
class BodyLengthLimit implements LogRecordProcessor {
  readonly #limit: number;
  constructor(limit: number) {
    this.#limit = limit;
  }
  onEmit(record: ReadWriteLogRecord): void {
    if (typeof record.body === 'string' && record.body.length > this.#limit) {
      record.setBody(record.body.slice(0, this.#limit));
    }
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Characters of strings, 8 bytes a number: what a value holds, about, in memory and on the wire. */
function valueSize(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (typeof value === 'number' || typeof value === 'boolean') return 8;
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + valueSize(item), 0);
  if (typeof value === 'object' && value !== null) {
    let size = 0;
    for (const [key, item] of Object.entries(value)) size += key.length + valueSize(item);
    return size;
  }
  return 0;
}

/**
 * A record's size for the retry buffer's bound: body and attributes, plus its fixed part
 * (timestamps, ids, severity; resource and scope are shared by all records).
 */
export function estimatedSize(record: ReadableLogRecord): number {
  let size = 100 + valueSize(record.body);
  for (const [key, value] of Object.entries(record.attributes)) size += key.length + valueSize(value);
  return size;
}

export interface LoggerProviderSettings {
  resource: Resource;
  limits: LogRecordLimits;
  processors: LogRecordProcessor[];
  /** Receives `otel.sdk.log.created`, the records emitted. */
  selfObservability: MeterProvider;
}

export function createLoggerProvider(options: LoggerProviderSettings): LoggerProvider {
  const { attributeCountLimit, attributeValueLengthLimit, bodyLengthLimit } = options.limits;
  return new LoggerProvider({
    resource: options.resource,
    logRecordLimits: { attributeCountLimit, attributeValueLengthLimit },
    processors: [new BodyLengthLimit(bodyLengthLimit), ...options.processors],
    meterProvider: options.selfObservability,
  });
}
