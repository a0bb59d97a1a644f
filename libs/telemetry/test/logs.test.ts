/**
 * Logs, the third signal: what a log call becomes (severity, body, attributes, exception, trace
 * context, resource), the exporters OTEL_LOGS_EXPORTER names, the limits that bound a record,
 * a flood against an endpoint that is not there, shutdown, and pino's records through the same
 * provider. Endpoints are local servers on ephemeral ports, or a port just closed. The pino test
 * registers globals and comes last: each test file runs in its own process.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { SeverityNumber } from '@opentelemetry/api';
import { PinoInstrumentation } from '@opentelemetry/instrumentation-pino';
import { ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import {
  InMemoryLogRecordExporter,
  type ReadableLogRecord,
  SimpleLogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import {
  AggregationTemporality,
  type DataPoint,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { initTelemetry, type TelemetryOptions } from '../src/telemetry.ts';
import { testTelemetry } from '../src/testing.ts';

const identity = { serviceName: 'unit', serviceVersion: '1' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Telemetry with only the environment's log exporters, an in-memory copy of each record, and metrics to read. */
function logTelemetry(env: Record<string, string>, options: Partial<TelemetryOptions> = {}) {
  const records = new InMemoryLogRecordExporter();
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  const lines: Record<string, unknown>[] = [];
  const telemetry = initTelemetry({
    ...identity,
    strict: true,
    registerGlobal: false,
    env: { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none', ...env },
    metricReaders: [reader],
    logRecordProcessors: [new SimpleLogRecordProcessor({ exporter: records })],
    logWrite: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
    ...options,
  });
  const points = async (name: string): Promise<DataPoint<unknown>[]> =>
    (await reader.collect()).resourceMetrics.scopeMetrics
      .flatMap((scope) => scope.metrics)
      .filter((metric) => metric.descriptor.name === name)
      .flatMap((metric): DataPoint<unknown>[] => metric.dataPoints);
  return { telemetry, records, lines, points };
}

/** A local OTLP/HTTP endpoint: every request's path, headers and body (gunzipped). */
async function otlpHttpServer() {
  const requests: { path: string; headers: IncomingMessage['headers']; body: Buffer }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({
        path: request.url ?? '',
        headers: request.headers,
        body: request.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body,
      });
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** A local OTLP/gRPC endpoint for logs: the bytes of every request. */
async function otlpGrpcLogsServer() {
  const requests: Buffer[] = [];
  const server = new grpc.Server();
  const identityCodec = (buffer: Buffer) => buffer;
  server.addService(
    {
      export: {
        path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: identityCodec,
        requestDeserialize: identityCodec,
        responseSerialize: identityCodec,
        responseDeserialize: identityCodec,
      },
    },
    {
      export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        requests.push(call.request);
        callback(null, Buffer.alloc(0));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { url: `http://127.0.0.1:${port}`, requests, close: () => server.forceShutdown() };
}

/** A port nothing listens on: one just closed. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** What the SDK's OTLP exporters send for these records. */
const otlpBytes = (records: ReadableLogRecord[]) =>
  Buffer.from(ProtobufLogsSerializer.serializeRequest(records) ?? new Uint8Array());

describe('log records', () => {
  it('carry severity, body, attributes, the exception, the trace context of the active span and the resource of the spans', () => {
    const { telemetry, spans, logs, logRecords } = testTelemetry();
    const failure = new TypeError('price must be positive');
    telemetry.tracer.startActiveSpan('place order', (span) => {
      telemetry.logger
        .child({ 'order.id': 'o-1' })
        .warn('order refused', { quantity: 3, venues: ['xnys', 'xnas'], error: failure });
      span.end();
    });
    const [record] = logRecords();
    const [span] = spans.getFinishedSpans();
    assert.ok(record && span);
    assert.equal(record.severityNumber, SeverityNumber.WARN);
    assert.equal(record.severityText, 'warn');
    assert.equal(record.body, 'order refused');
    assert.deepEqual(record.attributes, {
      'order.id': 'o-1',
      quantity: 3,
      venues: ['xnys', 'xnas'],
      'exception.type': 'TypeError',
      'exception.message': 'price must be positive',
      'exception.stacktrace': failure.stack,
    });
    assert.deepEqual(
      [record.spanContext?.traceId, record.spanContext?.spanId, record.spanContext?.traceFlags],
      [span.spanContext().traceId, span.spanContext().spanId, 1],
    );
    assert.deepEqual(record.resource.attributes, span.resource.attributes, 'the same resource as the spans');
    assert.equal(record.resource.attributes['service.name'], 'unit-test');
    assert.equal(record.instrumentationScope.name, '@tradeobs/telemetry');

    // The JSON line says the same.
    assert.equal(logs.length, 1);
    assert.deepEqual(
      [logs[0]?.level, logs[0]?.msg, logs[0]?.trace_id, logs[0]?.span_id, logs[0]?.trace_flags],
      ['warn', 'order refused', span.spanContext().traceId, span.spanContext().spanId, '01'],
    );
    assert.deepEqual(logs[0]?.error, { type: 'TypeError', message: failure.message, stack: failure.stack });
    void telemetry.shutdown();
  });

  it('outside a span have no trace ids, and neither has the line', () => {
    const { telemetry, logs, logRecords } = testTelemetry();
    telemetry.logger.info('started');
    assert.equal(logRecords()[0]?.spanContext, undefined);
    assert.equal(logRecords()[0]?.body, 'started');
    assert.equal('trace_id' in (logs[0] ?? {}), false);
    void telemetry.shutdown();
  });

  it('map the four levels to the severity numbers of the data model; LOG_LEVEL filters records and lines alike', () => {
    const { telemetry, logRecords } = testTelemetry({ LOG_LEVEL: 'debug' });
    for (const level of ['debug', 'info', 'warn', 'error'] as const) telemetry.logger[level](level);
    assert.deepEqual(
      logRecords().map((r) => [r.severityText, r.severityNumber]),
      [
        ['debug', SeverityNumber.DEBUG],
        ['info', SeverityNumber.INFO],
        ['warn', SeverityNumber.WARN],
        ['error', SeverityNumber.ERROR],
      ],
    );
    const filtered = testTelemetry({ LOG_LEVEL: 'warn' });
    for (const level of ['debug', 'info', 'warn', 'error'] as const) filtered.telemetry.logger[level](level);
    assert.deepEqual(
      filtered.logRecords().map((r) => r.body),
      ['warn', 'error'],
    );
    assert.deepEqual(
      filtered.logs.map((l) => l.msg),
      ['warn', 'error'],
    );
    void telemetry.shutdown();
    void filtered.telemetry.shutdown();
  });

  it('turn fields into attributes as the JSON line shows them, and never throw for one JSON cannot write', () => {
    const { telemetry, logs, logRecords } = testTelemetry();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const first = new RangeError('first');
    const second = new Error('second');
    telemetry.logger.info('fields', {
      at: new Date('2026-01-02T03:04:05.000Z'),
      big: 12345678901234567890n,
      nested: { venue: 'xnys', fill: { price: 10.5 } },
      none: undefined,
      cyclic,
      first,
      second,
    });
    const attributes = logRecords()[0]?.attributes ?? {};
    assert.deepEqual(attributes, {
      at: '2026-01-02T03:04:05.000Z',
      big: '12345678901234567890',
      nested: { venue: 'xnys', fill: { price: 10.5 } },
      cyclic: "<ref *1> { name: 'loop', self: [Circular *1] }",
      'exception.type': 'RangeError',
      'exception.message': 'first',
      'exception.stacktrace': first.stack,
      second: { type: 'Error', message: 'second', stack: second.stack },
    });
    const line = logs[0] ?? {};
    assert.deepEqual(
      [line.at, line.big, line.nested, line.cyclic, 'none' in line],
      ['2026-01-02T03:04:05.000Z', '12345678901234567890', attributes.nested, attributes.cyclic, false],
    );
    void telemetry.shutdown();
  });

  it('are bounded: the body at 16,384 characters, attributes at 4,096 and 128, or as the variables say; the line keeps the message whole', () => {
    const huge = 'x'.repeat(100_000);
    const manyFields = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`field.${i}`, i]));
    const defaults = testTelemetry();
    defaults.telemetry.logger.info(huge, { payload: huge, ...manyFields });
    const [record] = defaults.logRecords();
    assert.equal(String(record?.body).length, 16_384);
    assert.equal(String(record?.attributes.payload).length, 4096);
    assert.equal(Object.keys(record?.attributes ?? {}).length, 128);
    assert.equal(record?.droppedAttributesCount, 201 - 128);
    assert.equal(String(defaults.logs[0]?.msg).length, 100_000);

    const configured = testTelemetry({
      TELEMETRY_LOG_BODY_LENGTH_LIMIT: '100',
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '50',
      OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: '10',
      OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT: '2',
    });
    configured.telemetry.logger.info(huge, { payload: huge, ...manyFields });
    const [small] = configured.logRecords();
    assert.equal(String(small?.body).length, 100);
    assert.equal(String(small?.attributes.payload).length, 10);
    assert.equal(Object.keys(small?.attributes ?? {}).length, 2);
    void defaults.telemetry.shutdown();
    void configured.telemetry.shutdown();
  });

  it('go without the JSON line with TELEMETRY_LOG_STDOUT=false or logStdout: false (the variable wins); the library still writes its warnings', () => {
    const off = testTelemetry({ TELEMETRY_LOG_STDOUT: 'false' });
    off.telemetry.logger.info('record only');
    assert.deepEqual([off.logs.length, off.logRecords().length], [0, 1]);

    const byOption = logTelemetry({ OTEL_LOGS_EXPORTER: 'none' }, { logStdout: false });
    byOption.telemetry.logger.info('record only');
    assert.deepEqual([byOption.lines.length, byOption.records.getFinishedLogRecords().length], [0, 1]);
    const overridden = logTelemetry(
      { OTEL_LOGS_EXPORTER: 'none', TELEMETRY_LOG_STDOUT: 'true' },
      { logStdout: false },
    );
    overridden.telemetry.logger.info('both');
    assert.equal(overridden.lines.length, 1);

    const warned = logTelemetry(
      { TELEMETRY_LOG_STDOUT: 'false', OTEL_LOGS_EXPORTER: 'console,loki' },
      { strict: false },
    );
    assert.match(String(warned.lines[0]?.msg), /OTEL_LOGS_EXPORTER="console,loki": loki not known/);
    for (const { telemetry } of [off, byOption, overridden, warned]) void telemetry.shutdown();
  });
});

describe('log export', () => {
  it('OTEL_LOGS_EXPORTER=none makes no record at all; the line is still written', async () => {
    const { telemetry, lines, points } = logTelemetry(
      { OTEL_LOGS_EXPORTER: 'none' },
      { logRecordProcessors: [] },
    );
    telemetry.logger.info('line only');
    assert.equal(lines.length, 1);
    assert.deepEqual(await points('otel.sdk.log.created'), []);
    await telemetry.shutdown();
  });

  it('OTEL_LOGS_EXPORTER=console prints each record, batched off the request path', async (t) => {
    const printed: unknown[] = [];
    t.mock.method(console, 'dir', (value: unknown) => {
      printed.push(value);
    });
    const { telemetry } = logTelemetry({ OTEL_LOGS_EXPORTER: 'console' });
    telemetry.logger.info('to the console', { 'order.id': 'o-2' });
    assert.equal(printed.length, 0, 'not written by the call itself');
    await telemetry.forceFlush();
    assert.equal(printed.length, 1);
    assert.deepEqual(
      [
        (printed[0] as { body: unknown }).body,
        (printed[0] as { attributes: unknown }).attributes,
        (printed[0] as { resource: { attributes: Record<string, unknown> } }).resource.attributes[
          'service.name'
        ],
      ],
      ['to the console', { 'order.id': 'o-2' }, 'unit'],
    );
    await telemetry.shutdown();
  });

  it('OTEL_LOGS_EXPORTER=otlp,console sends to both; the per-signal OTLP settings win, and the request is what the SDK serializes', async (t) => {
    t.mock.method(console, 'dir', () => undefined);
    const endpoint = await otlpHttpServer();
    t.after(endpoint.close);
    const { telemetry, records, points } = logTelemetry({
      OTEL_LOGS_EXPORTER: 'otlp,console',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${endpoint.url}/custom/logs`,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=general',
      OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'x-tenant=logs',
      OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'gzip',
    });
    telemetry.logger.info('one');
    telemetry.logger.error('two', { attempt: 2 });
    await telemetry.forceFlush();
    assert.equal(endpoint.requests.length, 1);
    const [request] = endpoint.requests;
    assert.equal(request?.path, '/custom/logs');
    assert.equal(request?.headers['x-tenant'], 'logs');
    assert.equal(request?.headers['content-encoding'], 'gzip');
    assert.equal(request?.body.toString('hex'), otlpBytes(records.getFinishedLogRecords()).toString('hex'));
    const capacity = await points('otel.sdk.processor.log.queue.capacity');
    assert.equal(capacity.length, 2, 'one batch processor per exporter');
    const exported = await points('otel.sdk.exporter.log.exported');
    assert.deepEqual(
      exported.map((p) => [p.attributes['otel.component.type'], p.attributes['error.type'], p.value]),
      [['otlp_http_log_exporter', undefined, 2]],
    );
    await telemetry.shutdown();
  });

  it('shutdown flushes the records held, and later calls write the line only', async (t) => {
    const endpoint = await otlpHttpServer();
    t.after(endpoint.close);
    const { telemetry, records, lines } = logTelemetry({
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint.url,
      // Nothing leaves before shutdown but by it.
      OTEL_BLRP_SCHEDULE_DELAY: '60000',
    });
    for (const message of ['a', 'b', 'c']) telemetry.logger.info(message);
    await sleep(50);
    assert.equal(endpoint.requests.length, 0);
    // The in-memory exporter forgets its records when it is shut down.
    const emitted = records.getFinishedLogRecords();
    await telemetry.shutdown();
    assert.deepEqual(
      endpoint.requests.map((r) => r.path),
      ['/v1/logs'],
    );
    assert.equal(endpoint.requests[0]?.body.toString('hex'), otlpBytes(emitted).toString('hex'));
    assert.equal(emitted.length, 3);
    telemetry.logger.info('after shutdown');
    assert.equal(lines.at(-1)?.msg, 'after shutdown');
    await sleep(50);
    assert.equal(endpoint.requests.length, 1);
  });

  it('a flood of huge records against an unreachable endpoint: calls return at once, memory stays bounded, every drop is counted, one warning', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    const { telemetry, lines, points } = logTelemetry(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
        OTEL_EXPORTER_OTLP_TIMEOUT: '500',
        OTEL_BLRP_SCHEDULE_DELAY: '1',
        // Lines of a megabyte each are the caller's business; here only the records are measured.
        TELEMETRY_LOG_STDOUT: 'false',
      },
      { logRecordProcessors: [], shutdownTimeoutMillis: 2_000 },
    );
    const huge = 'x'.repeat(1_000_000);
    const payload = 'y'.repeat(100_000);
    const rounds = 10;
    const perRound = 3_000; // more than the queue (2,048) between two exports
    let slowestRound = 0;
    for (let round = 0; round < rounds; round += 1) {
      const started = performance.now();
      for (let i = 0; i < perRound; i += 1) telemetry.logger.error(huge, { payload, round });
      slowestRound = Math.max(slowestRound, performance.now() - started);
      await sleep(20);
    }
    // The sends under way when the flood ended have failed by now, and the next retry is a second
    // away: nothing changes while the numbers are read.
    await sleep(200);
    // 3,000 records of 16 KiB body and 4 KiB attribute: a few milliseconds a thousand here.
    assert.ok(slowestRound < 2_000, `${perRound} calls took ${slowestRound} ms`);

    const stats = telemetry.logExportStats();
    // Each record is estimated at 100 + 16,384 + 7 + 4,096 + 5 + 8 bytes: 32 MiB hold 1,628 of
    // them, plus the batches (of 512) being sent, which are not dropped while their send runs.
    const perRecord = 100 + 16_384 + 'payload'.length + 4_096 + 'round'.length + 8;
    assert.ok(
      stats.bufferedLogRecords <= Math.floor((32 * 1024 * 1024) / perRecord) + 2 * 512,
      `${stats.bufferedLogRecords} records held`,
    );
    assert.equal(stats.retriedLogRecords, 0);

    const processed = await points('otel.sdk.processor.log.processed');
    const dropped = (componentType: string, errorType: string) =>
      processed
        .filter(
          (p) =>
            p.attributes['otel.component.type'] === componentType && p.attributes['error.type'] === errorType,
        )
        .reduce((sum, p) => sum + Number(p.value), 0);
    const queueFull = dropped('batching_log_processor', 'queue_full');
    const bufferFull = dropped('retrying_log_exporter', 'buffer_full');
    assert.ok(queueFull > 0, 'the batch processor dropped records for a full queue');
    assert.equal(bufferFull, stats.droppedLogRecords, 'the retrying exporter counts what it drops');
    assert.ok(bufferFull > 0);
    const [created] = await points('otel.sdk.log.created');
    assert.equal(created?.value, rounds * perRound);
    const queued = processed
      .filter((p) => p.attributes['otel.component.type'] === 'batching_log_processor')
      .reduce((sum, p) => sum + Number(p.value), 0);
    // Every record is accounted for: dropped by the queue, or handed on and then held or dropped.
    assert.equal(queued + (await queueSize()), rounds * perRound);
    assert.equal(queued - queueFull, stats.bufferedLogRecords + stats.droppedLogRecords);

    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [['warn', 'log export failed; keeping log records to retry']],
      'one warning, not one per batch',
    );
    assert.equal(lines[0]?.endpoint, telemetry.config.otlpLogs.url);
    await telemetry.shutdown();
    process.off('unhandledRejection', onRejection);
    assert.deepEqual(rejections, []);

    async function queueSize(): Promise<number> {
      const [size] = await points('otel.sdk.processor.log.queue.size');
      return Number(size?.value ?? 0);
    }
  });
});

describe('pino', () => {
  it("sends pino's records through the same provider: OTLP with the trace context and the resource, and trace ids in pino's own line", async (t) => {
    // Before pino is loaded: the instrumentation patches it as it is required. (An ES module
    // service loads @opentelemetry/instrumentation/hook.mjs first, as the README says.)
    const instrumentation = new PinoInstrumentation();
    t.after(() => instrumentation.disable());
    const endpoint = await otlpGrpcLogsServer();
    t.after(endpoint.close);
    const spans = new InMemorySpanExporter();
    const { telemetry, records } = logTelemetry(
      { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint.url, TELEMETRY_LOG_BODY_LENGTH_LIMIT: '1000' },
      { registerGlobal: true, spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] },
    );
    const require = createRequire(import.meta.url);
    const pino = require('pino') as typeof import('pino');
    const pinoLines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        pinoLines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const log = pino({ level: 'debug' }, destination);

    telemetry.tracer.startActiveSpan('accept order', (span) => {
      log.info({ 'order.id': 'o-7', quantity: 5 }, 'order accepted');
      log.warn('x'.repeat(5_000));
      span.end();
    });
    log.error('outside any span');
    await telemetry.forceFlush();

    const [span] = spans.getFinishedSpans();
    assert.ok(span);
    const { traceId, spanId } = span.spanContext();
    const sent = records.getFinishedLogRecords();
    assert.deepEqual(
      sent.map((r) => [r.severityNumber, r.severityText, r.instrumentationScope.name]),
      [
        [SeverityNumber.INFO, 'info', '@opentelemetry/instrumentation-pino'],
        [SeverityNumber.WARN, 'warn', '@opentelemetry/instrumentation-pino'],
        [SeverityNumber.ERROR, 'error', '@opentelemetry/instrumentation-pino'],
      ],
    );
    const [accepted, long, outside] = sent;
    assert.equal(accepted?.body, 'order accepted');
    assert.deepEqual(accepted?.attributes, { 'order.id': 'o-7', quantity: 5 });
    assert.deepEqual([accepted?.spanContext?.traceId, accepted?.spanContext?.spanId], [traceId, spanId]);
    assert.deepEqual(accepted?.resource.attributes, span.resource.attributes);
    assert.equal(String(long?.body).length, 1_000, 'the body limit holds for pino records too');
    assert.equal(outside?.spanContext, undefined);

    // On the wire: one OTLP/gRPC request (the default protocol), the bytes the SDK makes of the
    // records, with the trace id's 16 bytes and the service's name in it.
    assert.equal(endpoint.requests.length, 1);
    const [request] = endpoint.requests;
    assert.equal(request?.toString('hex'), otlpBytes(sent).toString('hex'));
    assert.ok(request?.includes(Buffer.from(traceId, 'hex')));
    assert.ok(request?.includes(Buffer.from(String(span.resource.attributes['service.instance.id']))));

    // Pino's own line gets the ids, as the library's logger's line does.
    assert.deepEqual(
      [pinoLines[0]?.msg, pinoLines[0]?.trace_id, pinoLines[0]?.span_id, pinoLines[0]?.trace_flags],
      ['order accepted', traceId, spanId, '01'],
    );
    assert.equal('trace_id' in (pinoLines[2] ?? {}), false);
    await telemetry.shutdown();
  });
});
