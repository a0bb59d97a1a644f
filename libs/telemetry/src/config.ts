/**
 * The environment contract, read in one place. The OpenTelemetry SDK's manual providers read
 * few of the standard variables, so this module reads them all, applies the defaults of the
 * specification (and ours, where the table in README.md says so) and validates every value.
 * Every problem is reported at once, each naming its variable and the values it accepts.
 */

export const metricsExporters = ['otlp', 'prometheus', 'console', 'none'] as const;
export const tracesExporters = ['otlp', 'console', 'none'] as const;
export const otlpProtocols = ['grpc', 'http/protobuf'] as const;
export const samplers = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export const logLevels = ['debug', 'info', 'warn', 'error'] as const;

export type MetricsExporterName = (typeof metricsExporters)[number];
export type TracesExporterName = (typeof tracesExporters)[number];
export type OtlpProtocol = (typeof otlpProtocols)[number];
export type SamplerName = (typeof samplers)[number];
export type LogLevel = (typeof logLevels)[number];

export interface OtlpSignalConfig {
  /** Full URL: for http/protobuf it includes the signal path (/v1/traces, /v1/metrics). */
  url: string;
  protocol: OtlpProtocol;
  headers: Record<string, string>;
  timeoutMillis: number;
}

export interface TelemetryConfig {
  /** OTEL_SDK_DISABLED: no providers, no exporters; instrumentation becomes no-ops. */
  disabled: boolean;
  serviceName: string;
  serviceVersion: string;
  /** OTEL_RESOURCE_ATTRIBUTES, decoded; service.name and service.version are resolved above. */
  resourceAttributes: Record<string, string>;
  metricsExporters: MetricsExporterName[];
  tracesExporters: TracesExporterName[];
  otlpTraces: OtlpSignalConfig;
  otlpMetrics: OtlpSignalConfig;
  prometheus: { host: string; port: number };
  metricExportIntervalMillis: number;
  metricExportTimeoutMillis: number;
  sampler: SamplerName;
  samplerRatio: number;
  batchSpanProcessor: {
    scheduledDelayMillis: number;
    exportTimeoutMillis: number;
    maxQueueSize: number;
    maxExportBatchSize: number;
  };
  logLevel: LogLevel;
}

export class TelemetryConfigError extends Error {
  override readonly name = 'TelemetryConfigError';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid telemetry configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Reads values off the environment, collecting problems instead of throwing at the first one. */
class EnvReader {
  readonly problems: string[] = [];
  readonly #env: Env;
  constructor(env: Env) {
    this.#env = env;
  }

  raw(name: string): string | undefined {
    const value = this.#env[name]?.trim();
    return value === '' ? undefined : value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.problems.push(`${name}=${JSON.stringify(value)}: allowed values are ${allowed.join(', ')}`);
    return fallback;
  }

  /** A comma-separated list of exporter names; `none` must stand alone. */
  listOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T[] {
    const value = this.raw(name);
    if (value === undefined) return [fallback];
    const items = value.split(',').map((item) => item.trim().toLowerCase());
    const invalid = items.filter((item) => !(allowed as readonly string[]).includes(item));
    if (invalid.length > 0) {
      this.problems.push(`${name}=${JSON.stringify(value)}: allowed values are ${allowed.join(', ')}`);
      return [fallback];
    }
    if (items.includes('none') && items.length > 1) {
      this.problems.push(`${name}=${JSON.stringify(value)}: "none" cannot be combined with other exporters`);
      return [fallback];
    }
    return [...new Set(items)] as T[];
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (value === 'true') return true;
    if (value === 'false') return false;
    this.problems.push(`${name}=${JSON.stringify(value)}: allowed values are true, false`);
    return fallback;
  }

  integer(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (Number.isInteger(parsed) && parsed >= min && parsed <= max) return parsed;
    this.problems.push(`${name}=${JSON.stringify(value)}: expected an integer from ${min} to ${max}`);
    return fallback;
  }

  ratio(name: string, fallback: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (Number.isFinite(parsed) && parsed >= 0 && parsed <= 1) return parsed;
    this.problems.push(`${name}=${JSON.stringify(value)}: expected a number from 0 to 1`);
    return fallback;
  }

  /** `key1=value1,key2=value2` with percent-encoded values (OTEL_RESOURCE_ATTRIBUTES, *_HEADERS). */
  keyValues(name: string): Record<string, string> {
    const value = this.raw(name);
    const result: Record<string, string> = {};
    if (value === undefined) return result;
    for (const pair of value.split(',')) {
      if (pair.trim() === '') continue;
      const separator = pair.indexOf('=');
      const key = separator > 0 ? pair.slice(0, separator).trim() : '';
      if (key === '') {
        this.problems.push(`${name}: ${JSON.stringify(pair)} is not of the form key=value`);
        continue;
      }
      try {
        result[key] = decodeURIComponent(pair.slice(separator + 1).trim());
      } catch {
        this.problems.push(`${name}: the value of ${key} is not valid percent-encoding`);
      }
    }
    return result;
  }

