/**
 * NATS instrumentation, core and JetStream, after the OpenTelemetry messaging semantic
 * conventions (v1.44): W3C trace context travels in message headers, every send is a PRODUCER
 * span `publish <destination>` (or `request <destination>`) and every handled message a CONSUMER
 * span `process <destination>`, with the conventions' four metrics.
 *
 *   const messaging = new NatsInstrumentation(telemetry, { subjectTemplates: ['signals.*.*'], connection: nc });
 *   await messaging.jetstreamPublish(js, 'signals.buy.BTCUSD', payload);
 *   for await (const m of await consumer.consume()) await messaging.process(m, handle, { consumerGroup: 'worker' });
 *
 * Destinations: `messaging.destination.name` is the concrete subject, on spans only;
 * `messaging.destination.template` is the subject template that matches it, on spans and
 * metrics, and names the span. A subject that matches no template is named in its span but left
 * off the metrics, whose cardinality it could not bound (a literal subject is a template of
 * itself: list it to have it on the metrics). A reply inbox (`_INBOX.…`) is a temporary,
 * anonymous destination, which leaves the span name without one unless a template matches.
 *
 * Its first argument is any set of providers (`initTelemetry()`'s result is one), so that it
 * composes with an SDK set up elsewhere; without them it reports through the API's globals.
 */
import {
  type Attributes,
  type Context,
  context,
  type Counter,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
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
import { Operation, type OperationOptions } from './operation.ts';
import { type InstrumentationProviders, resolveProviders } from './providers.ts';

const headerSetter: TextMapSetter<MsgHdrs> = { set: (carrier, key, value) => carrier.set(key, value) };
const headerGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (carrier) => carrier?.keys() ?? [],
  // NATS answers '' for a missing header; the propagator wants undefined.
  get: (carrier, key) => carrier?.get(key) || undefined,
};

/** The conventions list no value for NATS: `messaging.system` takes our own, as they allow. */
const system = 'nats';
/** The header JetStream de-duplicates on (`msgID` sets it): the message's id. */
const messageIdHeader = 'Nats-Msg-Id';

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

/** What the instrumentation reads of a connection: the server it is on, and its id there. */
type ConnectionInfo = Pick<NatsConnection, 'getServer' | 'info'>;

interface Server {
  /** The connection's `host:port` (`[v6]:port`), from which the other two are parsed. */
  listen: string;
  address: string;
  port: number;
}

function parseServer(listen: string): Server | undefined {
  const colon = listen.lastIndexOf(':');
  const port = Number(listen.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port)) return undefined;
  return { listen, address: listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port };
}

function sizeOf(payload: Payload | undefined): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload) : (payload?.length ?? 0);
}

export interface NatsInstrumentationOptions {
  /**
   * The low-cardinality destinations: subject patterns (`signals.*.*`, `deadletter.>`) and
   * fixed subjects (`executions.requests`). The one that matches a subject is its
   * `messaging.destination.template`, names its spans and labels its metrics.
   */
  subjectTemplates?: readonly string[];
  /**
   * How a consumer span relates to the producer's (the message's creation context), which it
   * always links to, as the conventions ask: `parent` (default) makes it the parent too, so that
   * producer and consumer are one trace, and links the span that was active, if any; `link`
   * leaves the span in the active trace (a new one if none), for fan-out and batch consumers.
   */
  consumerContext?: 'parent' | 'link';
  /**
   * The connection behind the calls that are given none (`jetstreamPublish`, `process`), for
   * `server.address`, `server.port` and `messaging.client.id`; the core calls read the
   * connection they are given.
   */
  connection?: ConnectionInfo | undefined;
  /** Record `messaging.message.body.size`, opt-in in the conventions. Default false. */
  messageBodySize?: boolean;
  /**
   * The prefix of reply subjects (the connection's `inboxPrefix`): their destinations are
   * temporary and anonymous. Default `_INBOX`.
   */
  inboxPrefix?: string;
}

export interface ProcessOptions {
  /**
   * The conventions' consumer group: the JetStream durable consumer (or the core queue group)
   * the message was delivered through. A name fixed in code: an ephemeral consumer's generated
   * name would make a series per consumer.
   */
  consumerGroup?: string | undefined;
}

