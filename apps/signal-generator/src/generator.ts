/**
 * Turns market data into signals: on every tick each strategy looks at the symbol's recent
 * prices; a buy or sell (at most one per symbol and strategy per cooldown) becomes a signal
 * published to `signals.<type>.<symbol>`, each in its own trace that the dispatcher and worker
 * continue.
 */
import { randomUUID } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import {
  evaluate,
  failureKind,
  type PriceHistory,
  type ServiceContext,
  type Signal,
  type Strategy,
  strategies,
  subjects,
  symbols,
  type Tick,
} from '@tradeobs/platform';
import type { DirectionModel } from './model.ts';

export const modelInfo = { model_name: 'direction', model_version: '1' } as const;

export interface GeneratorOptions {
  cooldownMillis: number;
  /** Prices the model is trained on, per symbol; it retrains every `retrainEveryTicks` ticks. */
  trainingWindow: number;
  retrainEveryTicks: number;
  /** Signals held for a retry while NATS is away, at most. */
  maxPendingSignals: number;
}

export class SignalGenerator {
  readonly #context: ServiceContext;
  readonly #model: DirectionModel;
  readonly #options: GeneratorOptions;
  readonly #lastSignal = new Map<string, number>();
  readonly #pending: Signal[] = [];
  #ticksSinceTraining = 0;

  constructor(context: ServiceContext, model: DirectionModel, options: GeneratorOptions) {
    this.#context = context;
    this.#model = model;
    this.#options = options;
  }

  onTick(tick: Tick, history: PriceHistory): void {
    const { metrics } = this.#context.telemetry;
    this.#maybeRetrain(history);
    const prices = history.prices(tick.symbol);
    const predictUp = this.#model.trained ? this.#predict(tick, prices) : undefined;
    for (const strategy of strategies) {
      const startedAt = performance.now();
      const decision = evaluate(strategy, prices, predictUp === undefined ? undefined : () => predictUp);
      metrics.signalGenerationDuration.record((performance.now() - startedAt) / 1000, {
        generator: strategy,
      });
      if (decision.action === 'hold' || !this.#cooledDown(strategy, tick)) continue;
      const signal: Signal = {
        id: randomUUID(),
        type: decision.action,
        symbol: tick.symbol,
        strategy,
        confidence: decision.confidence,
        price: tick.price,
        observedAt: tick.observedAt,
        generatedAt: new Date().toISOString(),
      };
      this.#emit(signal);
    }
  }

  /** Counts a new signal and publishes it; one that cannot be published yet waits for a retry. */
  #emit(signal: Signal): void {
    const { metrics } = this.#context.telemetry;
    metrics.signalsGenerated.add(1, { signal_type: signal.type, source: signal.strategy });
    metrics.signalConfidence.record(signal.confidence, { signal_type: signal.type });
    void this.#publish(signal).then((published) => {
      if (!published) this.#hold(signal);
    });
  }

  /**
   * Keeps a signal whose publish failed (NATS away, JetStream not answering) for retryPending().
   * Bounded: past the limit the oldest is given up, and counted as a failure already.
   */
  #hold(signal: Signal): void {
    this.#pending.push(signal);
    if (this.#pending.length > this.#options.maxPendingSignals) {
      const dropped = this.#pending.shift();
      this.#context.telemetry.logger.error('signal given up after failed publishes', {
        signalId: dropped?.id,
      });
    }
  }

  /**
   * Publishes the held signals again, oldest first, while NATS is connected. The signal's id is
   * the JetStream message id, so one whose first publish did reach the stream is not stored twice.
   */
  async retryPending(): Promise<void> {
    while (this.#pending.length > 0 && this.#context.natsConnected()) {
      const signal = this.#pending[0] as Signal;
      if (!(await this.#publish(signal))) return;
      this.#pending.shift();
    }
  }

  get pendingSignals(): number {
    return this.#pending.length;
  }

  #cooledDown(strategy: Strategy, tick: Tick): boolean {
    const key = `${strategy}:${tick.symbol}`;
    const now = Date.now();
    if (now - (this.#lastSignal.get(key) ?? 0) < this.#options.cooldownMillis) return false;
    this.#lastSignal.set(key, now);
    return true;
  }

  #predict(tick: Tick, prices: readonly number[]): number {
    const { metrics } = this.#context.telemetry;
    const startedAt = performance.now();
    const probability = this.#model.predictUp(prices);
    metrics.mlPredictionDuration.record((performance.now() - startedAt) / 1000, {
      model_name: modelInfo.model_name,
    });
    metrics.mlPredictions.add(1, modelInfo);
    this.#model.score(tick.symbol, tick.price, probability);
    const accuracy = this.#model.accuracy();
    if (accuracy !== undefined) metrics.mlModelAccuracy.record(accuracy, modelInfo);
    return probability;
  }

  #maybeRetrain(history: PriceHistory): void {
    this.#ticksSinceTraining += 1;
    const windows = symbols.map((symbol) => history.prices(symbol).slice(-this.#options.trainingWindow));
    const { metrics, logger } = this.#context.telemetry;
    if (this.#model.trained)
      metrics.mlModelDrift.record(this.#model.drift(windows.map((w) => w.slice(-50))), modelInfo);
    const enoughData = windows.every((window) => window.length >= 30);
    if (!enoughData || (this.#model.trained && this.#ticksSinceTraining < this.#options.retrainEveryTicks))
      return;
    this.#ticksSinceTraining = 0;
    const report = this.#model.train(windows);
    metrics.mlTrainingDuration.record(report.seconds, { model_name: modelInfo.model_name });
    logger.info('model trained', { ...modelInfo, samples: report.samples, seconds: report.seconds });
  }

  /** One publish attempt in its own trace; whether JetStream acknowledged it. */
  async #publish(signal: Signal): Promise<boolean> {
    const { telemetry, messaging, js } = this.#context;
    const { metrics, tracer, logger } = telemetry;
    return tracer.startActiveSpan(
      `signal ${signal.strategy}`,
      {
        kind: SpanKind.INTERNAL,
        root: true,
        attributes: {
          'signal.id': signal.id,
          'signal.type': signal.type,
          'signal.symbol': signal.symbol,
          'signal.strategy': signal.strategy,
        },
      },
      async (span) => {
        const startedAt = performance.now();
        try {
          await messaging.jetstreamPublish(
            js,
            subjects.signal(signal.type, signal.symbol),
            JSON.stringify(signal),
            { msgID: signal.id },
          );
          metrics.natsPublishSuccess.add(1, { signal_type: signal.type });
          return true;
        } catch (error) {
          metrics.natsPublishFailure.add(1, {
            signal_type: signal.type,
            error_type: failureKind(error),
          });
          logger.warn('signal publish failed; held for a retry', { signalId: signal.id, error });
          return false;
        } finally {
          metrics.natsPublishDuration.record((performance.now() - startedAt) / 1000, {
            signal_type: signal.type,
          });
          span.end();
        }
      },
    );
  }
}
