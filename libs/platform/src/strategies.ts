/**
 * Trading strategies over a price history (oldest first). The signal generator runs them on
 * every tick; the worker runs a pipeline's strategy when an execution is triggered by hand.
 */
import type { Strategy } from './domain.ts';

export interface Decision {
  action: 'buy' | 'sell' | 'hold';
  /** 0 to 1. */
  confidence: number;
}

const hold: Decision = { action: 'hold', confidence: 0 };
const clamp01 = (value: number) => Math.min(1, Math.max(0, value));

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Buy when the fast average crosses above the slow one, sell when it crosses below. */
export function smaCrossover(prices: readonly number[], fast = 5, slow = 20): Decision {
  if (prices.length < slow + 1) return hold;
  const now = { fast: mean(prices.slice(-fast)), slow: mean(prices.slice(-slow)) };
  const before = { fast: mean(prices.slice(-fast - 1, -1)), slow: mean(prices.slice(-slow - 1, -1)) };
  const spread = Math.abs(now.fast - now.slow) / now.slow;
  const confidence = clamp01(0.5 + spread * 200);
  if (before.fast <= before.slow && now.fast > now.slow) return { action: 'buy', confidence };
  if (before.fast >= before.slow && now.fast < now.slow) return { action: 'sell', confidence };
  return hold;
}

/** Follow a move over the lookback once it exceeds the threshold (a fraction of the price). */
export function momentum(prices: readonly number[], lookback = 10, threshold = 0.004): Decision {
  if (prices.length < lookback + 1) return hold;
  const last = prices.at(-1) ?? 0;
  const first = prices.at(-lookback - 1) ?? last;
  const change = (last - first) / first;
  if (Math.abs(change) < threshold) return hold;
  const confidence = clamp01(0.5 + (Math.abs(change) - threshold) * 50);
  return { action: change > 0 ? 'buy' : 'sell', confidence };
}

/** The rule-based strategies; `ml_direction` needs a trained model (see the signal generator). */
export function evaluate(
  strategy: Strategy,
  prices: readonly number[],
  predictUp?: (prices: readonly number[]) => number,
): Decision {
  switch (strategy) {
    case 'sma_crossover':
      return smaCrossover(prices);
    case 'momentum':
      return momentum(prices);
    case 'ml_direction': {
      if (!predictUp) return momentum(prices, 5, 0.002);
      const probability = predictUp(prices);
      if (Math.abs(probability - 0.5) < 0.1) return hold;
      return {
        action: probability > 0.5 ? 'buy' : 'sell',
        confidence: clamp01(Math.abs(probability - 0.5) * 2),
      };
    }
  }
}
