/**
 * NATS instrumentation, core and JetStream: W3C trace context travels in message headers,
 * every send is a PRODUCER span `send <destination>` and every handled message a CONSUMER
 * span `process <destination>`, with the messaging semantic-convention metrics. Destination
 * names are subject templates (`signals.*.*`), so metrics stay low-cardinality whatever the
 * concrete subjects.
 *
 *   const messaging = new NatsInstrumentation(telemetry, { subjectTemplates: ['signals.*.*'] });
 *   await messaging.jetstreamPublish(js, 'signals.buy.BTCUSD', payload);
 *   for await (const m of await consumer.consume()) await messaging.process(m, handle);
 *
 * Its first argument is any set of providers (`initTelemetry()`'s result is one), so that it
 * composes with an SDK set up elsewhere; without them it reports through the API's globals.
 */
import {
  type Context,
  context,
  type Link,
  type Span,
  SpanKind,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';
import type { JetStreamClient, JetStreamPublishOptions, PubAck } from '@nats-io/jetstream';
import {
  headers as createHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Payload,
  type PublishOptions,
  type RequestOptions,
  type Subscription,
  type SubscriptionOptions,
} from '@nats-io/transport-node';
import { buckets } from './catalog/define.ts';
import { Operation } from './operation.ts';
import { type InstrumentationProviders, resolveProviders } from './providers.ts';

const headerSetter: TextMapSetter<MsgHdrs> = { set: (carrier, key, value) => carrier.set(key, value) };
const headerGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (carrier) => carrier?.keys() ?? [],
  // NATS answers '' for a missing header; the propagator wants undefined.
  get: (carrier, key) => carrier?.get(key) || undefined,
};

/** Whether a concrete subject matches a NATS subject pattern (`*` one token, `>` the rest). */
function subjectMatches(pattern: string, subject: string): boolean {
  const wanted = pattern.split('.');
  const actual = subject.split('.');
  for (let i = 0; i < wanted.length; i += 1) {
    const token = wanted[i];
    if (token === '>') return actual.length > i;
    if (i >= actual.length || (token !== '*' && token !== actual[i])) return false;
  }
  return wanted.length === actual.length;
}

export interface NatsInstrumentationOptions {
  /** Subject patterns that name destinations; a subject matching none is its own destination. */
  subjectTemplates?: readonly string[];
  /**
   * How a consumer relates to the producer: `parent` (default) continues the producer's
   * trace; `link` starts a new trace that links to it, for fan-out and batch consumers.
   */
  consumerContext?: 'parent' | 'link';
}

export interface ReceivedMessage {
  subject: string;
  headers?: MsgHdrs | undefined;
  data: Uint8Array;
}

export class NatsInstrumentation {
  readonly #propagator: TextMapPropagator;
  readonly #templates: readonly string[];
  readonly #consumerContext: 'parent' | 'link';
  readonly #sends: Operation;
  readonly #processing: Operation;

