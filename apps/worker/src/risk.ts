/**
 * Pre-trade risk checks, pure: the order a decision turns into, and every limit it would break.
 * Sizing: a buy spends the confidence-weighted share of the pipeline's order limit; a sell
 * closes the same share of the position (no short selling).
 */
import type { Pipeline, Portfolio, SignalType, TradingSymbol } from '@tradeobs/platform';

export type LimitType = 'max_order' | 'max_position' | 'max_drawdown' | 'insufficient_cash';

export interface ProposedOrder {
  symbol: TradingSymbol;
  side: SignalType;
  quantity: number;
  price: number;
}

export function sizeOrder(
  pipeline: Pipeline,
  portfolio: Portfolio,
  symbol: TradingSymbol,
  side: SignalType,
  confidence: number,
  price: number,
): ProposedOrder {
  const held = portfolio.positions[symbol]?.quantity ?? 0;
  const quantity =
    side === 'buy'
      ? (pipeline.riskLimits.maxOrderUsd * Math.max(0.25, confidence)) / price
      : held * Math.max(0.25, confidence);
  return { symbol, side, quantity, price };
}

/** The limits the order would break; empty when it may go. */
export function breachedLimits(
  order: ProposedOrder,
  pipeline: Pipeline,
  portfolio: Portfolio,
  drawdown: number,
): LimitType[] {
  const limits = pipeline.riskLimits;
  const notional = order.quantity * order.price;
  const breaches: LimitType[] = [];
  if (drawdown > limits.maxDrawdown) breaches.push('max_drawdown');
  // Selling only reduces exposure; the drawdown guard halts it too, as it halts all trading.
  if (order.side === 'sell') return breaches;
  if (notional > limits.maxOrderUsd * 1.000001) breaches.push('max_order');
  const held = portfolio.positions[order.symbol]?.quantity ?? 0;
  if ((held + order.quantity) * order.price > limits.maxPositionUsd) breaches.push('max_position');
  if (notional > portfolio.cashUsd) breaches.push('insufficient_cash');
  return breaches;
}
