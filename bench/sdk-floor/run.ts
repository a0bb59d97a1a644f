/**
 * The floor under any OpenTelemetry JS HTTP instrumentation: the CPU cost of one synchronous
 * metric record through the SDK (attribute hashing, aggregation lookup, bucket update), with a
 * cached attribute object, in a hot loop on one pinned core:
 *   taskset -c 0 node bench/sdk-floor/run.ts
 * In a served request the same call costs more (colder caches); see docs/benchmarks.md.
 */
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { httpDurationBuckets } from '../../libs/telemetry/src/hono.ts';

const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 3_600_000,
});
const meter = new MeterProvider({ readers: [reader] }).getMeter('sdk-floor');
const histogram = meter.createHistogram('http.server.request.duration', {
  advice: { explicitBucketBoundaries: httpDurationBuckets },
});
const counter = meter.createUpDownCounter('http.server.active_requests');
const attributes = Object.freeze({
  'http.request.method': 'GET',
  'url.scheme': 'http',
  'http.response.status_code': 200,
  'http.route': '/hello/:name',
});

function costMicros(work: (i: number) => void, iterations: number): number {
  for (let i = 0; i < iterations / 10; i += 1) work(i);
  const started = process.cpuUsage();
  for (let i = 0; i < iterations; i += 1) work(i);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / iterations;
}

const iterations = 2_000_000;
const record = costMicros((i) => histogram.record((i % 7) / 1000, attributes), iterations);
const add = costMicros(() => counter.add(1, attributes), iterations);
process.stdout.write(
  `one histogram.record with 4 attributes: ${record.toFixed(3)} µs\n` +
    `one upDownCounter.add with 4 attributes: ${add.toFixed(3)} µs\n`,
);