  url(name: string, fallback: string): string {
    const value = this.raw(name) ?? fallback;
    try {
      const url = new URL(value);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
      return value;
    } catch {
      this.problems.push(`${name}=${JSON.stringify(value)}: expected an http:// or https:// URL`);
      return fallback;
    }
  }
}

// 127.0.0.1 rather than the specification's localhost: Node resolves localhost to ::1 first,
// where a collector bound to IPv4 loopback does not listen.
const defaultEndpoints: Record<OtlpProtocol, string> = {
  grpc: 'http://127.0.0.1:4317',
  'http/protobuf': 'http://127.0.0.1:4318',
};

function otlpSignal(reader: EnvReader, signal: 'TRACES' | 'METRICS'): OtlpSignalConfig {
  const protocol = reader.oneOf(
    `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`,
    otlpProtocols,
    reader.oneOf('OTEL_EXPORTER_OTLP_PROTOCOL', otlpProtocols, 'grpc'),
  );
  const signalEndpoint = reader.raw(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`);
  let url: string;
  if (signalEndpoint !== undefined) {
    // A per-signal endpoint is used as given, path included.
    url = reader.url(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`, defaultEndpoints[protocol]);
  } else {
    const base = reader.url('OTEL_EXPORTER_OTLP_ENDPOINT', defaultEndpoints[protocol]);
    url = protocol === 'grpc' ? base : `${base.replace(/\/+$/, '')}/v1/${signal.toLowerCase()}`;
  }
  return {
    url,
    protocol,
    headers: {
      ...reader.keyValues('OTEL_EXPORTER_OTLP_HEADERS'),
      ...reader.keyValues(`OTEL_EXPORTER_OTLP_${signal}_HEADERS`),
    },
    timeoutMillis: reader.integer(
      `OTEL_EXPORTER_OTLP_${signal}_TIMEOUT`,
      reader.integer('OTEL_EXPORTER_OTLP_TIMEOUT', 10_000, { min: 1 }),
      { min: 1 },
    ),
  };
}

export interface ServiceIdentity {
  serviceName: string;
  serviceVersion: string;
}

/** Reads and validates the whole environment contract; throws one TelemetryConfigError listing every problem. */
export function readTelemetryConfig(identity: ServiceIdentity, env: Env = process.env): TelemetryConfig {
  const reader = new EnvReader(env);
  const resourceAttributes = reader.keyValues('OTEL_RESOURCE_ATTRIBUTES');
  const serviceName =
    reader.raw('OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? identity.serviceName;
  const serviceVersion = resourceAttributes['service.version'] ?? identity.serviceVersion;
  delete resourceAttributes['service.name'];
  delete resourceAttributes['service.version'];

  const maxQueueSize = reader.integer('OTEL_BSP_MAX_QUEUE_SIZE', 2048, { min: 1 });
  const config: TelemetryConfig = {
    disabled: reader.boolean('OTEL_SDK_DISABLED', false),
    serviceName,
    serviceVersion,
    resourceAttributes,
    metricsExporters: reader.listOf('OTEL_METRICS_EXPORTER', metricsExporters, 'otlp'),
    tracesExporters: reader.listOf('OTEL_TRACES_EXPORTER', tracesExporters, 'otlp'),
    otlpTraces: otlpSignal(reader, 'TRACES'),
    otlpMetrics: otlpSignal(reader, 'METRICS'),
    prometheus: {
      host: reader.raw('OTEL_EXPORTER_PROMETHEUS_HOST') ?? '127.0.0.1',
      port: reader.integer('OTEL_EXPORTER_PROMETHEUS_PORT', 9464, { min: 1, max: 65_535 }),
    },
    metricExportIntervalMillis: reader.integer('OTEL_METRIC_EXPORT_INTERVAL', 60_000, { min: 100 }),
    metricExportTimeoutMillis: reader.integer('OTEL_METRIC_EXPORT_TIMEOUT', 30_000, { min: 1 }),
    sampler: reader.oneOf('OTEL_TRACES_SAMPLER', samplers, 'parentbased_always_on'),
    samplerRatio: 1,
    batchSpanProcessor: {
      scheduledDelayMillis: reader.integer('OTEL_BSP_SCHEDULE_DELAY', 5_000, { min: 1 }),
      exportTimeoutMillis: reader.integer('OTEL_BSP_EXPORT_TIMEOUT', 30_000, { min: 1 }),
      maxQueueSize,
      maxExportBatchSize: reader.integer('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', Math.min(512, maxQueueSize), {
        min: 1,
        max: maxQueueSize,
      }),
    },
    logLevel: reader.oneOf('LOG_LEVEL', logLevels, 'info'),
  };
  if (config.sampler.endsWith('traceidratio')) {
    config.samplerRatio = reader.ratio('OTEL_TRACES_SAMPLER_ARG', 1);
  }
  if (serviceName.trim() === '') {
    reader.problems.push('the service name is empty: set it in initTelemetry() or OTEL_SERVICE_NAME');
  }
  if (reader.problems.length > 0) throw new TelemetryConfigError(reader.problems);
  return config;
}
