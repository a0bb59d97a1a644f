/**
 * The platform's services get the telemetry library with the platform's metric catalog, in
 * strict mode: a wrong OTEL_* value in the stack's own settings stops the service (and CI)
 * instead of becoming a warning that nobody reads.
 */
import { initTelemetry, type Telemetry, type TelemetryOptions } from '@tradeobs/telemetry';
import { catalog, type PlatformCatalog } from './metrics.ts';

export type PlatformTelemetry = Telemetry<PlatformCatalog>;

export function initPlatformTelemetry(
  options: Omit<TelemetryOptions<PlatformCatalog>, 'catalog' | 'strict'>,
): PlatformTelemetry {
  return initTelemetry({ ...options, catalog, strict: true });
}
