/**
 * How a JetStream message is handled, the same way in every consumer: inside its CONSUMER span,
 * parsed against its schema, acknowledged only after the work is done. A malformed message, or
 * one that failed on every delivery, goes to the dead-letter stream with the reason (and the
 * trace id in the log line), so nothing crashes a consumer and nothing is silently lost.
 */
import { headers as createHeaders } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import type { Span } from '@opentelemetry/api';
import { primeCounter } from '@tradeobs/telemetry/catalog';
import type { z } from 'zod';
import { failureKind } from './errors.ts';
import type { ServiceContext } from './service.ts';
import { ackWaitSeconds, maxDeliveries, subjects } from './topology.ts';

/**
 * A third of the ack wait: a handler slowed by a cluster's leader election (KV calls timing out
 * after 5 s each) keeps its message, rather than another instance running it alongside.
 */
const workingIntervalMs = (ackWaitSeconds * 1000) / 3;

export type Outcome = 'handled' | 'retry' | 'dead_lettered';

export interface MessageHandlerOptions<S extends z.ZodType> {
  schema: S;
  /** Dead-letter subject suffix: the stream or purpose the message came from. */
  source: string;
  handle: (value: z.infer<S>, message: JsMsg, span: Span) => Promise<void>;
}

const retryDelayMillis = (delivery: number) => Math.min(30_000, 500 * 2 ** (delivery - 1));

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Parses a message body as JSON matching `schema`; bad JSON is an error like any other. */
export function decode<S extends z.ZodType>(
  schema: S,
  data: Uint8Array,
): z.ZodSafeParseResult<z.infer<S>> | { success: false; error: Error } {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(data));
  } catch (error) {
    return { success: false, error: error as Error };
  }
  return schema.safeParse(value);
}

/** Copies a message to `deadletter.<source>` with why, counts it and logs it with its trace id. */
export async function deadLetter(
  context: ServiceContext,
  message: { subject: string; data: Uint8Array; deliveries: number },
  source: string,
  reason: 'malformed' | 'failed',
  error: unknown,
): Promise<void> {
  const { messaging, js, telemetry } = context;
  const headers = createHeaders();
  headers.set('Dead-Letter-Reason', reason);
  headers.set('Dead-Letter-Error', describe(error).slice(0, 500));
  headers.set('Original-Subject', message.subject);
  headers.set('Original-Deliveries', String(message.deliveries));
  await messaging.jetstreamPublish(js, subjects.deadLetter(source), message.data, { headers });
  telemetry.metrics.messagesDeadLettered.add(1, {
    destination: messaging.destination(message.subject),
    reason,
  });
  telemetry.logger.warn('message dead-lettered', {
    subject: message.subject,
    reason,
    error: describe(error),
    deliveries: message.deliveries,
  });
}

/** Handles one delivered message; resolves with what happened to it, never rejects. */
export async function handleMessage<S extends z.ZodType>(
  context: ServiceContext,
  message: JsMsg,
  options: MessageHandlerOptions<S>,
): Promise<Outcome> {
  const { messaging, telemetry } = context;
  const destination = messaging.destination(message.subject);
  const delivery = message.info.deliveryCount;
  if (delivery > 1) telemetry.metrics.messagesRedelivered.add(1, { destination });
  try {
    return await messaging.process(
      message,
      async (_, span) => {
        const parsed = decode(options.schema, message.data);
        if (!parsed.success) {
          await deadLetter(
            context,
            { subject: message.subject, data: message.data, deliveries: delivery },
            options.source,
            'malformed',
            parsed.error,
          );
          message.term();
          return 'dead_lettered';
        }
        const stillWorking = setInterval(() => {
          try {
            message.working();
          } catch (error) {
            // Closed or draining: the message goes to an instance again after the ack wait.
            if (failureKind(error) !== 'connection')
              telemetry.logger.warn('could not extend the ack wait', {
                subject: message.subject,
                error: describe(error),
              });
          }
        }, workingIntervalMs);
        try {
          await options.handle(parsed.data, message, span);
        } catch (error) {
          if (delivery < maxDeliveries) throw error;
          await deadLetter(
            context,
            { subject: message.subject, data: message.data, deliveries: delivery },
            options.source,
            'failed',
            error,
          );
          message.term();
          return 'dead_lettered';
        } finally {
          clearInterval(stillWorking);
        }
        message.ack();
        return 'handled';
      },
      // Every consumer here is durable (topology.ts): its name is fixed, the conventions' consumer group.
      { consumerGroup: message.info.consumer },
    );
  } catch (error) {
    // Failed work, or a dead-letter publish that failed: retry later, never drop.
    telemetry.metrics.errors.add(1, {
      type: error instanceof Error ? error.name : 'Error',
      component: 'consumer',
    });
    telemetry.logger.warn('message handling failed; will retry', {
      subject: message.subject,
      delivery,
      error: describe(error),
    });
    message.nak(retryDelayMillis(delivery));
    return 'retry';
  }
}

/** Zero series from start-up for a consumer's redeliveries and dead letters. */
export function primeConsumerSeries(context: ServiceContext, destination: string): void {
  const { metrics } = context.telemetry;
  primeCounter(metrics.messagesRedelivered, { destination: [destination] });
  primeCounter(metrics.messagesDeadLettered, { destination: [destination], reason: ['malformed', 'failed'] });
}

/**
 * Records the consumer's backlog (jetstream.consumer.pending and .ack_pending) every
 * `intervalMillis` until the service stops.
 */
export function reportConsumerBacklog(
  context: ServiceContext,
  consumer: { stream: string; config: { durable_name: string } },
  intervalMillis = 5_000,
): void {
  const { jsm, telemetry, stopping } = context;
  const attributes = { stream: consumer.stream, consumer: consumer.config.durable_name };
  const timer = setInterval(() => {
    jsm.consumers.info(consumer.stream, consumer.config.durable_name).then(
      (info) => {
        telemetry.metrics.jetstreamConsumerPending.record(info.num_pending, attributes);
        telemetry.metrics.jetstreamConsumerAckPending.record(info.num_ack_pending, attributes);
      },
      (error: unknown) => telemetry.logger.debug('consumer info unavailable', { ...attributes, error }),
    );
  }, intervalMillis);
  timer.unref();
  stopping.addEventListener('abort', () => clearInterval(timer), { once: true });
}
