/**
 * Which pipelines a signal triggers: enabled ones running the signal's strategy on its symbol
 * whose filter accepts its type and confidence. Pipelines are indexed by symbol so a signal
 * only looks at the pipelines that trade it.
 */
import type { Pipeline, Signal, TradingSymbol } from '@tradeobs/platform';

export class PipelineIndex {
  #bySymbol = new Map<TradingSymbol, Pipeline[]>();

  rebuild(pipelines: Iterable<Pipeline>): void {
    const index = new Map<TradingSymbol, Pipeline[]>();
    for (const pipeline of pipelines) {
      if (!pipeline.enabled) continue;
      for (const symbol of pipeline.symbols) index.set(symbol, [...(index.get(symbol) ?? []), pipeline]);
    }
    this.#bySymbol = index;
  }

  /** Pipelines trading the symbol, or undefined when none does (a cache miss). */
  candidates(symbol: TradingSymbol): readonly Pipeline[] | undefined {
    return this.#bySymbol.get(symbol);
  }
}

export function accepts(pipeline: Pipeline, signal: Signal): boolean {
  return (
    pipeline.strategy === signal.strategy &&
    pipeline.signalFilter.types.includes(signal.type) &&
    signal.confidence >= pipeline.signalFilter.minConfidence
  );
}
