export {
  readTelemetryConfig,
  type TelemetryConfig,
  TelemetryConfigError,
  metricsExporters,
  tracesExporters,
  otlpProtocols,
  samplers,
} from './config.ts';
export { createLogger, type Logger, type LogFields } from './logger.ts';
export { initTelemetry, instrumentationScope, type Telemetry, type TelemetryOptions } from './telemetry.ts';
export { timed, trackDuration, withSpan, type TimedOptions } from './timing.ts';
export { catalog, buckets, type Catalog, primeCounter } from './catalog/index.ts';
