/**
 * Trace propagation and the messaging conventions across a real NATS server (started by the
 * stack runner): core publish, request/reply (an instrumented reply goes to a temporary inbox)
 * and subscribe (queue groups are consumer groups), JetStream publish and consume with message
 * ids and a durable consumer, the server the connection is on, links instead of parents, and
 * messages whose trace context is missing or broken. test/nats.test.ts covers each convention
 * without a server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT } from '@opentelemetry/semantic-conventions';
import {
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_ANONYMOUS,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_TEMPLATE,
  ATTR_MESSAGING_DESTINATION_TEMPORARY,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_SYSTEM,
  METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES,
  METRIC_MESSAGING_CLIENT_SENT_MESSAGES,
  METRIC_MESSAGING_PROCESS_DURATION,
} from '@opentelemetry/semantic-conventions/incubating';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { LOOPBACK, ports } from '../../../../infra/runner/ports.ts';
import { startStack, stopStack } from '../../../../infra/runner/stack.ts';
import { useTemporaryStackState } from '../../../../tests/support/stack.ts';
import { eventually } from '../../../../tests/support/poll.ts';
import { NatsInstrumentation } from '../../src/nats.ts';
import { testTelemetry } from '../../src/testing.ts';

/**
 * `messaging.system`, as the conventions (v1.44: the registry, the span and metric tables) name it.
 * The package marks its constant deprecated for a `messaging.system.name` that no release of the
 * conventions defines yet.
 */
// eslint-disable-next-line @typescript-eslint/no-deprecated
const ATTR_MESSAGING_SYSTEM_KEY = ATTR_MESSAGING_SYSTEM;

let nc: NatsConnection;

function spanNamed(spans: ReadableSpan[], name: string): ReadableSpan {
  const span = spans.find((s) => s.name === name);
  assert.ok(span, `a span named ${name} among ${spans.map((s) => s.name).join(', ')}`);
  return span;
}

