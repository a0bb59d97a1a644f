/**
 * The worker's view of the portfolio as gauges, refreshed on a timer: value at market, cash,
 * positions, drawdown, daily P&L, exposure, per-strategy win rate and P&L, and the daily P&L
 * goal. The revalued peak and day-start marks are written back, so a restart keeps them.
 */
import {
  emptyPortfolio,
  type PortfolioStore,
  portfolioKey,
  revalue,
  type PriceHistory,
  strategies,
  symbols,
} from '@tradeobs/platform';
import type { PlatformTelemetry } from '@tradeobs/platform';
import { latestPrices } from './executor.ts';

export interface ReportingOptions {
  dailyPnlGoalUsd: number;
  intervalMillis: number;
}

export function reportPortfolio(
  telemetry: PlatformTelemetry,
  portfolio: PortfolioStore,
  market: PriceHistory,
  options: ReportingOptions,
  stopping: AbortSignal,
): void {
  const { metrics, logger } = telemetry;
  let goalReachedOn: string | undefined;
  const goal = { goal_type: 'daily_pnl' };
  metrics.goalTargetValue.record(options.dailyPnlGoalUsd, goal);

  const report = async () => {
    const prices = latestPrices(market, symbols);
    let valuation: ReturnType<typeof revalue>['valuation'] | undefined;
    const stored = await portfolio.modify(portfolioKey, (current) => {
      const revalued = revalue(current ?? emptyPortfolio(new Date()), prices, new Date());
      valuation = revalued.valuation;
      return revalued.portfolio;
    });
    if (!stored || !valuation) return;
    metrics.portfolioTotalValue.record(valuation.totalValueUsd);
    metrics.portfolioCashBalance.record(stored.cashUsd);
    metrics.portfolioDrawdown.record(valuation.drawdown);
    metrics.portfolioDailyPnl.record(valuation.dailyPnlUsd);
    for (const symbol of symbols) {
      const position = stored.positions[symbol];
      metrics.portfolioPositions.record(position ? 1 : 0, { symbol });
      metrics.riskExposure.record(
        position ? Math.abs(position.quantity * (prices[symbol] ?? position.averagePrice)) : 0,
        { symbol },
      );
    }
    for (const strategy of strategies) {
      const record = stored.strategies[strategy];
      if (!record) continue;
      metrics.strategyProfitLoss.record(record.realizedPnlUsd, { strategy });
      if (record.closedTrades > 0)
        metrics.strategyWinRate.record(record.winningTrades / record.closedTrades, { strategy });
    }
    metrics.goalCurrentValue.record(valuation.dailyPnlUsd, goal);
    metrics.goalProgress.record(Math.max(0, valuation.dailyPnlUsd / options.dailyPnlGoalUsd), goal);
    if (valuation.dailyPnlUsd >= options.dailyPnlGoalUsd && goalReachedOn !== stored.day) {
      goalReachedOn = stored.day;
      metrics.goalAchievements.add(1, goal);
      logger.info('daily P&L goal reached', {
        dailyPnlUsd: valuation.dailyPnlUsd,
        goalUsd: options.dailyPnlGoalUsd,
      });
    }
  };

  const tick = () =>
    report().catch((error: unknown) => {
      metrics.errors.add(1, {
        type: error instanceof Error ? error.name : 'Error',
        component: 'portfolio_reporting',
      });
      logger.warn('portfolio report failed', { error });
    });
  void tick();
  const timer = setInterval(() => void tick(), options.intervalMillis);
  stopping.addEventListener('abort', () => clearInterval(timer), { once: true });
}
