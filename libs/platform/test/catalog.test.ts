import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testTelemetry } from '@tradeobs/telemetry/testing';
import { catalog } from '../src/metrics.ts';

const boundaries = (point: { value: unknown } | undefined) =>
  (point?.value as { buckets: { boundaries: number[] } }).buckets.boundaries;

describe("the platform's metric catalog", () => {
  it('declares each metric once, with a unique name, a description and a bounded series count', () => {
    const names = Object.values(catalog).map((d) => d.name);
    assert.equal(new Set(names).size, names.length);
    for (const definition of Object.values(catalog)) {
      assert.ok(definition.description.length > 10, definition.name);
      assert.ok(definition.cardinalityLimit > 0 && definition.cardinalityLimit <= 2000, definition.name);
      assert.equal(definition.kind === 'histogram', definition.buckets !== undefined, definition.name);
    }
  });

  it('uses bucket sets fit for each kind of operation: HTTP 5 ms-10 s, KV 1 ms-10 s, collection 100 ms-60 s, ML 10 ms-5 s and 10 s-30 min', () => {
    const range = (name: keyof typeof catalog) => {
      const set = catalog[name].buckets ?? [];
      return [set.length, set[0], set.at(-1)];
    };
    assert.deepEqual(range('pipelineExecutionDuration'), [14, 0.005, 10]);
    assert.deepEqual(range('kvOperationDuration'), [11, 0.001, 10]);
    assert.deepEqual(range('dataCollectionDuration'), [7, 0.1, 60]);
    assert.deepEqual(range('mlPredictionDuration'), [7, 0.01, 5]);
    assert.deepEqual(range('mlTrainingDuration'), [7, 10, 1800]);
  });

  it('records with its own buckets through the library', async () => {
    const { telemetry, points } = testTelemetry({}, catalog);
    telemetry.metrics.mlTrainingDuration.record(700, { model_name: 'drift-detector' });
    assert.deepEqual(
      boundaries((await points('ml.training.duration'))[0]),
      catalog.mlTrainingDuration.buckets,
    );
  });
});
