import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  type MetricData,
  type MetricReader,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { AggregatedHistograms } from '../src/histograms.ts';

const scope = { name: 'forgettable-test', version: '1.0.0' };

function inMemoryReader(temporality: AggregationTemporality) {
  return new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(temporality),
    exportIntervalMillis: 3_600_000,
  });
}

/** One collection by a reader: of a metric, its point type, temporality and value by attribute `job`. */
async function collection(reader: MetricReader) {
  const metrics = (await reader.collect()).resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  return (name: string) => {
    const metric: MetricData | undefined = metrics.find((m) => m.descriptor.name === name);
    return {
      type: metric?.dataPointType,
      temporality: metric?.aggregationTemporality,
      values: Object.fromEntries(
        (metric?.dataPoints ?? []).map((point) => [String(point.attributes.job), point.value as number]),
      ),
    };
  };
}

/**
 * The SDK's counter and gauge beside forgettable twins of the same name in another scope's
 * clothing: each reader must get the same numbers from both, until a series is forgotten.
 */
function setUp() {
  const aggregated = new AggregatedHistograms(scope);
  const cumulative = inMemoryReader(AggregationTemporality.CUMULATIVE);
  const delta = inMemoryReader(AggregationTemporality.DELTA);
  const provider = new MeterProvider({ readers: [aggregated.attach(cumulative), aggregated.attach(delta)] });
  const meter = provider.getMeter('reference');
  const sdk = { counter: meter.createCounter('sdk.jobs'), gauge: meter.createGauge('sdk.load') };
  const common = { unit: '1', description: 'twin', attributes: ['job'], cardinalityLimit: 100 };
  const ours = {
    counter: aggregated.forgettable({ ...common, name: 'our.jobs', kind: 'counter' }),
    gauge: aggregated.forgettable({ ...common, name: 'our.load', kind: 'gauge' }),
  };
  const add = (job: string, value: number) => {
    sdk.counter.add(value, { job });
    ours.counter.add(value, { job });
  };
  const set = (job: string, value: number) => {
    sdk.gauge.record(value, { job });
    ours.gauge.record(value, { job });
  };
  return { cumulative, delta, ours, add, set };
}

describe('forgettable counters and gauges', () => {
  it('give a cumulative and a delta reader what the SDK gives each', async () => {
    const { cumulative, delta, add, set } = setUp();
    add('a', 2);
    add('b', 1);
    set('a', 0.5);
    for (const reader of [cumulative, delta]) {
      const of = await collection(reader);
      assert.deepEqual(of('our.jobs'), of('sdk.jobs'));
      assert.deepEqual(of('our.load'), of('sdk.load'));
    }
    add('a', 3);
    set('a', 0.7);
    const deltaOf = await collection(delta);
    assert.deepEqual(deltaOf('our.jobs'), deltaOf('sdk.jobs'));
    assert.deepEqual(deltaOf('our.jobs'), {
      type: DataPointType.SUM,
      temporality: AggregationTemporality.DELTA,
      values: { a: 3 },
    });
    assert.deepEqual(deltaOf('our.load'), deltaOf('sdk.load'));
    const cumulativeOf = await collection(cumulative);
    assert.deepEqual(cumulativeOf('our.jobs'), cumulativeOf('sdk.jobs'));
    assert.deepEqual(cumulativeOf('our.jobs').values, { a: 5, b: 1 });
    const idle = await collection(delta);
    assert.deepEqual(idle('our.jobs'), idle('sdk.jobs'), 'nothing new: no metric, as the SDK');
    assert.equal(idle('our.jobs').type, undefined);
  });

  it('drop a forgotten series from every reader, where the SDK keeps it for good', async () => {
    const { cumulative, delta, ours, add } = setUp();
    add('a', 2);
    add('b', 1);
    await collection(delta);
    add('a', 1);
    add('b', 4);
    ours.counter.retain((attributes) => attributes.job !== 'b');
    const cumulativeOf = await collection(cumulative);
    assert.deepEqual(cumulativeOf('our.jobs').values, { a: 3 });
    assert.deepEqual(cumulativeOf('sdk.jobs').values, { a: 3, b: 5 });
    assert.deepEqual((await collection(delta))('our.jobs').values, { a: 1 });
  });
});