  constructor(providers: InstrumentationProviders = {}, options: NatsInstrumentationOptions = {}) {
    const { tracer, meter, propagator } = resolveProviders(providers);
    this.#propagator = propagator;
    this.#templates = options.subjectTemplates ?? [];
    this.#consumerContext = options.consumerContext ?? 'parent';
    this.#sends = new Operation({
      tracer,
      count: meter.createCounter('messaging.client.sent.messages', {
        unit: '{message}',
        description: 'Messages sent, by destination and outcome',
      }),
      duration: meter.createHistogram('messaging.client.operation.duration', {
        unit: 's',
        description: 'Time to publish (and be acknowledged) or to get a reply',
        advice: { explicitBucketBoundaries: [...buckets.fast] },
      }),
    });
    this.#processing = new Operation({
      tracer,
      count: meter.createCounter('messaging.client.consumed.messages', {
        unit: '{message}',
        description: 'Messages handled, by destination and outcome',
      }),
      duration: meter.createHistogram('messaging.process.duration', {
        unit: 's',
        description: 'Time to handle a received message',
        advice: { explicitBucketBoundaries: [...buckets.fast] },
      }),
    });
  }

  /** The destination name for a subject: its template if one matches. */
  destination(subject: string): string {
    return this.#templates.find((pattern) => subjectMatches(pattern, subject)) ?? subject;
  }

  /** Runs `send` inside a PRODUCER span whose context is injected into the headers it passes on. */
  async #send<R>(
    operation: 'publish' | 'request',
    subject: string,
    payload: Payload | undefined,
    given: MsgHdrs | undefined,
    send: (headers: MsgHdrs) => R | Promise<R>,
  ): Promise<R> {
    const destination = this.destination(subject);
    const headers = given ?? createHeaders();
    return this.#sends.run(
      `send ${destination}`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.name': operation,
          'messaging.operation.type': 'send',
          'messaging.destination.name': destination,
          'messaging.nats.subject': subject,
          'messaging.message.body.size':
            typeof payload === 'string' ? Buffer.byteLength(payload) : (payload?.length ?? 0),
        },
        metricAttributes: {
          'messaging.system': 'nats',
          'messaging.operation.name': operation,
          'messaging.destination.name': destination,
        },
      },
      () => {
        // The active context is the send span's: the consumer continues from it.
        this.#propagator.inject(context.active(), headers, headerSetter);
        return send(headers);
      },
    );
  }

  /** Core NATS publish with trace context. Resolves once the message is handed to the client. */
  publish(
    nc: NatsConnection,
    subject: string,
    payload?: Payload,
    options: PublishOptions = {},
  ): Promise<void> {
    return this.#send('publish', subject, payload, options.headers, (headers) => {
      nc.publish(subject, payload, { ...options, headers });
    });
  }

  /** Core NATS request/reply with trace context. */
  request(
    nc: NatsConnection,
    subject: string,
    payload: Payload | undefined,
    options: RequestOptions,
  ): Promise<Msg> {
    return this.#send('request', subject, payload, options.headers, (headers) =>
      nc.request(subject, payload, { ...options, headers }),
    );
  }

  /** JetStream publish with trace context; resolves with the stream's acknowledgement. */
  jetstreamPublish(
    js: JetStreamClient,
    subject: string,
    payload: Payload,
    options: Partial<JetStreamPublishOptions> = {},
  ): Promise<PubAck> {
    return this.#send('publish', subject, payload, options.headers, (headers) =>
      js.publish(subject, payload, { ...options, headers }),
    );
  }

  /** The context a consumer span starts from: the producer's, or a fresh one with a link to it. */
  #consumerStart(message: ReceivedMessage): { parent: Context; links: Link[] } {
    let producer: Context;
    try {
      producer = this.#propagator.extract(context.active(), message.headers, headerGetter);
    } catch {
      // A broken traceparent must not cost a message: it starts a new trace instead.
      producer = context.active();
    }
    const producerSpan = trace.getSpanContext(producer);
    if (this.#consumerContext === 'link' && producerSpan && trace.isSpanContextValid(producerSpan)) {
      return { parent: trace.deleteSpan(producer), links: [{ context: producerSpan }] };
    }
    return { parent: producer, links: [] };
  }

  /**
   * Handles one received message (core or JetStream) inside a CONSUMER span that continues
   * the producer's trace. Errors are recorded and rethrown: acknowledging, retrying or
   * dead-lettering stays the caller's decision.
   */
  async process<M extends ReceivedMessage, R>(
    message: M,
    handler: (message: M, span: Span) => R | Promise<R>,
    destination = this.destination(message.subject),
  ): Promise<R> {
    const { parent, links } = this.#consumerStart(message);
    return this.#processing.run(
      `process ${destination}`,
      {
        kind: SpanKind.CONSUMER,
        links,
        parent,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.name': 'process',
          'messaging.operation.type': 'process',
          'messaging.destination.name': destination,
          'messaging.nats.subject': message.subject,
          'messaging.message.body.size': message.data.length,
        },
        metricAttributes: {
          'messaging.system': 'nats',
          'messaging.destination.name': destination,
        },
      },
      (span) => handler(message, span),
    );
  }

  /**
   * Subscribes and handles each message with `handler` inside its CONSUMER span, one at a
   * time. A handler error is passed to `onError` and the subscription goes on.
   */
  subscribe(
    nc: NatsConnection,
    subject: string,
    handler: (message: Msg, span: Span) => unknown,
    options: SubscriptionOptions & { onError: (error: unknown, message: Msg) => void },
  ): Subscription {
    const { onError, ...subscriptionOptions } = options;
    const subscription = nc.subscribe(subject, subscriptionOptions);
    const destination = this.#templates.length > 0 ? undefined : subject;
    void (async () => {
      for await (const message of subscription) {
        try {
          await this.process(message, handler, destination ?? this.destination(message.subject));
        } catch (error) {
          onError(error, message);
        }
      }
    })();
    return subscription;
  }
}
