/** Risk checks, order sizing, the simulated venue and portfolio accounting. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyFill, emptyPortfolio, type Pipeline, revalue } from '@tradeobs/platform';
import { breachedLimits, sizeOrder } from '../src/risk.ts';
import { placeOrder } from '../src/venue.ts';

const now = new Date('2026-11-22T10:00:00Z');
const pipeline: Pipeline = {
  id: 'p1',
  name: 'test',
  strategy: 'momentum',
  symbols: ['BTCUSD'],
  enabled: true,
  signalFilter: { types: ['buy', 'sell'], minConfidence: 0 },
  riskLimits: { maxOrderUsd: 10_000, maxPositionUsd: 25_000, maxDrawdown: 0.1 },
  createdAt: now.toISOString(),
  updatedAt: now.toISOString(),
};

describe('risk', () => {
  it('sizes a buy by confidence within the order limit, and a sell from the position', () => {
    const portfolio = emptyPortfolio(now);
    const buy = sizeOrder(pipeline, portfolio, 'BTCUSD', 'buy', 0.5, 100);
    assert.equal(buy.quantity * buy.price, 5_000);
    const held = { ...portfolio, positions: { BTCUSD: { quantity: 10, averagePrice: 100 } } };
    assert.equal(sizeOrder(pipeline, held, 'BTCUSD', 'sell', 1, 100).quantity, 10);
    assert.deepEqual(breachedLimits(buy, pipeline, portfolio, 0), []);
  });

  it('names every limit an order breaks', () => {
    const portfolio = {
      ...emptyPortfolio(now),
      cashUsd: 1_000,
      positions: { BTCUSD: { quantity: 200, averagePrice: 100 } },
    };
    const order = { symbol: 'BTCUSD' as const, side: 'buy' as const, quantity: 150, price: 100 };
    assert.deepEqual(breachedLimits(order, pipeline, portfolio, 0.2), [
      'max_drawdown',
      'max_order',
      'max_position',
      'insufficient_cash',
    ]);
    const sell = { symbol: 'BTCUSD' as const, side: 'sell' as const, quantity: 10, price: 100 };
    assert.deepEqual(breachedLimits(sell, pipeline, portfolio, 0), [], 'selling reduces exposure');
    assert.deepEqual(breachedLimits(sell, pipeline, portfolio, 0.2), ['max_drawdown']);
  });
});

describe('venue', () => {
  it('fills with adverse slippage that grows with size', async () => {
    const random = () => 0.5;
    const small = await placeOrder(
      { symbol: 'BTCUSD', side: 'buy', quantity: 1, price: 100 },
      { rejectionRate: 0, maxSlippageBps: 100, random },
    );
    const large = await placeOrder(
      { symbol: 'BTCUSD', side: 'buy', quantity: 100, price: 100 },
      { rejectionRate: 0, maxSlippageBps: 100, random },
    );
    assert.ok(small.filled && large.filled);
    assert.ok(small.fill.price > 100, 'a buy fills above the expected price');
    assert.ok(large.fill.slippageBps > small.fill.slippageBps);
    const sell = await placeOrder(
      { symbol: 'BTCUSD', side: 'sell', quantity: 1, price: 100 },
      { rejectionRate: 0, maxSlippageBps: 100, random },
    );
    assert.ok(sell.filled && sell.fill.price < 100, 'a sell fills below it');
  });

  it('rejects at the configured rate, and cancels when slippage would be too high', async () => {
    const order = { symbol: 'BTCUSD' as const, side: 'buy' as const, quantity: 1, price: 100 };
    assert.deepEqual(
      await placeOrder(order, { rejectionRate: 1, maxSlippageBps: 100 }).then((r) => !r.filled && r.reason),
      'venue_rejected',
    );
    assert.deepEqual(
      await placeOrder(order, { rejectionRate: 0, maxSlippageBps: 0 }).then((r) => !r.filled && r.reason),
      'price_moved',
    );
  });
});

describe('portfolio', () => {
  it('buys at average cost, realises P&L on sells, counts wins per strategy and closes empty positions', () => {
    let portfolio = emptyPortfolio(now);
    const fill = (side: 'buy' | 'sell', quantity: number, price: number) => ({
      symbol: 'BTCUSD' as const,
      side,
      quantity,
      price,
      expectedPrice: price,
      slippageBps: 0,
    });
    portfolio = applyFill(portfolio, fill('buy', 2, 100), 'momentum').portfolio;
    portfolio = applyFill(portfolio, fill('buy', 2, 200), 'momentum').portfolio;
    assert.equal(portfolio.positions.BTCUSD?.averagePrice, 150);
    const sold = applyFill(portfolio, fill('sell', 4, 160), 'momentum');
    assert.equal(sold.realizedPnlUsd, 40);
    assert.equal(sold.portfolio.positions.BTCUSD, undefined);
    assert.equal(sold.portfolio.cashUsd, 1_000_000 + 40);
    assert.deepEqual(sold.portfolio.strategies.momentum, {
      closedTrades: 1,
      winningTrades: 1,
      realizedPnlUsd: 40,
    });
  });

  it('values at market, tracks the peak for the drawdown and rolls the day', () => {
    const portfolio = {
      ...emptyPortfolio(now),
      cashUsd: 0,
      positions: { BTCUSD: { quantity: 10, averagePrice: 100_000 } },
    };
    const up = revalue(portfolio, { BTCUSD: 120_000 }, now);
    assert.equal(up.valuation.totalValueUsd, 1_200_000);
    const down = revalue(up.portfolio, { BTCUSD: 90_000 }, now);
    assert.equal(down.valuation.drawdown, 0.25);
    const tomorrow = revalue(down.portfolio, { BTCUSD: 90_000 }, new Date('2026-11-23T00:00:01Z'));
    assert.equal(tomorrow.portfolio.day, '2026-11-23');
    assert.equal(tomorrow.valuation.dailyPnlUsd, 0);
  });
});
