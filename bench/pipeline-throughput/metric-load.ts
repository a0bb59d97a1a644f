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
 * place (../otlp-load.ts), so the driver itself costs next to no CPU beside the collector it
 * measures.
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
} from '../otlp-load.ts';

/** NumberDataPoint: time_unix_nano (3, fixed64) and as_double (4, double) first, so their offsets are fixed. */
function dataPoint(seriesId: string): Bytes {
  const fixed = Buffer.alloc(18);
  fixed[0] = (3 << 3) | 1;
  fixed[9] = (4 << 3) | 1;
  return Buffer.concat([fixed, field(7, stringAttribute('series', seriesId))]);
}

function encodeRequest(service: string, metricName: string, seriesIds: readonly string[]): LoadRequest {
  const pointBodies = seriesIds.map(dataPoint);
  const points = pointBodies.map((point) => field(1, point));
  const metric = Buffer.concat([text(1, metricName), field(5, Buffer.concat(points))]);
  const scopeMetrics = Buffer.concat([field(1, text(1, 'bench/pipeline-throughput')), field(2, metric)]);
  const resource = field(1, stringAttribute('service.name', service));
  const body = field(1, Buffer.concat([field(1, resource), field(2, scopeMetrics)]));
  const offsets = trailingItemOffsets(body, points, pointBodies);
  return {
    body,
    items: seriesIds.length,
    // The time the request leaves, and the second of the load as the value.
    stamp(second) {
      const timeNanos = BigInt(Date.now()) * 1_000_000n;
      for (const offset of offsets) {
        body.writeBigUInt64LE(timeNanos, offset + 1);
        body.writeDoubleLE(second, offset + 10);
      }
    },
  };
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
export function sendMetricLoad(options: MetricLoadOptions): Promise<LoadResult> {
  const {
    endpoint,
    service,
    metricName,
    series,
    seconds,
    pointsPerRequest = 2_000,
    concurrency = 8,
  } = options;
  const requests: LoadRequest[] = [];
  for (let first = 0; first < series; first += pointsPerRequest) {
    const ids = Array.from({ length: Math.min(pointsPerRequest, series - first) }, (_, i) => `s${first + i}`);
    requests.push(encodeRequest(service, metricName, ids));
  }
  return sendEverySecond(endpoint, requests, seconds, concurrency);
}