describe('NATS instrumentation against a real server', { timeout: 120_000 }, () => {
  before(async () => {
    await useTemporaryStackState();
    await startStack(undefined, ['nats']);
    nc = await connect({ servers: `${LOOPBACK}:${ports.natsClient}` });
  });

  after(async () => {
    await nc.drain();
    await stopStack();
  });

  it('core publish and subscribe: one trace, producer as parent, templated destination, the server connected to', async () => {
    const { telemetry, spans, points } = testTelemetry();
    const messaging = new NatsInstrumentation(telemetry, { subjectTemplates: ['signals.*.*'] });
    const received: string[] = [];
    const subscription = messaging.subscribe(
      nc,
      'signals.>',
      (m) => {
        received.push(m.subject);
      },
      { onError: (error) => assert.fail(String(error)) },
    );
    await nc.flush();
    await messaging.publish(nc, 'signals.buy.BTCUSD', JSON.stringify({ price: 1 }));
    await eventually('the message', () => Promise.resolve(received.length === 1 ? true : undefined), {
      timeoutMs: 5000,
      intervalMs: 20,
    });
    subscription.unsubscribe();

    const finished = spans.getFinishedSpans();
    const producer = spanNamed(finished, 'publish signals.*.*');
    const consumer = spanNamed(finished, 'process signals.*.*');
    assert.equal(producer.kind, SpanKind.PRODUCER);
    assert.equal(consumer.kind, SpanKind.CONSUMER);
    assert.equal(consumer.spanContext().traceId, producer.spanContext().traceId);
    assert.equal(consumer.parentSpanContext?.spanId, producer.spanContext().spanId);
    assert.equal(consumer.links[0]?.context.spanId, producer.spanContext().spanId);
    for (const span of [producer, consumer]) {
      assert.equal(span.attributes[ATTR_MESSAGING_SYSTEM_KEY], 'nats');
      assert.equal(span.attributes[ATTR_MESSAGING_DESTINATION_NAME], 'signals.buy.BTCUSD');
      assert.equal(span.attributes[ATTR_MESSAGING_DESTINATION_TEMPLATE], 'signals.*.*');
      assert.equal(span.attributes[ATTR_SERVER_ADDRESS], LOOPBACK);
      assert.equal(span.attributes[ATTR_SERVER_PORT], ports.natsClient);
      assert.equal(span.attributes['messaging.nats.subject'], undefined, 'not a registered attribute');
    }

    const sent = await points(METRIC_MESSAGING_CLIENT_SENT_MESSAGES);
    assert.deepEqual(sent[0]?.attributes, {
      [ATTR_MESSAGING_SYSTEM_KEY]: 'nats',
      [ATTR_MESSAGING_OPERATION_NAME]: 'publish',
      [ATTR_MESSAGING_DESTINATION_TEMPLATE]: 'signals.*.*',
      [ATTR_SERVER_ADDRESS]: LOOPBACK,
      [ATTR_SERVER_PORT]: ports.natsClient,
    });
    const consumed = await points(METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES);
    assert.equal(consumed[0]?.value, 1);
    assert.equal(consumed[0]?.attributes[ATTR_MESSAGING_OPERATION_NAME], 'process');
  });

  it('a queue group is the consumer group, and the subscription names the messages no template matches', async () => {
    const { telemetry, spans, points } = testTelemetry();
    const messaging = new NatsInstrumentation(telemetry);
    const done = Promise.withResolvers<undefined>();
    const subscription = messaging.subscribe(nc, 'audit.*', () => done.resolve(undefined), {
      queue: 'auditors',
      onError: done.reject,
    });
    await nc.flush();
    await messaging.publish(nc, 'audit.login', 'x');
    await done.promise;
    await eventually(
      'the consumer span',
      () => Promise.resolve(spans.getFinishedSpans().length === 2 ? true : undefined),
      { timeoutMs: 5000, intervalMs: 10 },
    );
    subscription.unsubscribe();
    assert.equal(spanNamed(spans.getFinishedSpans(), 'publish audit.login').kind, SpanKind.PRODUCER);
    const consumer = spanNamed(spans.getFinishedSpans(), 'process audit.*');
    assert.equal(consumer.attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME], 'auditors');
    const [processed] = await points(METRIC_MESSAGING_PROCESS_DURATION);
    assert.equal(processed?.attributes[ATTR_MESSAGING_DESTINATION_TEMPLATE], 'audit.*');
    assert.equal(processed?.attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME], 'auditors');
  });

  it('request/reply carries the context both ways; an instrumented reply goes to a temporary, anonymous inbox', async () => {
    const { telemetry, spans } = testTelemetry();
    const messaging = new NatsInstrumentation(telemetry);
    const subscription = messaging.subscribe(
      nc,
      'quotes.get',
      (m) => messaging.publish(nc, m.reply ?? '', '42'),
      { onError: (error) => assert.fail(String(error)) },
    );
    await nc.flush();
    const reply = await messaging.request(nc, 'quotes.get', 'BTCUSD', { timeout: 2000 });
    assert.equal(reply.string(), '42');
    subscription.unsubscribe();
    const producer = spanNamed(spans.getFinishedSpans(), 'request quotes.get');
    const consumer = spanNamed(spans.getFinishedSpans(), 'process quotes.get');
    assert.equal(consumer.parentSpanContext?.spanId, producer.spanContext().spanId);
    const answer = spanNamed(spans.getFinishedSpans(), 'publish');
    assert.equal(answer.parentSpanContext?.spanId, consumer.spanContext().spanId);
    assert.match(String(answer.attributes[ATTR_MESSAGING_DESTINATION_NAME]), /^_INBOX\./);
    assert.equal(answer.attributes[ATTR_MESSAGING_DESTINATION_TEMPORARY], true);
    assert.equal(answer.attributes[ATTR_MESSAGING_DESTINATION_ANONYMOUS], true);
  });

  it('JetStream publish and consume continue the trace, with message ids and the durable consumer; handler errors mark the span and reach the caller', async () => {
    const { telemetry, spans, points } = testTelemetry();
    const messaging = new NatsInstrumentation(telemetry, { subjectTemplates: ['orders.*'], connection: nc });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'ORDERS_TEST', subjects: ['orders.*'] });
    await jsm.consumers.add('ORDERS_TEST', { durable_name: 'worker', ack_policy: AckPolicy.Explicit });
    const js = jetstream(nc);
    const ack = await messaging.jetstreamPublish(js, 'orders.new', '{"qty":1}', { msgID: 'order-1' });
    assert.equal(ack.duplicate, false);
    await messaging.jetstreamPublish(js, 'orders.bad', 'not json');

    const consumer = await js.consumers.get('ORDERS_TEST', 'worker');
    const messages = await consumer.fetch({ max_messages: 2, expires: 2000 });
    const failures: string[] = [];
    for await (const m of messages) {
      try {
        await messaging.process(m, (msg) => JSON.parse(msg.string()) as unknown, {
          consumerGroup: m.info.consumer,
        });
        m.ack();
      } catch (error) {
        failures.push((error as Error).name);
        m.term();
      }
    }
    assert.deepEqual(failures, ['SyntaxError']);
    const finished = spans.getFinishedSpans();
    const sends = finished.filter((s) => s.name === 'publish orders.*');
    const processes = finished.filter((s) => s.name === 'process orders.*');
    assert.equal(sends.length, 2);
    assert.equal(processes.length, 2);
    for (const [i, process] of processes.entries()) {
      assert.equal(process.parentSpanContext?.spanId, sends[i]?.spanContext().spanId);
    }
    assert.equal(sends[0]?.attributes[ATTR_MESSAGING_MESSAGE_ID], 'order-1');
    assert.equal(
      processes[0]?.attributes[ATTR_MESSAGING_MESSAGE_ID],
      'order-1',
      'from the Nats-Msg-Id header',
    );
    assert.equal(sends[1]?.attributes[ATTR_MESSAGING_MESSAGE_ID], undefined);
    for (const span of [...sends, ...processes]) {
      assert.equal(span.attributes[ATTR_SERVER_ADDRESS], LOOPBACK, 'from the connection it was given');
      assert.equal(span.attributes[ATTR_SERVER_PORT], ports.natsClient);
    }
    assert.equal(processes[0]?.attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME], 'worker');
    assert.equal(processes[1]?.status.code, SpanStatusCode.ERROR);
    assert.equal(processes[1]?.attributes[ATTR_ERROR_TYPE], 'SyntaxError');
    assert.equal(processes[1]?.events[0]?.attributes?.['exception.type'], 'SyntaxError');
    const consumed = await points(METRIC_MESSAGING_CLIENT_CONSUMED_MESSAGES);
    assert.deepEqual(
      consumed.map((p) => [
        p.attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME],
        p.attributes[ATTR_ERROR_TYPE],
        p.value,
      ]),
      [['worker', undefined, 2]],
      'both delivered; a delivery does not fail',
    );
    const processed = (await points(METRIC_MESSAGING_PROCESS_DURATION)).map(
      (p) => p.attributes[ATTR_ERROR_TYPE],
    );
    assert.deepEqual(processed, [undefined, 'SyntaxError']);
    await jsm.streams.delete('ORDERS_TEST');
  });

  it('reports through the providers it is given, without a Telemetry', async () => {
    const exporter = new InMemorySpanExporter();
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const meterProvider = new MeterProvider({ readers: [reader] });
    const messaging = new NatsInstrumentation({
      tracerProvider,
      meterProvider,
      propagator: new W3CTraceContextPropagator(),
    });
    const done = Promise.withResolvers<undefined>();
    const subscription = messaging.subscribe(nc, 'own.providers', () => done.resolve(undefined), {
      onError: done.reject,
    });
    await nc.flush();
    await messaging.publish(nc, 'own.providers', 'x');
    await done.promise;
    await eventually(
      'the consumer span',
      () => Promise.resolve(exporter.getFinishedSpans().length === 2 ? true : undefined),
      { timeoutMs: 5000, intervalMs: 10 },
    );
    subscription.unsubscribe();
    const producer = spanNamed(exporter.getFinishedSpans(), 'publish own.providers');
    const consumer = spanNamed(exporter.getFinishedSpans(), 'process own.providers');
    assert.equal(consumer.parentSpanContext?.spanId, producer.spanContext().spanId);
    const { resourceMetrics } = await reader.collect();
    const names = resourceMetrics.scopeMetrics.flatMap((scope) =>
      scope.metrics.map((m) => m.descriptor.name),
    );
    assert.ok(names.includes(METRIC_MESSAGING_CLIENT_SENT_MESSAGES), names.join(', '));
    await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
  });

  it('links instead of parenting when asked', async () => {
    const { telemetry, spans } = testTelemetry();
    const messaging = new NatsInstrumentation(telemetry, { consumerContext: 'link' });
    const done = Promise.withResolvers<undefined>();
    const subscription = messaging.subscribe(nc, 'batch.in', () => done.resolve(undefined), {
      onError: done.reject,
    });
    await nc.flush();
    await messaging.publish(nc, 'batch.in', 'x');
    await done.promise;
    // The handler has run; its span ends right after it returns.
    await eventually(
      'the consumer span',
      () =>
        Promise.resolve(
          spans.getFinishedSpans().some((s) => s.name === 'process batch.in') ? true : undefined,
        ),
      { timeoutMs: 5000, intervalMs: 10 },
    );
    subscription.unsubscribe();
    const producer = spanNamed(spans.getFinishedSpans(), 'publish batch.in');
    const consumer = spanNamed(spans.getFinishedSpans(), 'process batch.in');
    assert.notEqual(consumer.spanContext().traceId, producer.spanContext().traceId);
    assert.equal(consumer.links[0]?.context.spanId, producer.spanContext().spanId);
  });

  it('starts a new trace for a message without or with a broken traceparent, and never throws', async () => {
    const { telemetry, spans } = testTelemetry();
    const messaging = new NatsInstrumentation(telemetry);
    const seen: string[] = [];
    const subscription = messaging.subscribe(
      nc,
      'raw.in',
      (m) => {
        seen.push(m.string());
      },
      { onError: (error) => assert.fail(String(error)) },
    );
    await nc.flush();
    const broken = headers();
    broken.set('traceparent', '00-zzzz-not-a-trace-01');
    nc.publish('raw.in', 'plain');
    nc.publish('raw.in', 'broken', { headers: broken });
    await eventually('both messages', () => Promise.resolve(seen.length === 2 ? true : undefined), {
      timeoutMs: 5000,
      intervalMs: 20,
    });
    subscription.unsubscribe();
    const consumers = spans.getFinishedSpans().filter((s) => s.name === 'process raw.in');
    assert.equal(consumers.length, 2);
    for (const span of consumers) assert.equal(span.parentSpanContext, undefined);
  });
});
