/**
 * Runs one pipeline execution: claim it (exactly once, however often the request is
 * delivered), decide, check risk, place orders, update the portfolio and bots, record the
 * outcome, release the pipeline. Every step is a span under the request's CONSUMER span.
 */
import {
  applyFill,
  emptyPortfolio,
  type Prices,
  revalue,
  type Bot,
  type BotStore,
  type Execution,
  type ExecutionQueue,
  type ExecutionRequest,
  type ExecutionStatus,
  evaluate,
  type Fill,
  isRevisionConflict,
  type Mirror,
  type Pipeline,
  type PipelineStore,
  type PlatformTelemetry,
  type PortfolioStore,
  portfolioKey,
  type PriceHistory,
  type SignalType,
  type TradingSymbol,
} from '@tradeobs/platform';
import { Operation } from '@tradeobs/telemetry';
import { breachedLimits, sizeOrder } from './risk.ts';
import { placeOrder, type VenueOptions } from './venue.ts';

export interface ExecutorDeps {
  telemetry: PlatformTelemetry;
  queue: ExecutionQueue;
  pipelines: PipelineStore;
  portfolio: PortfolioStore;
  bots: BotStore;
  botMirror: Mirror<Bot>;
  market: PriceHistory;
  venue: VenueOptions;
  /** Whether the duration histogram carries the pipeline id (WORKER_DURATION_BY_PIPELINE). */
  durationByPipeline: boolean;
}

interface Intent {
  symbol: TradingSymbol;
  side: SignalType;
  confidence: number;
  price: number;
}

export function latestPrices(market: PriceHistory, symbols: readonly TradingSymbol[]): Prices {
  const prices: Prices = {};
  for (const symbol of symbols) {
    const price = market.latest(symbol);
    if (price !== undefined) prices[symbol] = price;
  }
  return prices;
}

/** Compare-and-sets lost in a row before a request is left for a later delivery. */
const claimAttempts = 5;

/** An execution with the revision of its record, for the next compare-and-set. */
interface Versioned {
  execution: Execution;
  revision: number;
}

export class Executor {
  readonly #deps: ExecutorDeps;
  /** The steps of an execution: spans only, the execution's metrics are recorded by #complete. */
  readonly #steps: Operation;

  constructor(deps: ExecutorDeps) {
    this.#deps = deps;
    this.#steps = new Operation({ tracer: deps.telemetry.tracer });
  }

