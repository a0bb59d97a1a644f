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

/** The methods of RFC 9110, PATCH (RFC 5789) and QUERY: the semantic conventions' default set. */
const defaultKnownMethods = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'QUERY',
];

/**
 * The known methods: the option, else OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS (comma-separated,
 * case-sensitive, replacing the default set, as the conventions define it), else the default set.
 */
function knownMethodsOf(option: readonly string[] | undefined): ReadonlySet<string> {
  const fromEnv = process.env.OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS?.split(',')
    .map((method) => method.trim())
    .filter((method) => method !== '');
  return new Set(option ?? (fromEnv && fromEnv.length > 0 ? fromEnv : defaultKnownMethods));
}

/** Query parameters whose values the conventions ask to redact: signed-URL credentials. */
const sensitiveQueryParameters = new Set(['AWSAccessKeyId', 'Signature', 'sig', 'X-Goog-Signature']);

function redactedQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const separator = pair.indexOf('=');
      const key = separator < 0 ? pair : pair.slice(0, separator);
      return separator >= 0 && sensitiveQueryParameters.has(key) ? `${key}=REDACTED` : pair;
    })
    .join('&');
}

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
   * Answer every sampled request with a `traceresponse` header (W3C Trace Context Level 2),
   * so that a client can find its trace. Off by default: it shows trace ids to every client.
   */
  traceResponse?: boolean;
  /**
   * The methods that are not `_OTHER` (case-sensitive). Default: OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS,
   * else GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH and QUERY.
   */
  knownMethods?: readonly string[];
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

/**
 * A server's failure is a 5xx answer: a 4xx is the client's error, and leaves the span's status
 * unset and no `error.type`, even when the handler threw to answer it (a validation error, a
 * not-found) and an error handler turned that into the response.
 */
function errorTypeOf(failure: unknown, status: number): string | undefined {
  if (status < 500) return undefined;
  if (failure instanceof Error) return failure.name;
  if (failure !== undefined) return 'Error';
  return String(status);
}

/** `network.protocol.version` as the conventions write it: 1.0, 1.1, 2, 3. */
function protocolVersionOf(c: Context): string | undefined {
  const version = (c.env as { incoming?: { httpVersion?: string } } | undefined)?.incoming?.httpVersion;
  return version === '2.0' ? '2' : version;
}

/** The scheme the client used: a proxy's X-Forwarded-Proto (http or https only), else the request's. */
function schemeOf(c: Context, headers: Headers | IncomingHeaders): 'http' | 'https' {
  const forwarded = header(headers, 'x-forwarded-proto');
  if (forwarded !== undefined) {
    const first = forwarded.split(',')[0]?.trim().toLowerCase();
    if (first === 'https' || first === 'http') return first;
  }
  return c.req.url.startsWith('https:') ? 'https' : 'http';
}

/** The host the client addressed, from X-Forwarded-Host or Host, split into address and port. */
function serverOf(
  headers: Headers | IncomingHeaders,
): { address: string; port: number | undefined } | undefined {
  const host = (header(headers, 'x-forwarded-host') ?? header(headers, 'host'))?.split(',')[0]?.trim();
  if (!host) return undefined;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  if (!match?.[1]) return undefined;
  return {
    address: match[1].replace(/^\[|\]$/g, ''),
    port: match[2] === undefined ? undefined : Number(match[2]),
  };
}

/** The client: the first X-Forwarded-For entry, else the connection's peer. */
function clientAddressOf(c: Context, headers: Headers | IncomingHeaders): string | undefined {
  const forwarded = header(headers, 'x-forwarded-for')?.split(',')[0]?.trim();
  if (forwarded) return forwarded;
  return (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket
    ?.remoteAddress;
}

/**
 * What the conventions recommend on a server span beyond the metric's attributes. Only for
 * recorded spans: an unsampled request pays nothing for them.
 */
function describeRequest(span: Span, c: Context, headers: Headers | IncomingHeaders, method: string): void {
  span.setAttribute('url.path', c.req.path);
  const url = c.req.url;
  const queryAt = url.indexOf('?');
  if (queryAt >= 0 && queryAt < url.length - 1)
    span.setAttribute('url.query', redactedQuery(url.slice(queryAt + 1)));
  if (method === '_OTHER') span.setAttribute('http.request.method_original', c.req.method);
  const server = serverOf(headers);
  if (server) {
    span.setAttribute('server.address', server.address);
    if (server.port !== undefined) span.setAttribute('server.port', server.port);
  }
  const client = clientAddressOf(c, headers);
  if (client) span.setAttribute('client.address', client);
  const userAgent = header(headers, 'user-agent');
  if (userAgent) span.setAttribute('user_agent.original', userAgent);
}

export function httpInstrumentation(
  providers: HttpProviders = {},
  options: HttpInstrumentationOptions = {},
): MiddlewareHandler {
  const { meter, tracer, propagator } = resolveProviders(providers);
  const tracing = providers.tracing ?? true;
  const knownMethods = knownMethodsOf(options.knownMethods);
  const traceResponse = options.traceResponse ?? false;
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
    protocolVersion: string | undefined,
  ): Outcome {
    const errorType = errorTypeOf(failure, status);
    // Without a failure the error type follows from the status code, and HTTP/1.1 is the common
    // case: the status code alone is key enough, an integer rather than a string built per request.
    const key =
      (failure === undefined || status < 500) && protocolVersion === '1.1'
        ? status
        : `${status} ${errorType ?? ''} ${protocolVersion ?? ''}`;
    let byKey = kind.outcomes.get(route);
    const cached = byKey?.get(key);
    if (cached !== undefined) return cached;

    const built: Record<string, string | number> = {
      ...kind.attributes,
      'http.response.status_code': status,
    };
    if (route !== undefined) built['http.route'] = route;
    if (errorType !== undefined) built['error.type'] = errorType;
    if (protocolVersion !== undefined) built['network.protocol.version'] = protocolVersion;
    const attributes = Object.freeze(built);
    const outcome: Outcome = {
      attributes,
      // An unknown method is `HTTP` in the span name (and `_OTHER` in the attribute).
      spanName: `${kind.method === '_OTHER' ? 'HTTP' : kind.method}${route === undefined ? '' : ` ${route}`}`,
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
    const headers = requestHeaders(c);
    const kind = kindOf(c.req.method, schemeOf(c, headers));
    kind.active += 1;

    const active = context.active();
    const outer = existingServerSpan(active);
    const carriesContext =
      header(headers, 'traceparent') !== undefined || header(headers, 'baggage') !== undefined;
    const parent = outer || !carriesContext ? active : propagator.extract(active, headers, headerGetter);
    // Without tracing there is nothing to record: no span at all, and the caller's context (if
    // any) still reaches downstream calls.
    const span = outer ?? (tracing ? tracer.startSpan(kind.method, serverSpanOptions, parent) : undefined);
    const recording = span !== undefined && span.isRecording();
    const outgoing = recording && traceResponse ? outgoingResponse(c) : undefined;
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
      const outcome = outcomeOf(kind, route, status, failure, protocolVersionOf(c));

      // An unsampled request gets a non-recording span: nothing to annotate, nothing to answer.
      if (span && recording) {
        span.setAttributes(outcome.attributes);
        if (!outer) describeRequest(span, c, headers, kind.method);
        span.updateName(outcome.spanName);
        if (outcome.failed) {
          if (failure instanceof Error) span.recordException(failure);
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        if (traceResponse && !outgoing) {
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
