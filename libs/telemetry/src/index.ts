export { type TelemetryConfig, TelemetryConfigError } from './config.ts';
export { type Logger, type LogFields } from './logger.ts';
export { type InstrumentationProviders, instrumentationScope } from './providers.ts';
export { type Catalog, initTelemetry, type Telemetry, type TelemetryOptions } from './telemetry.ts';
export {
  type CountRecorder,
  type DurationRecorder,
  type ErrorClassifier,
  type ExpectedAnswer,
  Operation,
  type OperationInstruments,
  type OperationOptions,
} from './operation.ts';
