import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  HTTP_REQUEST_METHOD_VALUE_OTHER,
  METRIC_HTTP_SERVER_REQUEST_DURATION,
} from '@opentelemetry/semantic-conventions';
import { Hono } from 'hono';
import { type HttpInstrumentationOptions, httpInstrumentation } from '../src/hono.ts';
import { attributesOf, testTelemetry } from '../src/testing.ts';

function app(options: HttpInstrumentationOptions = {}, env: Record<string, string> = {}) {
  const t = testTelemetry(env);
  const hono = new Hono();
  hono.use(httpInstrumentation(t.telemetry, options));
  hono.get('/pipelines/:id', (c) => c.json({ id: c.req.param('id') }));
  hono.post('/pipelines', (c) => c.json({ created: true }, 201));
  hono.get('/boom', () => {
    throw new TypeError('bad state');
  });
  hono.get('/unavailable', (c) => c.json({ error: 'down' }, 503));
  hono.get('/report', () => new Response('12345', { headers: { 'content-length': '5' } }));
  hono.onError((_error, c) => c.json({ error: 'internal' }, 500));
  const api = new Hono();
  api.get('/bots/:botId/pnl', (c) => c.text('0'));
  hono.route('/api/v1', api);
  return { ...t, hono };
}

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const parentSpanId = '00f067aa0ba902b7';

