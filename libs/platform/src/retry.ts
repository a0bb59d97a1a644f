/** Retrying JetStream steps that no server could answer yet, as while a cluster forms. */
import type { Logger } from '@tradeobs/telemetry';
import { failureKind } from './errors.ts';

/** How long an idempotent JetStream step is retried while the cluster settles. */
const settleDeadlineMs = 60_000;

/**
 * Runs an idempotent JetStream step (declaring a stream, opening a bucket) again while no
 * server can answer it yet: a timeout or no responders, as while a fresh cluster elects its
 * leaders. Measured: on a fresh three-node cluster with five services declaring the same
 * streams at once, one bucket's creation timed out after the client's 5 s and failed the api's
 * start-up, though the cluster had created it a second later. Anything else, or a failure
 * after a minute, is thrown.
 */
export async function retryWhileUnanswered<T>(
  what: string,
  work: () => Promise<T>,
  logger: Pick<Logger, 'warn'>,
): Promise<T> {
  const deadline = Date.now() + settleDeadlineMs;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      const kind = failureKind(error);
      if ((kind !== 'timeout' && kind !== 'no_responders') || Date.now() >= deadline) throw error;
      logger.warn('JetStream did not answer; trying again', { step: what, attempt, kind });
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * attempt, 5000)));
    }
  }
}
