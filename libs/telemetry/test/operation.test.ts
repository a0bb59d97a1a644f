import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import { type ErrorClassifier, Operation } from '../src/operation.ts';
import { testTelemetry } from '../src/testing.ts';

class LostRace extends Error {
  override name = 'LostRace';
}

const expectLostRace: ErrorClassifier = (error) =>
  error instanceof LostRace
    ? { outcome: 'conflict', spanAttributes: { 'test.answer': 'conflict' } }
    : undefined;

/** A fresh in-memory telemetry and an operation that records everything it can. */
function setUp() {
  const recorded = testTelemetry();
  const { meter, tracer } = recorded.telemetry;
  const operation = new Operation({
    tracer,
    duration: meter.createHistogram('test.operation.duration', { unit: 's' }),
    count: meter.createCounter('test.operations'),
    outcomeAttribute: 'outcome',
    classify: expectLostRace,
  });
  return { ...recorded, operation };
}

const histogramCount = (point: DataPoint<unknown> | undefined) => (point?.value as { count: number }).count;

describe('Operation', () => {
  it('runs async work in an active span, then records its duration and count', async () => {
    const { operation, spans, points } = setUp();
    let active: Span | undefined;
    const result = await operation.run(
      'fetch quote',
      { kind: SpanKind.CLIENT, attributes: { 'test.kind': 'quote' }, metricAttributes: { outcome: 'ok' } },
      async (span) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        active = trace.getActiveSpan();
        assert.equal(active, span, 'the span is active across awaits');
        return 42;
      },
    );
    assert.equal(result, 42);
    const [span] = spans.getFinishedSpans();
    assert.equal(span?.name, 'fetch quote');
    assert.equal(span?.kind, SpanKind.CLIENT);
    assert.equal(span?.attributes['test.kind'], 'quote');
    assert.equal(span?.status.code, SpanStatusCode.UNSET);
    assert.equal(span?.spanContext().spanId, active?.spanContext().spanId);
    const [duration] = await points('test.operation.duration');
    assert.deepEqual(duration?.attributes, { outcome: 'ok' });
    assert.equal(histogramCount(duration), 1);
    assert.ok((duration?.value as { sum: number }).sum >= 0.004, 'in seconds');
    const [count] = await points('test.operations');
    assert.deepEqual([count?.attributes, count?.value], [{ outcome: 'ok' }, 1]);
    assert.equal(trace.getActiveSpan(), undefined, 'the caller’s context is left as it was');
  });

  it('takes synchronous work; a synchronous throw rejects and is recorded', async () => {
    const { operation, spans, points } = setUp();
    assert.equal(await operation.run('add', { metricAttributes: { outcome: 'ok' } }, () => 1 + 2), 3);
    await assert.rejects(
      operation.run('divide', { metricAttributes: { outcome: 'ok' } }, () => {
        throw new RangeError('by zero');
      }),
      RangeError,
    );
    assert.deepEqual(
      spans.getFinishedSpans().map((s) => [s.name, s.status.code]),
      [
        ['add', SpanStatusCode.UNSET],
        ['divide', SpanStatusCode.ERROR],
      ],
    );
    assert.deepEqual(
      (await points('test.operations')).map((p) => p.attributes),
      [{ outcome: 'ok' }, { outcome: 'error', 'error.type': 'RangeError' }],
    );
  });

  it('records a failure on the span and in the metrics, and rethrows the same error', async () => {
    const { operation, spans, points } = setUp();
    const failure = new TypeError('broken');
    const rejection = operation.run('parse', { metricAttributes: { outcome: 'ok', stage: 'in' } }, () =>
      Promise.reject(failure),
    );
    await assert.rejects(rejection, (error) => error === failure);
    const [span] = spans.getFinishedSpans();
    assert.equal(span?.status.code, SpanStatusCode.ERROR);
    assert.equal(span?.attributes['error.type'], 'TypeError');
    assert.deepEqual(
      span?.events.map((e) => [e.name, e.attributes?.['exception.type']]),
      [['exception', 'TypeError']],
    );
    const [duration] = await points('test.operation.duration');
    assert.deepEqual(duration?.attributes, { outcome: 'error', stage: 'in', 'error.type': 'TypeError' });
  });

  it('records an expected error as an answer: status unset, no exception, its outcome', async () => {
    const { operation, spans, points } = setUp();
    await assert.rejects(
      operation.run('claim', { metricAttributes: { outcome: 'ok' } }, () =>
        Promise.reject(new LostRace('taken')),
      ),
      LostRace,
    );
    const [span] = spans.getFinishedSpans();
    assert.equal(span?.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(span?.events, []);
    assert.equal(span?.attributes['test.answer'], 'conflict');
    assert.equal(span?.attributes['error.type'], undefined);
    const [count] = await points('test.operations');
    assert.deepEqual(count?.attributes, { outcome: 'conflict' });
  });

  it('counts a thrown non-Error as a failure of type Error, without an exception event', async () => {
    const { operation, spans, points } = setUp();
    await assert.rejects(
      operation.run('legacy', { metricAttributes: {} }, () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- what a careless library may throw
        throw 'no';
      }),
    );
    const [span] = spans.getFinishedSpans();
    assert.equal(span?.status.code, SpanStatusCode.ERROR);
    assert.deepEqual(span?.events, []);
    const [count] = await points('test.operations');
    assert.deepEqual(count?.attributes, { outcome: 'error', 'error.type': 'Error' });
  });

  it('starts from the given parent, with the given links, and runs the work in that context', async () => {
    const { operation, spans, telemetry } = setUp();
    const producer = telemetry.tracer.startSpan('producer');
    const linked = telemetry.tracer.startSpan('linked');
    producer.end();
    linked.end();
    const parent = trace.setSpan(context.active(), producer);
    await operation.run(
      'consume',
      { kind: SpanKind.CONSUMER, parent, links: [{ context: linked.spanContext() }] },
      () => {
        assert.equal(
          trace.getActiveSpan()?.spanContext().traceId,
          producer.spanContext().traceId,
          'the work runs under the given parent',
        );
      },
    );
    const consumer = spans.getFinishedSpans().find((s) => s.name === 'consume');
    assert.equal(consumer?.parentSpanContext?.spanId, producer.spanContext().spanId);
    assert.equal(consumer?.links[0]?.context.spanId, linked.spanContext().spanId);
  });

  it('lets the work decide the outcome of an answer before the operation settles', async () => {
    const { operation, points } = setUp();
    const metricAttributes = { outcome: 'expected' };
    await operation.run('GET /health', { metricAttributes }, () => {
      metricAttributes.outcome = 'unexpected';
    });
    const [count] = await points('test.operations');
    assert.deepEqual(count?.attributes, { outcome: 'unexpected' });
  });

  it('without metrics, records the span alone; a failure still counts when no attributes were given', async () => {
    const { telemetry, spans, points } = setUp();
    const steps = new Operation({ tracer: telemetry.tracer });
    assert.equal(await steps.run('step', {}, () => 'done'), 'done');
    assert.equal(spans.getFinishedSpans().length, 1);

    const counted = new Operation({
      tracer: telemetry.tracer,
      count: telemetry.meter.createCounter('test.bare'),
    });
    await assert.rejects(counted.run('bare', {}, () => Promise.reject(new SyntaxError('bad'))));
    const [count] = await points('test.bare');
    assert.deepEqual(count?.attributes, { 'error.type': 'SyntaxError' });
  });
});
