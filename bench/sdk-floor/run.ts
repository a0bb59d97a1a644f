/**
 * The floor under any OpenTelemetry JS HTTP instrumentation: the CPU cost of the SDK calls one
 * request makes, each in a hot loop on one pinned core:
 *   taskset -c 0 node bench/sdk-floor/run.ts
 * Metrics: one synchronous record through the SDK (attribute hashing, aggregation lookup,
 * bucket update) with a cached attribute object, against a record into a series that
 * libs/telemetry aggregates itself. Traces: one span started and ended through a batch span
 * processor whose exporter drops the batch, the middleware's work on a recorded span, a
 * non-recording span (what an unsampled request costs), the OTLP protobuf encoding of a span
 * (the SDK's serializer and ours), and the ids of a root span (the SDK's generator and ours). In a served request the same calls cost more (colder
 * caches); see docs/benchmarks.md.
 */
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode } from '@opentelemetry/core';
// The encoder that the SDK's OTLP trace exporters run on every batch; ours replaces it.
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  InMemorySpanExporter,
  RandomIdGenerator,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { AggregatedHistograms } from '../../libs/telemetry/src/histograms.ts';
import { buckets } from '../../libs/telemetry/src/catalog/define.ts';
import { BlockRandomIdGenerator } from '../../libs/telemetry/src/ids.ts';
import { createSpanEncoder } from '../../libs/telemetry/src/span-encoder.ts';

function costMicros(work: (i: number) => void, iterations: number): number {
  for (let i = 0; i < iterations / 10; i += 1) work(i);
  const started = process.cpuUsage();
  for (let i = 0; i < iterations; i += 1) work(i);
  const used = process.cpuUsage(started);
  return (used.user + used.system) / iterations;
}

const results: [string, number][] = [];

// Metrics.
const histograms = new AggregatedHistograms({ name: 'sdk-floor' });
const reader = histograms.attach(
  new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  }),
);
const meter = new MeterProvider({ readers: [reader] }).getMeter('sdk-floor');
const histogram = meter.createHistogram('http.server.request.duration', {
  advice: { explicitBucketBoundaries: [...buckets.http] },
});
const counter = meter.createUpDownCounter('http.server.active_requests');
const attributes = Object.freeze({
  'http.request.method': 'GET',
  'url.scheme': 'http',
  'http.response.status_code': 200,
  'http.route': '/hello/:name',
});
const series = histograms
  .histogram({ name: 'aggregated.duration', unit: 's', description: '', boundaries: buckets.http })
  .series(attributes);
const metricIterations = 1_000_000;
results.push(
  [
    'SDK histogram.record, 4 attributes',
    costMicros((i) => histogram.record((i % 7) / 1000, attributes), metricIterations),
  ],
  ['SDK upDownCounter.add, 4 attributes', costMicros(() => counter.add(1, attributes), metricIterations)],
  [
    'record into a libs/telemetry aggregated series',
    costMicros((i) => series.record((i % 7) / 1000), metricIterations),
  ],
);

// Traces, with the context manager that services run with.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const resource = resourceFromAttributes({
  'service.name': 'sdk-floor',
  'service.version': '0.0.0',
  'service.instance.id': '00000000-0000-4000-8000-000000000000',
});
const dropBatch = {
  export: (_spans: ReadableSpan[], done: (result: { code: ExportResultCode }) => void) =>
    done({ code: ExportResultCode.SUCCESS }),
  shutdown: () => Promise.resolve(),
};
const sampled = new TracerProvider({
  resource,
  sampler: new AlwaysOnSampler(),
  spanProcessors: [new BatchSpanProcessor({ exporter: dropBatch })],
}).getTracer('sdk-floor');
const unsampled = new TracerProvider({
  resource,
  sampler: new AlwaysOffSampler(),
  spanProcessors: [new BatchSpanProcessor({ exporter: dropBatch })],
}).getTracer('sdk-floor');
const startAttributes = Object.freeze({ 'http.request.method': 'GET', 'url.scheme': 'http' });
const endAttributes = Object.freeze({ 'http.response.status_code': 200, 'http.route': '/hello/:name' });
const options = { kind: SpanKind.SERVER, attributes: startAttributes };
const noop = () => undefined;

/** What libs/telemetry/src/hono.ts does with the span of one sampled request, minus the request. */
function middlewareSpan(tracer: typeof sampled, path: string): void {
  const parent = context.active();
  const span = tracer.startSpan('GET', options, parent);
  context.with(trace.setSpan(parent, span), noop);
  span.setAttributes(endAttributes);
  span.setAttribute('url.path', path);
  span.updateName('GET /hello/:name');
  span.end();
}
const remoteParent = trace.wrapSpanContext({
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  traceFlags: 1,
});

const spanIterations = 200_000;
results.push(
  [
    'span start + end (sampled, batch processor, export dropped)',
    costMicros(() => sampled.startSpan('GET', options).end(), spanIterations),
  ],
  [
    "the middleware's span work (start, context.with, 4 attributes, name, end)",
    costMicros((i) => middlewareSpan(sampled, `/hello/${i % 100}`), spanIterations),
  ],
  [
    'span start + end, not sampled (ids, sampler, non-recording span)',
    costMicros(() => unsampled.startSpan('GET', options).end(), spanIterations),
  ],
  [
    'context.with(trace.setSpan(...)) alone',
    costMicros(() => context.with(trace.setSpan(context.active(), remoteParent), noop), spanIterations),
  ],
);

// The OTLP encoding, per span, in the exporter's batches of 512.
const finished = new InMemorySpanExporter();
const recorder = new TracerProvider({
  resource,
  sampler: new AlwaysOnSampler(),
  spanProcessors: [new SimpleSpanProcessor({ exporter: finished })],
}).getTracer('sdk-floor');
for (let i = 0; i < 512; i += 1) middlewareSpan(recorder, `/hello/${i}`);
const batch = finished.getFinishedSpans();
const batches = 400;
const encoder = createSpanEncoder();
results.push(
  [
    "OTLP protobuf encoding of one span (batches of 512), the SDK's serializer",
    costMicros(() => ProtobufTraceSerializer.serializeRequest(batch), batches) / batch.length,
  ],
  [
    'OTLP protobuf encoding of one span (batches of 512), libs/telemetry (same bytes)',
    costMicros(() => encoder.encode(batch), batches) / batch.length,
  ],
);

// The ids a root span needs, sampled or not.
const sdkIds = new RandomIdGenerator();
const blockIds = new BlockRandomIdGenerator();
results.push(
  [
    "a trace id and a span id, the SDK's generator",
    costMicros(() => sdkIds.generateTraceId() + sdkIds.generateSpanId(), spanIterations),
  ],
  [
    'a trace id and a span id, libs/telemetry (OS random source, in blocks)',
    costMicros(() => blockIds.generateTraceId() + blockIds.generateSpanId(), spanIterations),
  ],
);

for (const [what, micros] of results) process.stdout.write(`${micros.toFixed(3).padStart(7)} µs  ${what}\n`);
