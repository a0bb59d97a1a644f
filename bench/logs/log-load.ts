/**
 * Log load for the collector past what telemetrygen can offer on this machine: OTLP/HTTP
 * protobuf requests of `recordsPerRequest` records, each like the api's "execution requested"
 * (body, severity, three attributes, a trace and span id), `rate` records a second.
 *
 * Why not telemetrygen alone: it builds, encodes and sends every record through the Go SDK, which
 * cost it 9 µs of CPU a record in this benchmark's first run (0.83 of a core at 90,000/s), more
 * than the collector and VictoriaLogs together (8 µs); on two cores it runs out of CPU for itself
 * before the pipeline bends. Here the requests are encoded once; each second only the timestamps
 * are patched in place, as bench/pipeline-throughput/metric-load.ts does for data points (both
 * through ../otlp-load.ts).
 */
import {
  type Bytes,
  field,
  type LoadRequest,
  type LoadResult,
  sendEverySecond,
  stringAttribute,
  text,
  trailingItemOffsets,
  varint,
} from '../otlp-load.ts';

const traceId = Buffer.from('4bf92f3577b34da6a3ce929d0e0e4736', 'hex');
const spanId = Buffer.from('00f067aa0ba902b7', 'hex');

/**
 * LogRecord: time_unix_nano (1, fixed64) and observed_time_unix_nano (11, fixed64) first, so
 * their offsets are fixed; then severity, body, attributes, flags and the span's ids.
 */
function logRecord(executionId: string): Bytes {
  const times = Buffer.alloc(18);
  times[0] = (1 << 3) | 1;
  times[9] = (11 << 3) | 1;
  // flags (8, fixed32): sampled.
  const flags = Buffer.from([(8 << 3) | 5, 1, 0, 0, 0]);
  return Buffer.concat([
    times,
    // severity_number (2, varint): INFO.
    Buffer.concat([varint(2 << 3), varint(9)]),
    text(3, 'info'),
    field(5, text(1, 'execution requested')),
    field(6, stringAttribute('executionId', executionId)),
    field(6, stringAttribute('pipelineId', 'pl-momentum-btcusd')),
    field(6, stringAttribute('triggerMode', 'manual')),
    flags,
    field(9, traceId),
    field(10, spanId),
  ]);
}

function encodeRequest(service: string, executionIds: readonly string[]): LoadRequest {
  const recordBodies = executionIds.map(logRecord);
  const records = recordBodies.map((record) => field(2, record));
  const scopeLogs = Buffer.concat([field(1, text(1, 'bench/logs')), ...records]);
  const resource = field(1, stringAttribute('service.name', service));
  const body = field(1, Buffer.concat([field(1, resource), field(2, scopeLogs)]));
  const offsets = trailingItemOffsets(body, records, recordBodies);
  return {
    body,
    items: executionIds.length,
    // The time the request leaves: the freshness of what it carries starts there.
    stamp() {
      const timeNanos = BigInt(Date.now()) * 1_000_000n;
      for (const offset of offsets) {
        body.writeBigUInt64LE(timeNanos, offset + 1);
        body.writeBigUInt64LE(timeNanos, offset + 10);
      }
    },
  };
}

export interface LogLoadOptions {
  endpoint: string;
  service: string;
  rate: number;
  seconds: number;
  recordsPerRequest?: number;
  /** Requests in flight at once. */
  concurrency?: number;
}

/**
 * Encodes the load (a second's worth of requests, which takes a second or two at 100,000
 * records: not part of the measured time) and returns what sends it for `seconds` seconds,
 * counting records accepted and records refused.
 */
export function prepareLogLoad(options: LogLoadOptions): () => Promise<LoadResult> {
  const { endpoint, service, rate, seconds, recordsPerRequest = 512, concurrency = 8 } = options;
  const requests: LoadRequest[] = [];
  for (let first = 0; first < rate; first += recordsPerRequest) {
    const ids = Array.from(
      { length: Math.min(recordsPerRequest, rate - first) },
      (_, i) => `00000000-0000-4000-8000-${String(first + i).padStart(12, '0')}`,
    );
    requests.push(encodeRequest(service, ids));
  }
  return () => sendEverySecond(endpoint, requests, seconds, concurrency);
}
