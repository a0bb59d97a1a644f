/**
 * initTelemetry() as the environment configures it: propagators, limits, compression,
 * temporality, diagnostics, and which globals it touches. Each test file runs in its own
 * process, so the one test here that registers globals affects no other file.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  context,
  diag,
  logs,
  metrics,
  propagation,
  ROOT_CONTEXT,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';
import { AggregationTemporality, InstrumentType } from '@opentelemetry/sdk-metrics';
import { readTelemetryConfig, TelemetryConfigError } from '../src/config.ts';
import { metricReaders } from '../src/exporters.ts';
import { createLogger } from '../src/logger.ts';
import { initTelemetry } from '../src/telemetry.ts';
import { testTelemetry } from '../src/testing.ts';

const identity = { serviceName: 'unit', serviceVersion: '1' };

function headersInjected(env: Record<string, string>): Record<string, string> {
  const { telemetry } = testTelemetry(env);
  const span = telemetry.tracer.startSpan('outgoing');
  const carrier: Record<string, string> = {};
  const setter: TextMapSetter<Record<string, string>> = {
    set: (headers, key, value) => {
      headers[key] = value;
    },
  };
  telemetry.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, setter);
  span.end();
  return carrier;
}

describe('the resource', () => {
  it('has a random service.instance.id per process unless OTEL_RESOURCE_ATTRIBUTES names one', () => {
    const instanceOf = (env: Record<string, string>) => {
      const span = testTelemetry(env).telemetry.tracer.startSpan('x') as unknown as {
        resource: { attributes: Record<string, unknown> };
        end(): void;
      };
      span.end();
      return span.resource.attributes['service.instance.id'];
    };
    const first = instanceOf({});
    assert.match(String(first), /^[0-9a-f-]{36}$/);
    assert.notEqual(instanceOf({}), first);
    assert.equal(instanceOf({ OTEL_RESOURCE_ATTRIBUTES: 'service.instance.id=worker-2' }), 'worker-2');
  });
});

describe('initTelemetry and the environment', () => {
  it('propagates with the OTEL_PROPAGATORS it names: W3C by default, B3 single and multi, none', () => {
    assert.deepEqual(Object.keys(headersInjected({})), ['traceparent']);
    assert.deepEqual(Object.keys(headersInjected({ OTEL_PROPAGATORS: 'b3' })), ['b3']);
    assert.deepEqual(Object.keys(headersInjected({ OTEL_PROPAGATORS: 'b3multi' })).sort(), [
      'x-b3-sampled',
      'x-b3-spanid',
      'x-b3-traceid',
    ]);
    assert.deepEqual(Object.keys(headersInjected({ OTEL_PROPAGATORS: 'none' })), []);
  });

  it('limits span attributes: 4096 characters by default, OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT otherwise', () => {
    for (const [env, length] of [
      [{}, 4096],
      [{ OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '10' }, 10],
    ] as const) {
      const { telemetry, spans } = testTelemetry(env);
      const span = telemetry.tracer.startSpan('big');
      span.setAttribute('http.request.header.cookie', 'x'.repeat(100_000));
      span.end();
      assert.equal(
        String(spans.getFinishedSpans()[0]?.attributes['http.request.header.cookie']).length,
        length,
      );
    }
  });

  it('starts with a warning on a wrong value, or stops in strict mode', () => {
    const lines: string[] = [];
    const telemetry = initTelemetry({
      ...identity,
      env: {
        OTEL_TRACES_SAMPLER: 'sometimes',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      },
      registerGlobal: false,
      logWrite: (line) => lines.push(line),
    });
    assert.equal(telemetry.config.sampler, 'parentbased_always_on');
    const [warning] = lines.map((line) => JSON.parse(line) as { level: string; msg: string });
    assert.equal(warning?.level, 'warn');
    assert.match(warning?.msg ?? '', /OTEL_TRACES_SAMPLER="sometimes".*using "parentbased_always_on"/);
    assert.throws(
      () => initTelemetry({ ...identity, env: { OTEL_TRACES_SAMPLER: 'sometimes' }, strict: true }),
      TelemetryConfigError,
    );
  });

  it('asks the OTLP exporter for the temporality of OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', () => {
    const temporalities = (preference: string) => {
      const config = readTelemetryConfig(identity, {
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: preference,
      });
      const [reader] = metricReaders(config, createLogger({ service: 'unit', level: 'error' }));
      assert.ok(reader);
      return [InstrumentType.COUNTER, InstrumentType.HISTOGRAM, InstrumentType.UP_DOWN_COUNTER].map((type) =>
        reader.selectAggregationTemporality(type),
      );
    };
    const { CUMULATIVE, DELTA } = AggregationTemporality;
    assert.deepEqual(temporalities('cumulative'), [CUMULATIVE, CUMULATIVE, CUMULATIVE]);
    assert.deepEqual(temporalities('delta'), [DELTA, DELTA, CUMULATIVE]);
    assert.deepEqual(temporalities('lowmemory'), [DELTA, DELTA, CUMULATIVE]);
  });

  it('compresses OTLP/HTTP requests of the three signals with gzip when OTEL_EXPORTER_OTLP_COMPRESSION says so', async () => {
    const received: { path: string; encoding: string | undefined; bytes: number }[] = [];
    const server = createServer((request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        const encoding = request.headers['content-encoding'];
        received.push({
          path: request.url ?? '',
          encoding,
          bytes: (encoding === 'gzip' ? gunzipSync(body) : body).length,
        });
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const telemetry = initTelemetry({
      ...identity,
      env: {
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      },
      strict: true,
      registerGlobal: false,
      logWrite: () => undefined,
    });
    telemetry.tracer.startSpan('compressed').end();
    telemetry.logger.info('compressed');
    await telemetry.forceFlush();
    await telemetry.shutdown();
    await new Promise((resolve) => server.close(resolve));
    const paths = received.map((r) => r.path).sort();
    assert.deepEqual([...new Set(paths)], ['/v1/logs', '/v1/metrics', '/v1/traces']);
    assert.ok(
      received.every((r) => r.encoding === 'gzip' && r.bytes > 0),
      JSON.stringify(received),
    );
  });

  it('touches no global with registerGlobal: false', () => {
    const globals = () => [
      trace.getTracerProvider(),
      metrics.getMeterProvider(),
      logs.getLoggerProvider(),
      propagation.fields(),
    ];
    const before = globals();
    const activeBefore = context.active();
    const telemetry = initTelemetry({
      ...identity,
      env: {
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_TRACES_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        OTEL_PROPAGATORS: 'b3',
      },
      registerGlobal: false,
      logWrite: () => undefined,
    });
    assert.deepEqual(globals(), before);
    assert.equal(context.active(), activeBefore);
    assert.equal(process.listenerCount('SIGTERM'), 0, 'no signal handler unless asked');
    void telemetry.shutdown();
  });

  it('registers the providers, propagator and diagnostics at OTEL_LOG_LEVEL when asked', () => {
    const lines: { level: string; msg: string }[] = [];
    const telemetry = initTelemetry({
      ...identity,
      env: {
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        OTEL_LOG_LEVEL: 'debug',
        OTEL_PROPAGATORS: 'b3',
      },
      logWrite: (line) => lines.push(JSON.parse(line) as { level: string; msg: string }),
    });
    assert.equal(trace.getTracerProvider().getTracer('x').startSpan('y').isRecording(), true);
    assert.equal(logs.getLoggerProvider(), telemetry.loggerProvider);
    assert.deepEqual(propagation.fields(), ['b3']);
    diag.debug('a debug message of the SDK');
    assert.ok(lines.some((l) => l.msg === 'a debug message of the SDK'));
    void telemetry.shutdown();
  });
});