export interface ReceivedMessage {
  subject: string;
  headers?: MsgHdrs | undefined;
  data: Uint8Array;
}

/** One message's send: what varies between the three ways of sending. */
interface Send<R> {
  operation: 'publish' | 'request';
  connection: ConnectionInfo | undefined;
  subject: string;
  payload: Payload | undefined;
  headers: MsgHdrs | undefined;
  messageId: string | undefined;
  send: (headers: MsgHdrs) => R | Promise<R>;
}

/** One delivered message's processing. */
interface Delivery {
  template: string | undefined;
  consumerGroup: string | undefined;
  connection: ConnectionInfo | undefined;
}

export class NatsInstrumentation {
  readonly #propagator: TextMapPropagator;
  readonly #templates: readonly string[];
  readonly #consumerContext: 'parent' | 'link';
  readonly #connection: ConnectionInfo | undefined;
  readonly #messageBodySize: boolean;
  readonly #inbox: string;
  readonly #sends: Operation;
  readonly #processing: Operation;
  readonly #sent: Counter;
  readonly #consumed: Counter;
  /** The last server parsed: one connection's stays the same until it reconnects elsewhere. */
  #server: Server | undefined;

  constructor(providers: InstrumentationProviders = {}, options: NatsInstrumentationOptions = {}) {
    const { tracer, meter, propagator } = resolveProviders(providers);
    this.#propagator = propagator;
    this.#templates = options.subjectTemplates ?? [];
    this.#consumerContext = options.consumerContext ?? 'parent';
    this.#connection = options.connection;
    this.#messageBodySize = options.messageBodySize ?? false;
    this.#inbox = `${options.inboxPrefix ?? '_INBOX'}.`;
    // The counters' attributes differ from the histograms' (no messaging.operation.type, no
    // error.type on delivery), so the operations time and trace, and the counts are recorded here.
    this.#sent = meter.createCounter('messaging.client.sent.messages', {
      unit: '{message}',
      description: 'Number of messages producer attempted to send to the broker.',
    });
    this.#consumed = meter.createCounter('messaging.client.consumed.messages', {
      unit: '{message}',
      description: 'Number of messages that were delivered to the application.',
    });
    this.#sends = new Operation({
      tracer,
      duration: meter.createHistogram('messaging.client.operation.duration', {
        unit: 's',
        description: 'Duration of messaging operation initiated by a producer or consumer client.',
        advice: { explicitBucketBoundaries: [...buckets.http] },
      }),
    });
    this.#processing = new Operation({
      tracer,
      duration: meter.createHistogram('messaging.process.duration', {
        unit: 's',
        description: 'Duration of processing operation.',
        advice: { explicitBucketBoundaries: [...buckets.http] },
      }),
    });
  }

  /** The subject template that matches `subject`, if any. */
  #templateOf(subject: string): string | undefined {
    return this.#templates.find((pattern) => subjectMatches(pattern, subject));
  }

  /**
   * The destination a subject is counted under: the template that matches it, else the subject
   * itself. For labels of one's own beside these metrics (dead letters by destination, say).
   */
  destination(subject: string): string {
    return this.#templateOf(subject) ?? subject;
  }

  /**
   * `{operation} {destination}`: the template, else the subject unless it is a reply inbox,
   * whose generated name would make a span name per request; else the operation alone.
   */
  #spanName(operation: string, subject: string, template: string | undefined): string {
    if (template !== undefined) return `${operation} ${template}`;
    return subject.startsWith(this.#inbox) ? operation : `${operation} ${subject}`;
  }

  /**
   * The attributes that spans and metrics share: system, operation, template and server, in a
   * new object (the SDK keeps the object it is given for a new series, so none is shared).
   */
  #common(
    operation: string,
    template: string | undefined,
    connection: ConnectionInfo | undefined,
  ): Attributes {
    const attributes: Attributes = { 'messaging.system': system, 'messaging.operation.name': operation };
    if (template !== undefined) attributes['messaging.destination.template'] = template;
    const listen = connection?.getServer();
    if (listen) {
      if (this.#server?.listen !== listen) this.#server = parseServer(listen);
      if (this.#server) {
        attributes['server.address'] = this.#server.address;
        attributes['server.port'] = this.#server.port;
      }
    }
    return attributes;
  }

  /** What only the span carries: the subject, whether it is an inbox, the message and client ids. */
  #spanAttributes(
    common: Attributes,
    operationType: 'send' | 'process',
    subject: string,
    messageId: string | undefined,
    connection: ConnectionInfo | undefined,
    bodySize: number | undefined,
  ): Attributes {
    const attributes: Attributes = {
      ...common,
      'messaging.operation.type': operationType,
      'messaging.destination.name': subject,
    };
    if (subject.startsWith(this.#inbox)) {
      attributes['messaging.destination.temporary'] = true;
      attributes['messaging.destination.anonymous'] = true;
    }
    if (messageId) attributes['messaging.message.id'] = messageId;
    const clientId = connection?.info?.client_id;
    if (clientId !== undefined) attributes['messaging.client.id'] = String(clientId);
    if (bodySize !== undefined) attributes['messaging.message.body.size'] = bodySize;
    return attributes;
  }

  /** A span context already in the headers a caller passes: a creation context of its own. */
  #givenCreationContext(headers: MsgHdrs): SpanContext | undefined {
    const given = trace.getSpanContext(this.#propagator.extract(ROOT_CONTEXT, headers, headerGetter));
    return given && trace.isSpanContextValid(given) ? given : undefined;
  }

  /**
   * Runs `send` inside a PRODUCER span whose context is injected into the headers as the
   * message's creation context. Headers that carry one already keep it: the span is then a
   * CLIENT span that links to it, as the conventions ask.
   */
  async #send<R>(message: Send<R>): Promise<R> {
    const { operation, connection, subject, payload } = message;
    const template = this.#templateOf(subject);
    const counted = this.#common(operation, template, connection);
    const timed: Attributes = { ...counted, 'messaging.operation.type': 'send' };
    const headers = message.headers ?? createHeaders();
    const given = message.headers ? this.#givenCreationContext(message.headers) : undefined;
    const options: OperationOptions = {
      kind: given ? SpanKind.CLIENT : SpanKind.PRODUCER,
      attributes: this.#spanAttributes(
        counted,
        'send',
        subject,
        message.messageId,
        connection,
        this.#messageBodySize ? sizeOf(payload) : undefined,
      ),
      metricAttributes: timed,
    };
    if (given) options.links = [{ context: given }];
    try {
      return await this.#sends.run(this.#spanName(operation, subject, template), options, () => {
        // The active context is the send span's: the consumer continues from it.
        if (!given) this.#propagator.inject(context.active(), headers, headerSetter);
        return message.send(headers);
      });
    } finally {
      // The operation wrote error.type into the histogram's attributes when the send failed.
      const failure = timed['error.type'];
      if (failure !== undefined) counted['error.type'] = failure;
      this.#sent.add(1, counted);
    }
  }

  /** Core NATS publish with trace context. Resolves once the message is handed to the client. */
  publish(
    nc: Pick<NatsConnection, 'publish' | 'getServer' | 'info'>,
    subject: string,
    payload?: Payload,
    options: PublishOptions = {},
  ): Promise<void> {
    return this.#send({
      operation: 'publish',
      connection: nc,
      subject,
      payload,
      headers: options.headers,
      messageId: options.headers?.get(messageIdHeader),
      send: (headers) => {
        nc.publish(subject, payload, { ...options, headers });
      },
    });
  }

  /** Core NATS request/reply with trace context; the duration includes the wait for the reply. */
  request(
    nc: Pick<NatsConnection, 'request' | 'getServer' | 'info'>,
    subject: string,
    payload: Payload | undefined,
    options: RequestOptions,
  ): Promise<Msg> {
    return this.#send({
      operation: 'request',
      connection: nc,
      subject,
      payload,
      headers: options.headers,
      messageId: options.headers?.get(messageIdHeader),
      send: (headers) => nc.request(subject, payload, { ...options, headers }),
    });
  }

  /** JetStream publish with trace context; resolves with the stream's acknowledgement. */
  jetstreamPublish(
    js: Pick<JetStreamClient, 'publish'>,
    subject: string,
    payload: Payload,
    options: Partial<JetStreamPublishOptions> = {},
  ): Promise<PubAck> {
    return this.#send({
      operation: 'publish',
      connection: this.#connection,
      subject,
      payload,
      headers: options.headers,
      messageId: options.msgID ?? options.headers?.get(messageIdHeader),
      send: (headers) => js.publish(subject, payload, { ...options, headers }),
    });
  }

  /**
   * The context a consumer span starts from, and its links: always the message's creation
   * context; with `parent`, that context is the parent as well, and the span that was active
   * (the conventions' ambient context) is linked instead.
   */
  #consumerStart(message: ReceivedMessage): { parent: Context; links: Link[] } {
    const ambient = context.active();
    let extracted = ambient;
    try {
      extracted = this.#propagator.extract(ambient, message.headers, headerGetter);
    } catch {
      // A broken traceparent must not cost a message: it starts a new trace instead.
    }
    const creation = trace.getSpanContext(extracted);
    const ambientSpan = trace.getSpan(ambient);
    // Nothing extracted leaves the ambient span in place: no creation context to link.
    if (!creation || creation === ambientSpan?.spanContext() || !trace.isSpanContextValid(creation)) {
      return { parent: extracted, links: [] };
    }
    const links: Link[] = [{ context: creation }];
    const active =
      ambientSpan && trace.isSpanContextValid(ambientSpan.spanContext()) ? ambientSpan : undefined;
    if (this.#consumerContext === 'link') {
      return { parent: active ? trace.setSpan(extracted, active) : trace.deleteSpan(extracted), links };
    }
    if (active) links.push({ context: active.spanContext() });
    return { parent: extracted, links };
  }

  /**
   * Handles one received message (core or JetStream) inside a CONSUMER span. The message is
   * counted as consumed when it is handed over, the handler is timed. Errors are recorded and
   * rethrown: acknowledging, retrying or dead-lettering stays the caller's decision.
   */
  process<M extends ReceivedMessage, R>(
    message: M,
    handler: (message: M, span: Span) => R | Promise<R>,
    options: ProcessOptions = {},
  ): Promise<R> {
    return this.#process(message, handler, {
      template: this.#templateOf(message.subject),
      consumerGroup: options.consumerGroup,
      connection: this.#connection,
    });
  }

  #process<M extends ReceivedMessage, R>(
    message: M,
    handler: (message: M, span: Span) => R | Promise<R>,
    delivery: Delivery,
  ): Promise<R> {
    const { template, consumerGroup, connection } = delivery;
    const consumed = this.#common('process', template, connection);
    if (consumerGroup !== undefined) consumed['messaging.consumer.group.name'] = consumerGroup;
    // Delivered to the application now, whatever the handler makes of it.
    this.#consumed.add(1, consumed);
    const { parent, links } = this.#consumerStart(message);
    const messageId = message.headers?.get(messageIdHeader);
    return this.#processing.run(
      this.#spanName('process', message.subject, template),
      {
        kind: SpanKind.CONSUMER,
        links,
        parent,
        attributes: this.#spanAttributes(
          consumed,
          'process',
          message.subject,
          messageId,
          connection,
          this.#messageBodySize ? message.data.length : undefined,
        ),
        metricAttributes: { ...consumed },
      },
      (span) => handler(message, span),
    );
  }

  /**
   * Subscribes and handles each message with `handler` inside its CONSUMER span, one at a
   * time. The subscription's subject is the template of the messages no configured template
   * matches, and its queue group their consumer group. A handler error is passed to `onError`
   * and the subscription goes on.
   */
  subscribe(
    nc: Pick<NatsConnection, 'subscribe' | 'getServer' | 'info'>,
    subject: string,
    handler: (message: Msg, span: Span) => unknown,
    options: SubscriptionOptions & { onError: (error: unknown, message: Msg) => void },
  ): Subscription {
    const { onError, ...subscriptionOptions } = options;
    const subscription = nc.subscribe(subject, subscriptionOptions);
    // A subscription's subject is fixed by its code: low-cardinality, unless it is an inbox.
    const subscribed = subject.startsWith(this.#inbox) ? undefined : subject;
    void (async () => {
      for await (const message of subscription) {
        try {
          await this.#process(message, handler, {
            template: this.#templateOf(message.subject) ?? subscribed,
            consumerGroup: options.queue,
            connection: nc,
          });
        } catch (error) {
          onError(error, message);
        }
      }
    })();
    return subscription;
  }
}
