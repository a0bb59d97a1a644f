import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import {
  AggregationTemporality,
  AggregationType,
  type DataPoint,
  type Histogram,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  MetricReader,
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

/** A reader collected by hand, with the temporality, aggregation and limits it is given. */
class ManualReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** One collection: each metric by name. A delta reader must be collected once for both sides. */
async function collectOnce(reader: MetricReader): Promise<Map<string, MetricData>> {
  const { scopeMetrics } = (await reader.collect()).resourceMetrics;
  return new Map(scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
}

function histogramPoints(metric: MetricData | undefined): DataPoint<Histogram>[] {
  return (metric?.dataPoints ?? []) as DataPoint<Histogram>[];
}

/** What a metric says, timestamps aside, points in attribute order: ours and the SDK's list them in their own order. */
function content(metric: MetricData | undefined) {
  if (metric === undefined) return undefined;
  const points = histogramPoints(metric).map((p) => ({ attributes: p.attributes, value: p.value }));
  const key = (p: (typeof points)[number]) => JSON.stringify(p.attributes);
  return {
    temporality: metric.aggregationTemporality,
    points: points.sort((a, b) => key(a).localeCompare(key(b))),
  };
}

function pointOf(metric: MetricData | undefined, route: string): DataPoint<Histogram> {
  const point = histogramPoints(metric).find((p) => p.attributes.route === route);
  assert.ok(point, `a point for ${route}`);
  return point;
}

/** Our histogram and an SDK histogram of the same boundaries, fed the same values. */
function twins(histograms: AggregatedHistograms, provider: MeterProvider) {
  const histogram = histograms.histogram(options);
  const sdk = provider
    .getMeter(scope.name, scope.version)
    .createHistogram('sdk.duration', { advice: { explicitBucketBoundaries: boundaries } });
  return (route: string, values: number[]) => {
    const series = histogram.series({ route });
    for (const value of values) {
      series.record(value);
      sdk.record(value, { route });
    }
  };
}

/** One collection by `reader`, whose histogram and SDK twin must say the same. */
async function sameAsSdk(reader: MetricReader) {
  const metrics = await collectOnce(reader);
  const mine = metrics.get('test.duration');
  const theirs = metrics.get('sdk.duration');
  assert.deepEqual(content(mine), content(theirs));
  return { mine, theirs };
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

  it('report exactly what the SDK reports to a delta reader, collection after collection', async () => {
    const reader = inMemoryReader(AggregationTemporality.DELTA);
    const histograms = new AggregatedHistograms(scope);
    const provider = new MeterProvider({ readers: [histograms.attach(reader)] });
    const record = twins(histograms, provider);

    record('/a', [0, 0.005, 0.0051, 0.05, 1, 3, -1, Number.NaN]);
    record('/b', [0.2]);
    const first = await sameAsSdk(reader);
    assert.equal(first.mine?.aggregationTemporality, AggregationTemporality.DELTA);
    assert.deepEqual(pointOf(first.mine, '/a').value.buckets.counts, [2, 1, 1, 1, 1]);

    // Nothing new: neither a point nor the metric, on either side.
    const before = Date.now();
    const second = await sameAsSdk(reader);
    const after = Date.now();
    assert.equal(second.mine, undefined);

    // Only what came since, min and max included; /b, silent, has no point.
    record('/a', [0.02, 0.007]);
    const third = await sameAsSdk(reader);
    const a3 = pointOf(third.mine, '/a');
    assert.deepEqual([a3.value.count, a3.value.min, a3.value.max], [2, 0.007, 0.02]);
    assert.deepEqual(
      histogramPoints(third.mine).map((p) => p.attributes),
      [{ route: '/a' }],
    );
    // It starts where the empty collection ended. The SDK starts a series that had no point in
    // the previous collection at its first measurement since, which is no earlier.
    const start3 = hrTimeToMilliseconds(a3.startTime);
    assert.ok(before <= start3 && start3 <= after, `${start3} within [${before}, ${after}]`);
    assert.ok(hrTimeToMilliseconds(pointOf(third.theirs, '/a').startTime) >= before);

    record('/a', [0.5]);
    record('/b', [0.001, 0.3]);
    const fourth = await sameAsSdk(reader);
    // A series reported in the previous collection starts where it ended, as in the SDK.
    assert.deepEqual(pointOf(fourth.mine, '/a').startTime, a3.endTime);
    assert.deepEqual(pointOf(fourth.theirs, '/a').startTime, pointOf(third.theirs, '/a').endTime);
    // One that was silent there starts at its end too, which the SDK's first measurement follows.
    assert.deepEqual(pointOf(fourth.mine, '/b').startTime, a3.endTime);
    assert.ok(
      hrTimeToMilliseconds(pointOf(fourth.theirs, '/b').startTime) >=
        hrTimeToMilliseconds(pointOf(third.theirs, '/a').endTime),
    );
    for (const point of histogramPoints(fourth.mine)) {
      assert.ok(hrTimeToMilliseconds(point.startTime) <= hrTimeToMilliseconds(point.endTime));
    }
  });

  // Values that add up exactly in binary: the two sides add the same values in other groupings.
  const exact = [0.001953125, 0.5, 0.0625, 4, 0.0078125];

  it('give a cumulative and a delta reader at once each what the SDK gives it', async () => {
    const histograms = new AggregatedHistograms(scope);
    const cumulative = inMemoryReader();
    const delta = inMemoryReader(AggregationTemporality.DELTA);
    const provider = new MeterProvider({
      readers: [histograms.attach(cumulative), histograms.attach(delta)],
    });
    const record = twins(histograms, provider);
    const count = (metric: MetricData | undefined) => pointOf(metric, '/a').value.count;

    record('/a', exact.slice(0, 2));
    const c1 = await sameAsSdk(cumulative);
    assert.equal(c1.mine?.aggregationTemporality, AggregationTemporality.CUMULATIVE);
    assert.equal(count(c1.mine), 2);
    const d1 = await sameAsSdk(delta);
    assert.equal(d1.mine?.aggregationTemporality, AggregationTemporality.DELTA);
    assert.equal(count(d1.mine), 2);

    record('/a', exact.slice(2, 3));
    assert.equal(count((await sameAsSdk(delta)).mine), 1);
    record('/a', exact.slice(3));
    const c2 = await sameAsSdk(cumulative);
    assert.deepEqual(pointOf(c2.mine, '/a').value, {
      buckets: { boundaries, counts: [1, 1, 1, 1, 1] },
      count: 5,
      sum: 4.572265625,
      min: 0.001953125,
      max: 4,
    });
    assert.deepEqual(pointOf(c2.mine, '/a').startTime, pointOf(c1.mine, '/a').startTime);
    const d3 = await sameAsSdk(delta);
    assert.deepEqual([count(d3.mine), pointOf(d3.mine, '/a').value.min], [2, 0.0078125]);
    assert.equal((await sameAsSdk(delta)).mine, undefined);
    assert.equal(count((await sameAsSdk(cumulative)).mine), 5);
  });

  it('give each of two delta readers what came since its own previous collection', async () => {
    const histograms = new AggregatedHistograms(scope);
    const deltaReader = () =>
      new ManualReader({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
    const [often, seldom] = [deltaReader(), deltaReader()];
    const provider = new MeterProvider({ readers: [histograms.attach(often), histograms.attach(seldom)] });
    const record = twins(histograms, provider);

    record('/a', [exact[3] ?? 0]);
    await sameAsSdk(often);
    record('/a', [exact[1] ?? 0, exact[0] ?? 0]);
    const o2 = await sameAsSdk(often);
    assert.deepEqual(
      [pointOf(o2.mine, '/a').value.min, pointOf(o2.mine, '/a').value.max],
      [exact[0], exact[1]],
    );
    record('/a', [exact[2] ?? 0]);
    // Min and max over the three intervals the other reader's collections cut.
    const s1 = await sameAsSdk(seldom);
    assert.deepEqual(
      [
        pointOf(s1.mine, '/a').value.count,
        pointOf(s1.mine, '/a').value.min,
        pointOf(s1.mine, '/a').value.max,
      ],
      [4, exact[0], exact[3]],
    );
    const o3 = await sameAsSdk(often);
    assert.equal(pointOf(o3.mine, '/a').value.count, 1);
    assert.deepEqual(pointOf(o3.mine, '/a').startTime, pointOf(o2.mine, '/a').endTime);
    assert.equal((await sameAsSdk(seldom)).mine, undefined);
  });

  it('report to a delta reader attached late everything since the series started', async () => {
    const histograms = new AggregatedHistograms(scope);
    const early = new ManualReader({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
    new MeterProvider({ readers: [histograms.attach(early)] });
    const series = histograms.histogram(options).series({ route: '/a' });
    series.record(0.5);
    await collectOnce(early);
    series.record(2);
    const late = new ManualReader({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
    new MeterProvider({ readers: [histograms.attach(late)] });
    const point = pointOf((await collectOnce(late)).get('test.duration'), '/a');
    assert.deepEqual([point.value.count, point.value.min, point.value.max], [2, 0.5, 2]);
    assert.deepEqual(point.startTime, series.startTime);
    assert.equal(pointOf((await collectOnce(early)).get('test.duration'), '/a').value.count, 1);
  });

  it('keep attribute sets past the cardinality limit in the overflow series for delta readers', async () => {
    const reader = inMemoryReader(AggregationTemporality.DELTA, 3);
    const histograms = new AggregatedHistograms(scope);
    const provider = new MeterProvider({ readers: [histograms.attach(reader)] });
    const record = twins(histograms, provider);
    const series = (metric: MetricData | undefined) =>
      histogramPoints(metric).map((p) => [p.attributes, p.value.count]);

    for (const route of ['/a', '/b', '/c', '/d', '/a']) record(route, [0.001]);
    const first = await sameAsSdk(reader);
    assert.deepEqual(series(first.mine), [
      [{ route: '/a' }, 2],
      [{ route: '/b' }, 1],
      [{ 'otel.metric.overflow': true }, 2],
    ]);
    // A series is for good, as for cumulative readers: /d stays in the overflow series, where the
    // SDK, which the specification allows to, starts counting again after each delta collection.
    histograms.histogram(options).series({ route: '/d' }).record(0.001);
    histograms.histogram(options).series({ route: '/a' }).record(0.001);
    assert.deepEqual(series((await collectOnce(reader)).get('test.duration')), [
      [{ route: '/a' }, 1],
      [{ 'otel.metric.overflow': true }, 1],
    ]);
  });

  it('refuse a reader that asks for another aggregation, rather than hand it explicit buckets', () => {
    const histograms = new AggregatedHistograms(scope);
    const reader = new ManualReader({
      aggregationSelector: () => ({ type: AggregationType.EXPONENTIAL_HISTOGRAM }),
    });
    assert.throws(
      () => histograms.attach(reader),
      /ManualReader asks for the EXPONENTIAL_HISTOGRAM aggregation/,
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
