import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { BlockRandomIdGenerator } from '../src/ids.ts';
import { createSpanEncoder } from '../src/span-encoder.ts';

/** Spans made by the SDK from two resources and two scopes each; `record` shapes each span. */
async function spans(count: number, record: (span: Span, index: number) => void): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter();
  const providers = ['orders', 'pricing'].map(
    (service) =>
      new TracerProvider({
        resource: resourceFromAttributes({
          'service.name': service,
          'process.pid': 4242,
          'host.arch': 'amd64',
        }),
        spanProcessors: [new SimpleSpanProcessor({ exporter })],
      }),
  );
  const tracers = providers.flatMap((provider) => [
    provider.getTracer('@tradeobs/telemetry', '0.1.0'),
    provider.getTracer('hand-made', undefined, { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' }),
  ]);
  const kinds = [SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER];
  for (let i = 0; i < count; i++) {
    const tracer = tracers[i % tracers.length] ?? assert.fail('no tracer');
    const span = tracer.startSpan('GET', { kind: kinds[i % kinds.length] ?? SpanKind.INTERNAL });
    record(span, i);
    span.end();
  }
  await Promise.all(providers.map((provider) => provider.forceFlush()));
  return exporter.getFinishedSpans();
}

function assertSameBytes(batch: ReadableSpan[], encoder = createSpanEncoder()): void {
  const expected = Buffer.from(ProtobufTraceSerializer.serializeRequest(batch) ?? new Uint8Array());
  assert.ok(expected.length > 0);
  assert.equal(Buffer.from(encoder.encode(batch)).toString('hex'), expected.toString('hex'));
}

describe('span encoder', () => {
  it('writes the same bytes as the SDK serializer for server spans', async () => {
    const batch = await spans(200, (span, i) => {
      span.setAttributes({
        'http.request.method': i % 7 === 0 ? '_OTHER' : 'GET',
        'url.scheme': 'http',
        'http.response.status_code': i % 10 === 0 ? 503 : 200,
        'http.route': '/orders/:id',
        'url.path': `/orders/${i}`,
      });
      span.updateName('GET /orders/:id');
      if (i % 10 === 0) span.setStatus({ code: SpanStatusCode.ERROR });
    });
    assertSameBytes(batch);
  });

  it('writes events, links, trace state, remote parents and status messages like the SDK', async () => {
    const parent = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      traceState: new TraceState('vendor=abc,other=1'),
      isRemote: true,
    });
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const tracer = provider.getTracer('messaging');
    const span = tracer.startSpan(
      'process orders.created',
      {
        kind: SpanKind.CONSUMER,
        links: [
          {
            context: {
              traceId: 'f'.repeat(32),
              spanId: 'e'.repeat(16),
              traceFlags: 0,
              traceState: new TraceState('k=v'),
            },
            attributes: { 'messaging.message.id': 'abc' },
          },
          { context: { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 1, isRemote: true } },
        ],
      },
      parent,
    );
    span.addEvent('retry', { attempt: 2, 'backoff.seconds': 0.25 });
    span.recordException(new Error('prix négatif: −1 €'));
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'price must be positive' });
    span.end();
    const local = tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, span));
    local.end();
    await provider.forceFlush();
    assertSameBytes(exporter.getFinishedSpans());
  });

  it('writes every kind of attribute value like the SDK', async () => {
    const batch = await spans(12, (span, i) => {
      span.setAttributes({
        text: 'héllo wörld 🌍',
        long: 'x'.repeat(300 + i),
        empty: '',
        yes: true,
        no: false,
        zero: 0,
        small: 42,
        negative: -7,
        large: 2 ** 40 + i,
        veryNegative: -(2 ** 45),
        fraction: 3.25,
        huge: 1e300,
        notFinite: Number.POSITIVE_INFINITY,
        strings: ['a', 'b', `c${i}`],
        numbers: [1, 2.5, -3],
        flags: [true, false],
        mixedEmpty: [],
      });
    });
    assertSameBytes(batch);
  });

  it('writes spans larger than 16 KiB (length prefixes of three bytes) like the SDK', async () => {
    const batch = await spans(3, (span) => {
      for (let a = 0; a < 40; a++) span.setAttribute(`attribute.${a}`, 'v'.repeat(1_000));
    });
    assertSameBytes(batch);
  });

  it('keeps writing the same bytes once a key has more distinct values than the cache keeps', async () => {
    const encoder = createSpanEncoder();
    for (let round = 0; round < 3; round++) {
      const batch = await spans(150, (span, i) => {
        span.setAttribute('request.id', `r-${round}-${i}`);
        span.setAttribute('http.route', i % 2 === 0 ? '/a' : '/b');
        for (let k = 0; k < 100; k++) span.setAttribute(`key.${round}.${k}`, k);
      });
      assertSameBytes(batch, encoder);
    }
  });

  it('writes the same bytes after a batch too large for the buffer it keeps (several MiB)', async () => {
    const encoder = createSpanEncoder();
    const large = await spans(300, (span, i) => span.setAttribute('payload', `${i}:${'p'.repeat(20_000)}`));
    assertSameBytes(large, encoder);
    const small = await spans(20, (span, i) => span.setAttribute('http.route', `/r${i % 3}`));
    assertSameBytes(small, encoder);
  });

  it('encodes a batch independently of the one before it (its bytes are a copy)', async () => {
    const encoder = createSpanEncoder();
    const first = await spans(5, (span) => span.setAttribute('batch', 'first'));
    const second = await spans(50, (span) => span.setAttribute('batch', 'second'));
    const firstBytes = encoder.encode(first);
    const kept = Buffer.from(firstBytes);
    encoder.encode(second);
    assert.deepEqual(Buffer.from(firstBytes), kept);
  });
});

describe('block random id generator', () => {
  it('makes lowercase hex ids of the right length, unique across many blocks', () => {
    const ids = new BlockRandomIdGenerator();
    const traceIds = new Set<string>();
    const spanIds = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const traceId = ids.generateTraceId();
      const spanId = ids.generateSpanId();
      assert.match(traceId, /^[0-9a-f]{32}$/);
      assert.match(spanId, /^[0-9a-f]{16}$/);
      assert.notEqual(traceId, '0'.repeat(32));
      assert.notEqual(spanId, '0'.repeat(16));
      traceIds.add(traceId);
      spanIds.add(spanId);
    }
    assert.equal(traceIds.size, 20_000);
    assert.equal(spanIds.size, 20_000);
  });
});
