/** The portfolio at market: cash, positions with their current value and P&L, totals. */
import {
  emptyPortfolio,
  type PortfolioStore,
  portfolioKey,
  type PriceHistory,
  revalue,
  TradingSymbol,
} from '@tradeobs/platform';
import { Hono } from 'hono';
import { z } from 'zod';

/** The portfolio at market prices (at cost for a symbol without a price yet). */
export const PortfolioView = z
  .object({
    cashUsd: z.number(),
    positions: z.array(
      z
        .object({
          symbol: TradingSymbol,
          quantity: z.number(),
          averagePrice: z.number(),
          price: z.number(),
          valueUsd: z.number(),
          unrealizedPnlUsd: z.number(),
        })
        .strict(),
    ),
    totalValueUsd: z.number(),
    realizedPnlUsd: z.number(),
    drawdown: z.number().min(0).max(1),
    dailyPnlUsd: z.number(),
    updatedAt: z.iso.datetime(),
  })
  .strict();

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
    const view: z.infer<typeof PortfolioView> = {
      cashUsd: stored.cashUsd,
      positions,
      totalValueUsd: valuation.totalValueUsd,
      realizedPnlUsd: stored.realizedPnlUsd,
      drawdown: valuation.drawdown,
      dailyPnlUsd: valuation.dailyPnlUsd,
      updatedAt: stored.updatedAt,
    };
    return c.json(view);
  });
  return app;
}