describe('Hono HTTP instrumentation', () => {
  it('names the span and labels the metrics with the route template, never the raw path', async () => {
    const { hono, spans, points } = app();
    for (const id of ['p-1', 'p-2', 'p-3']) await hono.request(`/pipelines/${id}`);
    await hono.request('/api/v1/bots/b-42/pnl');

    const names = spans.getFinishedSpans().map((s) => s.name);
    assert.deepEqual(names, [
      'GET /pipelines/:id',
      'GET /pipelines/:id',
      'GET /pipelines/:id',
      'GET /api/v1/bots/:botId/pnl',
    ]);
    const [first] = spans.getFinishedSpans();
    assert.equal(first?.kind, SpanKind.SERVER);
    assert.equal(first?.attributes['http.route'], '/pipelines/:id');
    assert.equal(first?.attributes['url.path'], '/pipelines/p-1');

    const durations = await points('http.server.request.duration');
    assert.deepEqual(
      attributesOf(durations).map((a) => a['http.route']),
      ['/pipelines/:id', '/api/v1/bots/:botId/pnl'],
      'three ids, one series',
    );
    assert.equal((durations[0]?.value as { count: number }).count, 3);
    assert.deepEqual(
      (durations[0]?.value as { buckets: { boundaries: number[] } }).buckets.boundaries,
      [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    );
  });

  it('collapses unmatched paths into one series without a route, and unknown methods into _OTHER (span name HTTP)', async () => {
    const { hono, spans, points } = app();
    for (const path of ['/nope', '/random/123', '/../etc/passwd']) await hono.request(path);
    await hono.request('/pipelines', { method: 'BREW' });
    assert.deepEqual(
      spans.getFinishedSpans().map((s) => s.name),
      ['GET', 'GET', 'GET', 'HTTP'],
    );
    const brew = spans.getFinishedSpans()[3];
    assert.equal(brew?.attributes[ATTR_HTTP_REQUEST_METHOD], HTTP_REQUEST_METHOD_VALUE_OTHER);
    assert.equal(brew?.attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL], 'BREW');
    const series = attributesOf(await points('http.server.request.duration'));
    assert.deepEqual(series, [
      { 'http.request.method': 'GET', 'url.scheme': 'http', 'http.response.status_code': 404 },
      { 'http.request.method': '_OTHER', 'url.scheme': 'http', 'http.response.status_code': 404 },
    ]);
  });

  it('marks thrown errors and 5xx answers as span errors with error.type', async () => {
    const { hono, spans, points } = app();
    assert.equal((await hono.request('/boom')).status, 500);
    assert.equal((await hono.request('/unavailable')).status, 503);
    const [boom, unavailable] = spans.getFinishedSpans();
    assert.equal(boom?.status.code, SpanStatusCode.ERROR);
    assert.equal(boom?.attributes['error.type'], 'TypeError');
    assert.equal(boom?.events[0]?.name, 'exception');
    assert.equal(unavailable?.status.code, SpanStatusCode.ERROR);
    assert.equal(unavailable?.attributes['error.type'], '503');
    const errorTypes = attributesOf(await points('http.server.request.duration')).map((a) => a['error.type']);
    assert.deepEqual(errorTypes, ['TypeError', '503']);
  });

  it('leaves 4xx answers unmarked: a client error is not a server error', async () => {
    const { hono, spans } = app();
    await hono.request('/nope');
    assert.equal(spans.getFinishedSpans()[0]?.status.code, SpanStatusCode.UNSET);
  });

  it('leaves a 4xx unmarked even when the handler threw to answer it: no ERROR, no exception, no error.type', async () => {
    const t = testTelemetry();
    const hono = new Hono();
    hono.use(httpInstrumentation(t.telemetry));
    class NotFound extends Error {
      override readonly name = 'NotFound';
    }
    hono.get('/pipelines/:id', () => {
      throw new NotFound('no such pipeline');
    });
    hono.onError((error, c) => c.json({ error: error.message }, error instanceof NotFound ? 404 : 500));
    assert.equal((await hono.request('/pipelines/p-9')).status, 404);
    const [span] = t.spans.getFinishedSpans();
    assert.equal(span?.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(span?.events, []);
    assert.equal(span?.attributes[ATTR_ERROR_TYPE], undefined);
    const [point] = await t.points(METRIC_HTTP_SERVER_REQUEST_DURATION);
    assert.equal(point?.attributes[ATTR_ERROR_TYPE], undefined);
    assert.equal(point?.attributes[ATTR_HTTP_RESPONSE_STATUS_CODE], 404);
  });

  it('takes the known methods from the option or OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS', async () => {
    const { hono, spans } = app({ knownMethods: ['GET', 'BREW'] });
    await hono.request('/pipelines', { method: 'BREW' });
    await hono.request('/pipelines', { method: 'POST' });
    assert.deepEqual(
      spans.getFinishedSpans().map((s) => s.attributes[ATTR_HTTP_REQUEST_METHOD]),
      ['BREW', '_OTHER'],
    );
    process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS = 'GET,PROPFIND';
    try {
      const fromEnv = app();
      await fromEnv.hono.request('/pipelines', { method: 'PROPFIND' });
      await fromEnv.hono.request('/pipelines', { method: 'PUT' });
      assert.deepEqual(
        fromEnv.spans.getFinishedSpans().map((s) => s.attributes[ATTR_HTTP_REQUEST_METHOD]),
        ['PROPFIND', '_OTHER'],
        'the variable replaces the default set',
      );
    } finally {
      delete process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS;
    }
  });

  it("records the recommended request attributes on the span, and the proxy's scheme", async () => {
    const { hono, spans, points } = app();
    const env = {
      incoming: {
        httpVersion: '1.1',
        socket: { remoteAddress: '10.0.0.9' },
        headers: {
          host: 'api.internal:8000',
          'x-forwarded-proto': 'https',
          'x-forwarded-for': '203.0.113.7, 10.0.0.1',
          'user-agent': 'curl/8.5.0',
        },
      },
    };
    await hono.fetch(new Request('http://api.internal:8000/pipelines/p-1?view=full&sig=secret'), env);
    const [span] = spans.getFinishedSpans();
    assert.deepEqual(
      [
        span?.attributes[ATTR_URL_SCHEME],
        span?.attributes[ATTR_SERVER_ADDRESS],
        span?.attributes[ATTR_SERVER_PORT],
        span?.attributes[ATTR_NETWORK_PROTOCOL_VERSION],
        span?.attributes[ATTR_CLIENT_ADDRESS],
        span?.attributes[ATTR_USER_AGENT_ORIGINAL],
        span?.attributes[ATTR_URL_PATH],
        span?.attributes[ATTR_URL_QUERY],
      ],
      [
        'https',
        'api.internal',
        8000,
        '1.1',
        '203.0.113.7',
        'curl/8.5.0',
        '/pipelines/p-1',
        'view=full&sig=REDACTED',
      ],
    );
    const [point] = await points(METRIC_HTTP_SERVER_REQUEST_DURATION);
    assert.deepEqual(
      Object.keys(point?.attributes ?? {}).sort(),
      [
        ATTR_HTTP_REQUEST_METHOD,
        ATTR_HTTP_RESPONSE_STATUS_CODE,
        ATTR_HTTP_ROUTE,
        ATTR_NETWORK_PROTOCOL_VERSION,
        ATTR_URL_SCHEME,
      ].sort(),
      'the metric keeps to its bounded attributes',
    );
  });

  it('sets traceresponse only when asked', async () => {
    const { hono } = app();
    const response = await hono.request('/pipelines/p-1');
    assert.equal(response.headers.get('traceresponse'), null);
  });

  it("continues the caller's trace and answers with a traceresponse header", async () => {
    const { hono, spans } = app({ traceResponse: true });
    const response = await hono.request('/pipelines/p-1', {
      headers: { traceparent: `00-${traceId}-${parentSpanId}-01` },
    });
    const [span] = spans.getFinishedSpans();
    assert.equal(span?.spanContext().traceId, traceId);
    assert.equal(span?.parentSpanContext?.spanId, parentSpanId);
    assert.equal(response.headers.get('traceresponse'), `00-${traceId}-${span?.spanContext().spanId}-01`);
  });

  it("behind @hono/node-server, reads Node's parsed headers and sets traceresponse on Node's response", async () => {
    const { hono, spans, points } = app({ traceResponse: true });
    const set = new Map<string, string>();
    // What @hono/node-server passes as env; the fetch Request carries none of these headers.
    const env = {
      incoming: {
        headers: {
          traceparent: `00-${traceId}-${parentSpanId}-01`,
          'content-length': '12',
          get: 'not a method',
        },
      },
      outgoing: { setHeader: (name: string, value: string) => set.set(name, value) },
    };
    await hono.fetch(
      new Request('http://localhost/pipelines', { method: 'POST', body: '{"name":"x"}' }),
      env,
    );
    const [span] = spans.getFinishedSpans();
    assert.equal(span?.parentSpanContext?.spanId, parentSpanId);
    assert.equal(set.get('traceresponse'), `00-${traceId}-${span?.spanContext().spanId}-01`);
    const [requestSize] = await points('http.server.request.body.size');
    assert.equal((requestSize?.value as { sum: number }).sum, 12);
  });

  it('starts a new trace when the traceparent header is broken', async () => {
    const { hono, spans } = app();
    const response = await hono.request('/pipelines/p-1', { headers: { traceparent: 'garbage-00-zz' } });
    assert.equal(response.status, 200);
    const [span] = spans.getFinishedSpans();
    assert.notEqual(span?.spanContext().traceId, traceId);
    assert.equal(span?.parentSpanContext, undefined);
  });

  it('counts active requests and records body sizes where their length is known', async () => {
    const { hono, points } = app({ responseBodySize: true });
    await hono.request('/pipelines', {
      method: 'POST',
      body: '{"name":"x"}',
      headers: { 'content-length': '12' },
    });
    await hono.request('/report');
    const active = await points('http.server.active_requests');
    assert.deepEqual(
      active.map((p) => [p.attributes['http.request.method'], p.value]),
      [
        ['POST', 0],
        ['GET', 0],
      ],
      'every request that started has finished',
    );
    const requestSizes = await points('http.server.request.body.size');
    assert.equal((requestSizes[0]?.value as { sum: number }).sum, 12);
    const responseSizes = await points('http.server.response.body.size');
    assert.deepEqual(
      responseSizes.map((p) => [p.attributes['http.route'], (p.value as { sum: number }).sum]),
      [['/report', 5]],
    );
  });

  it('records response body sizes only when asked to (opt-in, as in the semantic conventions)', async () => {
    const { hono, points, metricNames } = app();
    await hono.request('/report');
    assert.deepEqual(await points('http.server.response.body.size'), []);
    assert.ok((await metricNames()).includes('http.server.request.duration'));
  });

  it('without tracing makes no span, yet passes the caller’s context on to downstream calls', async () => {
    const t = testTelemetry();
    const untraced = { ...t.telemetry, tracing: false };
    const hono = new Hono();
    hono.use(httpInstrumentation(untraced));
    let downstream: string | undefined;
    hono.get('/downstream', (c) => {
      downstream = trace.getSpanContext(context.active())?.traceId;
      return c.text('ok');
    });
    const response = await hono.request('/downstream', {
      headers: { traceparent: `00-${traceId}-${parentSpanId}-01` },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('traceresponse'), null);
    assert.equal(t.spans.getFinishedSpans().length, 0);
    assert.equal(downstream, traceId);
    const durations = await t.points('http.server.request.duration');
    assert.equal(durations.length, 1);
  });

  it('makes no second server span when another instrumentation made one', async () => {
    const { hono, spans, telemetry } = app();
    await telemetry.tracer.startActiveSpan('GET', { kind: SpanKind.SERVER }, async (outer) => {
      await hono.request('/pipelines/p-9');
      outer.end();
    });
    const finished = spans.getFinishedSpans();
    assert.equal(finished.length, 1);
    assert.equal(finished[0]?.name, 'GET /pipelines/:id');
    assert.equal(finished[0]?.attributes['http.route'], '/pipelines/:id');
  });
});
