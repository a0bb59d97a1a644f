/**
 * Synthetic market data: a seeded geometric random walk per symbol, with occasional trending
 * regimes so that strategies have something to find. The same seed gives the same prices.
 */
import type { TradingSymbol } from '@tradeobs/platform';

const startPrices: Record<TradingSymbol, number> = {
  BTCUSD: 65_000,
  ETHUSD: 3_400,
  SOLUSD: 150,
  AAPL: 190,
  MSFT: 420,
};

/** mulberry32: small, fast and good enough for simulated prices. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class RandomWalk {
  readonly #random: () => number;
  readonly #prices = new Map<TradingSymbol, number>();
  readonly #drift = new Map<TradingSymbol, number>();
  readonly #volatility: number;

  constructor(seed: number, volatility = 0.0015) {
    this.#random = seededRandom(seed);
    this.#volatility = volatility;
  }

  #gaussian(): number {
    return Math.sqrt(-2 * Math.log(1 - this.#random())) * Math.cos(2 * Math.PI * this.#random());
  }

  /** The next price of `symbol`. */
  next(symbol: TradingSymbol): number {
    const price = this.#prices.get(symbol) ?? startPrices[symbol];
    // A regime lasts a while: now and then the drift flips to a new trend.
    let drift = this.#drift.get(symbol) ?? 0;
    if (this.#random() < 0.02) drift = (this.#random() - 0.5) * this.#volatility;
    this.#drift.set(symbol, drift);
    const next = price * Math.exp(drift + this.#volatility * this.#gaussian());
    this.#prices.set(symbol, next);
    return next;
  }
}
