/**
 * worker: takes pipeline execution requests from the EXECUTIONS work queue and runs them
 * (strategy, risk checks, simulated orders, portfolio and bots), one at a time.
 */
import {
  consumers,
  ExecutionRequest,
  followMarket,
  handleMessage,
  mirror,
  openBots,
  openExecutionQueue,
  openPipelines,
  openPortfolio,
  primeConsumerSeries,
  reportConsumerBacklog,
  runService,
  subjects,
} from '@tradeobs/platform';
import { Executor } from './executor.ts';
import { primePipelineSeries, primeTradingSeries } from './priming.ts';
import { reportPortfolio } from './reporting.ts';

runService({
  name: 'worker',
  version: '0.1.0',
  defaultPort: 8002,
  async setup(context, settings) {
    const venue = {
      rejectionRate: settings.number('VENUE_REJECTION_RATE', 0.03, { min: 0, max: 1 }),
      maxSlippageBps: settings.number('VENUE_MAX_SLIPPAGE_BPS', 25, { min: 0, max: 10_000 }),
    };
    const dailyPnlGoalUsd = settings.number('GOAL_DAILY_PNL_USD', 2_000, { min: 1, max: 1e9 });
    // 14 bucket series per pipeline and status when on: for a few pipelines worth watching, not hundreds.
    const durationByPipeline =
      settings.oneOf('WORKER_DURATION_BY_PIPELINE', ['true', 'false'], 'false') === 'true';
    settings.check();
    const { telemetry, js, stopping } = context;
    const [queue, pipelines, portfolio, bots] = await Promise.all([
      openExecutionQueue(context),
      openPipelines(context),
      openPortfolio(context),
      openBots(context),
    ]);
    const { metrics } = telemetry;
    // A deleted bot's or pipeline's series go with it: the metrics by id are forgettable.
    const botMirror = mirror(bots, telemetry.logger, stopping, (entries) => {
      metrics.tradingBotTrades.retain((attributes) => entries.has(String(attributes.bot_id)));
    });
    const primed = new Set<string>();
    const pipelineMirror = mirror(pipelines, telemetry.logger, stopping, (entries) => {
      const fresh = [...entries.keys()].filter((id) => !primed.has(id));
      for (const id of fresh) primed.add(id);
      if (fresh.length > 0) primePipelineSeries(telemetry, fresh);
      for (const id of primed) if (!entries.has(id)) primed.delete(id);
      metrics.pipelineExecutions.retain((attributes) => entries.has(String(attributes.pipeline_id)));
    });
    await Promise.all([botMirror.loaded, pipelineMirror.loaded]);
    primeTradingSeries(telemetry);
    const market = followMarket(context);
    const executor = new Executor({
      telemetry,
      queue,
      pipelines,
      portfolio,
      bots,
      botMirror,
      market,
      venue,
      durationByPipeline,
    });
    reportPortfolio(telemetry, portfolio, market, { dailyPnlGoalUsd, intervalMillis: 5_000 }, stopping);
    reportConsumerBacklog(context, consumers.worker);
    primeConsumerSeries(context, subjects.executionRequests);

    const consumer = await js.consumers.get(consumers.worker.stream, consumers.worker.config.durable_name);
    const messages = await consumer.consume({ max_messages: 16 });
    let consuming = true;
    const loop = (async () => {
      for await (const message of messages) {
        await handleMessage(context, message, {
          schema: ExecutionRequest,
          source: 'executions',
          handle: (request) => executor.run(request, message.info.deliveryCount),
        });
      }
      consuming = false;
    })();
    return {
      readiness: () => ({ consumer: consuming }),
      async stop() {
        await messages.close();
        await loop;
      },
    };
  },
});
