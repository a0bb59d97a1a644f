/**
 * initTelemetry(): the one call a service makes. It reads the environment contract, builds
 * the meter and tracer providers with the exporters it names, starts runtime metrics, creates
 * the catalog's instruments and returns everything a service needs, explicitly: the
 * middleware and wrappers of this library take the returned object, not a hidden global.
 * The API's globals are registered too (unless told not to), so that other OpenTelemetry
 * instrumentation in the process reports through the same pipeline.
 */
import { randomUUID } from 'node:crypto';
import {
  context,
  diag,
  DiagLogLevel,
  metrics,
  propagation,
  type Meter,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  setGlobalErrorHandler,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
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
import { type Catalog, catalog } from './catalog/metrics.ts';
import { catalogViews, createInstruments, type Instruments } from './catalog/instruments.ts';
import { BlockRandomIdGenerator } from './ids.ts';
import { readTelemetryConfig, type SamplerName, type TelemetryConfig } from './config.ts';
import { metricReaders, spanProcessors } from './exporters.ts';
import { AggregatedHistograms } from './histograms.ts';
import { createLogger, type Logger } from './logger.ts';
import type { RetryStats } from './retry-exporter.ts';
import { startRuntimeMetrics } from './runtime.ts';

export const instrumentationScope = { name: '@tradeobs/telemetry', version: '0.1.0' } as const;

export interface TelemetryOptions {
  serviceName: string;
  serviceVersion: string;
  /** Where the environment contract is read from; `process.env` by default. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Readers added to those the environment names (tests use in-memory ones). */
  metricReaders?: IMetricReader[];
  /** Span processors added to those the environment names. */
  spanProcessors?: SpanProcessor[];
  /** Register the providers, propagator and context manager with the OpenTelemetry API. Default true. */
  registerGlobal?: boolean;
  /** Flush on SIGTERM and SIGINT (and exit, if nothing else handles the signal). Default true. */
  handleSignals?: boolean;
  /** Upper bound of shutdown(), whatever the exporters do. Default 5 s. */
  shutdownTimeoutMillis?: number;
  /** Log line sink; standard output by default. */
  logWrite?: (line: string) => void;
}

export interface Telemetry {
  readonly config: TelemetryConfig;
  readonly meter: Meter;
  readonly tracer: Tracer;
  readonly logger: Logger;
  /** The catalog's instruments, one per business metric of the seeds. */
  readonly metrics: Instruments<Catalog>;
  /**
   * Histograms aggregated by this library rather than the SDK, reported by every metric reader
   * under the same scope as `meter`: for the per-request hot path of the HTTP instrumentation.
   */
  readonly histograms: AggregatedHistograms;
  /** W3C trace context and baggage. */
  readonly propagator: TextMapPropagator;
  /** Whether spans can be recorded at all (false with nowhere to send them, or when disabled). */
  readonly tracing: boolean;
  /** Spans waiting for a retry after failed exports, and spans given up on. */
  spanExportStats(): RetryStats;
  forceFlush(): Promise<void>;
  /** Flushes and stops both signals; resolves within shutdownTimeoutMillis. Safe to call twice. */
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

export function initTelemetry(options: TelemetryOptions): Telemetry {
  const config = readTelemetryConfig(options, options.env);
  const logger = createLogger({
    service: config.serviceName,
    level: config.logLevel,
    ...(options.logWrite ? { write: options.logWrite } : {}),
  });
  const propagator = new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
  });
  const registerGlobal = options.registerGlobal ?? true;
  installContextManager();

  if (config.disabled) {
    // No providers: the API hands out no-op meters and tracers, so instrumentation costs ~nothing.
    const meter = metrics.getMeterProvider().getMeter(instrumentationScope.name);
    return {
      config,
      meter,
      tracer: trace.getTracerProvider().getTracer(instrumentationScope.name),
      logger,
      metrics: createInstruments(meter, catalog),
      // Attached to no reader: what is recorded goes nowhere, at the cost of a few additions.
      histograms: new AggregatedHistograms(instrumentationScope),
      propagator,
      tracing: false,
      spanExportStats: () => ({ bufferedSpans: 0, droppedSpans: 0, retriedSpans: 0 }),
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
  }

  const resource = defaultResource().merge(
    resourceFromAttributes({
      ...config.resourceAttributes,
      'service.name': config.serviceName,
      'service.version': config.serviceVersion,
      'service.instance.id': randomUUID(),
      'process.pid': process.pid,
      'process.runtime.name': 'nodejs',
      'process.runtime.version': process.versions.node,
    }),
  );

  const histograms = new AggregatedHistograms(instrumentationScope);
  const meterProvider = new MeterProvider({
    resource,
    views: catalogViews(catalog),
    readers: [...metricReaders(config, logger), ...(options.metricReaders ?? [])].map((reader) =>
      histograms.attach(reader),
    ),
  });
  const spans = spanProcessors(config, logger, meterProvider);
  const allSpanProcessors = [...spans.processors, ...(options.spanProcessors ?? [])];
  const tracerProvider = new TracerProvider({
    resource,
    // With nowhere to send spans (OTEL_TRACES_EXPORTER=none), recording them is pure cost.
    sampler:
      allSpanProcessors.length === 0 ? new AlwaysOffSampler() : sampler(config.sampler, config.samplerRatio),
    spanProcessors: allSpanProcessors,
    idGenerator: new BlockRandomIdGenerator(),
  });

  const warn = throttledWarn(logger);
  if (registerGlobal) {
    metrics.setGlobalMeterProvider(meterProvider);
    trace.setGlobalTracerProvider(tracerProvider);
    propagation.setGlobalPropagator(propagator);
    // Export failures surface here; they are warnings about telemetry, never errors of the service.
    setGlobalErrorHandler((error) => {
      warn('telemetry export failed', {
        error: error instanceof Error ? error.message : JSON.stringify(error),
      });
    });
    diag.setLogger(
      {
        error: (message) => warn(message),
        warn: (message) => warn(message),
        info: () => undefined,
        debug: () => undefined,
        verbose: () => undefined,
      },
      DiagLogLevel.WARN,
    );
  }

  const meter = meterProvider.getMeter(instrumentationScope.name, instrumentationScope.version);
  const stopRuntimeMetrics = startRuntimeMetrics(meter);
  const shutdownTimeoutMillis = options.shutdownTimeoutMillis ?? 5_000;

  let shuttingDown: Promise<void> | undefined;
  const shutdown = () => {
    shuttingDown ??= withTimeout(
      (async () => {
        stopRuntimeMetrics();
        await Promise.allSettled([tracerProvider.shutdown(), meterProvider.shutdown()]);
      })(),
      shutdownTimeoutMillis,
    );
    return shuttingDown;
  };

  if (options.handleSignals ?? true) {
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
    meter,
    tracer: tracerProvider.getTracer(instrumentationScope.name, instrumentationScope.version),
    logger,
    metrics: createInstruments(meter, catalog),
    histograms,
    propagator,
    tracing: allSpanProcessors.length > 0,
    spanExportStats: () =>
      spans.retrying.reduce<RetryStats>(
        (sum, exporter) => {
          const stats = exporter.stats();
          return {
            bufferedSpans: sum.bufferedSpans + stats.bufferedSpans,
            droppedSpans: sum.droppedSpans + stats.droppedSpans,
            retriedSpans: sum.retriedSpans + stats.retriedSpans,
          };
        },
        { bufferedSpans: 0, droppedSpans: 0, retriedSpans: 0 },
      ),
    forceFlush: async () => {
      // The processors hand their spans to the retrying exporters, which deliver them in the
      // background: flushed means delivered (or failed once more), so they are flushed too.
      await Promise.allSettled([
        tracerProvider.forceFlush().then(() => Promise.all(spans.retrying.map((e) => e.forceFlush()))),
        meterProvider.forceFlush(),
      ]);
    },
    shutdown,
  };
}
