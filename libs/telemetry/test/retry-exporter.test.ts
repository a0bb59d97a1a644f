import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { OTLPExporterBase, OTLPExporterError } from '@opentelemetry/otlp-exporter-base';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from '@opentelemetry/otlp-exporter-base/node-http';
import {
  convertLegacyOtlpGrpcOptions,
  createOtlpGrpcExportDelegate,
} from '@opentelemetry/otlp-grpc-exporter-base';
import {
  type IExportTraceServiceResponse,
  type ISerializer,
  TraceExporterMetricsHelper,
} from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { type ExportFailure, RetryingExporter, classifyExportFailure } from '../src/retry-exporter.ts';
import { testTelemetry } from '../src/testing.ts';

// The errors as the SDK's transports make them (otlp-exporter-base and grpc-js).

/** http-transport-utils: an answer with a status the SDK's transport does not retry. */
const httpStatusError = (status: number) =>
  new OTLPExporterError(STATUS_CODES[status], status, '{"code":3,"message":"rejected"}');
/** otlp-export-delegate: a 429/502/503/504 retried by the SDK's transport until its deadline. */
const httpRetriesExhausted = () => new OTLPExporterError('Export failed with retryable status');
/** http-transport-utils: `req.setTimeout` fired. */
const httpTimeout = () => new Error('Request timed out');
/** Node's socket errors (exceptionWithHostPort), which the HTTP transport passes on. */
const socketError = (code: string) =>
  Object.assign(new Error(`connect ${code} 127.0.0.1:4318`), {
    errno: -1,
    code,
    syscall: 'connect',
    address: '127.0.0.1',
    port: 4318,
  });
/** grpc-js callErrorFromStatus: the ServiceError of every failed gRPC call. */
const grpcError = (code: grpc.status, details = 'failed') =>
  Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), {
    code,
    details,
    metadata: new grpc.Metadata(),
  });

/** An exporter that fails with `error` while `down` is true, as the OTLP exporter does. */
class FlakyExporter implements SpanExporter {
  down = true;
  attempts: number[] = [];
  delivered: ReadableSpan[] = [];
  readonly #error: () => Error;
  readonly #delivery = Promise.withResolvers<undefined>();
  /** Resolves at the first delivery. */
  readonly deliveredOnce = this.#delivery.promise;
  /** Comes back by itself after this many failed attempts. */
  failuresLeft = Number.POSITIVE_INFINITY;

  constructor(error: () => Error = () => socketError('ECONNREFUSED')) {
    this.#error = error;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.attempts.push(performance.now());
    if (this.down && this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      done({ code: ExportResultCode.FAILED, error: this.#error() });
      return;
    }
    this.delivered.push(...spans);
    this.#delivery.resolve(undefined);
    done({ code: ExportResultCode.SUCCESS });
  }
  shutdown = () => Promise.resolve();
}

const sampleSpans = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ name: `s${i}` }) as unknown as ReadableSpan);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMillis = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMillis;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const noWarnings = () => undefined;

