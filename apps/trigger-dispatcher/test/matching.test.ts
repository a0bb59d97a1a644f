import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Pipeline, Signal } from '@tradeobs/platform';
import { accepts, PipelineIndex } from '../src/matching.ts';

const at = '2026-11-22T10:00:00.000Z';
function pipeline(id: string, overrides: Partial<Pipeline> = {}): Pipeline {
  return {
    id,
    name: id,
    strategy: 'momentum',
    symbols: ['BTCUSD'],
    enabled: true,
    signalFilter: { types: ['buy'], minConfidence: 0.6 },
    riskLimits: { maxOrderUsd: 1, maxPositionUsd: 1, maxDrawdown: 0.1 },
    createdAt: at,
    updatedAt: at,
    ...overrides,
  };
}
const signal: Signal = {
  id: 's1',
  type: 'buy',
  symbol: 'BTCUSD',
  strategy: 'momentum',
  confidence: 0.7,
  price: 1,
  observedAt: at,
  generatedAt: at,
};

describe('matching signals to pipelines', () => {
  it('indexes enabled pipelines by symbol; a symbol nobody trades is a miss', () => {
    const index = new PipelineIndex();
    index.rebuild([
      pipeline('a'),
      pipeline('b', { symbols: ['BTCUSD', 'ETHUSD'] }),
      pipeline('off', { enabled: false }),
    ]);
    assert.deepEqual(
      index.candidates('BTCUSD')?.map((p) => p.id),
      ['a', 'b'],
    );
    assert.deepEqual(
      index.candidates('ETHUSD')?.map((p) => p.id),
      ['b'],
    );
    assert.equal(index.candidates('AAPL'), undefined);
  });

  it('accepts a signal only for the same strategy, an allowed type and enough confidence', () => {
    assert.equal(accepts(pipeline('a'), signal), true);
    assert.equal(accepts(pipeline('a', { strategy: 'sma_crossover' }), signal), false);
    assert.equal(accepts(pipeline('a'), { ...signal, type: 'sell' }), false);
    assert.equal(accepts(pipeline('a'), { ...signal, confidence: 0.5 }), false);
  });
});
