/**
 * signal-generator: simulates a market data feed (ticks on NATS, one collection round per
 * interval), follows it like any consumer, and runs the strategies on every tick.
 */
import {
  failureKind,
  failureKinds,
  followMarket,
  marketSource,
  runService,
  signalTypes,
  strategies,
  subjects,
  symbols,
  type Tick,
} from '@tradeobs/platform';
import { primeCounter } from '@tradeobs/telemetry/catalog';
import { modelInfo, SignalGenerator } from './generator.ts';
import { RandomWalk } from './market.ts';
import { DirectionModel } from './model.ts';

const collector = { collector: 'market-feed', source: marketSource } as const;
const collectorDimensions = { collector: [collector.collector], source: [collector.source] };
const modelDimensions = { model_name: [modelInfo.model_name], model_version: [modelInfo.model_version] };

runService({
  name: 'signal-generator',
  version: '0.1.0',
  defaultPort: 8003,
  setup(context, settings) {
    const tickIntervalMillis = settings.number('TICK_INTERVAL_MS', 1000, {
      min: 10,
      max: 60_000,
      integer: true,
    });
    const seed = settings.number('MARKET_SEED', 42, { min: 0, max: 2 ** 32 - 1, integer: true });
    const cooldownMillis = settings.number('SIGNAL_COOLDOWN_MS', 10_000, {
      min: 0,
      max: 3_600_000,
      integer: true,
    });
    settings.check();
    const { nc, telemetry, stopping } = context;
    const { metrics, logger } = telemetry;
    const walk = new RandomWalk(seed);
    const generator = new SignalGenerator(context, new DirectionModel(), {
      cooldownMillis,
      trainingWindow: 200,
      retrainEveryTicks: 300,
      maxPendingSignals: 10_000,
    });
    followMarket(context, { onTick: (tick, history) => generator.onTick(tick, history) });
    primeCounter(metrics.signalsGenerated, { signal_type: signalTypes, source: strategies });
    primeCounter(metrics.natsPublishSuccess, { signal_type: signalTypes });
    primeCounter(metrics.natsPublishFailure, { signal_type: signalTypes, error_type: failureKinds });
    primeCounter(metrics.dataCollectionErrors, { ...collectorDimensions, error_type: failureKinds });
    primeCounter(metrics.mlPredictions, modelDimensions);
    primeCounter(metrics.dataPointsCollected, { ...collectorDimensions, data_type: ['tick'] });
    primeCounter(metrics.marketDataUpdates, { symbol: symbols, source: [marketSource] });

    let healthy = false;
    const collect = () => {
      const startedAt = performance.now();
      try {
        if (nc.isClosed()) throw new Error('NATS connection closed');
        const observedAt = new Date().toISOString();
        for (const symbol of symbols) {
          const tick: Tick = { symbol, price: walk.next(symbol), observedAt };
          nc.publish(subjects.tick(symbol), JSON.stringify(tick));
        }
        metrics.dataPointsCollected.add(symbols.length, { ...collector, data_type: 'tick' });
        healthy = context.natsConnected();
      } catch (error) {
        healthy = false;
        metrics.dataCollectionErrors.add(1, {
          ...collector,
          error_type: failureKind(error),
        });
        logger.warn('market data round failed', { error });
      } finally {
        metrics.dataCollectionDuration.record((performance.now() - startedAt) / 1000, collector);
        metrics.dataCollectorHealthy.record(healthy ? 1 : 0, collector);
      }
    };
    const timer = setInterval(collect, tickIntervalMillis);
    let retrying = false;
    const retry = setInterval(() => {
      if (retrying) return;
      retrying = true;
      void generator.retryPending().finally(() => {
        retrying = false;
      });
    }, 1_000);
    stopping.addEventListener(
      'abort',
      () => {
        clearInterval(timer);
        clearInterval(retry);
      },
      { once: true },
    );
    return Promise.resolve({
      readiness: () => ({ marketFeed: healthy }),
      stop: () => generator.retryPending(),
    });
  },
});
