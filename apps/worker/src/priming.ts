/**
 * Zero series from start-up for the worker's counters (seed 000's worker only had metrics after
 * its first job): every outcome of every known pipeline, and every trade, order and rejection
 * combination of the finite sets of symbols, sides, strategies and reasons.
 */
import { executionStatuses, signalTypes, strategies, symbols, triggerModes } from '@tradeobs/platform';
import type { PlatformTelemetry } from '@tradeobs/platform';
import { primeCounter } from '@tradeobs/telemetry/catalog';
import type { LimitType } from './risk.ts';

const limitTypes: readonly LimitType[] = ['max_order', 'max_position', 'max_drawdown', 'insufficient_cash'];
const venueReasons = ['venue_rejected', 'price_moved'] as const;
const finalStatuses = executionStatuses.filter((status) => status !== 'queued' && status !== 'running');

export function primePipelineSeries(telemetry: PlatformTelemetry, pipelineIds: readonly string[]): void {
  primeCounter(telemetry.metrics.pipelineExecutions, {
    status: finalStatuses,
    pipeline_id: pipelineIds,
    trigger_mode: triggerModes,
  });
}

export function primeTradingSeries(telemetry: PlatformTelemetry): void {
  const { metrics } = telemetry;
  primeCounter(metrics.tradesExecuted, { strategy: strategies, symbol: symbols, side: signalTypes });
  primeCounter(metrics.ordersPlaced, { symbol: symbols, side: signalTypes, order_type: ['market'] });
  primeCounter(metrics.ordersFilled, { symbol: symbols, side: signalTypes });
  primeCounter(metrics.tradesRejected, { reason: [...limitTypes, ...venueReasons], symbol: symbols });
  primeCounter(metrics.riskLimitBreaches, { limit_type: limitTypes, symbol: symbols });
  primeCounter(metrics.goalAchievements, { goal_type: ['daily_pnl'] });
}