  /**
   * Claims the execution by moving it from queued to running with a compare-and-set. A
   * request seen again after it finished is a duplicate and does nothing; one found running on
   * a redelivery was interrupted mid-way (its worker died) and is failed rather than re-run, so
   * no order is ever placed twice. A compare-and-set that loses is read again and decided on
   * what it finds, never dropped unseen: the first scale-out run, reading followers' copies,
   * lost 38 of 876 claims that way and left those executions queued for ever. Resolves with the
   * claim's revision, from which the final record is written.
   */
  async #claim(request: ExecutionRequest, delivery: number): Promise<Versioned | undefined> {
    const { queue, telemetry } = this.#deps;
    for (let attempt = 1; attempt <= claimAttempts; attempt += 1) {
      const stored = await queue.executions.get(request.executionId);
      const now = new Date().toISOString();
      let claimed: Execution;
      let write: () => Promise<number>;
      if (!stored) {
        telemetry.logger.warn('execution record missing; running from the request', {
          executionId: request.executionId,
        });
        claimed = {
          id: request.executionId,
          pipelineId: request.pipelineId,
          triggerMode: request.triggerMode,
          status: 'running',
          requestedAt: request.requestedAt,
          startedAt: now,
          fills: [],
          reasons: [],
          ...(request.signal ? { signalId: request.signal.id } : {}),
        };
        write = () => queue.executions.create(request.executionId, claimed);
      } else {
        // After a lost compare-and-set, `running` is the winner's claim, not an interrupted run.
        if (stored.value.status === 'running' && delivery > 1 && attempt === 1) {
          await this.#finish(
            { ...stored.value, status: 'failed', reasons: ['interrupted: the worker stopped mid-run'] },
            stored.revision,
            request,
            performance.now(),
          );
          return undefined;
        }
        const final = stored.value.status !== 'queued' && stored.value.status !== 'running';
        if (final && delivery > 1 && (await this.#stillLocking(stored.value))) {
          // The final record is written but the delivery that wrote it failed before it released
          // the pipeline's lock (a KV call timing out while a NATS node is down, seen in
          // tests/e2e/scale-out.test.ts): this one finishes the rest, once.
          const { startedAt, finishedAt } = stored.value;
          const seconds =
            startedAt && finishedAt ? (Date.parse(finishedAt) - Date.parse(startedAt)) / 1000 : 0;
          await this.#complete(stored.value, request, seconds);
          return undefined;
        }
        if (stored.value.status !== 'queued') {
          telemetry.logger.info('duplicate execution request ignored', {
            executionId: request.executionId,
            status: stored.value.status,
          });
          return undefined;
        }
        claimed = { ...stored.value, status: 'running', startedAt: now };
        const { revision } = stored;
        write = () => queue.executions.update(request.executionId, claimed, revision);
      }
      try {
        return { execution: claimed, revision: await write() };
      } catch (error) {
        if (!isRevisionConflict(error)) throw error;
        telemetry.logger.info('execution claim lost a compare-and-set; reading it again', {
          executionId: request.executionId,
          attempt,
        });
      }
    }
    // Thrown, the request is not acknowledged and comes back later.
    throw new Error(`execution ${request.executionId}: ${claimAttempts} claims lost in a row`);
  }

  async run(request: ExecutionRequest, delivery: number): Promise<void> {
    const startedAt = performance.now();
    const claim = await this.#claim(request, delivery);
    if (!claim) return;
    const { execution } = claim;
    let finished: Execution;
    try {
      finished = await this.#execute(execution, request);
    } catch (error) {
      this.#deps.telemetry.metrics.errors.add(1, {
        type: error instanceof Error ? error.name : 'Error',
        component: 'executor',
      });
      this.#deps.telemetry.logger.error('execution failed', { executionId: execution.id, error });
      finished = {
        ...execution,
        status: 'failed',
        reasons: [...execution.reasons, error instanceof Error ? error.message : String(error)],
      };
    }
    await this.#finish(finished, claim.revision, request, startedAt);
  }

  /**
   * Writes the final record by compare-and-set from the claim: if another delivery decided the
   * execution meanwhile (this run took longer than the ack wait and was taken for interrupted),
   * its verdict stands and this run neither overwrites nor counts it a second time.
   */
  async #finish(
    execution: Execution,
    revision: number,
    request: ExecutionRequest,
    startedAt: number,
  ): Promise<void> {
    const { queue, telemetry } = this.#deps;
    const done: Execution = { ...execution, finishedAt: new Date().toISOString() };
    try {
      await queue.executions.update(done.id, done, revision);
    } catch (error) {
      if (!isRevisionConflict(error)) throw error;
      telemetry.logger.warn('execution decided by another delivery meanwhile; its record stands', {
        executionId: done.id,
        status: done.status,
      });
      return;
    }
    await this.#complete(done, request, (performance.now() - startedAt) / 1000);
  }

  /** Whether the pipeline's running lock still names this execution. */
  async #stillLocking(execution: Execution): Promise<boolean> {
    const lock = await this.#deps.queue.locks.get(execution.pipelineId);
    return lock?.value.executionId === execution.id;
  }

  /** What follows the final record: the pipeline's lock released, the execution counted and logged. */
  async #complete(done: Execution, request: ExecutionRequest, durationSeconds: number): Promise<void> {
    const { queue, telemetry } = this.#deps;
    const { metrics } = telemetry;
    if (await this.#stillLocking(done)) await queue.locks.delete(done.pipelineId);
    metrics.pipelineExecutions.add(1, {
      status: done.status,
      pipeline_id: done.pipelineId,
      trigger_mode: done.triggerMode,
    });
    metrics.pipelineExecutionDuration.record(
      durationSeconds,
      this.#deps.durationByPipeline
        ? { status: done.status, pipeline_id: done.pipelineId }
        : { status: done.status },
    );
    if (request.signal) {
      metrics.tradeExecutionDuration.record((Date.now() - Date.parse(request.signal.generatedAt)) / 1000, {
        strategy: request.signal.strategy,
      });
    }
    telemetry.logger.info('execution finished', {
      executionId: done.id,
      pipelineId: done.pipelineId,
      status: done.status,
      fills: done.fills.length,
    });
  }

  /** What to trade: the signal's instruction, or the pipeline's strategy on recent prices. */
  async #decide(pipeline: Pipeline, request: ExecutionRequest, reasons: string[]): Promise<Intent[]> {
    const { telemetry, market } = this.#deps;
    const { signal } = request;
    if (signal) {
      telemetry.metrics.tradingDecisionDuration.record((Date.now() - Date.parse(signal.generatedAt)) / 1000, {
        strategy: signal.strategy,
      });
      return [
        {
          symbol: signal.symbol,
          side: signal.type,
          confidence: signal.confidence,
          price: market.latest(signal.symbol) ?? signal.price,
        },
      ];
    }
    return this.#steps.run('evaluate strategy', {}, () => {
      const intents: Intent[] = [];
      for (const symbol of pipeline.symbols) {
        const prices = market.prices(symbol);
        const price = prices.at(-1);
        if (price === undefined) {
          reasons.push(`no market data for ${symbol}`);
          continue;
        }
        const startedAt = performance.now();
        const decision = evaluate(pipeline.strategy, prices);
        telemetry.metrics.strategyEvaluationDuration.record((performance.now() - startedAt) / 1000, {
          strategy: pipeline.strategy,
        });
        if (decision.action === 'hold') reasons.push(`${symbol}: hold`);
        else intents.push({ symbol, side: decision.action, confidence: decision.confidence, price });
      }
      return intents;
    });
  }

  async #execute(execution: Execution, request: ExecutionRequest): Promise<Execution> {
    const { pipelines } = this.#deps;
    const reasons: string[] = [];
    const pipeline = (await pipelines.get(execution.pipelineId))?.value;
    if (!pipeline) return { ...execution, status: 'failed', reasons: ['the pipeline was deleted'] };
    const intents = await this.#decide(pipeline, request, reasons);
    const fills: Fill[] = [];
    let rejected = 0;
    for (const intent of intents) {
      const outcome = await this.#trade(pipeline, intent, reasons);
      if (outcome === 'rejected') rejected += 1;
      else if (outcome !== 'nothing_to_sell') fills.push(outcome);
    }
    const status: ExecutionStatus = rejected > 0 && fills.length === 0 ? 'rejected' : 'succeeded';
    return { ...execution, status, fills, reasons };
  }

  /** Risk checks, the order and the bookkeeping for one intent: its fill, or why there is none. */
  async #trade(
    pipeline: Pipeline,
    intent: Intent,
    reasons: string[],
  ): Promise<Fill | 'rejected' | 'nothing_to_sell'> {
    const { telemetry, portfolio, market, venue } = this.#deps;
    const { metrics } = telemetry;
    const { symbol, side } = intent;
    const current = (await portfolio.get(portfolioKey))?.value ?? emptyPortfolio(new Date());
    if (side === 'sell' && !current.positions[symbol]) {
      reasons.push(`${symbol} sell: no position to sell`);
      return 'nothing_to_sell';
    }
    const order = await this.#steps.run('risk check', {}, () => {
      const { valuation } = revalue(
        current,
        latestPrices(market, Object.keys(current.positions) as TradingSymbol[]),
        new Date(),
      );
      const proposed = sizeOrder(pipeline, current, symbol, side, intent.confidence, intent.price);
      const breaches = breachedLimits(proposed, pipeline, current, valuation.drawdown);
      for (const limit of breaches) metrics.riskLimitBreaches.add(1, { limit_type: limit, symbol });
      return { proposed, breaches };
    });
    const [firstBreach] = order.breaches;
    if (firstBreach) {
      metrics.tradesRejected.add(1, { reason: firstBreach, symbol });
      reasons.push(`${symbol} ${side}: risk limit ${order.breaches.join(', ')}`);
      return 'rejected';
    }
    metrics.ordersPlaced.add(1, { symbol, side, order_type: 'market' });
    const result = await this.#steps.run('place order', {}, () => placeOrder(order.proposed, venue));
    if (!result.filled) {
      metrics.tradesRejected.add(1, { reason: result.reason, symbol });
      reasons.push(`${symbol} ${side}: ${result.reason}`);
      return 'rejected';
    }
    const { fill } = result;
    metrics.ordersFilled.add(1, { symbol, side });
    metrics.orderFillDuration.record(result.latencySeconds, { symbol });
    metrics.slippage.record(fill.slippageBps, { symbol, side });
    metrics.tradesExecuted.add(1, { strategy: pipeline.strategy, symbol, side });
    let realized = 0;
    await this.#steps.run('update portfolio', {}, () =>
      portfolio.modify(portfolioKey, (stored) => {
        const applied = applyFill(stored ?? emptyPortfolio(new Date()), fill, pipeline.strategy);
        realized = applied.realizedPnlUsd;
        return applied.portfolio;
      }),
    );
    await this.#creditBots(pipeline, fill, realized);
    return fill;
  }

  /** Running bots of the pipeline on the fill's symbol share its trade and realised P&L. */
  async #creditBots(pipeline: Pipeline, fill: Fill, realizedPnlUsd: number): Promise<void> {
    const { bots, botMirror, telemetry } = this.#deps;
    const trading = [...botMirror.values()].filter(
      (bot) => bot.pipelineId === pipeline.id && bot.symbol === fill.symbol && bot.status === 'running',
    );
    for (const bot of trading) {
      telemetry.metrics.tradingBotTrades.add(1, {
        bot_id: bot.id,
        symbol: fill.symbol,
        side: fill.side,
        status: 'filled',
      });
      await bots.modify(bot.id, (stored) =>
        stored
          ? {
              ...stored,
              trades: stored.trades + 1,
              realizedPnlUsd: stored.realizedPnlUsd + realizedPnlUsd / trading.length,
              updatedAt: new Date().toISOString(),
            }
          : undefined,
      );
    }
  }
}