describe('classifyExportFailure', () => {
  it('retries what may succeed later, and names every failure by a low-cardinality error type', () => {
    const cases: [string, unknown, ExportFailure][] = [
      ['HTTP 400', httpStatusError(400), { retryable: false, errorType: '400' }],
      ['HTTP 401', httpStatusError(401), { retryable: false, errorType: '401' }],
      ['HTTP 404', httpStatusError(404), { retryable: false, errorType: '404' }],
      ['HTTP 413', httpStatusError(413), { retryable: false, errorType: '413' }],
      ['HTTP 500', httpStatusError(500), { retryable: false, errorType: '500' }],
      [
        'HTTP 429/502/503/504 after the SDK retried',
        httpRetriesExhausted(),
        { retryable: true, errorType: 'retryable_status' },
      ],
      // Not what this SDK version makes, but what a status kept by the error would mean.
      ['HTTP 429 with its status', httpStatusError(429), { retryable: true, errorType: '429' }],
      ['HTTP 502 with its status', httpStatusError(502), { retryable: true, errorType: '502' }],
      ['HTTP 503 with its status', httpStatusError(503), { retryable: true, errorType: '503' }],
      ['HTTP 504 with its status', httpStatusError(504), { retryable: true, errorType: '504' }],
      ['HTTP timeout', httpTimeout(), { retryable: true, errorType: 'timeout' }],
      ['ECONNREFUSED', socketError('ECONNREFUSED'), { retryable: true, errorType: 'connection' }],
      ['ECONNRESET', socketError('ECONNRESET'), { retryable: true, errorType: 'connection' }],
      ['ENOTFOUND', socketError('ENOTFOUND'), { retryable: true, errorType: 'connection' }],
      ['EHOSTUNREACH', socketError('EHOSTUNREACH'), { retryable: true, errorType: 'connection' }],
      ['ETIMEDOUT', socketError('ETIMEDOUT'), { retryable: true, errorType: 'timeout' }],
      ['a TLS failure', socketError('CERT_HAS_EXPIRED'), { retryable: false, errorType: 'CERT_HAS_EXPIRED' }],
      ['gRPC UNAVAILABLE', grpcError(grpc.status.UNAVAILABLE), { retryable: true, errorType: 'UNAVAILABLE' }],
      [
        'gRPC DEADLINE_EXCEEDED',
        grpcError(grpc.status.DEADLINE_EXCEEDED),
        { retryable: true, errorType: 'DEADLINE_EXCEEDED' },
      ],
      [
        'gRPC RESOURCE_EXHAUSTED',
        grpcError(grpc.status.RESOURCE_EXHAUSTED),
        { retryable: true, errorType: 'RESOURCE_EXHAUSTED' },
      ],
      [
        'gRPC INVALID_ARGUMENT',
        grpcError(grpc.status.INVALID_ARGUMENT),
        { retryable: false, errorType: 'INVALID_ARGUMENT' },
      ],
      [
        'gRPC UNAUTHENTICATED',
        grpcError(grpc.status.UNAUTHENTICATED),
        { retryable: false, errorType: 'UNAUTHENTICATED' },
      ],
      [
        'gRPC PERMISSION_DENIED',
        grpcError(grpc.status.PERMISSION_DENIED),
        { retryable: false, errorType: 'PERMISSION_DENIED' },
      ],
      [
        'gRPC UNIMPLEMENTED',
        grpcError(grpc.status.UNIMPLEMENTED),
        { retryable: false, errorType: 'UNIMPLEMENTED' },
      ],
      [
        "the delegate's concurrency limit",
        new Error('Concurrent export limit reached'),
        { retryable: true, errorType: 'concurrency_limit' },
      ],
      [
        'an unknown OTLPExporterError',
        new OTLPExporterError('Export failed with unknown error'),
        { retryable: false, errorType: 'OTLPExporterError' },
      ],
      ['a TypeError', new TypeError('no'), { retryable: false, errorType: 'TypeError' }],
      ['no error', undefined, { retryable: false, errorType: 'export_failed' }],
    ];
    for (const [what, error, expected] of cases)
      assert.deepEqual(classifyExportFailure(error), expected, what);
  });
});

