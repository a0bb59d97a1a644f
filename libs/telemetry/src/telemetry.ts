/**
 * initTelemetry(): the one call a service makes. It reads the environment contract, builds
 * the meter, tracer and logger providers with the exporters it names, starts runtime metrics,
 * creates the instruments of the service's catalog and returns everything a service needs,
 * explicitly. The middleware and wrappers of this library take the returned object (or any other
 * providers), not a hidden global. Global state is touched only when asked: `registerGlobal`
 * registers the providers, propagator, context manager, diagnostic logger and error handler with
 * the OpenTelemetry API, so that other instrumentation in the process (pino's, for one) reports
 * through the same pipeline; `handleSignals` flushes on SIGTERM and SIGINT.
 */
import { randomUUID } from 'node:crypto';
import {
  context,
  createNoopLogger,
  createNoopMeter,
  diag,
  DiagLogLevel,
  type LoggerProvider as ApiLoggerProvider,
  logs,
  metrics,
  propagation,
  type Meter,
  type MeterProvider as ApiMeterProvider,
  ProxyTracerProvider,
  type TextMapPropagator,
  type Tracer,
  type TracerProvider as ApiTracerProvider,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  setGlobalErrorHandler,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import type { LogRecordProcessor } from '@opentelemetry/sdk-logs';
import { type IMetricReader, MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import type { MetricDefinition } from './catalog/define.ts';
import { catalogViews, createInstruments, type Instruments } from './catalog/instruments.ts';
import { BlockRandomIdGenerator } from './ids.ts';
import {
  type DiagLogLevelName,
  type PropagatorName,
  readTelemetryConfig,
  type SamplerName,
  type TelemetryConfig,
} from './config.ts';
import { logRecordProcessors, metricReaders, spanProcessors } from './exporters.ts';
import { AggregatedHistograms } from './histograms.ts';
import { createLogger, type Logger } from './logger.ts';
import { createLoggerProvider } from './logs.ts';
import { instrumentationScope } from './providers.ts';
import type { RetryingExporterStats } from './retry-exporter.ts';
import { startRuntimeMetrics } from './runtime.ts';

/** A service's own metrics, declared once each (see ./catalog). */
export type Catalog = Readonly<Record<string, MetricDefinition>>;
/** The catalog of a service that declares no metrics of its own: no instruments. */
// eslint-disable-next-line @typescript-eslint/no-generated-empty-object-type -- an empty catalog is meant
export type NoCatalog = Record<never, MetricDefinition>;

export interface TelemetryOptions<C extends Catalog = NoCatalog> {
  serviceName: string;
  serviceVersion: string;
  /** The service's metrics; `metrics` holds their typed instruments. */
  catalog?: C;
  /** Where the environment contract is read from; `process.env` by default. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Stop with a TelemetryConfigError when a variable has a value that is not understood, rather
   * than warn and use the default. Also TELEMETRY_CONFIG_STRICT=true. Default false.
   */
  strict?: boolean;
  /** Readers added to those the environment names (tests use in-memory ones). */
  metricReaders?: IMetricReader[];
  /** Span processors added to those the environment names. */
  spanProcessors?: SpanProcessor[];
  /** Log record processors added to those the environment names. */
  logRecordProcessors?: LogRecordProcessor[];
  /**
   * Register the providers, the propagator, an AsyncLocalStorage context manager, the diagnostic
   * logger (at OTEL_LOG_LEVEL) and the error handler with the OpenTelemetry API. Default true;
   * false leaves every global alone, for a process that already runs an SDK of its own.
   */
  registerGlobal?: boolean;
  /** Flush on SIGTERM and SIGINT (and exit, if nothing else handles the signal). Default false. */
  handleSignals?: boolean;
  /** Upper bound of shutdown(), whatever the exporters do. Default 5 s. */
  shutdownTimeoutMillis?: number;
  /** Log line sink; standard output by default. */
  logWrite?: (line: string) => void;
  /**
   * Whether `logger` writes its JSON lines (the records go to OTEL_LOGS_EXPORTER regardless).
   * Default true; TELEMETRY_LOG_STDOUT overrides it. The library's own warnings are always written.
   */
  logStdout?: boolean;
}

/** Spans held by the retrying exporters and given up on, summed over them. */
export interface SpanExportStats {
  bufferedSpans: number;
  droppedSpans: number;
  retriedSpans: number;
}

/** Log records held by the retrying exporters and given up on, summed over them. */
export interface LogExportStats {
  bufferedLogRecords: number;
  droppedLogRecords: number;
  retriedLogRecords: number;
}

export interface Telemetry<C extends Catalog = NoCatalog> {
  readonly config: TelemetryConfig;
  readonly tracerProvider: ApiTracerProvider;
  readonly meterProvider: ApiMeterProvider;
  /** Where `logger`'s records go; registered as the global one with `registerGlobal`, for log bridges. */
  readonly loggerProvider: ApiLoggerProvider;
  /** The propagators of OTEL_PROPAGATORS (W3C trace context and baggage by default). */
  readonly propagator: TextMapPropagator;
  /** This library's meter and tracer (its instrumentation scope). */
  readonly meter: Meter;
  readonly tracer: Tracer;
  /** JSON lines on standard output and log records for OTEL_LOGS_EXPORTER, from one call. */
  readonly logger: Logger;
  /** The catalog's instruments, one per metric it declares. */
  readonly metrics: Instruments<C>;
  /**
   * Histograms aggregated by this library rather than the SDK, reported by every metric reader
   * under the same scope as `meter`: for the per-request hot path of the HTTP instrumentation.
   */
  readonly histograms: AggregatedHistograms;
  /** Whether spans can be recorded at all (false with nowhere to send them, or when disabled). */
  readonly tracing: boolean;
  /** Spans waiting for a retry after failed exports, and spans given up on. */
  spanExportStats(): SpanExportStats;
  /** Log records waiting for a retry after failed exports, and records given up on. */
  logExportStats(): LogExportStats;
  forceFlush(): Promise<void>;
  /** Flushes and stops the three signals; resolves within shutdownTimeoutMillis. Safe to call twice. */
  shutdown(): Promise<void>;
}

function sampler(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

function propagatorOf(names: readonly Exclude<PropagatorName, 'none'>[]): TextMapPropagator {
  const byName = {
    tracecontext: () => new W3CTraceContextPropagator(),
    baggage: () => new W3CBaggagePropagator(),
    b3: () => new B3Propagator({ injectEncoding: B3InjectEncoding.SINGLE_HEADER }),
    b3multi: () => new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }),
  };
  return new CompositePropagator({ propagators: names.map((name) => byName[name]()) });
}

const diagLevels: Record<DiagLogLevelName, DiagLogLevel> = {
  none: DiagLogLevel.NONE,
  error: DiagLogLevel.ERROR,
  warn: DiagLogLevel.WARN,
  info: DiagLogLevel.INFO,
  debug: DiagLogLevel.DEBUG,
  verbose: DiagLogLevel.VERBOSE,
  all: DiagLogLevel.ALL,
};

let contextManagerInstalled = false;

/** Async context is process-wide by nature; install it once, whatever the number of instances. */
function installContextManager(): void {
  if (contextManagerInstalled) return;
  contextManagerInstalled = context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

function withTimeout(work: Promise<unknown>, millis: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, millis);
  });
  return Promise.race([work.then(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

/** Warnings from the SDK's internals, at most one per message per minute: an outage must not flood the logs. */
function throttledWarn(logger: Logger): (message: string, fields?: Record<string, unknown>) => void {
  const last = new Map<string, number>();
  return (message, fields) => {
    const now = Date.now();
    if (now - (last.get(message) ?? 0) < 60_000) return;
    last.set(message, now);
    logger.warn(message, fields);
  };
}

/**
 * The SDK's diagnostics into the service's log, warnings and errors throttled. OTEL_LOG_LEVEL
 * alone decides which reach it (diag filters them), whatever LOG_LEVEL says of the service's own.
 */
function registerDiagnostics(logger: Logger, level: DiagLogLevelName): void {
  const warn = throttledWarn(logger);
  diag.setLogger(
    {
      error: (message) => warn(message),
      warn: (message) => warn(message),
      info: (message) => logger.info(message),
      debug: (message) => logger.debug(message),
      verbose: (message) => logger.debug(message),
    },
    { logLevel: diagLevels[level], suppressOverrideMessage: true },
  );
  // Export failures surface here; they are warnings about telemetry, never errors of the service.
  setGlobalErrorHandler((error) => {
    warn('telemetry export failed', {
      error: error instanceof Error ? error.message : JSON.stringify(error),
    });
  });
}

const noopMeterProvider: ApiMeterProvider = { getMeter: () => createNoopMeter() };
const noopLoggerProvider: ApiLoggerProvider = { getLogger: () => createNoopLogger() };

/** What the retrying exporters hold and gave up on, summed. */
function retryTotals(exporters: readonly { stats(): RetryingExporterStats }[]) {
  const totals = { buffered: 0, dropped: 0, retried: 0 };
  for (const exporter of exporters) {
    const stats = exporter.stats();
    totals.buffered += stats.bufferedItems;
    totals.dropped += stats.droppedItems;
    totals.retried += stats.retriedItems;
  }
  return totals;
}

export function initTelemetry<C extends Catalog = NoCatalog>(options: TelemetryOptions<C>): Telemetry<C> {
  const config = readTelemetryConfig(options, options.env, {
    strict: options.strict,
    logStdout: options.logStdout,
  });
  const write = options.logWrite ? { write: options.logWrite } : {};
  // The library's own warnings (configuration, failed exports) are lines only, whatever
  // TELEMETRY_LOG_STDOUT says: reported through the log export, an outage of the collector would
  // be reported through the path that is out (and each report would be one more record to hold).
  const pipelineLog = createLogger({ service: config.serviceName, level: config.logLevel, ...write });
  for (const warning of config.warnings) pipelineLog.warn(`telemetry configuration: ${warning}`);
  const diagnostics = createLogger({ service: config.serviceName, level: 'debug', ...write }).child({
    'log.logger': 'opentelemetry',
  });
  const catalog = (options.catalog ?? {}) as C;
  const propagator = propagatorOf(config.propagators);
  const registerGlobal = options.registerGlobal ?? true;
  if (registerGlobal) {
    installContextManager();
    propagation.setGlobalPropagator(propagator);
    registerDiagnostics(diagnostics, config.diagLogLevel);
  }

  if (config.disabled) {
    // No providers: no-op meters and tracers, so instrumentation costs ~nothing.
    // Without a delegate it hands out the API's no-op tracer, which the API exports no other way.
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- still in @opentelemetry/api 1.x, our peer range
    const tracerProvider = new ProxyTracerProvider();
    const meter = createNoopMeter();
    // Attached to no reader: what is recorded goes nowhere, at the cost of a few additions.
    const unattached = new AggregatedHistograms(instrumentationScope);
    return {
      config,
      tracerProvider,
      meterProvider: noopMeterProvider,
      loggerProvider: noopLoggerProvider,
      propagator,
      meter,
      tracer: tracerProvider.getTracer(instrumentationScope.name),
      logger: createLogger({
        service: config.serviceName,
        level: config.logLevel,
        lines: config.logStdout,
        ...write,
      }),
      metrics: createInstruments(meter, catalog, unattached),
      histograms: unattached,
      tracing: false,
      spanExportStats: () => ({ bufferedSpans: 0, droppedSpans: 0, retriedSpans: 0 }),
      logExportStats: () => ({ bufferedLogRecords: 0, droppedLogRecords: 0, retriedLogRecords: 0 }),
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
  }

  const resource = defaultResource().merge(
    resourceFromAttributes({
      ...config.resourceAttributes,
      'service.name': config.serviceName,
      'service.version': config.serviceVersion,
      // One that OTEL_RESOURCE_ATTRIBUTES names wins (the specification: the user's resource
      // attributes are kept); otherwise a random one per process, as the conventions recommend.
      'service.instance.id': config.resourceAttributes['service.instance.id'] ?? randomUUID(),
      'process.pid': process.pid,
      'process.runtime.name': 'nodejs',
      'process.runtime.version': process.versions.node,
    }),
  );

  const histograms = new AggregatedHistograms(instrumentationScope);
  const meterProvider = new MeterProvider({
    resource,
    views: catalogViews(catalog, instrumentationScope.name),
    readers: [...metricReaders(config, pipelineLog), ...(options.metricReaders ?? [])].map((reader) =>
      histograms.attach(reader),
    ),
  });
  const spans = spanProcessors(config, pipelineLog, meterProvider);
  const allSpanProcessors = [...spans.processors, ...(options.spanProcessors ?? [])];
  const tracerProvider = new TracerProvider({
    resource,
    // With nowhere to send spans (OTEL_TRACES_EXPORTER=none), recording them is pure cost.
    sampler:
      allSpanProcessors.length === 0 ? new AlwaysOffSampler() : sampler(config.sampler, config.samplerRatio),
    spanLimits: config.spanLimits,
    spanProcessors: allSpanProcessors,
    idGenerator: new BlockRandomIdGenerator(),
  });

  const logPipeline = logRecordProcessors(config, pipelineLog, meterProvider);
  const allLogRecordProcessors = [...logPipeline.processors, ...(options.logRecordProcessors ?? [])];
  const loggerProvider = createLoggerProvider({
    resource,
    limits: config.logRecordLimits,
    processors: allLogRecordProcessors,
    selfObservability: meterProvider,
  });
  const logger = createLogger({
    service: config.serviceName,
    level: config.logLevel,
    lines: config.logStdout,
    ...write,
    // With nowhere to send records (OTEL_LOGS_EXPORTER=none), making them is pure cost.
    ...(allLogRecordProcessors.length > 0
      ? { records: loggerProvider.getLogger(instrumentationScope.name, instrumentationScope.version) }
      : {}),
  });

  if (registerGlobal) {
    metrics.setGlobalMeterProvider(meterProvider);
    trace.setGlobalTracerProvider(tracerProvider);
    logs.setGlobalLoggerProvider(loggerProvider);
  }

  const meter = meterProvider.getMeter(instrumentationScope.name, instrumentationScope.version);
  const stopRuntimeMetrics = startRuntimeMetrics(meter);
  const shutdownTimeoutMillis = options.shutdownTimeoutMillis ?? 5_000;

  let shuttingDown: Promise<void> | undefined;
  const shutdown = () => {
    shuttingDown ??= withTimeout(
      (async () => {
        stopRuntimeMetrics();
        await Promise.allSettled([
          tracerProvider.shutdown(),
          loggerProvider.shutdown(),
          meterProvider.shutdown(),
        ]);
      })(),
      shutdownTimeoutMillis,
    );
    return shuttingDown;
  };

  if (options.handleSignals ?? false) {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info('flushing telemetry before exit', { signal });
      void shutdown().then(() => {
        // Only exit when nobody else handles the signal: a service that closes its server
        // on SIGTERM decides when to exit.
        if (process.listenerCount(signal) === 0) process.exit(signal === 'SIGINT' ? 130 : 143);
      });
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  return {
    config,
    tracerProvider,
    meterProvider,
    loggerProvider,
    propagator,
    meter,
    tracer: tracerProvider.getTracer(instrumentationScope.name, instrumentationScope.version),
    logger,
    metrics: createInstruments(meter, catalog, histograms),
    histograms,
    tracing: allSpanProcessors.length > 0,
    spanExportStats: () => {
      const { buffered, dropped, retried } = retryTotals(spans.retrying);
      return { bufferedSpans: buffered, droppedSpans: dropped, retriedSpans: retried };
    },
    logExportStats: () => {
      const { buffered, dropped, retried } = retryTotals(logPipeline.retrying);
      return { bufferedLogRecords: buffered, droppedLogRecords: dropped, retriedLogRecords: retried };
    },
    forceFlush: async () => {
      // The processors hand their batches to the retrying exporters, which deliver them in the
      // background: flushed means delivered (or failed once more), so they are flushed too.
      await Promise.allSettled([
        tracerProvider.forceFlush().then(() => Promise.all(spans.retrying.map((e) => e.forceFlush()))),
        loggerProvider.forceFlush().then(() => Promise.all(logPipeline.retrying.map((e) => e.forceFlush()))),
        meterProvider.forceFlush(),
      ]);
    },
    shutdown,
  };
}
