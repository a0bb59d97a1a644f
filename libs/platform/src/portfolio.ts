/**
 * Portfolio accounting, pure: applying a fill to cash, positions and realised P&L, and valuing
 * the result at market. The worker keeps the outcome in the `portfolio` bucket; the api shows it.
 */
import { type Fill, initialCashUsd, type Portfolio, type Strategy, type TradingSymbol } from './domain.ts';

export type Prices = Partial<Record<TradingSymbol, number>>;

export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

export function emptyPortfolio(at: Date): Portfolio {
  return {
    cashUsd: initialCashUsd,
    positions: {},
    realizedPnlUsd: 0,
    strategies: {},
    peakValueUsd: initialCashUsd,
    dayStartValueUsd: initialCashUsd,
    day: utcDay(at),
    updatedAt: at.toISOString(),
  };
}

/** Cash plus every position at its latest price (at cost when no price is known). */
export function totalValue(portfolio: Portfolio, prices: Prices): number {
  let value = portfolio.cashUsd;
  for (const [symbol, position] of Object.entries(portfolio.positions)) {
    value += position.quantity * (prices[symbol as TradingSymbol] ?? position.averagePrice);
  }
  return value;
}

export interface Valuation {
  totalValueUsd: number;
  drawdown: number;
  dailyPnlUsd: number;
}

/** Values the portfolio and rolls its peak and day-start marks forward. */
export function revalue(
  portfolio: Portfolio,
  prices: Prices,
  at: Date,
): { portfolio: Portfolio; valuation: Valuation } {
  const totalValueUsd = totalValue(portfolio, prices);
  const day = utcDay(at);
  const next: Portfolio = {
    ...portfolio,
    peakValueUsd: Math.max(portfolio.peakValueUsd, totalValueUsd),
    ...(day === portfolio.day ? {} : { day, dayStartValueUsd: totalValueUsd }),
    updatedAt: at.toISOString(),
  };
  return {
    portfolio: next,
    valuation: {
      totalValueUsd,
      drawdown:
        next.peakValueUsd > 0 ? Math.max(0, (next.peakValueUsd - totalValueUsd) / next.peakValueUsd) : 0,
      dailyPnlUsd: totalValueUsd - next.dayStartValueUsd,
    },
  };
}

/** Applies one fill; a sell realises P&L against the average cost and counts as a closed trade. */
export function applyFill(
  portfolio: Portfolio,
  fill: Fill,
  strategy: Strategy,
): { portfolio: Portfolio; realizedPnlUsd: number } {
  const position = portfolio.positions[fill.symbol] ?? { quantity: 0, averagePrice: 0 };
  const notional = fill.quantity * fill.price;
  if (fill.side === 'buy') {
    const quantity = position.quantity + fill.quantity;
    const averagePrice = (position.quantity * position.averagePrice + notional) / quantity;
    return {
      portfolio: {
        ...portfolio,
        cashUsd: portfolio.cashUsd - notional,
        positions: { ...portfolio.positions, [fill.symbol]: { quantity, averagePrice } },
      },
      realizedPnlUsd: 0,
    };
  }
  const realizedPnlUsd = fill.quantity * (fill.price - position.averagePrice);
  const quantity = position.quantity - fill.quantity;
  // A position sold down to (floating-point) nothing is closed.
  const others = Object.fromEntries(
    Object.entries(portfolio.positions).filter(([symbol]) => symbol !== fill.symbol),
  ) as Portfolio['positions'];
  const positions =
    quantity > 1e-12
      ? { ...others, [fill.symbol]: { quantity, averagePrice: position.averagePrice } }
      : others;
  const record = portfolio.strategies[strategy] ?? { closedTrades: 0, winningTrades: 0, realizedPnlUsd: 0 };
  return {
    portfolio: {
      ...portfolio,
      cashUsd: portfolio.cashUsd + notional,
      positions,
      realizedPnlUsd: portfolio.realizedPnlUsd + realizedPnlUsd,
      strategies: {
        ...portfolio.strategies,
        [strategy]: {
          closedTrades: record.closedTrades + 1,
          winningTrades: record.winningTrades + (realizedPnlUsd > 0 ? 1 : 0),
          realizedPnlUsd: record.realizedPnlUsd + realizedPnlUsd,
        },
      },
    },
    realizedPnlUsd,
  };
}
