import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  counter,
  forgettableCounter,
  forgettableGauge,
  gauge,
  histogram,
  primeCounter,
} from '../src/catalog/index.ts';
import { testTelemetry } from '../src/testing.ts';

/** A catalog as a user of the library writes one: a job queue's metrics. */
const jobCatalog = {
  jobsProcessed: counter({
    name: 'jobs.processed',
    unit: '{job}',
    description: 'Jobs processed by queue and outcome',
    attributes: ['queue', 'outcome'],
    cardinalityLimit: 20,
  }),
  jobDuration: histogram(
    { name: 'job.duration', unit: 's', description: 'Time to process a job', attributes: ['queue'] },
    [0.1, 1, 10],
  ),
  queueDepth: gauge({
    name: 'queue.depth',
    unit: '{job}',
    description: 'Jobs waiting',
    attributes: ['queue'],
  }),
};

/** Values per entity: jobs by worker, which come and go. */
const workerCatalog = {
  jobsByWorker: forgettableCounter({
    name: 'worker.jobs',
    unit: '{job}',
    description: 'Jobs processed by worker',
    attributes: ['worker', 'outcome'],
    cardinalityLimit: 5,
  }),
  workerLoad: forgettableGauge({
    name: 'worker.load',
    unit: '1',
    description: 'Load of each worker',
    attributes: ['worker'],
  }),
};

const boundaries = (point: { value: unknown } | undefined) =>
  (point?.value as { buckets: { boundaries: number[] } }).buckets.boundaries;

describe('metric catalog', () => {
  it("creates the user's instruments at start-up, typed, with the catalog's buckets", async () => {
    const { telemetry, points, metricNames } = testTelemetry({}, jobCatalog);
    telemetry.metrics.jobDuration.record(0.3, { queue: 'emails' });
    telemetry.metrics.queueDepth.record(4, { queue: 'emails' });
    assert.deepEqual(boundaries((await points('job.duration'))[0]), [0.1, 1, 10]);
    assert.ok((await metricNames()).includes('queue.depth'));
  });

  it('drops attributes outside the allow-list at run time', async () => {
    const { telemetry, points } = testTelemetry({}, jobCatalog);
    // A variable, not a literal: the compiler cannot see the extra key, the view removes it.
    const fromUserInput: Record<string, string> = { queue: 'emails', outcome: 'ok', user_id: 'u-123' };
    telemetry.metrics.jobsProcessed.add(1, fromUserInput);
    const [point] = await points('jobs.processed');
    assert.deepEqual(point?.attributes, { queue: 'emails', outcome: 'ok' });
  });

  it('rejects attributes outside the allow-list at compile time', () => {
    const { telemetry } = testTelemetry({}, jobCatalog);
    // @ts-expect-error user_id is not an attribute of jobs.processed
    telemetry.metrics.jobsProcessed.add(1, { queue: 'emails', user_id: 'u-1' });
  });

  it('leaves alone an instrument of the same name from another meter', async () => {
    const { telemetry, points } = testTelemetry({}, jobCatalog);
    const foreign = telemetry.meterProvider.getMeter('some-other-library');
    foreign.createCounter('jobs.processed').add(1, { queue: 'emails', worker: 'w-7' });
    foreign
      .createHistogram('job.duration', { advice: { explicitBucketBoundaries: [5, 50] } })
      .record(7, { queue: 'emails', worker: 'w-7' });
    const [counted] = await points('jobs.processed');
    assert.deepEqual(counted?.attributes, { queue: 'emails', worker: 'w-7' }, 'no allow-list applied');
    assert.deepEqual(boundaries((await points('job.duration'))[0]), [5, 50], 'its own buckets');
  });

  it('folds series beyond the cardinality limit into one overflow series', async () => {
    const { telemetry, points } = testTelemetry({}, jobCatalog);
    for (let i = 0; i < 70; i += 1)
      telemetry.metrics.jobsProcessed.add(1, { queue: `q-${i}`, outcome: 'ok' });
    const series = await points('jobs.processed');
    assert.equal(series.length, 20);
    const overflow = series.find((p) => p.attributes['otel.metric.overflow'] === true);
    assert.equal(overflow?.value, 51);
  });

  it('primeCounter creates a zero series for every combination, so counters exist before their first event', async () => {
    const { telemetry, points } = testTelemetry({}, jobCatalog);
    primeCounter(telemetry.metrics.jobsProcessed, { queue: ['a', 'b'], outcome: ['ok', 'failed'] });
    telemetry.metrics.jobsProcessed.add(1, { queue: 'a', outcome: 'ok' });
    const processed = await points('jobs.processed');
    assert.deepEqual(processed.map((p) => [p.attributes.queue, p.attributes.outcome, p.value]).sort(), [
      ['a', 'failed', 0],
      ['a', 'ok', 1],
      ['b', 'failed', 0],
      ['b', 'ok', 0],
    ]);
  });

  it('a forgettable counter and gauge stop exporting the series of entities that are gone', async () => {
    const { telemetry, points } = testTelemetry({}, workerCatalog);
    const { jobsByWorker, workerLoad } = telemetry.metrics;
    for (const worker of ['w1', 'w2', 'w3']) {
      jobsByWorker.add(2, { worker, outcome: 'ok' });
      workerLoad.record(0.5, { worker });
    }
    assert.equal((await points('worker.jobs')).length, 3);
    // w2 is gone.
    jobsByWorker.retain((attributes) => attributes.worker !== 'w2');
    workerLoad.retain((attributes) => attributes.worker !== 'w2');
    jobsByWorker.add(1, { worker: 'w1', outcome: 'ok' });
    assert.deepEqual(
      (await points('worker.jobs')).map((point) => [point.attributes.worker, point.value]),
      [
        ['w1', 3],
        ['w3', 2],
      ],
    );
    assert.deepEqual(
      (await points('worker.load')).map((point) => point.attributes.worker),
      ['w1', 'w3'],
    );
  });

  it('a forgettable series that comes back starts again from zero, with a new start time', async () => {
    const { telemetry, points } = testTelemetry({}, workerCatalog);
    telemetry.metrics.jobsByWorker.add(5, { worker: 'w1', outcome: 'ok' });
    const [before] = await points('worker.jobs');
    telemetry.metrics.jobsByWorker.retain(() => false);
    assert.deepEqual(await points('worker.jobs'), []);
    await new Promise((resolve) => setTimeout(resolve, 5));
    telemetry.metrics.jobsByWorker.add(1, { worker: 'w1', outcome: 'ok' });
    const [after] = await points('worker.jobs');
    assert.equal(after?.value, 1);
    assert.ok(before && after && after.startTime[1] !== before.startTime[1], 'a new start time');
  });

  it('a forgettable counter keeps its allow-list and cardinality limit, as the SDK instruments do', async () => {
    const { telemetry, points } = testTelemetry({}, workerCatalog);
    const fromUserInput: Record<string, string> = { worker: 'w0', outcome: 'ok', user_id: 'u-1' };
    telemetry.metrics.jobsByWorker.add(1, fromUserInput);
    for (let i = 1; i < 10; i += 1) telemetry.metrics.jobsByWorker.add(1, { worker: `w${i}`, outcome: 'ok' });
    const series = await points('worker.jobs');
    assert.deepEqual(series[0]?.attributes, { worker: 'w0', outcome: 'ok' });
    assert.equal(series.length, 5);
    assert.equal(series.find((point) => point.attributes['otel.metric.overflow'] === true)?.value, 6);
  });
});
