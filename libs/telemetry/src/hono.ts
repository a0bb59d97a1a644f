/**
 * HTTP server instrumentation for Hono: the stable HTTP semantic-convention metrics and one
 * SERVER span per request, named after the matched route template, never the raw path.
 *
 *   app.use(httpInstrumentation(telemetry))
 */
import { context, type Span, SpanKind, SpanStatusCode, type TextMapGetter, trace } from '@opentelemetry/api';
import type { Context, MiddlewareHandler } from 'hono';
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

type IncomingHeaders = Readonly<Record<string, string | string[] | undefined>>;

const headerGetter: TextMapGetter<Headers | IncomingHeaders> = {
  keys: (headers) => (headers instanceof Headers ? [...headers.keys()] : Object.keys(headers)),
  get: (headers, key) => header(headers, key),
};

/**
 * The request headers as cheaply as the runtime allows. Behind @hono/node-server, Node has
 * already parsed them into `env.incoming.headers`, while `c.req.raw.headers` would build a
 * fetch Headers object on every request: the largest single cost of this middleware.
 */
function requestHeaders(c: Context): Headers | IncomingHeaders {
  const incoming = (c.env as { incoming?: { headers?: IncomingHeaders } } | undefined)?.incoming?.headers;
  return incoming ?? c.req.raw.headers;
}

function header(headers: Headers | IncomingHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A span that some other instrumentation (e.g. of node:http) already opened for this request. */
function existingServerSpan(): Span | undefined {
  const span = trace.getSpan(context.active());
  return span && (span as Partial<{ kind: SpanKind }>).kind === SpanKind.SERVER ? span : undefined;
}

function contentLength(headers: Headers | IncomingHeaders): number | undefined {
  const value = header(headers, 'content-length');
  if (value === undefined) return undefined;
  const length = Number(value);
  return Number.isFinite(length) ? length : undefined;
}

export type HttpTelemetry = Pick<Telemetry, 'meter' | 'tracer' | 'propagator'>;

type MetricAttributes = Readonly<Record<string, string | number>>;

/**
 * Attribute objects by their values, built once: the metrics SDK copies and hashes the object
 * it is given on every record, so handing it the same few objects saves allocation and GC on
 * the hot path. Bounded, as the values are (route templates, methods, status codes).
 */
class AttributeCache {
  readonly #entries = new Map<string, MetricAttributes>();
  get(key: string, build: () => MetricAttributes): MetricAttributes {
    let attributes = this.#entries.get(key);
    if (attributes === undefined) {
      attributes = Object.freeze(build());
      if (this.#entries.size < 10_000) this.#entries.set(key, attributes);
    }
    return attributes;
  }
}

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

  const cache = new AttributeCache();

  return async function httpTelemetry(c, next) {
    const startedAt = performance.now();
    const method = knownMethods.has(c.req.method) ? c.req.method : '_OTHER';
    const scheme = c.req.url.startsWith('https:') ? 'https' : 'http';
    const activeAttributes = cache.get(`${method} ${scheme}`, () => ({
      'http.request.method': method,
      'url.scheme': scheme,
    }));
    activeRequests.add(1, activeAttributes);

    const outer = existingServerSpan();
    const headers = requestHeaders(c);
    const carriesContext =
      header(headers, 'traceparent') !== undefined || header(headers, 'baggage') !== undefined;
    const parent =
      outer || !carriesContext
        ? context.active()
        : propagator.extract(context.active(), headers, headerGetter);
    const span =
      outer ?? tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: activeAttributes }, parent);
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

      const attributes = cache.get(`${method} ${scheme} ${status} ${route ?? ''} ${errorType ?? ''}`, () => {
        const built: Record<string, string | number> = {
          'http.request.method': method,
          'url.scheme': scheme,
          'http.response.status_code': status,
        };
        if (route !== undefined) built['http.route'] = route;
        if (errorType !== undefined) built['error.type'] = errorType;
        return built;
      });

      // An unsampled request gets a non-recording span: nothing to annotate, nothing to answer.
      if (span.isRecording()) {
        span.setAttributes(attributes);
        if (!outer) span.setAttribute('url.path', c.req.path);
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
      }
      if (!outer) span.end();

      duration.record((performance.now() - startedAt) / 1000, attributes);
      const requestSize = contentLength(headers);
      if (requestSize !== undefined) requestBodySize.record(requestSize, attributes);
      const responseSize = contentLength(c.res.headers);
      if (responseSize !== undefined) responseBodySize.record(responseSize, attributes);
      activeRequests.add(-1, activeAttributes);
    }
  };
}
