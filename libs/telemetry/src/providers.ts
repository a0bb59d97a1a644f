/**
 * Where instrumentation finds its tracer, meter and propagator: the providers it is given, or
 * the OpenTelemetry API's globals, as the instrumentations of opentelemetry-js and @hono/otel
 * do. A service that runs @opentelemetry/sdk-node or providers of its own uses this library's
 * middleware with them, and `initTelemetry()`'s result is such a set of providers too.
 */
import {
  metrics,
  type Meter,
  type MeterProvider,
  propagation,
  type TextMapPropagator,
  trace,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';

/** The instrumentation scope of everything this library records. */
export const instrumentationScope = { name: '@tradeobs/telemetry', version: '0.1.0' } as const;

export interface InstrumentationProviders {
  /** Default: the API's global tracer provider (a no-op one until something registers). */
  tracerProvider?: TracerProvider | undefined;
  /** Default: the API's global meter provider. */
  meterProvider?: MeterProvider | undefined;
  /** Default: the API's global propagator. */
  propagator?: TextMapPropagator | undefined;
}

export interface ResolvedProviders {
  tracer: Tracer;
  meter: Meter;
  propagator: TextMapPropagator;
}

export function resolveProviders(providers: InstrumentationProviders = {}): ResolvedProviders {
  const tracerProvider = providers.tracerProvider ?? trace.getTracerProvider();
  const meterProvider = providers.meterProvider ?? metrics.getMeterProvider();
  return {
    tracer: tracerProvider.getTracer(instrumentationScope.name, instrumentationScope.version),
    meter: meterProvider.getMeter(instrumentationScope.name, instrumentationScope.version),
    // The API's propagation object forwards to whatever propagator is registered when it is used.
    propagator: providers.propagator ?? propagation,
  };
}