describe('export retries', () => {
  it('keep spans while the endpoint is unreachable and deliver them when it is back', async () => {
    const inner = new FlakyExporter();
    const warnings: string[] = [];
    const exporter = new RetryingExporter<ReadableSpan>(inner, {
      signal: 'span',
      maxBufferedItems: 100,
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
    assert.equal(exporter.stats().bufferedItems, 15);
    assert.equal(warnings.length, 1, 'one warning per interval, not one per batch');

    inner.down = false;
    await exporter.forceFlush();
    assert.equal(inner.delivered.length, 15);
    assert.deepEqual(exporter.stats(), {
      bufferedItems: 0,
      droppedItems: 0,
      droppedByErrorType: new Map(),
      retriedItems: 15,
    });
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
    const exporter = new RetryingExporter<ReadableSpan>(new FlakyExporter(), {
      signal: 'span',
      maxBufferedItems: 20,
      warn: noWarnings,
    });
    for (let i = 0; i < 5; i += 1) exporter.export(sampleSpans(10), () => undefined);
    assert.deepEqual(exporter.stats(), {
      bufferedItems: 20,
      droppedItems: 30,
      droppedByErrorType: new Map([['buffer_full', 30]]),
      retriedItems: 0,
    });
  });

  it('bound memory by estimated bytes too, when given the size of an item', () => {
    const exporter = new RetryingExporter<ReadableSpan>(new FlakyExporter(), {
      signal: 'span',
      maxBufferedItems: 1_000,
      sizeOf: () => 10,
      maxBufferedBytes: 250,
      warn: noWarnings,
    });
    // Ten spans of 10 bytes a batch: two batches fit in 250 bytes, the oldest three go.
    for (let i = 0; i < 5; i += 1) exporter.export(sampleSpans(10), () => undefined);
    assert.deepEqual(exporter.stats(), {
      bufferedItems: 20,
      droppedItems: 30,
      droppedByErrorType: new Map([['buffer_full', 30]]),
      retriedItems: 0,
    });
  });

  it('name log records in their warnings, as spans in theirs', async () => {
    const warnings: [string, Record<string, unknown>][] = [];
    const warn = (message: string, fields: Record<string, unknown>) => warnings.push([message, fields]);
    const refused = new RetryingExporter<ReadableSpan>(new FlakyExporter(), {
      signal: 'log',
      maxBufferedItems: 100,
      warn,
    });
    refused.export(sampleSpans(4), () => undefined);
    const rejected = new RetryingExporter<ReadableSpan>(new FlakyExporter(() => httpStatusError(400)), {
      signal: 'log',
      maxBufferedItems: 100,
      warn,
    });
    rejected.export(sampleSpans(3), () => undefined);
    assert.deepEqual(
      warnings.map(([message, fields]) => [
        message,
        fields.log_records,
        fields.buffered_log_records,
        fields.dropped_log_records,
      ]),
      [
        ['log export failed; keeping log records to retry', undefined, 4, 0],
        ['log export rejected; dropping the batch', 3, 0, 3],
      ],
    );
    await refused.shutdown();
  });

  it('answer the processor at once while exports are slow, with a bounded number in flight', async () => {
    const calls: { spans: ReadableSpan[]; done: (result: ExportResult) => void }[] = [];
    const slow: SpanExporter = {
      export: (spans, done) => calls.push({ spans, done }),
      shutdown: () => Promise.resolve(),
    };
    const exporter = new RetryingExporter<ReadableSpan>(slow, {
      signal: 'span',
      maxBufferedItems: 100,
      warn: noWarnings,
    });
    const results: ExportResultCode[] = [];
    for (let i = 0; i < 3; i += 1) exporter.export(sampleSpans(10), (r) => results.push(r.code));
    assert.equal(results.length, 3, 'the processor is never held up by a slow export');
    assert.equal(calls.length, 2, 'two batches in flight, the third waits');
    assert.equal(exporter.stats().bufferedItems, 30);

    const flushed = exporter.forceFlush();
    calls[0]?.done({ code: ExportResultCode.SUCCESS });
    assert.equal(calls.length, 3, 'a finished send makes room for the next');
    calls[1]?.done({ code: ExportResultCode.SUCCESS });
    calls[2]?.done({ code: ExportResultCode.SUCCESS });
    await flushed;
    assert.deepEqual(exporter.stats(), {
      bufferedItems: 0,
      droppedItems: 0,
      droppedByErrorType: new Map(),
      retriedItems: 0,
    });
  });

  it('flush tries every batch once while the endpoint is down, then returns with them kept', async () => {
    const inner = new FlakyExporter();
    const exporter = new RetryingExporter<ReadableSpan>(inner, {
      signal: 'span',
      maxBufferedItems: 100,
      warn: noWarnings,
    });
    for (let i = 0; i < 3; i += 1) exporter.export(sampleSpans(10), () => undefined);
    await exporter.forceFlush();
    assert.deepEqual(exporter.stats(), {
      bufferedItems: 30,
      droppedItems: 0,
      droppedByErrorType: new Map(),
      retriedItems: 0,
    });
    await exporter.shutdown();
  });

  const retryable: [string, () => Error][] = [
    ['gRPC UNAVAILABLE', () => grpcError(grpc.status.UNAVAILABLE, 'No connection established')],
    ['gRPC DEADLINE_EXCEEDED', () => grpcError(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded')],
    ['gRPC RESOURCE_EXHAUSTED', () => grpcError(grpc.status.RESOURCE_EXHAUSTED, 'data refused')],
    ['HTTP 429/502/503/504 after the SDK retried', httpRetriesExhausted],
    ['HTTP 429', () => httpStatusError(429)],
    ['HTTP 502', () => httpStatusError(502)],
    ['HTTP 503', () => httpStatusError(503)],
    ['HTTP 504', () => httpStatusError(504)],
    ['HTTP timeout', httpTimeout],
    ['connection refused', () => socketError('ECONNREFUSED')],
    ['connection reset', () => socketError('ECONNRESET')],
    ['socket timeout', () => socketError('ETIMEDOUT')],
  ];
  for (const [what, error] of retryable) {
    it(`retry ${what}, and deliver once the endpoint is back`, async () => {
      const inner = new FlakyExporter(error);
      inner.failuresLeft = 3;
      const exporter = new RetryingExporter<ReadableSpan>(inner, {
        signal: 'span',
        maxBufferedItems: 100,
        initialBackoffMillis: 2,
        maxBackoffMillis: 8,
        warn: noWarnings,
      });
      exporter.export(sampleSpans(10), () => undefined);
      await inner.deliveredOnce;
      assert.equal(inner.attempts.length, 4, 'three failures, then the delivery');
      assert.deepEqual(exporter.stats(), {
        bufferedItems: 0,
        droppedItems: 0,
        droppedByErrorType: new Map(),
        retriedItems: 10,
      });
    });
  }

  const permanent: [string, () => Error, string][] = [
    ['HTTP 400', () => httpStatusError(400), '400'],
    ['HTTP 401', () => httpStatusError(401), '401'],
    ['HTTP 413', () => httpStatusError(413), '413'],
    ['gRPC INVALID_ARGUMENT', () => grpcError(grpc.status.INVALID_ARGUMENT), 'INVALID_ARGUMENT'],
    ['gRPC UNAUTHENTICATED', () => grpcError(grpc.status.UNAUTHENTICATED), 'UNAUTHENTICATED'],
    ['gRPC PERMISSION_DENIED', () => grpcError(grpc.status.PERMISSION_DENIED), 'PERMISSION_DENIED'],
  ];
  for (const [what, error, errorType] of permanent) {
    it(`drop a batch rejected with ${what} after one attempt, counted as ${errorType}`, async () => {
      const inner = new FlakyExporter(error);
      const warnings: [string, Record<string, unknown>][] = [];
      const exporter = new RetryingExporter<ReadableSpan>(inner, {
        signal: 'span',
        maxBufferedItems: 100,
        initialBackoffMillis: 1,
        maxBackoffMillis: 1,
        warn: (message, fields) => warnings.push([message, fields]),
      });
      exporter.export(sampleSpans(7), () => undefined);
      // Many backoffs' worth: had the batch been kept, it would have been sent again by now.
      await sleep(30);
      assert.equal(inner.attempts.length, 1);
      assert.deepEqual(exporter.stats(), {
        bufferedItems: 0,
        droppedItems: 7,
        droppedByErrorType: new Map([[errorType, 7]]),
        retriedItems: 0,
      });
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]?.[0], 'span export rejected; dropping the batch');
      assert.equal(warnings[0]?.[1].error_type, errorType);
      assert.equal(warnings[0]?.[1].spans, 7);
      assert.deepEqual(warnings[0]?.[1].dropped_by_error_type, { [errorType]: 7 });
    });
  }

  it('count a rejected batch apart from those dropped for room, and go on sending the next at once', () => {
    const errors = [socketError('ECONNREFUSED'), httpStatusError(400)];
    const inner: SpanExporter = {
      export: (_spans, done) => {
        const error = errors.shift();
        done(error ? { code: ExportResultCode.FAILED, error } : { code: ExportResultCode.SUCCESS });
      },
      shutdown: () => Promise.resolve(),
    };
    const exporter = new RetryingExporter<ReadableSpan>(inner, {
      signal: 'span',
      maxBufferedItems: 10,
      warn: noWarnings,
    });
    exporter.export(sampleSpans(10), () => undefined); // refused: kept, a retry is 1 s away
    exporter.export(sampleSpans(4), () => undefined); // the oldest make room
    assert.deepEqual(exporter.stats().droppedByErrorType, new Map([['buffer_full', 10]]));
    void exporter.forceFlush(); // 400: dropped
    assert.deepEqual(exporter.stats(), {
      bufferedItems: 0,
      droppedItems: 14,
      droppedByErrorType: new Map([
        ['buffer_full', 10],
        ['400', 4],
      ]),
      retriedItems: 0,
    });
  });

  it('back off exponentially with jitter: every delay between half the ceiling and the ceiling', async () => {
    // Ceilings 20, 40, 80, 80… ms: the delays of the ten retries lie in [10, 20], [20, 40], [40, 80]…
    const inner = new FlakyExporter();
    inner.failuresLeft = 10;
    const exporter = new RetryingExporter<ReadableSpan>(inner, {
      signal: 'span',
      maxBufferedItems: 100,
      initialBackoffMillis: 20,
      maxBackoffMillis: 80,
      warn: noWarnings,
    });
    exporter.export(sampleSpans(1), () => undefined);
    await inner.deliveredOnce;
    const delays = inner.attempts.slice(1).map((at, i) => at - (inner.attempts[i] ?? 0));
    const ceilings = delays.map((_, i) => Math.min(20 * 2 ** i, 80));
    for (const [i, delay] of delays.entries()) {
      const ceiling = ceilings[i] ?? 0;
      // A timer fires up to a millisecond early by this clock, and late by however busy the machine is.
      assert.ok(delay >= ceiling / 2 - 1, `retry ${i + 1} after ${delay} ms, at least ${ceiling / 2}`);
      assert.ok(delay <= ceiling + 50, `retry ${i + 1} after ${delay} ms, at most ${ceiling} and some`);
    }
    // Seven draws in [40, 80] ms: without jitter they would differ by the timers' noise alone.
    const capped = delays.slice(3);
    assert.ok(Math.max(...capped) - Math.min(...capped) > 4, `jittered: ${capped.join(', ')}`);
  });

  it('warn at most once per interval, for the retries and the drops alike', async () => {
    const warnings: string[] = [];
    const rejecting = new FlakyExporter(() => httpStatusError(400));
    const refused = new FlakyExporter(() => socketError('ECONNREFUSED'));
    const options = {
      signal: 'span' as const,
      maxBufferedItems: 100,
      warnIntervalMillis: 100,
      warn: (m: string) => warnings.push(m),
    };
    const dropping = new RetryingExporter<ReadableSpan>(rejecting, options);
    for (let i = 0; i < 5; i += 1) dropping.export(sampleSpans(1), () => undefined);
    assert.deepEqual(warnings, ['span export rejected; dropping the batch']);
    await sleep(120);
    for (let i = 0; i < 5; i += 1) dropping.export(sampleSpans(1), () => undefined);
    assert.equal(warnings.length, 2, 'one more once the interval is over');
    assert.equal(rejecting.attempts.length, 10);

    warnings.length = 0;
    const keeping = new RetryingExporter<ReadableSpan>(refused, {
      ...options,
      initialBackoffMillis: 5,
      maxBackoffMillis: 5,
    });
    keeping.export(sampleSpans(1), () => undefined);
    await waitFor(() => refused.attempts.length >= 5, 'five attempts');
    assert.deepEqual(warnings, ['span export failed; keeping spans to retry']);
    await keeping.shutdown();
  });

  it('warn once a minute by default', () => {
    const warnings: string[] = [];
    const exporter = new RetryingExporter<ReadableSpan>(new FlakyExporter(() => httpStatusError(401)), {
      signal: 'span',
      maxBufferedItems: 100,
      warn: (m) => warnings.push(m),
    });
    for (let i = 0; i < 100; i += 1) exporter.export(sampleSpans(1), () => undefined);
    assert.equal(warnings.length, 1);
  });
});

/**
 * The OTLP exporters as exporters.ts builds them, against a local endpoint: the errors are the
 * real transports' own. The serializer sends a fixed body, which our endpoints do not read.
 */
describe('span export retries with the real OTLP transports', () => {
  const serializer: ISerializer<ReadableSpan[], IExportTraceServiceResponse> = {
    serializeRequest: () => new Uint8Array([10, 0]),
    deserializeResponse: () => ({}),
  };
  const grpcPath = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
  /* eslint-disable @typescript-eslint/no-deprecated -- what exporters.ts calls, see there */
  const httpExporter = (url: string, timeoutMillis: number) =>
    new OTLPExporterBase<ReadableSpan[]>(
      createOtlpHttpExportDelegate(
        convertLegacyHttpOptions({ url, timeoutMillis, headers: {} }, 'TRACES', 'v1/traces', {
          'Content-Type': 'application/x-protobuf',
        }),
        serializer,
        'otlp_http_span_exporter',
        TraceExporterMetricsHelper,
        undefined,
      ),
    );
  const grpcExporter = (url: string, timeoutMillis: number) =>
    new OTLPExporterBase<ReadableSpan[]>(
      createOtlpGrpcExportDelegate(
        convertLegacyOtlpGrpcOptions({ url, timeoutMillis }, 'TRACES'),
        serializer,
        'otlp_grpc_span_exporter',
        TraceExporterMetricsHelper,
        undefined,
        'TraceExportService',
        grpcPath,
      ),
    );
  /* eslint-enable @typescript-eslint/no-deprecated */

  const exportOnce = (exporter: SpanExporter) =>
    new Promise<ExportResult>((resolve) => exporter.export(sampleSpans(3), resolve));

  /** A port nothing listens on: one just closed. */
  async function closedPort(): Promise<number> {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    server.close();
    await once(server, 'close');
    return port;
  }

  it('HTTP: a 400 is dropped after one request; a 503, a timeout and a refused connection are retried', async (t) => {
    let answer: number | 'hang' = 400;
    let requests = 0;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      requests += 1;
      req.resume();
      if (answer === 'hang') return;
      res.writeHead(answer, { 'Content-Type': 'application/x-protobuf' }).end();
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
    // Shorter than the SDK's first backoff (1 s ± 20 %): its transport sends a 503 once only.
    const timeoutMillis = 300;

    const rejected = await exportOnce(httpExporter(url, timeoutMillis));
    assert.ok(
      rejected.error instanceof OTLPExporterError && rejected.error.code === 400,
      String(rejected.error),
    );
    assert.deepEqual(classifyExportFailure(rejected.error), { retryable: false, errorType: '400' });

    answer = 503;
    const unavailable = await exportOnce(httpExporter(url, timeoutMillis));
    assert.ok(unavailable.error instanceof OTLPExporterError, String(unavailable.error));
    assert.equal(unavailable.error.code, undefined, 'the SDK keeps no status of a retryable answer');
    assert.deepEqual(classifyExportFailure(unavailable.error), {
      retryable: true,
      errorType: 'retryable_status',
    });

    answer = 'hang';
    const slow = await exportOnce(httpExporter(url, timeoutMillis));
    assert.deepEqual(classifyExportFailure(slow.error), { retryable: true, errorType: 'timeout' });

    const refused = await exportOnce(
      httpExporter(`http://127.0.0.1:${await closedPort()}/v1/traces`, timeoutMillis),
    );
    assert.equal((refused.error as NodeJS.ErrnoException | undefined)?.code, 'ECONNREFUSED');
    assert.deepEqual(classifyExportFailure(refused.error), { retryable: true, errorType: 'connection' });

    // Through the retrying exporter: the 400 goes once and is counted; the 503 is kept until a 200.
    const options = {
      signal: 'span' as const,
      maxBufferedItems: 100,
      initialBackoffMillis: 20,
      maxBackoffMillis: 20,
      warn: noWarnings,
    };
    answer = 400;
    requests = 0;
    const dropping = new RetryingExporter<ReadableSpan>(httpExporter(url, timeoutMillis), options);
    dropping.export(sampleSpans(3), () => undefined);
    await dropping.forceFlush();
    await sleep(60);
    assert.equal(requests, 1);
    assert.deepEqual(dropping.stats().droppedByErrorType, new Map([['400', 3]]));
    await dropping.shutdown();

    answer = 503;
    requests = 0;
    const keeping = new RetryingExporter<ReadableSpan>(httpExporter(url, timeoutMillis), options);
    keeping.export(sampleSpans(3), () => undefined);
    await waitFor(() => requests >= 2, 'a second request');
    answer = 200;
    await waitFor(() => keeping.stats().retriedItems === 3, 'the delivery');
    assert.equal(keeping.stats().droppedItems, 0);
    await keeping.shutdown();
  });

  it('gRPC: INVALID_ARGUMENT is dropped after one call; UNAVAILABLE, a deadline and a refused connection are retried', async (t) => {
    let answer: grpc.status | 'hang' = grpc.status.INVALID_ARGUMENT;
    let calls = 0;
    const server = new grpc.Server();
    const identity = (buffer: Buffer) => buffer;
    server.addService(
      {
        export: {
          path: grpcPath,
          requestStream: false,
          responseStream: false,
          requestSerialize: identity,
          requestDeserialize: identity,
          responseSerialize: identity,
          responseDeserialize: identity,
        },
      },
      {
        export: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          calls += 1;
          if (answer === 'hang') return;
          if (answer === grpc.status.OK) callback(null, Buffer.alloc(0));
          else callback({ code: answer, details: 'answered by the test' });
        },
      },
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    t.after(() => server.forceShutdown());
    const url = `http://127.0.0.1:${port}`;
    const timeoutMillis = 500;
    const exporters: SpanExporter[] = [];
    t.after(() => Promise.all(exporters.map((e) => e.shutdown())));
    const exporter = (to = url) => {
      const created = grpcExporter(to, timeoutMillis);
      exporters.push(created);
      return created;
    };

    const rejected = await exportOnce(exporter());
    assert.equal((rejected.error as grpc.ServiceError | undefined)?.code, grpc.status.INVALID_ARGUMENT);
    assert.deepEqual(classifyExportFailure(rejected.error), {
      retryable: false,
      errorType: 'INVALID_ARGUMENT',
    });

    answer = grpc.status.UNAVAILABLE;
    const unavailable = await exportOnce(exporter());
    assert.deepEqual(classifyExportFailure(unavailable.error), { retryable: true, errorType: 'UNAVAILABLE' });

    answer = 'hang';
    const slow = await exportOnce(exporter());
    assert.deepEqual(classifyExportFailure(slow.error), { retryable: true, errorType: 'DEADLINE_EXCEEDED' });

    const refused = await exportOnce(exporter(`http://127.0.0.1:${await closedPort()}`));
    assert.match(String(refused.error), /ECONNREFUSED/);
    assert.deepEqual(classifyExportFailure(refused.error), { retryable: true, errorType: 'UNAVAILABLE' });

    const options = {
      signal: 'span' as const,
      maxBufferedItems: 100,
      initialBackoffMillis: 20,
      maxBackoffMillis: 20,
      warn: noWarnings,
    };
    answer = grpc.status.INVALID_ARGUMENT;
    calls = 0;
    const dropping = new RetryingExporter<ReadableSpan>(exporter(), options);
    dropping.export(sampleSpans(3), () => undefined);
    await dropping.forceFlush();
    await sleep(60);
    assert.equal(calls, 1);
    assert.deepEqual(dropping.stats().droppedByErrorType, new Map([['INVALID_ARGUMENT', 3]]));

    answer = grpc.status.UNAVAILABLE;
    calls = 0;
    const keeping = new RetryingExporter<ReadableSpan>(exporter(), options);
    keeping.export(sampleSpans(3), () => undefined);
    await waitFor(() => calls >= 2, 'a second call');
    answer = grpc.status.OK;
    await waitFor(() => keeping.stats().retriedItems === 3, 'the delivery');
    assert.equal(keeping.stats().droppedItems, 0);
  });
});
