import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { catalog } from '../src/catalog/metrics.ts';
import { buckets } from '../src/catalog/define.ts';
import { primeCounter } from '../src/catalog/instruments.ts';
import { testTelemetry } from '../src/testing.ts';

describe('metric catalog', () => {
  it('declares each metric once, with a unique name, a description and a bounded series count', () => {
    const names = Object.values(catalog).map((d) => d.name);
    assert.equal(new Set(names).size, names.length);
    for (const definition of Object.values(catalog)) {
      assert.ok(definition.description.length > 10, definition.name);
      assert.ok(definition.cardinalityLimit > 0 && definition.cardinalityLimit <= 2000, definition.name);
      assert.equal(definition.kind === 'histogram', definition.buckets !== undefined, definition.name);
    }
  });

  it("has the seeds' bucket sets: HTTP 5 ms-10 s, database 1 ms-10 s, collection 100 ms-60 s, ML 10 ms-5 s and 10 s-30 min", () => {
    assert.deepEqual([buckets.http.length, buckets.http[0], buckets.http.at(-1)], [14, 0.005, 10]);
    assert.deepEqual(
      [buckets.database.length, buckets.database[0], buckets.database.at(-1)],
      [11, 0.001, 10],
    );
    assert.deepEqual(
      [buckets.dataCollection.length, buckets.dataCollection[0], buckets.dataCollection.at(-1)],
      [7, 0.1, 60],
    );
    assert.deepEqual(
      [buckets.mlPrediction.length, buckets.mlPrediction[0], buckets.mlPrediction.at(-1)],
      [7, 0.01, 5],
    );
    assert.deepEqual(
      [buckets.mlTraining.length, buckets.mlTraining[0], buckets.mlTraining.at(-1)],
      [7, 10, 1800],
    );
  });

  it('creates every instrument at start-up and records with the catalog buckets', async () => {
    const { telemetry, points, metricNames } = testTelemetry();
    telemetry.metrics.pipelineExecutionDuration.record(0.3, { status: 'success', pipeline_id: 'p-1' });
    telemetry.metrics.mlTrainingDuration.record(700, { model_name: 'drift-detector' });
    const [execution] = await points('pipeline.execution.duration');
    assert.deepEqual(
      (execution?.value as { buckets: { boundaries: number[] } }).buckets.boundaries,
      buckets.http,
    );
    const [training] = await points('ml.training.duration');
    assert.deepEqual(
      (training?.value as { buckets: { boundaries: number[] } }).buckets.boundaries,
      buckets.mlTraining,
    );
    assert.ok((await metricNames()).includes('pipeline.execution.duration'));
  });

  it('drops attributes outside the allow-list at run time', async () => {
    const { telemetry, points } = testTelemetry();
    // A variable, not a literal: the compiler cannot see the extra key, the view removes it.
    const fromUserInput: Record<string, string> = { signal_type: 'buy', source: 'sma', user_id: 'u-123' };
    telemetry.metrics.signalsGenerated.add(1, fromUserInput);
    const [point] = await points('signals.generated');
    assert.deepEqual(point?.attributes, { signal_type: 'buy', source: 'sma' });
  });

  it('rejects attributes outside the allow-list at compile time', () => {
    const { telemetry } = testTelemetry();
    // @ts-expect-error user_id is not an attribute of signals.generated
    telemetry.metrics.signalsGenerated.add(1, { signal_type: 'buy', user_id: 'u-1' });
  });

  it('folds series beyond the cardinality limit into one overflow series', async () => {
    const { telemetry, points } = testTelemetry();
    const limit = catalog.pipelineExecutions.cardinalityLimit;
    for (let i = 0; i < limit + 50; i += 1) {
      telemetry.metrics.pipelineExecutions.add(1, {
        status: 'success',
        pipeline_id: `p-${i}`,
        trigger_mode: 'manual',
      });
    }
    const series = await points('pipeline.executions');
    assert.equal(series.length, limit);
    const overflow = series.find((p) => p.attributes['otel.metric.overflow'] === true);
    assert.equal(overflow?.value, 51);
  });

  it('primeCounter creates a zero series for every combination, so counters exist before their first event', async () => {
    const { telemetry, points } = testTelemetry();
    primeCounter(telemetry.metrics.ordersFilled, { symbol: ['BTCUSD', 'ETHUSD'], side: ['buy', 'sell'] });
    telemetry.metrics.ordersFilled.add(1, { symbol: 'BTCUSD', side: 'buy' });
    const filled = await points('orders.filled');
    assert.equal(filled.length, 4);
    assert.deepEqual(filled.map((p) => [p.attributes.symbol, p.attributes.side, p.value]).sort(), [
      ['BTCUSD', 'buy', 1],
      ['BTCUSD', 'sell', 0],
      ['ETHUSD', 'buy', 0],
      ['ETHUSD', 'sell', 0],
    ]);
  });
});
