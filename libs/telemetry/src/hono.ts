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

export type HttpTelemetry = Pick<Telemetry, 'meter' | 'tracer' | 'propagator' | 'tracing'>;

export interface HttpInstrumentationOptions {
  /**
   * Record http.server.response.body.size, which the semantic conventions make opt-in. Off by
   * default: behind @hono/node-server, reading a response's headers turns its lightweight
   * response into a full one, which costs about 7 µs of CPU per request.
   */
  responseBodySize?: boolean;
}

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

/** Node's response behind @hono/node-server, where a header can be set without building a Headers object. */
function outgoingResponse(c: Context): { setHeader(name: string, value: string): unknown } | undefined {
  return (c.env as { outgoing?: { setHeader(name: string, value: string): unknown } } | undefined)?.outgoing;
}

function traceresponse(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-0${traceFlags.toString(16)}`;
}

export function httpInstrumentation(
  telemetry: HttpTelemetry,
  options: HttpInstrumentationOptions = {},
): MiddlewareHandler {
  const { meter, tracer, propagator, tracing } = telemetry;
  const duration = meter.createHistogram('http.server.request.duration', {
    unit: 's',
    description: 'Duration of HTTP server requests',
    advice: { explicitBucketBoundaries: httpDurationBuckets },
  });
  // Requests in flight are counted here and read by the SDK when it collects: no SDK call,
  // with its attribute hashing, twice per request.
  const inFlight = new Map<MetricAttributes, number>();
  meter
    .createObservableUpDownCounter('http.server.active_requests', {
      unit: '{request}',
      description: 'Requests being served',
    })
    .addCallback((result) => {
      for (const [attributes, count] of inFlight) result.observe(count, attributes);
    });
  const requestBodySize = meter.createHistogram('http.server.request.body.size', {
    unit: 'By',
    description: 'Size of HTTP request bodies',
    advice: { explicitBucketBoundaries: bodySizeBuckets },
  });
  const responseBodySize = options.responseBodySize
    ? meter.createHistogram('http.server.response.body.size', {
        unit: 'By',
        description: 'Size of HTTP response bodies',
        advice: { explicitBucketBoundaries: bodySizeBuckets },
      })
    : undefined;

  const cache = new AttributeCache();

  return async function httpTelemetry(c, next) {
    const startedAt = performance.now();
    const method = knownMethods.has(c.req.method) ? c.req.method : '_OTHER';
    const scheme = c.req.url.startsWith('https:') ? 'https' : 'http';
    const activeAttributes = cache.get(`${method} ${scheme}`, () => ({
      'http.request.method': method,
      'url.scheme': scheme,
    }));
    inFlight.set(activeAttributes, (inFlight.get(activeAttributes) ?? 0) + 1);

    const outer = existingServerSpan();
    const headers = requestHeaders(c);
    const carriesContext =
      header(headers, 'traceparent') !== undefined || header(headers, 'baggage') !== undefined;
    const parent =
      outer || !carriesContext
        ? context.active()
        : propagator.extract(context.active(), headers, headerGetter);
    // Without tracing there is nothing to record: no span at all, and the caller's context (if
    // any) still reaches downstream calls.
    const span =
      outer ??
      (tracing
        ? tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: activeAttributes }, parent)
        : undefined);
    const recording = span !== undefined && span.isRecording();
    const outgoing = recording ? outgoingResponse(c) : undefined;
    // Set on Node's response before the handler runs, the header costs no Headers object.
    if (outgoing && span) outgoing.setHeader('traceresponse', traceresponse(span));
    // Our own route index: if it is still the current one afterwards, no route answered.
    const ownRouteIndex = c.req.routeIndex;
    let thrown: unknown;
    try {
      if (span) await context.with(trace.setSpan(parent, span), next);
      else if (carriesContext) await context.with(parent, next);
      else await next();
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
      if (span && recording) {
        span.setAttributes(attributes);
        if (!outer) span.setAttribute('url.path', c.req.path);
        span.updateName(route === undefined ? method : `${method} ${route}`);
        if (failure instanceof Error) span.recordException(failure);
        if (errorType !== undefined) span.setStatus({ code: SpanStatusCode.ERROR });
        if (!outgoing) {
          try {
            c.res.headers.set('traceresponse', traceresponse(span));
          } catch {
            // A handler returned a response with immutable headers (e.g. a proxied fetch): no header, no harm.
          }
        }
      }
      if (span && !outer) span.end();

      duration.record((performance.now() - startedAt) / 1000, attributes);
      const requestSize = contentLength(headers);
      if (requestSize !== undefined) requestBodySize.record(requestSize, attributes);
      if (responseBodySize) {
        const responseSize = contentLength(c.res.headers);
        if (responseSize !== undefined) responseBodySize.record(responseSize, attributes);
      }
      inFlight.set(activeAttributes, (inFlight.get(activeAttributes) ?? 1) - 1);
    }
  };
}
