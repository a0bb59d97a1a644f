/** The portfolio at market: cash, positions with their current value and P&L, totals. */
import {
  emptyPortfolio,
  type PortfolioStore,
  portfolioKey,
  type PriceHistory,
  revalue,
  type TradingSymbol,
} from '@tradeobs/platform';
import { Hono } from 'hono';

export function portfolioRoutes(portfolio: PortfolioStore, market: PriceHistory): Hono {
  const app = new Hono();
  app.get('/', async (c) => {
    const stored = (await portfolio.get(portfolioKey))?.value ?? emptyPortfolio(new Date());
    const symbolsHeld = Object.keys(stored.positions) as TradingSymbol[];
    const prices = Object.fromEntries(
      symbolsHeld.flatMap((symbol) => {
        const price = market.latest(symbol);
        return price === undefined ? [] : [[symbol, price]];
      }),
    ) as Partial<Record<TradingSymbol, number>>;
    const { valuation } = revalue(stored, prices, new Date());
    const positions = symbolsHeld.map((symbol) => {
      const position = stored.positions[symbol] ?? { quantity: 0, averagePrice: 0 };
      const price = prices[symbol] ?? position.averagePrice;
      return {
        symbol,
        quantity: position.quantity,
        averagePrice: position.averagePrice,
        price,
        valueUsd: position.quantity * price,
        unrealizedPnlUsd: position.quantity * (price - position.averagePrice),
      };
    });
    return c.json({
      cashUsd: stored.cashUsd,
      positions,
      totalValueUsd: valuation.totalValueUsd,
      realizedPnlUsd: stored.realizedPnlUsd,
      drawdown: valuation.drawdown,
      dailyPnlUsd: valuation.dailyPnlUsd,
      updatedAt: stored.updatedAt,
    });
  });
  return app;
}
