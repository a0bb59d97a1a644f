import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { counter, gauge } from '../src/catalog/index.ts';
import { testTelemetry } from '../src/testing.ts';

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
    assert.equal(logs[1]?.trace_flags, '01', 'sampled');
    assert.equal(logs[1]?.pipeline_id, 'p-1');
    assert.equal(logs[1]?.attempt, 2);
  });

  it('says with trace_flags 00 that a line belongs to a trace that was not kept', () => {
    const { telemetry, logs } = testTelemetry({ OTEL_TRACES_SAMPLER: 'always_off' });
    telemetry.tracer.startActiveSpan('unsampled', (span) => {
      telemetry.logger.info('inside');
      span.end();
    });
    assert.match(String(logs[0]?.trace_id), /^[0-9a-f]{32}$/);
    assert.equal(logs[0]?.trace_flags, '00');
  });
});

describe('OTEL_SDK_DISABLED', () => {
  it('leaves working no-op instruments and no spans', async () => {
    const { telemetry, spans } = testTelemetry(
      { OTEL_SDK_DISABLED: 'true' },
      {
        jobs: counter({ name: 'jobs', unit: '{job}', description: 'Jobs done', attributes: ['queue'] }),
        depth: gauge({ name: 'queue.depth', unit: '{job}', description: 'Jobs waiting' }),
      },
    );
    telemetry.metrics.jobs.add(1, { queue: 'emails' });
    telemetry.metrics.depth.record(3);
    const span = telemetry.tracer.startSpan('nothing');
    span.end();
    const { traceId } = span.spanContext();
    assert.equal(traceId, '00000000000000000000000000000000', 'a non-recording span');
    assert.equal(spans.getFinishedSpans().length, 0);
    await telemetry.shutdown();
  });
});

describe('span export retries', () => {
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
