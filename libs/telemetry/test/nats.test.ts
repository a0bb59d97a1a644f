/**
 * The NATS instrumentation against the messaging semantic conventions, without a server: a
 * connection and a stream that only record what they are given, and in-memory exporters. Every
 * attribute and metric name is compared with @opentelemetry/semantic-conventions; the real
 * server's side is test/integration/nats.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Attributes, context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { JetStreamClient, JetStreamPublishOptions, PubAck } from '@nats-io/jetstream';
import {
  headers,
  type MsgHdrs,
  type NatsConnection,
  type Payload,
  type ServerInfo,
  TimeoutError,
} from '@nats-io/transport-node';
import {
  AggregationTemporality,
  type DataPoint,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type Sampler,
  SamplingDecision,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_ERROR_TYPE, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions';
import {
  ATTR_MESSAGING_CLIENT_ID,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_ANONYMOUS,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_TEMPLATE,
  ATTR_MESSAGING_DESTINATION_TEMPORARY,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES,
  METRIC_MESSAGING_CLIENT_OPERATION_DURATION,
  METRIC_MESSAGING_CLIENT_SENT_MESSAGES,
  METRIC_MESSAGING_PROCESS_DURATION,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
} from '@opentelemetry/semantic-conventions/incubating';
import * as conventions from '@opentelemetry/semantic-conventions/incubating';
import { type NatsInstrumentationOptions, NatsInstrumentation } from '../src/nats.ts';
import { instrumentationScope } from '../src/providers.ts';
import { testTelemetry } from '../src/testing.ts';

/**
 * `messaging.system`, as the conventions (v1.44: the registry, the span and metric tables) name it.
 * The package marks its constant deprecated for a `messaging.system.name` that no release of the
 * conventions defines yet.
 */
// eslint-disable-next-line @typescript-eslint/no-deprecated
const ATTR_MESSAGING_SYSTEM_KEY = ATTR_MESSAGING_SYSTEM;

/** Every attribute name the conventions register (stable and incubating). */
const registered = new Set<unknown>(
  Object.entries(conventions).flatMap(([name, value]) => (name.startsWith('ATTR_') ? [value] : [])),
);

function assertRegistered(attributes: Attributes | undefined): void {
  for (const key of Object.keys(attributes ?? {})) assert.ok(registered.has(key), `${key} is registered`);
}

/** What the server sends a client on connecting; only `client_id` matters here. */
const serverInfo: ServerInfo = {
  client_id: 7,
  go: 'go1.22',
  host: '0.0.0.0',
  max_payload: 1_048_576,
  port: 4222,
  proto: 1,
  server_id: 'NTEST',
  server_name: 'test',
  version: '2.9.0',
};

/** A connection that records what is published and fails every request as nats.js does on a timeout. */
function fakeConnection(server = 'nats.internal:4222') {
  const published: { subject: string; headers: MsgHdrs | undefined }[] = [];
  const nc: Pick<NatsConnection, 'publish' | 'request' | 'getServer' | 'info'> = {
    info: serverInfo,
    getServer: () => server,
    publish: (subject, _payload, options) => {
      published.push({ subject, headers: options?.headers });
    },
    request: () => Promise.reject(new TimeoutError()),
  };
  return { nc, published };
}

/** A stream that acknowledges every publish at once, keeping what it was given. */
function fakeStream() {
  const published: { subject: string; options: Partial<JetStreamPublishOptions> | undefined }[] = [];
  const js: Pick<JetStreamClient, 'publish'> = {
    publish: (subject: string, _payload?: Payload, options?: Partial<JetStreamPublishOptions>) => {
      published.push({ subject, options });
      const ack: PubAck = { stream: 'SIGNALS', seq: published.length, duplicate: false };
      return Promise.resolve(ack);
    },
  };
  return { js, published };
}

function setUp(options: NatsInstrumentationOptions = {}) {
  const recorded = testTelemetry();
  const connection = fakeConnection();
  const stream = fakeStream();
  const messaging = new NatsInstrumentation(recorded.telemetry, {
    subjectTemplates: ['signals.*.*', 'executions.requests', 'deadletter.>'],
    connection: connection.nc,
    ...options,
  });
  return { ...recorded, ...connection, stream, messaging };
}

