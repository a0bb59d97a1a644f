import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { momentum, smaCrossover } from '@tradeobs/platform';
import { RandomWalk } from '../src/market.ts';
import { DirectionModel, driftScore } from '../src/model.ts';

describe('market', () => {
  it('is a reproducible random walk per seed', () => {
    const a = new RandomWalk(7);
    const b = new RandomWalk(7);
    const c = new RandomWalk(8);
    const run = (walk: RandomWalk) => Array.from({ length: 50 }, () => walk.next('BTCUSD'));
    const first = run(a);
    assert.deepEqual(first, run(b));
    assert.notDeepEqual(first, run(c));
    assert.ok(first.every((price) => price > 0));
  });
});

describe('strategies', () => {
  it('sma crossover buys when the fast average crosses above the slow one', () => {
    const falling = Array.from({ length: 25 }, (_, i) => 100 - i * 0.1);
    assert.equal(smaCrossover(falling).action, 'hold');
    const crossing = [...falling, 110];
    assert.equal(smaCrossover(crossing).action, 'buy');
  });

  it('momentum follows a move past its threshold', () => {
    const flat = Array.from({ length: 11 }, () => 100);
    assert.equal(momentum(flat).action, 'hold');
    assert.equal(momentum([...flat.slice(1), 101]).action, 'buy');
    assert.equal(momentum([...flat.slice(1), 99]).action, 'sell');
  });
});

describe('direction model', () => {
  it('learns a persistent pattern and scores its own predictions', () => {
    // Alternating moves: after an up comes a down. The model must find that.
    const prices = Array.from({ length: 200 }, (_, i) => 100 * (i % 2 === 0 ? 1 : 1.002));
    const model = new DirectionModel();
    const report = model.train([prices]);
    assert.ok(report.samples > 100);
    assert.equal(prices.at(-1), 100.2);
    assert.ok(model.predictUp(prices) < 0.5, 'after an up move it predicts down');
    assert.ok(model.predictUp([...prices, 100]) > 0.5, 'after a down move it predicts up');
    model.score('BTCUSD', 100, 0.9);
    model.score('BTCUSD', 101, 0.1);
    model.score('BTCUSD', 102, 0.5);
    assert.equal(model.accuracy(), 0.5);
  });

  it('reports no drift for the same distribution and clear drift for a different one', () => {
    const random = (scale: number) => Array.from({ length: 500 }, (_, i) => Math.sin(i * 12.9898) * scale);
    assert.ok(driftScore(random(1), random(1)) < 0.05);
    assert.ok(driftScore(random(1), random(5)) > 0.3);
  });
});
