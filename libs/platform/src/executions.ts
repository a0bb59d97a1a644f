/**
 * Putting a pipeline execution on the work queue, the one way both the api (by hand) and the
 * trigger dispatcher (on a signal) do it: take the pipeline's running lock, record the
 * execution as queued, publish the request with its id as the JetStream message id. A pipeline
 * that is already running is skipped; the worker releases the lock when it finishes.
 */
import { z } from 'zod';
import type { Execution, ExecutionRequest, Pipeline, Signal, TriggerMode } from './domain.ts';
import { Execution as ExecutionSchema } from './domain.ts';
import type { ServiceContext } from './service.ts';
import { isRevisionConflict, openStore, type Store } from './store.ts';
import { subjects } from './topology.ts';

export const RunningLock = z.object({ executionId: z.string(), lockedAt: z.iso.datetime() });

export interface ExecutionQueue {
  readonly executions: Store<typeof ExecutionSchema>;
  readonly locks: Store<typeof RunningLock>;
  /** Queues an execution, or answers `running` when the pipeline already runs one. */
  enqueue(
    pipeline: Pipeline,
    trigger: { mode: TriggerMode; executionId: string; signal?: Signal },
  ): Promise<{ outcome: 'enqueued'; execution: Execution } | { outcome: 'running' | 'duplicate' }>;
}

export async function openExecutionQueue(context: ServiceContext): Promise<ExecutionQueue> {
  const { js, messaging, telemetry } = context;
  const executions = await openStore(context, 'executions', ExecutionSchema);
  const locks = await openStore(context, 'runningPipelines', RunningLock);

  return {
    executions,
    locks,
    async enqueue(pipeline, trigger) {
      const now = new Date().toISOString();
      try {
        await locks.create(pipeline.id, { executionId: trigger.executionId, lockedAt: now });
      } catch (error) {
        if (isRevisionConflict(error)) return { outcome: 'running' };
        throw error;
      }
      const fresh: Execution = {
        id: trigger.executionId,
        pipelineId: pipeline.id,
        triggerMode: trigger.mode,
        status: 'queued',
        requestedAt: now,
        fills: [],
        reasons: [],
        ...(trigger.signal ? { signalId: trigger.signal.id } : {}),
      };
      let execution = fresh;
      try {
        try {
          await executions.create(fresh.id, fresh);
        } catch (error) {
          if (!isRevisionConflict(error)) throw error;
          // A retry of a request whose publish failed (a NATS node lost mid-way): the record is
          // there, still queued, and the request is published again; the message id makes a
          // publish that did reach the stream the first time a no-op. Anything further along is
          // a duplicate.
          const stored = await executions.get(fresh.id);
          if (stored?.value.status !== 'queued') {
            await locks.delete(pipeline.id).catch(() => undefined);
            return { outcome: 'duplicate' };
          }
          execution = stored.value;
        }
        const request: ExecutionRequest = {
          executionId: execution.id,
          pipelineId: pipeline.id,
          triggerMode: trigger.mode,
          requestedAt: execution.requestedAt,
          ...(trigger.signal ? { signal: trigger.signal } : {}),
        };
        await messaging.jetstreamPublish(js, subjects.executionRequests, JSON.stringify(request), {
          msgID: execution.id,
        });
      } catch (error) {
        await locks.delete(pipeline.id).catch(() => undefined);
        throw error;
      }
      telemetry.metrics.pipelinesEnqueued.add(1, { trigger_mode: trigger.mode });
      // With the worker's "execution finished", an execution's life in the logs, each record in
      // the span it happened in: the trace of a request or a signal leads to both.
      telemetry.logger.info('execution requested', {
        executionId: execution.id,
        pipelineId: pipeline.id,
        triggerMode: trigger.mode,
      });
      return { outcome: 'enqueued', execution };
    },
  };
}
