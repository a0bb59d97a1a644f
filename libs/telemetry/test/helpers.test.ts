import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanStatusCode } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { RetryingSpanExporter } from '../src/retry-exporter.ts';
import { timed, trackDuration, withSpan } from '../src/timing.ts';
import { testTelemetry } from '../src/testing.ts';

function statuses(points: { attributes: Record<string, unknown>; value: unknown }[]) {
  return points.map((p) => [p.attributes.status, (p.value as { count: number }).count]);
}

describe('timed and trackDuration', () => {
  it('record sync, async and failing calls, success and error apart', async () => {
    const { telemetry, points } = testTelemetry();
    const histogram = telemetry.metrics.pipelineExecutionDuration;
    const attributes = { pipeline_id: 'p-1' };
    const add = timed(histogram, (a: number, b: number) => a + b, { attributes });
    const later = timed(histogram, async (x: number) => Promise.resolve(x * 2), { attributes });
    const fail = timed(
      histogram,
      () => {
        throw new Error('no');
      },
      { attributes },
    );
    const reject = timed(histogram, () => Promise.reject(new Error('no')), { attributes });

    assert.equal(add(1, 2), 3);
    assert.equal(await later(4), 8);
    assert.throws(() => fail(), /no/);
    await assert.rejects(reject(), /no/);
    assert.deepEqual(statuses(await points('pipeline.execution.duration')), [
      ['success', 2],
      ['error', 2],
    ]);
  });

  it('works as a method decorator and keeps `this`', async () => {
    const { telemetry, points } = testTelemetry();
    const decorate = trackDuration(telemetry.metrics.pipelineExecutionDuration, {
      attributes: { pipeline_id: 'p-2' },
    });
    class Strategy {
      factor = 3;
      declare evaluate: (x: number) => number;
    }
    function evaluate(this: Strategy, x: number): number {
      return x * this.factor;
    }
    // What `@trackDuration(...)` on a method compiles to (Node's type stripping runs no decorators).
    Strategy.prototype.evaluate = decorate(
      evaluate,
      {} as ClassMethodDecoratorContext<Strategy, (this: Strategy, x: number) => number>,
    );
    assert.equal(new Strategy().evaluate(2), 6);
    assert.deepEqual(statuses(await points('pipeline.execution.duration')), [['success', 1]]);
  });

  it('withSpan ends the span, and marks it as error when the work fails', async () => {
    const { telemetry, spans } = testTelemetry();
    assert.equal(
      withSpan(telemetry.tracer, 'sync', () => 1),
      1,
    );
    await assert.rejects(
      withSpan(telemetry.tracer, 'async', () => Promise.reject(new RangeError('limit'))),
      /limit/,
    );
    const [ok, failed] = spans.getFinishedSpans();
    assert.equal(ok?.name, 'sync');
    assert.equal(ok?.status.code, SpanStatusCode.UNSET);
    assert.equal(failed?.status.code, SpanStatusCode.ERROR);
    assert.equal(failed?.events[0]?.attributes?.['exception.type'], 'RangeError');
  });
});

describe('logs', () => {
  it('carry service and level, and the trace and span ids inside a span', () => {
    const { telemetry, logs } = testTelemetry();
    telemetry.logger.info('outside');
    telemetry.tracer.startActiveSpan('work', (span) => {
      telemetry.logger.child({ pipeline_id: 'p-1' }).warn('inside', { attempt: 2 });
      span.end();
    });
    telemetry.logger.debug('below the level');
    assert.equal(logs.length, 2);
    assert.deepEqual(Object.keys(logs[0] ?? {}), ['time', 'level', 'service', 'msg']);
    assert.equal(logs[1]?.service, 'unit-test');
    assert.equal(logs[1]?.level, 'warn');
    assert.match(String(logs[1]?.trace_id), /^[0-9a-f]{32}$/);
    assert.match(String(logs[1]?.span_id), /^[0-9a-f]{16}$/);
    assert.equal(logs[1]?.pipeline_id, 'p-1');
    assert.equal(logs[1]?.attempt, 2);
  });
});

describe('runtime metrics', () => {
  it('exist from start-up, before any request', async () => {
    const { metricNames } = testTelemetry();
    const names = await metricNames();
    for (const name of [
      'process.uptime',
      'process.cpu.time',
      'process.memory.usage',
      'v8js.memory.heap.used',
      'nodejs.eventloop.utilization',
    ]) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
  });
});

describe('OTEL_SDK_DISABLED', () => {
  it('leaves working no-op instruments and no spans', async () => {
    const { telemetry, spans } = testTelemetry({ OTEL_SDK_DISABLED: 'true' });
    telemetry.metrics.signalsGenerated.add(1, { signal_type: 'buy' });
    telemetry.metrics.pipelineCacheSize.record(3);
    const traceId = withSpan(telemetry.tracer, 'nothing', (span) => span.spanContext().traceId);
    assert.equal(traceId, '00000000000000000000000000000000', 'a non-recording span');
    assert.equal(spans.getFinishedSpans().length, 0);
    await telemetry.shutdown();
  });
});

/** An exporter that fails while `down` is true, as when the OTLP endpoint is unreachable. */
class FlakyExporter implements SpanExporter {
  down = true;
  delivered: ReadableSpan[] = [];
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    if (this.down) {
      done({ code: ExportResultCode.FAILED, error: new Error('connect ECONNREFUSED') });
      return;
    }
    this.delivered.push(...spans);
    done({ code: ExportResultCode.SUCCESS });
  }
  shutdown = () => Promise.resolve();
}