const templated = { subject: 'signals.buy.BTCUSD', template: 'signals.*.*' };
const count = (point: DataPoint<unknown> | undefined) => (point?.value as { count: number }).count;

describe('NATS instrumentation: span names', () => {
  it('are `{messaging.operation.name} {destination}`, the destination being the template when one matches', async () => {
    const { messaging, nc, stream, spans } = setUp();
    await messaging.jetstreamPublish(stream.js, templated.subject, '{}');
    await messaging.publish(nc, 'executions.requests', '{}');
    await messaging.process({ subject: templated.subject, data: new Uint8Array() }, () => undefined);
    assert.deepEqual(
      spans.getFinishedSpans().map((s) => s.name),
      ['publish signals.*.*', 'publish executions.requests', 'process signals.*.*'],
    );
  });

  it('are the subject itself when no template matches, and leave a reply inbox out (temporary and anonymous)', async () => {
    const { messaging, nc, spans } = setUp();
    await messaging.publish(nc, 'orders.new', 'x');
    await messaging.publish(nc, '_INBOX.Q3iAEvMZIdmK7rsRwbeXan.5', 'x');
    await assert.rejects(messaging.request(nc, 'quotes.get', 'BTCUSD', { timeout: 10 }), TimeoutError);
    const [named, inbox, request] = spans.getFinishedSpans();
    assert.equal(named?.name, 'publish orders.new');
    assert.equal(named?.attributes[ATTR_MESSAGING_DESTINATION_TEMPORARY], undefined);
    assert.equal(inbox?.name, 'publish');
    assert.equal(inbox?.attributes[ATTR_MESSAGING_DESTINATION_NAME], '_INBOX.Q3iAEvMZIdmK7rsRwbeXan.5');
    assert.equal(inbox?.attributes[ATTR_MESSAGING_DESTINATION_TEMPORARY], true);
    assert.equal(inbox?.attributes[ATTR_MESSAGING_DESTINATION_ANONYMOUS], true);
    assertRegistered(inbox?.attributes);
    assert.equal(request?.name, 'request quotes.get');
    assert.equal(request?.attributes[ATTR_MESSAGING_OPERATION_NAME], 'request');
  });

  it('follow the connection’s inbox prefix', async () => {
    const { messaging, nc, spans } = setUp({ inboxPrefix: '_R_.svc' });
    await messaging.publish(nc, '_R_.svc.abc', 'x');
    assert.equal(spans.getFinishedSpans()[0]?.name, 'publish');
  });
});

