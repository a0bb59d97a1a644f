/**
 * trigger-dispatcher: reads signals from the SIGNALS stream in batches, matches each to the
 * pipelines it triggers (from a cache of the `pipelines` bucket kept current by a watch) and
 * puts execution requests on the work queue, skipping pipelines that are already running.
 */
import {
  consumers,
  handleMessage,
  mirror,
  openExecutionQueue,
  openPipelines,
  primeConsumerSeries,
  reportConsumerBacklog,
  runService,
  Signal,
  signalTypes,
  subjects,
} from '@tradeobs/platform';
import { primeCounter } from '@tradeobs/telemetry/catalog';
import { accepts, PipelineIndex } from './matching.ts';

runService({
  name: 'trigger-dispatcher',
  version: '0.1.0',
  defaultPort: 8004,
  async setup(context, settings) {
    const batchSize = settings.number('DISPATCH_BATCH_SIZE', 50, { min: 1, max: 1000, integer: true });
    const batchWaitMillis = settings.number('DISPATCH_BATCH_WAIT_MS', 1000, {
      min: 10,
      max: 60_000,
      integer: true,
    });
    settings.check();
    const { telemetry, js, stopping } = context;
    const { metrics, logger } = telemetry;
    const [queue, pipelines] = await Promise.all([openExecutionQueue(context), openPipelines(context)]);
    const index = new PipelineIndex();
    const cache = mirror(pipelines, logger, stopping, (entries) => {
      index.rebuild(entries.values());
      metrics.pipelineCacheSize.record(entries.size);
    });
    await cache.loaded;
    metrics.pipelineCacheSize.record(cache.size);
    reportConsumerBacklog(context, consumers.dispatcher);
    // Zero series from start-up, so rates and alerts see 0 before the first signal.
    metrics.signalsConsumed.add(0);
    metrics.pipelinesSkippedRunning.add(0);
    primeCounter(metrics.pipelinesMatched, { signal_type: signalTypes });
    primeCounter(metrics.pipelinesEnqueued, { trigger_mode: ['signal'] });
    primeConsumerSeries(context, subjects.signals);

    const dispatch = async (signal: Signal) => {
      metrics.signalsConsumed.add(1);
      const candidates = index.candidates(signal.symbol);
      metrics.cacheLookups.add(1, { cache: 'pipelines', result: candidates ? 'hit' : 'miss' });
      for (const pipeline of candidates ?? []) {
        if (!accepts(pipeline, signal)) continue;
        metrics.pipelinesMatched.add(1, { signal_type: signal.type });
        // Derived from the signal, so a redelivered signal cannot queue the same work twice.
        const executionId = `sig-${signal.id}-${pipeline.id}`.slice(0, 64);
        const result = await queue.enqueue(pipeline, { mode: 'signal', executionId, signal });
        if (result.outcome === 'running') metrics.pipelinesSkippedRunning.add(1);
      }
    };

    const consumer = await js.consumers.get(
      consumers.dispatcher.stream,
      consumers.dispatcher.config.durable_name,
    );
    let healthy = true;
    const loop = (async () => {
      while (!stopping.aborted) {
        try {
          // Each signal is handled as soon as it arrives, without waiting for the one before: a
          // lone signal is not held for the fetch window, and a burst is not bound by one NATS
          // round trip after another. Two signals for one pipeline still start it once: the
          // running lock is a compare-and-set.
          const handling: Promise<void>[] = [];
          let busyMillis = 0;
          for await (const message of await consumer.fetch({
            max_messages: batchSize,
            expires: batchWaitMillis,
          })) {
            const startedAt = performance.now();
            handling.push(
              handleMessage(context, message, { schema: Signal, source: 'signals', handle: dispatch }).then(
                () => {
                  busyMillis += performance.now() - startedAt;
                },
              ),
            );
          }
          await Promise.all(handling);
          const handled = handling.length;
          healthy = true;
          if (handled === 0) continue;
          metrics.batchSize.record(handled);
          metrics.batchProcessingDuration.record(busyMillis / 1000);
        } catch (error) {
          healthy = false;
          logger.warn('fetching signals failed; retrying', { error });
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    })();
    return {
      readiness: () => ({ consumer: healthy, pipelineCache: true }),
      stop: () => loop,
    };
  },
});
