/**
 * api: the platform's JSON REST interface (pipelines, executions, bots, portfolio), state in
 * NATS key-value buckets, manual executions onto the work queue. Also reports the bots by
 * status and their P&L, from a watch on the bots bucket, and streams live prices over WebSocket.
 */
import {
  botStatuses,
  buckets,
  followMarket,
  mirror,
  openBots,
  openExecutionQueue,
  openPipelines,
  openPortfolio,
  runService,
} from '@tradeobs/platform';
import { primeCounter } from '@tradeobs/telemetry/catalog';
import { apiRoutes } from './app.ts';
import { PriceStream } from './price-stream.ts';

runService({
  name: 'api',
  version: '0.1.0',
  defaultPort: 8000,
  async setup(context) {
    const { telemetry, stopping } = context;
    const { metrics, logger } = telemetry;
    const [queue, pipelines, bots, portfolio] = await Promise.all([
      openExecutionQueue(context),
      openPipelines(context),
      openBots(context),
      openPortfolio(context),
    ]);
    const botMirror = mirror(bots, logger, stopping, (entries) => {
      const counts = Object.fromEntries(botStatuses.map((status) => [status, 0]));
      for (const bot of entries.values()) {
        counts[bot.status] = (counts[bot.status] ?? 0) + 1;
        metrics.tradingBotPnl.record(bot.realizedPnlUsd, { bot_id: bot.id, symbol: bot.symbol });
      }
      for (const [status, count] of Object.entries(counts))
        metrics.tradingBotsActive.record(count, { status });
      // A deleted bot's P&L series goes with it.
      metrics.tradingBotPnl.retain((attributes) => entries.has(String(attributes.bot_id)));
    });
    const executions = mirror(queue.executions, logger, stopping, undefined, {
      maxAgeMillis: buckets.executions.options.ttl,
      writtenAt: (execution) => Date.parse(execution.requestedAt),
    });
    const pipelineMirror = mirror(pipelines, logger, stopping);
    await Promise.all([botMirror.loaded, executions.loaded, pipelineMirror.loaded]);
    const prices = new PriceStream(telemetry);
    const market = followMarket(context, { onTick: (tick) => prices.broadcast(tick) });
    primeCounter(metrics.pipelinesEnqueued, { trigger_mode: ['manual'] });

    return {
      routes: apiRoutes({ pipelines, pipelineMirror, queue, executions, bots, botMirror, portfolio, market }),
      attach: (server) => prices.attach(server),
      stop: () => {
        prices.close();
        return Promise.resolve();
      },
    };
  },
});
