import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricReader,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { AggregatedHistograms } from '../src/histograms.ts';
import { testTelemetry } from '../src/testing.ts';

const scope = { name: 'histograms-test', version: '1.0.0' };
const boundaries = [0.005, 0.01, 0.1, 1];
const options = { name: 'test.duration', unit: 's', description: 'A duration', boundaries };

function inMemoryReader(temporality = AggregationTemporality.CUMULATIVE, histogramLimit?: number) {
  return new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(temporality),
    exportIntervalMillis: 3_600_000,
    ...(histogramLimit === undefined ? {} : { cardinalityLimits: { histogram: histogramLimit } }),
  });
}

/** A provider whose one reader also reads `histograms`; the SDK meter shares their scope. */
function setUp(reader: MetricReader = inMemoryReader()) {
  const histograms = new AggregatedHistograms(scope);
  const provider = new MeterProvider({ readers: [histograms.attach(reader)] });
  const meter = provider.getMeter(scope.name, scope.version);
  const collect = async () => (await reader.collect()).resourceMetrics.scopeMetrics;
  const points = async (name: string) =>
    ((await collect()).flatMap((s) => s.metrics).find((m) => m.descriptor.name === name)?.dataPoints ??
      []) as DataPoint<Histogram>[];
  return { histograms, meter, collect, points };
}

describe('aggregated histograms', () => {
  it('report exactly what the SDK reports for the same measurements, cumulatively', async () => {
    const { histograms, meter, points } = setUp();
    const ours = histograms.histogram(options).series({ route: '/a', status: 200 });
    const sdk = meter.createHistogram('sdk.duration', { advice: { explicitBucketBoundaries: boundaries } });
    // On the boundaries, between them, above the last one; negative values and NaN are dropped.
    const values = [0, 0.005, 0.0051, 0.01, 0.05, 1, 3, -1, Number.NaN];
    for (const value of values) {
      ours.record(value);
      sdk.record(value, { route: '/a', status: 200 });
    }
    const [mine] = await points('test.duration');
    const [theirs] = await points('sdk.duration');
    assert.deepEqual(mine?.value, theirs?.value);
    assert.deepEqual(mine?.value.buckets.counts, [2, 2, 1, 1, 1]);
    assert.deepEqual(mine?.attributes, { route: '/a', status: 200 });

    ours.record(0.2);
    const [later] = await points('test.duration');
    assert.equal(later?.value.count, 8, 'cumulative: the second collection includes the first');
    assert.deepEqual(later?.value.buckets.counts, [2, 2, 1, 2, 1]);
    assert.deepEqual(later?.startTime, mine?.startTime);
  });

  it('give one series per attribute set, whatever the key order, and one histogram per name', async () => {
    const { histograms, points } = setUp();
    const first = histograms.histogram(options).series({ a: '1', b: '2' });
    const second = histograms.histogram(options).series({ b: '2', a: '1' });
    assert.equal(first, second);
    first.record(0.001);
    second.record(0.001);
    const all = await points('test.duration');
    assert.equal(all.length, 1);
    assert.equal(all[0]?.value.count, 2);
  });

  it('report nothing for a histogram or series without measurements, as the SDK does', async () => {
    const { histograms, collect, points } = setUp();
    const histogram = histograms.histogram(options);
    histogram.series({ unused: 'yes' });
    assert.deepEqual(await points('test.duration'), []);
    assert.deepEqual(await collect(), []);
    histogram.series({ used: 'yes' }).record(1);
    assert.deepEqual(
      (await points('test.duration')).map((p) => p.attributes),
      [{ used: 'yes' }],
    );
  });

  it("send attribute sets past the reader's cardinality limit to one overflow series", async () => {
    const { histograms, meter, points } = setUp(inMemoryReader(AggregationTemporality.CUMULATIVE, 3));
    const histogram = histograms.histogram(options);
    const sdk = meter.createHistogram('sdk.duration', { advice: { explicitBucketBoundaries: boundaries } });
    for (const route of ['/a', '/b', '/c', '/d', '/a']) {
      histogram.series({ route }).record(0.001);
      sdk.record(0.001, { route });
    }
    const series = (all: DataPoint<Histogram>[]) => all.map((p) => [p.attributes, p.value.count]);
    assert.deepEqual(
      series(await points('test.duration')),
      [
        [{ route: '/a' }, 2],
        [{ route: '/b' }, 1],
        [{ 'otel.metric.overflow': true }, 2],
      ],
      'the limit counts the overflow series',
    );
    assert.deepEqual(series(await points('test.duration')), series(await points('sdk.duration')));
  });

  it('join the SDK metrics of the same scope, and reach every reader', async () => {
    const histograms = new AggregatedHistograms(scope);
    const readers = [inMemoryReader(), inMemoryReader()];
    const provider = new MeterProvider({ readers: readers.map((r) => histograms.attach(r)) });
    provider.getMeter(scope.name, scope.version).createCounter('sdk.count').add(1);
    histograms.histogram(options).series({}).record(0.5);
    for (const reader of readers) {
      const { scopeMetrics } = (await reader.collect()).resourceMetrics;
      assert.deepEqual(
        scopeMetrics.map((s) => [s.scope.name, s.metrics.map((m) => m.descriptor.name)]),
        [[scope.name, ['sdk.count', 'test.duration']]],
      );
    }
  });

  it('reach Prometheus exactly as an SDK histogram would', async () => {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const { histograms, meter } = setUp(exporter);
    const sdk = meter.createHistogram('sdk.duration', {
      unit: options.unit,
      description: options.description,
      advice: { explicitBucketBoundaries: boundaries },
    });
    for (const value of [0.007, 0.5, 2]) {
      histograms.histogram(options).series({ route: '/a' }).record(value);
      sdk.record(value, { route: '/a' });
    }
    const text = new PrometheusSerializer().serialize((await exporter.collect()).resourceMetrics);
    const lines = (name: string) => text.split('\n').filter((line) => line.includes(name));
    assert.match(text, /^test_duration_bucket\{route="\/a",.*le="0.01"\} 1$/m);
    assert.deepEqual(
      lines('test_duration'),
      lines('sdk_duration').map((line) => line.replaceAll('sdk_duration', 'test_duration')),
    );
    await exporter.shutdown();
  });

  it('refuse a reader that asks for delta temporality, rather than mislabel cumulative data', () => {
    const histograms = new AggregatedHistograms(scope);
    assert.throws(
      () => histograms.attach(inMemoryReader(AggregationTemporality.DELTA)),
      /another temporality or aggregation/,
    );
  });

  it('are what initTelemetry hands the readers that tests pass in', async () => {
    const { telemetry, points } = testTelemetry();
    telemetry.histograms.histogram(options).series({ kind: 'unit' }).record(0.02);
    assert.deepEqual(
      (await points('test.duration')).map((p) => [p.attributes, (p.value as Histogram).count]),
      [[{ kind: 'unit' }, 1]],
    );
  });
});
