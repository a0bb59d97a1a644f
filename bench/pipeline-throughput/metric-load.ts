/**
 * Metric load for the collector: `series` gauge series, each given one data point per second,
 * sent as OTLP/HTTP protobuf in requests of `pointsPerRequest` points.
 *
 * Why not telemetrygen's metrics mode: one telemetrygen process writes one series (its workers
 * share their attributes), and its --unique-timeseries option appends an attribute per point to
 * an ever-growing list, so it slows down quadratically. A single series at 100,000 points/s is
 * not what Prometheus ingests either: it keeps one sample per millisecond per series and rejects
 * the rest as duplicates. Real load is many series, each sampled now and then, which is what
 * this sends.
 *
 * The requests are encoded once; each second only the timestamps and values are patched in
 * place, so the driver itself costs next to no CPU beside the collector it measures.
 */

type Bytes = Buffer;

function varint(value: number): Bytes {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** A length-delimited field (wire type 2). */
function field(number: number, body: Bytes): Bytes {
  return Buffer.concat([varint((number << 3) | 2), varint(body.length), body]);
}

const text = (number: number, value: string) => field(number, Buffer.from(value, 'utf8'));

/** KeyValue { key = 1; AnyValue value = 2 { string_value = 1 } } */
const stringAttribute = (key: string, value: string) =>
  Buffer.concat([text(1, key), field(2, text(1, value))]);

/** NumberDataPoint: time_unix_nano (3, fixed64) and as_double (4, double) first, so their offsets are fixed. */
function dataPoint(seriesId: string): Bytes {
  const fixed = Buffer.alloc(18);
  fixed[0] = (3 << 3) | 1;
  fixed[9] = (4 << 3) | 1;
  return Buffer.concat([fixed, field(7, stringAttribute('series', seriesId))]);
}

export interface MetricRequest {
  readonly body: Bytes;
  readonly points: number;
  /** Writes every point's timestamp and value. */
  stamp(timeNanos: bigint, value: number): void;
}

function encodeRequest(service: string, metricName: string, seriesIds: readonly string[]): MetricRequest {
  const pointBodies = seriesIds.map(dataPoint);
  const points = pointBodies.map((point) => field(1, point));
  const gaugeBody = Buffer.concat(points);
  const metric = Buffer.concat([text(1, metricName), field(5, gaugeBody)]);
  const scopeMetrics = Buffer.concat([field(1, text(1, 'bench/pipeline-throughput')), field(2, metric)]);
  const resource = field(1, stringAttribute('service.name', service));
  const body = field(1, Buffer.concat([field(1, resource), field(2, scopeMetrics)]));
  // The gauge's points are the last bytes of every enclosing message, hence of the request.
  const offsets: number[] = [];
  let at = body.length - gaugeBody.length;
  points.forEach((point, i) => {
    offsets.push(at + point.length - (pointBodies[i]?.length ?? 0));
    at += point.length;
  });
  return {
    body,
    points: seriesIds.length,
    stamp(timeNanos, value) {
      for (const offset of offsets) {
        body.writeBigUInt64LE(timeNanos, offset + 1);
        body.writeDoubleLE(value, offset + 10);
      }
    },
  };
}

export interface MetricLoadResult {
  sent: number;
  refused: number;
  /** Seconds in which not all requests went out within the second (the driver fell behind). */
  lateSeconds: number;
}

export interface MetricLoadOptions {
  endpoint: string;
  service: string;
  metricName: string;
  series: number;
  seconds: number;
  pointsPerRequest?: number;
  /** Requests in flight at once. */
  concurrency?: number;
}

/** Sends the load for `seconds` seconds; counts points accepted and points refused. */
export async function sendMetricLoad(options: MetricLoadOptions): Promise<MetricLoadResult> {
  const {
    endpoint,
    service,
    metricName,
    series,
    seconds,
    pointsPerRequest = 2_000,
    concurrency = 8,
  } = options;
  const requests: MetricRequest[] = [];
  for (let first = 0; first < series; first += pointsPerRequest) {
    const ids = Array.from({ length: Math.min(pointsPerRequest, series - first) }, (_, i) => `s${first + i}`);
    requests.push(encodeRequest(service, metricName, ids));
  }
  const result: MetricLoadResult = { sent: 0, refused: 0, lateSeconds: 0 };
  const started = Date.now();
  for (let second = 0; second < seconds; second += 1) {
    const timeNanos = BigInt(Date.now()) * 1_000_000n;
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const request = requests[next++] as MetricRequest;
        request.stamp(timeNanos, second);
        try {
          const response = await fetch(endpoint, {
            method: 'POST',
            headers: { 'content-type': 'application/x-protobuf' },
            body: request.body,
          });
          await response.body?.cancel();
          if (response.ok) result.sent += request.points;
          else result.refused += request.points;
        } catch {
          result.refused += request.points;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const wait = started + (second + 1) * 1000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    else result.lateSeconds += 1;
  }
  return result;
}
