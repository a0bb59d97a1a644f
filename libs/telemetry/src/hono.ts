/**
 * HTTP server instrumentation for Hono: the stable HTTP semantic-convention metrics and one
 * SERVER span per request, named after the matched route template, never the raw path.
 *
 *   app.use(httpInstrumentation(telemetry))
 */
import { context, type Span, SpanKind, SpanStatusCode, type TextMapGetter, trace } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Telemetry } from './telemetry.ts';

const knownMethods = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

/** The specification's buckets for http.server.request.duration, in seconds. */
export const httpDurationBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];
const bodySizeBuckets = [0, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

const headerGetter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
};

/** A span that some other instrumentation (e.g. of node:http) already opened for this request. */
function existingServerSpan(): Span | undefined {
  const span = trace.getSpan(context.active());
  return span && (span as Partial<{ kind: SpanKind }>).kind === SpanKind.SERVER ? span : undefined;
}

function contentLength(headers: Headers): number | undefined {
  const value = headers.get('content-length');
  if (value === null) return undefined;
  const length = Number(value);
  return Number.isFinite(length) ? length : undefined;
}

export type HttpTelemetry = Pick<Telemetry, 'meter' | 'tracer' | 'propagator'>;

export function httpInstrumentation(telemetry: HttpTelemetry): MiddlewareHandler {
  const { meter, tracer, propagator } = telemetry;
  const duration = meter.createHistogram('http.server.request.duration', {
    unit: 's',
    description: 'Duration of HTTP server requests',
    advice: { explicitBucketBoundaries: httpDurationBuckets },
  });
  const activeRequests = meter.createUpDownCounter('http.server.active_requests', {
    unit: '{request}',
    description: 'Requests being served',
  });
  const requestBodySize = meter.createHistogram('http.server.request.body.size', {
    unit: 'By',
    description: 'Size of HTTP request bodies',
    advice: { explicitBucketBoundaries: bodySizeBuckets },
  });
  const responseBodySize = meter.createHistogram('http.server.response.body.size', {
    unit: 'By',
    description: 'Size of HTTP response bodies',
    advice: { explicitBucketBoundaries: bodySizeBuckets },
  });

  return async function httpTelemetry(c, next) {
    const startedAt = performance.now();
    const method = knownMethods.has(c.req.method) ? c.req.method : '_OTHER';
    const scheme = c.req.url.startsWith('https:') ? 'https' : 'http';
    const activeAttributes = { 'http.request.method': method, 'url.scheme': scheme };
    activeRequests.add(1, activeAttributes);

    const outer = existingServerSpan();
    const parent = outer
      ? context.active()
      : propagator.extract(context.active(), c.req.raw.headers, headerGetter);
    const span =
      outer ??
      tracer.startSpan(
        method,
        { kind: SpanKind.SERVER, attributes: { ...activeAttributes, 'url.path': c.req.path } },
        parent,
      );
    // Our own route index: if it is still the current one afterwards, no route answered.
    const ownRouteIndex = c.req.routeIndex;
    let thrown: unknown;
    try {
      await context.with(trace.setSpan(parent, span), next);
    } catch (error) {
      thrown = error;
      throw error;
    } finally {
      const status = thrown === undefined ? c.res.status : 500;
      const route = c.req.routeIndex === ownRouteIndex ? undefined : routePath(c);
      const failure = thrown ?? c.error;
      const errorType =
        failure instanceof Error
          ? failure.name
          : failure !== undefined
            ? 'Error'
            : status >= 500
              ? String(status)
              : undefined;

      const attributes: Record<string, string | number> = {
        'http.request.method': method,
        'url.scheme': scheme,
        'http.response.status_code': status,
      };
      if (route !== undefined) attributes['http.route'] = route;
      if (errorType !== undefined) attributes['error.type'] = errorType;

      span.setAttributes(attributes);
      span.updateName(route === undefined ? method : `${method} ${route}`);
      if (failure instanceof Error) span.recordException(failure);
      if (errorType !== undefined) span.setStatus({ code: SpanStatusCode.ERROR });
      const spanContext = span.spanContext();
      try {
        c.res.headers.set(
          'traceresponse',
          `00-${spanContext.traceId}-${spanContext.spanId}-0${spanContext.traceFlags.toString(16)}`,
        );
      } catch {
        // A handler returned a response with immutable headers (e.g. a proxied fetch): no header, no harm.
      }
      if (!outer) span.end();

      duration.record((performance.now() - startedAt) / 1000, attributes);
      const requestSize = contentLength(c.req.raw.headers);
      if (requestSize !== undefined) requestBodySize.record(requestSize, attributes);
      const responseSize = contentLength(c.res.headers);
      if (responseSize !== undefined) responseBodySize.record(responseSize, attributes);
      activeRequests.add(-1, activeAttributes);
    }
  };
}
