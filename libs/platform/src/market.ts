/**
 * The market data every service can follow: ticks on `market.ticks.<symbol>` (core NATS, latest
 * wins) kept as a short price history per symbol. Each tick is counted (market.data.updates),
 * its lag measured from when it was observed, and the symbol's freshness recorded; a malformed
 * tick is dead-lettered.
 */
import { type Tick, Tick as TickSchema, type TradingSymbol } from './domain.ts';
import { deadLetter, decode } from './consume.ts';
import type { ServiceContext } from './service.ts';
import { subjects } from './topology.ts';

export interface PriceHistory {
  /** Prices of a symbol, oldest first. */
  prices(symbol: TradingSymbol): readonly number[];
  latest(symbol: TradingSymbol): number | undefined;
}

export interface FollowOptions {
  /** Prices kept per symbol. */
  depth?: number;
  /** Called after a tick is added to the history. */
  onTick?: (tick: Tick, history: PriceHistory) => void;
}

export const marketSource = 'simulated';

export function followMarket(context: ServiceContext, options: FollowOptions = {}): PriceHistory {
  const { nc, telemetry, stopping } = context;
  const { metrics } = telemetry;
  const depth = options.depth ?? 200;
  const history = new Map<TradingSymbol, number[]>();
  const view: PriceHistory = {
    prices: (symbol) => history.get(symbol) ?? [],
    latest: (symbol) => history.get(symbol)?.at(-1),
  };
  const subscription = nc.subscribe(subjects.ticks);
  stopping.addEventListener('abort', () => subscription.unsubscribe(), { once: true });
  void (async () => {
    for await (const message of subscription) {
      const parsed = decode(TickSchema, message.data);
      if (!parsed.success) {
        await deadLetter(
          context,
          { subject: message.subject, data: message.data, deliveries: 1 },
          'market',
          'malformed',
          parsed.error,
        ).catch((error: unknown) => telemetry.logger.error('dead-lettering a tick failed', { error }));
        continue;
      }
      const tick = parsed.data;
      const attributes = { symbol: tick.symbol, source: marketSource };
      const observedAt = Date.parse(tick.observedAt);
      metrics.marketDataUpdates.add(1, attributes);
      metrics.marketDataLag.record(Math.max(0, Date.now() - observedAt) / 1000, attributes);
      metrics.marketDataLastUpdate.record(observedAt / 1000, attributes);
      const prices = history.get(tick.symbol) ?? [];
      prices.push(tick.price);
      if (prices.length > depth) prices.shift();
      history.set(tick.symbol, prices);
      options.onTick?.(tick, view);
    }
  })();
  return view;
}
