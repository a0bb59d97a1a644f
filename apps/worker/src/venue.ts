/**
 * A simulated trading venue: an order takes a few milliseconds to be acknowledged, fills at the
 * expected price moved by slippage that grows with size, and is sometimes rejected (the venue's
 * own checks, or the price moved too far while the order was in flight).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Fill } from '@tradeobs/platform';
import type { ProposedOrder } from './risk.ts';

export interface VenueOptions {
  /** Share of orders the venue rejects outright, 0 to 1. */
  rejectionRate: number;
  /** Orders whose slippage would exceed this many basis points are cancelled. */
  maxSlippageBps: number;
  random?: () => number;
}

export type VenueResult =
  | { filled: true; fill: Fill; latencySeconds: number }
  | { filled: false; reason: 'venue_rejected' | 'price_moved'; latencySeconds: number };

/** A standard normal draw (Box-Muller). */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

export async function placeOrder(order: ProposedOrder, options: VenueOptions): Promise<VenueResult> {
  const random = options.random ?? Math.random;
  const startedAt = performance.now();
  await sleep(2 + random() * 20);
  const latencySeconds = () => (performance.now() - startedAt) / 1000;
  if (random() < options.rejectionRate)
    return { filled: false, reason: 'venue_rejected', latencySeconds: latencySeconds() };
  const notional = order.quantity * order.price;
  // Adverse slippage: market noise plus impact that grows with the order's size.
  const slippageBps = Math.abs(gaussian(random) * 3) + (notional / 10_000) * 1.5;
  if (slippageBps > options.maxSlippageBps)
    return { filled: false, reason: 'price_moved', latencySeconds: latencySeconds() };
  const direction = order.side === 'buy' ? 1 : -1;
  const price = order.price * (1 + (direction * slippageBps) / 10_000);
  return {
    filled: true,
    fill: {
      symbol: order.symbol,
      side: order.side,
      quantity: order.quantity,
      expectedPrice: order.price,
      price,
      slippageBps,
    },
    latencySeconds: latencySeconds(),
  };
}
