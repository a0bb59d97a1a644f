/**
 * HTTP server instrumentation for Hono: the stable HTTP semantic-convention metrics and one
 * SERVER span per request, named after the matched route template, never the raw path.
 *
 *   app.use(httpInstrumentation(telemetry))        // this library's providers and fast histograms
 *   app.use(httpInstrumentation())                  // the OpenTelemetry API's global providers
 *   app.use(httpInstrumentation({ tracerProvider, meterProvider, propagator }))  // given ones
 */
import {
  context,
  type Context as OtelContext,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api';
import type { Meter } from '@opentelemetry/api';
import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { buckets } from './catalog/define.ts';
import type { AggregatedHistograms, HistogramOptions } from './histograms.ts';
import { type InstrumentationProviders, resolveProviders } from './providers.ts';

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

const bodySizeBuckets = [0, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

type IncomingHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Whether these are fetch Headers rather than Node's parsed headers. Not `instanceof`: on
 * Node's prototype-less header object it costs ~25 ns, three times per request; a header
 * named `get` holds a string there, never a function.
 */
function isFetchHeaders(headers: Headers | IncomingHeaders): headers is Headers {
  return typeof (headers as { get?: unknown }).get === 'function';
}

const headerGetter: TextMapGetter<Headers | IncomingHeaders> = {
  keys: (headers) => (isFetchHeaders(headers) ? [...headers.keys()] : Object.keys(headers)),
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
  if (isFetchHeaders(headers)) return headers.get(name) ?? undefined;
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A span that some other instrumentation (e.g. of node:http) already opened for this request. */
function existingServerSpan(active: OtelContext): Span | undefined {
  const span = trace.getSpan(active);
  return span && (span as Partial<{ kind: SpanKind }>).kind === SpanKind.SERVER ? span : undefined;
}

function contentLength(headers: Headers | IncomingHeaders): number | undefined {
  const value = header(headers, 'content-length');
  if (value === undefined) return undefined;
  const length = Number(value);
  return Number.isFinite(length) ? length : undefined;
}

/**
 * The providers to report through, defaulting to the API's globals. `initTelemetry()`'s result
 * is one: it adds the histograms that the library aggregates itself, and whether tracing is on.
 */
export interface HttpProviders extends InstrumentationProviders {
  /** Histograms aggregated by this library; without them the SDK's histograms of `meterProvider` are used. */
  histograms?: AggregatedHistograms | undefined;
  /** False when spans cannot be recorded anyway: then none is started. Default true. */
  tracing?: boolean | undefined;
}

/** What a request's measurement is recorded into, whoever aggregates it. */
interface Recorder {
  record(value: number): void;
}

interface HistogramSource {
  histogram(options: HistogramOptions): { series(attributes: MetricAttributes): Recorder };
}

/** The SDK's own histograms, for providers that are not this library's. */
function sdkHistograms(meter: Meter): HistogramSource {
  return {
    histogram: ({ name, unit, description, boundaries }) => {
      const histogram = meter.createHistogram(name, {
        unit,
        description,
        advice: { explicitBucketBoundaries: [...boundaries] },
      });
      return { series: (attributes) => ({ record: (value) => histogram.record(value, attributes) }) };
    },
  };
}

export interface HttpInstrumentationOptions {
  /**
   * Record http.server.response.body.size, which the semantic conventions make opt-in. Off by
   * default: behind @hono/node-server, reading a response's headers turns its lightweight
   * response into a full one, which costs about 7 µs of CPU per request.
   */
  responseBodySize?: boolean;
}

type MetricAttributes = Readonly<Record<string, string | number>>;

/** One series of the request metrics, with what the span needs of it, built once. */
interface Outcome {
  /** Method, scheme, status code, route and error type, as far as they apply. */
  readonly attributes: MetricAttributes;
  readonly spanName: string;
  readonly failed: boolean;
  readonly duration: Recorder;
  readonly requestBodySize: Recorder;
  readonly responseBodySize: Recorder | undefined;
}

/** Requests of one method and scheme: their count in flight, and their outcomes. */
interface RequestKind {
  readonly method: string;
  /** The attributes of http.server.active_requests. */
  readonly attributes: MetricAttributes;
  active: number;
  /**
   * By route template (undefined when no route answered), then by status code, or by status
   * code and error type when something was thrown: nested maps on values that are the same
   * string objects or small integers request after request, cheaper than building a key.
   */
  readonly outcomes: Map<string | undefined, Map<number | string, Outcome>>;
}

/** Beyond this many outcomes, new ones are built per request rather than kept: memory stays bounded. */
const maxCachedOutcomes = 10_000;

/**
 * No attributes at the start: the SDK copies and checks them before it samples, for every
 * request, and most requests are not sampled. A recorded span gets them all at its end; the
 * samplers that the environment can choose look at the trace id and the parent only.
 */
const serverSpanOptions = Object.freeze({ kind: SpanKind.SERVER });

/** Node's response behind @hono/node-server, where a header can be set without building a Headers object. */
function outgoingResponse(c: Context): { setHeader(name: string, value: string): unknown } | undefined {
  return (c.env as { outgoing?: { setHeader(name: string, value: string): unknown } } | undefined)?.outgoing;
}

function traceresponse(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-0${traceFlags.toString(16)}`;
}

function errorTypeOf(failure: unknown, status: number): string | undefined {
  if (failure instanceof Error) return failure.name;
  if (failure !== undefined) return 'Error';
  return status >= 500 ? String(status) : undefined;
}

export function httpInstrumentation(
  providers: HttpProviders = {},
  options: HttpInstrumentationOptions = {},
): MiddlewareHandler {
  const { meter, tracer, propagator } = resolveProviders(providers);
  const tracing = providers.tracing ?? true;
  // Aggregated by the library where it can, not the SDK: a record is then a few additions (see histograms.ts).
  const histograms: HistogramSource = providers.histograms ?? sdkHistograms(meter);
  const duration = histograms.histogram({
    name: 'http.server.request.duration',
    unit: 's',
    description: 'Duration of HTTP server requests',
    boundaries: buckets.http,
  });
  const requestBodySize = histograms.histogram({
    name: 'http.server.request.body.size',
    unit: 'By',
    description: 'Size of HTTP request bodies',
    boundaries: bodySizeBuckets,
  });
  const responseBodySize = options.responseBodySize
    ? histograms.histogram({
        name: 'http.server.response.body.size',
        unit: 'By',
        description: 'Size of HTTP response bodies',
        boundaries: bodySizeBuckets,
      })
    : undefined;

  // Requests in flight are counted here and read by the SDK when it collects: no SDK call,
  // with its attribute hashing, twice per request.
  const kinds: RequestKind[] = [];
  const kindsByScheme = { http: new Map<string, RequestKind>(), https: new Map<string, RequestKind>() };
  meter
    .createObservableUpDownCounter('http.server.active_requests', {
      unit: '{request}',
      description: 'Requests being served',
    })
    .addCallback((result) => {
      for (const kind of kinds) result.observe(kind.active, kind.attributes);
    });

  function kindOf(requestMethod: string, scheme: 'http' | 'https'): RequestKind {
    const byMethod = kindsByScheme[scheme];
    let kind = byMethod.get(requestMethod);
    if (kind === undefined) {
      // Only known methods and _OTHER become keys: a client cannot grow the map.
      const method = knownMethods.has(requestMethod) ? requestMethod : '_OTHER';
      kind = byMethod.get(method);
      if (kind === undefined) {
        kind = {
          method,
          attributes: Object.freeze({ 'http.request.method': method, 'url.scheme': scheme }),
          active: 0,
          outcomes: new Map(),
        };
        byMethod.set(method, kind);
        kinds.push(kind);
      }
    }
    return kind;
  }

  let cachedOutcomes = 0;
  function outcomeOf(
    kind: RequestKind,
    route: string | undefined,
    status: number,
    failure: unknown,
  ): Outcome {
    const errorType = errorTypeOf(failure, status);
    // Without a failure the error type follows from the status code, which is key enough.
    const key = failure === undefined ? status : `${status} ${errorType ?? ''}`;
    let byKey = kind.outcomes.get(route);
    const cached = byKey?.get(key);
    if (cached !== undefined) return cached;

    const built: Record<string, string | number> = {
      ...kind.attributes,
      'http.response.status_code': status,
    };
    if (route !== undefined) built['http.route'] = route;
    if (errorType !== undefined) built['error.type'] = errorType;
    const attributes = Object.freeze(built);
    const outcome: Outcome = {
      attributes,
      spanName: route === undefined ? kind.method : `${kind.method} ${route}`,
      failed: errorType !== undefined,
      duration: duration.series(attributes),
      requestBodySize: requestBodySize.series(attributes),
      responseBodySize: responseBodySize?.series(attributes),
    };
    if (cachedOutcomes < maxCachedOutcomes) {
      cachedOutcomes += 1;
      if (byKey === undefined) {
        byKey = new Map();
        kind.outcomes.set(route, byKey);
      }
      byKey.set(key, outcome);
    }
    return outcome;
  }

  return async function httpTelemetry(c, next) {
    const startedAt = performance.now();
    const kind = kindOf(c.req.method, c.req.url.startsWith('https:') ? 'https' : 'http');
    kind.active += 1;

    const active = context.active();
    const outer = existingServerSpan(active);
    const headers = requestHeaders(c);
    const carriesContext =
      header(headers, 'traceparent') !== undefined || header(headers, 'baggage') !== undefined;
    const parent = outer || !carriesContext ? active : propagator.extract(active, headers, headerGetter);
    // Without tracing there is nothing to record: no span at all, and the caller's context (if
    // any) still reaches downstream calls.
    const span = outer ?? (tracing ? tracer.startSpan(kind.method, serverSpanOptions, parent) : undefined);
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
      const outcome = outcomeOf(kind, route, status, failure);

      // An unsampled request gets a non-recording span: nothing to annotate, nothing to answer.
      if (span && recording) {
        span.setAttributes(outcome.attributes);
        if (!outer) span.setAttribute('url.path', c.req.path);
        span.updateName(outcome.spanName);
        if (failure instanceof Error) span.recordException(failure);
        if (outcome.failed) span.setStatus({ code: SpanStatusCode.ERROR });
        if (!outgoing) {
          try {
            c.res.headers.set('traceresponse', traceresponse(span));
          } catch {
            // A handler returned a response with immutable headers (e.g. a proxied fetch): no header, no harm.
          }
        }
      }
      if (span && !outer) span.end();

      outcome.duration.record((performance.now() - startedAt) / 1000);
      const requestSize = contentLength(headers);
      if (requestSize !== undefined) outcome.requestBodySize.record(requestSize);
      if (outcome.responseBodySize) {
        const responseSize = contentLength(c.res.headers);
        if (responseSize !== undefined) outcome.responseBodySize.record(responseSize);
      }
      kind.active -= 1;
    }
  };
}