const sampleSpans = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ name: `s${i}` }) as unknown as ReadableSpan);

describe('span export retries', () => {
  it('keep spans while the endpoint is unreachable and deliver them when it is back', async () => {
    const inner = new FlakyExporter();
    const warnings: string[] = [];
    const exporter = new RetryingSpanExporter(inner, {
      maxBufferedSpans: 100,
      warn: (m) => warnings.push(m),
    });
    const results: ExportResultCode[] = [];
    exporter.export(sampleSpans(10), (r) => results.push(r.code));
    exporter.export(sampleSpans(5), (r) => results.push(r.code));
    assert.deepEqual(
      results,
      [ExportResultCode.SUCCESS, ExportResultCode.SUCCESS],
      'the processor never sees a failure',
    );
    assert.equal(exporter.stats().bufferedSpans, 15);
    assert.equal(warnings.length, 1, 'one warning per interval, not one per batch');

    inner.down = false;
    await exporter.forceFlush();
    assert.equal(inner.delivered.length, 15);
    assert.deepEqual(exporter.stats(), { bufferedSpans: 0, droppedSpans: 0, retriedSpans: 15 });
  });

  it("report the spans they drop, and the exports that failed, in the service's own metrics", async () => {
    const { telemetry, points } = testTelemetry({
      OTEL_TRACES_EXPORTER: 'otlp',
      // Nothing listens there: every export fails, and the exporter keeps at most 2 × 10 spans.
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
      OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      OTEL_BSP_MAX_QUEUE_SIZE: '2',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1',
      OTEL_BSP_SCHEDULE_DELAY: '1',
    });
    for (let i = 0; i < 60; i += 1) {
      telemetry.tracer.startSpan(`work ${i}`).end();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const { droppedSpans } = telemetry.spanExportStats();
    assert.ok(droppedSpans > 0, 'the retry buffer overflowed');
    const processed = await points('otel.sdk.processor.span.processed');
    const drops = processed.filter((p) => p.attributes['otel.component.type'] === 'retrying_span_exporter');
    assert.deepEqual(
      drops.map((p) => [p.attributes['error.type'], p.value]),
      [['buffer_full', droppedSpans]],
    );
    const exported = await points('otel.sdk.exporter.span.exported');
    assert.ok(
      exported.some((p) => p.attributes['error.type'] !== undefined && Number(p.value) > 0),
      'failed exports are counted with their error type',
    );
    await telemetry.shutdown();
  });

  it('bound memory by dropping the oldest batches, and count them', () => {
    const exporter = new RetryingSpanExporter(new FlakyExporter(), {
      maxBufferedSpans: 20,
      warn: () => undefined,
    });
    for (let i = 0; i < 5; i += 1) exporter.export(sampleSpans(10), () => undefined);
    assert.deepEqual(exporter.stats(), { bufferedSpans: 20, droppedSpans: 30, retriedSpans: 0 });
  });

  it('answer the processor at once while exports are slow, with a bounded number in flight', async () => {
    const calls: { spans: ReadableSpan[]; done: (result: ExportResult) => void }[] = [];
    const slow: SpanExporter = {
      export: (spans, done) => calls.push({ spans, done }),
      shutdown: () => Promise.resolve(),
    };
    const exporter = new RetryingSpanExporter(slow, { maxBufferedSpans: 100, warn: () => undefined });
    const results: ExportResultCode[] = [];
    for (let i = 0; i < 3; i += 1) exporter.export(sampleSpans(10), (r) => results.push(r.code));
    assert.equal(results.length, 3, 'the processor is never held up by a slow export');
    assert.equal(calls.length, 2, 'two batches in flight, the third waits');
    assert.equal(exporter.stats().bufferedSpans, 30);

    const flushed = exporter.forceFlush();
    calls[0]?.done({ code: ExportResultCode.SUCCESS });
    assert.equal(calls.length, 3, 'a finished send makes room for the next');
    calls[1]?.done({ code: ExportResultCode.SUCCESS });
    calls[2]?.done({ code: ExportResultCode.SUCCESS });
    await flushed;
    assert.deepEqual(exporter.stats(), { bufferedSpans: 0, droppedSpans: 0, retriedSpans: 0 });
  });

  it('flush tries every batch once while the endpoint is down, then returns with them kept', async () => {
    const inner = new FlakyExporter();
    const exporter = new RetryingSpanExporter(inner, { maxBufferedSpans: 100, warn: () => undefined });
    for (let i = 0; i < 3; i += 1) exporter.export(sampleSpans(10), () => undefined);
    await exporter.forceFlush();
    assert.deepEqual(exporter.stats(), { bufferedSpans: 30, droppedSpans: 0, retriedSpans: 0 });
    await exporter.shutdown();
  });

  it("count the spans a full processor queue drops in the service's own metrics", async () => {
    const { telemetry, points } = testTelemetry({
      OTEL_TRACES_EXPORTER: 'otlp',
      // Nothing listens there: the exporter keeps what it gets; the queue of one overflows at once.
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
      OTEL_BSP_MAX_QUEUE_SIZE: '1',
    });
    for (let i = 0; i < 10; i += 1) telemetry.tracer.startSpan(`s${i}`).end();
    const processed = await points('otel.sdk.processor.span.processed');
    const dropped = processed.find((p) => p.attributes['error.type'] === 'queue_full');
    assert.ok(dropped && (dropped.value as number) > 0, JSON.stringify(processed));
    await telemetry.shutdown();
  });
});