describe('NATS instrumentation: producer spans', () => {
  it('carry the conventions’ attributes and nothing unregistered', async () => {
    const { messaging, stream, spans } = setUp();
    await messaging.jetstreamPublish(stream.js, templated.subject, '{}', { msgID: 'sig-1' });
    const [span] = spans.getFinishedSpans();
    assert.equal(span?.kind, SpanKind.PRODUCER);
    assert.equal(span?.instrumentationScope.name, instrumentationScope.name);
    assert.deepEqual(span?.attributes, {
      [ATTR_MESSAGING_SYSTEM_KEY]: 'nats',
      [ATTR_MESSAGING_OPERATION_NAME]: 'publish',
      [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
      [ATTR_MESSAGING_DESTINATION_NAME]: templated.subject,
      [ATTR_MESSAGING_DESTINATION_TEMPLATE]: templated.template,
      [ATTR_MESSAGING_MESSAGE_ID]: 'sig-1',
      [ATTR_MESSAGING_CLIENT_ID]: '7',
      [ATTR_SERVER_ADDRESS]: 'nats.internal',
      [ATTR_SERVER_PORT]: 4222,
    });
    assertRegistered(span?.attributes);
    assert.equal(span?.status.code, SpanStatusCode.UNSET);
  });

  it('give the sampler the attributes the conventions call sampling-relevant, when the span starts', async () => {
    const atStart: Attributes[] = [];
    const sampler: Sampler = {
      shouldSample: (_context, _traceId, _name, _kind, attributes) => {
        atStart.push(attributes);
        return { decision: SamplingDecision.RECORD_AND_SAMPLED };
      },
      toString: () => 'RecordingSampler',
    };
    const messaging = new NatsInstrumentation(
      { tracerProvider: new TracerProvider({ sampler }) },
      { subjectTemplates: [templated.template], connection: fakeConnection().nc },
    );
    await messaging.jetstreamPublish(fakeStream().js, templated.subject, '{}');
    await messaging.process({ subject: templated.subject, data: new Uint8Array() }, () => 1);
    assert.equal(atStart.length, 2);
    for (const attributes of atStart) {
      for (const key of [
        ATTR_MESSAGING_SYSTEM_KEY,
        ATTR_MESSAGING_OPERATION_NAME,
        ATTR_MESSAGING_OPERATION_TYPE,
        ATTR_MESSAGING_DESTINATION_NAME,
        ATTR_MESSAGING_DESTINATION_TEMPLATE,
        ATTR_SERVER_ADDRESS,
        ATTR_SERVER_PORT,
      ]) {
        assert.ok(key in attributes, `${key} at start`);
      }
    }
  });

  it('take the message id from a Nats-Msg-Id header, and the server from an IPv6 address', async () => {
    const { telemetry, spans } = testTelemetry();
    const { nc } = fakeConnection('[::1]:4223');
    const messaging = new NatsInstrumentation(telemetry);
    const given = headers();
    given.set('Nats-Msg-Id', 'order-9');
    await messaging.publish(nc, 'orders.new', 'x', { headers: given });
    await messaging.publish(nc, 'orders.new', 'x');
    const [withId, withoutId] = spans.getFinishedSpans();
    assert.equal(withId?.attributes[ATTR_MESSAGING_MESSAGE_ID], 'order-9');
    assert.equal(withoutId?.attributes[ATTR_MESSAGING_MESSAGE_ID], undefined);
    assert.equal(withId?.attributes[ATTR_SERVER_ADDRESS], '::1');
    assert.equal(withId?.attributes[ATTR_SERVER_PORT], 4223);
  });

  it('leave server.address out when the connection is not connected, and without a connection', async () => {
    const { telemetry, spans } = testTelemetry();
    const messaging = new NatsInstrumentation(telemetry);
    await messaging.publish(fakeConnection('').nc, 'orders.new', 'x');
    await messaging.jetstreamPublish(fakeStream().js, 'orders.new', 'x');
    for (const span of spans.getFinishedSpans()) {
      assert.equal(span.attributes[ATTR_SERVER_ADDRESS], undefined);
      assert.equal(span.attributes[ATTR_SERVER_PORT], undefined);
    }
  });

  it('record the body size only when asked (opt-in), in bytes', async () => {
    const off = setUp();
    await off.messaging.publish(off.nc, 'orders.new', 'é');
    assert.equal(off.spans.getFinishedSpans()[0]?.attributes[ATTR_MESSAGING_MESSAGE_BODY_SIZE], undefined);

    const on = setUp({ messageBodySize: true });
    await on.messaging.publish(on.nc, 'orders.new', 'é');
    await on.messaging.publish(on.nc, 'orders.new', new Uint8Array(5));
    await on.messaging.publish(on.nc, 'orders.new');
    await on.messaging.process({ subject: 'orders.new', data: new Uint8Array(3) }, () => undefined);
    assert.deepEqual(
      on.spans.getFinishedSpans().map((s) => s.attributes[ATTR_MESSAGING_MESSAGE_BODY_SIZE]),
      [2, 5, 0, 3],
    );
  });

  it('inject their context into the headers as the creation context; headers that carry one keep it, and the span is a CLIENT span linked to it', async () => {
    const { messaging, nc, published, spans } = setUp();
    await messaging.publish(nc, 'orders.new', 'x');
    const producer = spans.getFinishedSpans()[0];
    const injected = published[0]?.headers?.get('traceparent');
    assert.equal(injected, `00-${producer?.spanContext().traceId}-${producer?.spanContext().spanId}-01`);

    const custom = headers();
    custom.set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    await messaging.publish(nc, 'orders.new', 'x', { headers: custom });
    const sent = spans.getFinishedSpans()[1];
    assert.equal(sent?.kind, SpanKind.CLIENT);
    assert.equal(sent?.links[0]?.context.spanId, '00f067aa0ba902b7');
    assert.equal(
      published[1]?.headers?.get('traceparent'),
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'left as the caller made it',
    );
  });

  it('mark a failure with error.type, status ERROR and an exception event, and rethrow', async () => {
    const { messaging, nc, spans } = setUp();
    await assert.rejects(messaging.request(nc, 'quotes.get', 'x', { timeout: 10 }), TimeoutError);
    const [span] = spans.getFinishedSpans();
    assert.equal(span?.status.code, SpanStatusCode.ERROR);
    assert.equal(span?.attributes[ATTR_ERROR_TYPE], 'TimeoutError');
    assert.equal(span?.events[0]?.name, 'exception');
  });
});

describe('NATS instrumentation: producer metrics', () => {
  it('count sends and time them with the required attributes, the template and the server, never the subject', async () => {
    const { messaging, stream, points } = setUp();
    for (const symbol of ['BTCUSD', 'ETHUSD', 'SOLUSD']) {
      await messaging.jetstreamPublish(stream.js, `signals.buy.${symbol}`, '{}', { msgID: symbol });
    }
    const common = {
      [ATTR_MESSAGING_SYSTEM_KEY]: 'nats',
      [ATTR_MESSAGING_OPERATION_NAME]: 'publish',
      [ATTR_MESSAGING_DESTINATION_TEMPLATE]: templated.template,
      [ATTR_SERVER_ADDRESS]: 'nats.internal',
      [ATTR_SERVER_PORT]: 4222,
    };
    const sent = await points(METRIC_MESSAGING_CLIENT_SENT_MESSAGES);
    assert.deepEqual(
      sent.map((p) => [p.attributes, p.value]),
      [[common, 3]],
      'three subjects, one series',
    );
    const [duration, ...others] = await points(METRIC_MESSAGING_CLIENT_OPERATION_DURATION);
    assert.equal(others.length, 0);
    assert.deepEqual(duration?.attributes, {
      ...common,
      [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
    });
    assert.equal(count(duration), 3);
  });

  it('leave a subject that matches no template off the metrics, whose cardinality it could not bound', async () => {
    const { messaging, nc, points } = setUp();
    await messaging.publish(nc, 'orders.o-1', 'x');
    await messaging.publish(nc, 'orders.o-2', 'x');
    const sent = await points(METRIC_MESSAGING_CLIENT_SENT_MESSAGES);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.value, 2);
    assert.equal(sent[0]?.attributes[ATTR_MESSAGING_DESTINATION_NAME], undefined);
    assert.equal(sent[0]?.attributes[ATTR_MESSAGING_DESTINATION_TEMPLATE], undefined);
  });

  it('add error.type to the count and the duration of a failed send', async () => {
    const { messaging, nc, points } = setUp();
    await assert.rejects(messaging.request(nc, 'executions.requests', 'x', { timeout: 10 }));
    const [sent] = await points(METRIC_MESSAGING_CLIENT_SENT_MESSAGES);
    assert.equal(sent?.attributes[ATTR_ERROR_TYPE], 'TimeoutError');
    assert.equal(sent?.attributes[ATTR_MESSAGING_OPERATION_NAME], 'request');
    const [duration] = await points(METRIC_MESSAGING_CLIENT_OPERATION_DURATION);
    assert.equal(duration?.attributes[ATTR_ERROR_TYPE], 'TimeoutError');
  });
});

describe('NATS instrumentation: consumer spans and metrics', () => {
  it('carry the conventions’ attributes, with the consumer group when the caller names it', async () => {
    const { messaging, spans, points } = setUp();
    const given = headers();
    given.set('Nats-Msg-Id', 'exec-1');
    await messaging.process(
      { subject: 'executions.requests', data: new Uint8Array(2), headers: given },
      () => undefined,
      { consumerGroup: 'worker' },
    );
    const [span] = spans.getFinishedSpans();
    assert.equal(span?.kind, SpanKind.CONSUMER);
    assert.equal(span?.name, 'process executions.requests');
    assert.deepEqual(span?.attributes, {
      [ATTR_MESSAGING_SYSTEM_KEY]: 'nats',
      [ATTR_MESSAGING_OPERATION_NAME]: 'process',
      [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
      [ATTR_MESSAGING_DESTINATION_NAME]: 'executions.requests',
      [ATTR_MESSAGING_DESTINATION_TEMPLATE]: 'executions.requests',
      [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: 'worker',
      [ATTR_MESSAGING_MESSAGE_ID]: 'exec-1',
      [ATTR_MESSAGING_CLIENT_ID]: '7',
      [ATTR_SERVER_ADDRESS]: 'nats.internal',
      [ATTR_SERVER_PORT]: 4222,
    });
    assertRegistered(span?.attributes);
    const expected: Attributes = {
      [ATTR_MESSAGING_SYSTEM_KEY]: 'nats',
      [ATTR_MESSAGING_OPERATION_NAME]: 'process',
      [ATTR_MESSAGING_DESTINATION_TEMPLATE]: 'executions.requests',
      [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: 'worker',
      [ATTR_SERVER_ADDRESS]: 'nats.internal',
      [ATTR_SERVER_PORT]: 4222,
    };
    const [consumed] = await points(METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES);
    assert.deepEqual([consumed?.attributes, consumed?.value], [expected, 1]);
    const [duration] = await points(METRIC_MESSAGING_PROCESS_DURATION);
    assert.deepEqual(duration?.attributes, expected);
  });

  it('count a message as consumed when it is delivered, before the handler, and time the handler', async () => {
    const { messaging, points } = setUp();
    let consumedDuringHandler: unknown;
    let timedDuringHandler = 0;
    await messaging.process({ subject: templated.subject, data: new Uint8Array() }, async () => {
      consumedDuringHandler = (await points(METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES))[0]?.value;
      timedDuringHandler = (await points(METRIC_MESSAGING_PROCESS_DURATION)).length;
      await new Promise((resolve) => setTimeout(resolve, 20));
    });
    assert.equal(consumedDuringHandler, 1);
    assert.equal(timedDuringHandler, 0, 'the duration is recorded when the handler is done');
    const [duration] = await points(METRIC_MESSAGING_PROCESS_DURATION);
    assert.ok((duration?.value as { sum: number }).sum >= 0.019, 'around the handler, in seconds');
  });

  it('mark a failed handler on the span and the duration, not on the consumed count', async () => {
    const { messaging, spans, points } = setUp();
    await assert.rejects(
      messaging.process({ subject: templated.subject, data: new Uint8Array() }, () => {
        throw new SyntaxError('not json');
      }),
      SyntaxError,
    );
    const [span] = spans.getFinishedSpans();
    assert.equal(span?.status.code, SpanStatusCode.ERROR);
    assert.equal(span?.attributes[ATTR_ERROR_TYPE], 'SyntaxError');
    assert.equal(span?.events[0]?.attributes?.['exception.type'], 'SyntaxError');
    const [duration] = await points(METRIC_MESSAGING_PROCESS_DURATION);
    assert.equal(duration?.attributes[ATTR_ERROR_TYPE], 'SyntaxError');
    const [consumed] = await points(METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES);
    assert.equal(consumed?.attributes[ATTR_ERROR_TYPE], undefined, 'the delivery itself did not fail');
  });

  it('continue the producer’s trace and link to its creation context; `link` starts a new trace linked to it', async () => {
    const parented = setUp();
    await parented.messaging.publish(parented.nc, 'orders.new', 'x');
    const carried = parented.published[0]?.headers;
    await parented.messaging.process(
      { subject: 'orders.new', data: new Uint8Array(), headers: carried },
      () => 1,
    );
    const [producer, consumer] = parented.spans.getFinishedSpans();
    assert.equal(consumer?.parentSpanContext?.spanId, producer?.spanContext().spanId);
    assert.deepEqual(
      consumer?.links.map((l) => l.context.spanId),
      [producer?.spanContext().spanId],
    );

    const linked = setUp({ consumerContext: 'link' });
    await linked.messaging.process(
      { subject: 'orders.new', data: new Uint8Array(), headers: carried },
      () => 1,
    );
    const [alone] = linked.spans.getFinishedSpans();
    assert.equal(alone?.parentSpanContext, undefined);
    assert.notEqual(alone?.spanContext().traceId, producer?.spanContext().traceId);
    assert.equal(alone?.links[0]?.context.spanId, producer?.spanContext().spanId);
  });

  it('inside another span: `parent` links that span too, `link` stays its child', async () => {
    const creation = headers();
    creation.set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    for (const consumerContext of ['parent', 'link'] as const) {
      const { messaging, spans, telemetry } = setUp({ consumerContext });
      const ambient = telemetry.tracer.startSpan('poll');
      await context.with(trace.setSpan(context.active(), ambient), () =>
        messaging.process({ subject: 'orders.new', data: new Uint8Array(), headers: creation }, () => 1),
      );
      ambient.end();
      const consumer = spans.getFinishedSpans().find((s) => s.kind === SpanKind.CONSUMER);
      const links = consumer?.links.map((l) => l.context.spanId);
      if (consumerContext === 'parent') {
        assert.equal(consumer?.parentSpanContext?.spanId, '00f067aa0ba902b7');
        assert.deepEqual(links, ['00f067aa0ba902b7', ambient.spanContext().spanId]);
      } else {
        assert.equal(consumer?.parentSpanContext?.spanId, ambient.spanContext().spanId);
        assert.deepEqual(links, ['00f067aa0ba902b7']);
      }
    }
  });

  it('start a new trace, with no link, for a message without or with a broken traceparent', async () => {
    const { messaging, spans } = setUp();
    const broken = headers();
    broken.set('traceparent', '00-zzzz-not-a-trace-01');
    await messaging.process({ subject: 'orders.new', data: new Uint8Array() }, () => 1);
    await messaging.process({ subject: 'orders.new', data: new Uint8Array(), headers: broken }, () => 1);
    for (const span of spans.getFinishedSpans()) {
      assert.equal(span.parentSpanContext, undefined);
      assert.deepEqual(span.links, []);
    }
  });
});

describe('NATS instrumentation: instruments', () => {
  it('are the conventions’ four, in the library’s scope, with their units and the advised buckets', async () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const meterProvider = new MeterProvider({ readers: [reader] });
    const messaging = new NatsInstrumentation({ tracerProvider, meterProvider });
    await messaging.publish(fakeConnection().nc, 'orders.new', 'x');
    await messaging.process({ subject: 'orders.new', data: new Uint8Array() }, () => 1);

    const { resourceMetrics } = await reader.collect();
    const [scope, ...otherScopes] = resourceMetrics.scopeMetrics;
    assert.equal(otherScopes.length, 0);
    assert.equal(scope?.scope.name, instrumentationScope.name);
    assert.equal(scope?.scope.version, instrumentationScope.version);
    const instruments = Object.fromEntries(
      (scope?.metrics ?? []).map((m) => [
        m.descriptor.name,
        {
          unit: m.descriptor.unit,
          boundaries: (m.dataPoints[0]?.value as { buckets?: { boundaries: number[] } }).buckets?.boundaries,
        },
      ]),
    );
    const advised = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
    assert.deepEqual(instruments, {
      [METRIC_MESSAGING_CLIENT_SENT_MESSAGES]: { unit: '{message}', boundaries: undefined },
      [METRIC_MESSAGING_CLIENT_OPERATION_DURATION]: { unit: 's', boundaries: advised },
      [METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES]: { unit: '{message}', boundaries: undefined },
      [METRIC_MESSAGING_PROCESS_DURATION]: { unit: 's', boundaries: advised },
    });
    await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
  });

  it('name subjects by the first template that matches (`*` one token, `>` one or more)', () => {
    const messaging = new NatsInstrumentation(
      {},
      { subjectTemplates: ['signals.*', 'signals.*.*', 'executions.>'] },
    );
    assert.equal(messaging.destination('signals.buy.BTCUSD'), 'signals.*.*');
    assert.equal(messaging.destination('executions.requested.p1'), 'executions.>');
    assert.equal(messaging.destination('executions'), 'executions', '`>` needs at least one more token');
    assert.equal(messaging.destination('orders.new'), 'orders.new');
  });
});
