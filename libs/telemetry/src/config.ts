/**
 * The environment contract, read in one place. The OpenTelemetry SDK's manual providers read
 * few of the standard variables, so this module reads them all, applies the defaults of the
 * specification (and ours, where the table in README.md says so) and validates every value.
 *
 * The specification says an SDK MUST warn about a value it does not understand and go on with
 * the default (a platform may inject a variable that we do not know, and telemetry must not take
 * the service down), so every problem becomes one warning that names the variable, the value, the
 * values allowed and the default used. In strict mode (the `strict` option or
 * TELEMETRY_CONFIG_STRICT=true) the same problems stop start-up instead, all listed at once: a typo
 * then fails a test rather than going unnoticed in production.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const metricsExporters = ['otlp', 'prometheus', 'console', 'none'] as const;
export const tracesExporters = ['otlp', 'console', 'none'] as const;
export const logsExporters = ['otlp', 'console', 'none'] as const;
export const otlpProtocols = ['grpc', 'http/protobuf'] as const;
export const samplers = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
/** The propagators that the OpenTelemetry JS packages this library depends on provide. */
export const propagators = ['tracecontext', 'baggage', 'b3', 'b3multi', 'none'] as const;
export const temporalityPreferences = ['cumulative', 'delta', 'lowmemory'] as const;
export const compressions = ['gzip', 'none'] as const;
export const logLevels = ['debug', 'info', 'warn', 'error'] as const;
/** OTEL_LOG_LEVEL: the levels of the OpenTelemetry API's diagnostic logger. */
export const diagLogLevels = ['none', 'error', 'warn', 'info', 'debug', 'verbose', 'all'] as const;

export type MetricsExporterName = (typeof metricsExporters)[number];
export type TracesExporterName = (typeof tracesExporters)[number];
export type LogsExporterName = (typeof logsExporters)[number];
export type OtlpProtocol = (typeof otlpProtocols)[number];
export type SamplerName = (typeof samplers)[number];
export type PropagatorName = (typeof propagators)[number];
export type TemporalityPreference = (typeof temporalityPreferences)[number];
export type Compression = (typeof compressions)[number];
export type LogLevel = (typeof logLevels)[number];
export type DiagLogLevelName = (typeof diagLogLevels)[number];

/** Client TLS material, read from the files the variables name. */
export interface OtlpTls {
  /** OTEL_EXPORTER_OTLP_CERTIFICATE: the CA that signs the collector's certificate. */
  ca?: Buffer;
  /** OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and _CLIENT_KEY, for mutual TLS; both or neither. */
  cert?: Buffer;
  key?: Buffer;
}

export interface OtlpSignalConfig {
  /**
   * Full URL with its scheme. For http/protobuf it includes the signal path (/v1/traces,
   * /v1/metrics, /v1/logs); for gRPC, `http://` means plaintext and `https://` TLS.
   */
  url: string;
  protocol: OtlpProtocol;
  headers: Record<string, string>;
  timeoutMillis: number;
  compression: Compression;
  tls: OtlpTls;
}

/** OTEL_BSP_* for spans, OTEL_BLRP_* for log records: the same four settings. */
export interface BatchProcessorConfig {
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
  maxQueueSize: number;
  maxExportBatchSize: number;
}

export interface SpanLimits {
  attributeValueLengthLimit: number;
  attributeCountLimit: number;
  eventCountLimit: number;
  linkCountLimit: number;
  attributePerEventCountLimit: number;
  attributePerLinkCountLimit: number;
}

export interface LogRecordLimits {
  attributeValueLengthLimit: number;
  attributeCountLimit: number;
  /** Characters of a string body; longer ones are cut (TELEMETRY_LOG_BODY_LENGTH_LIMIT, ours). */
  bodyLengthLimit: number;
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
  logsExporters: LogsExporterName[];
  otlpTraces: OtlpSignalConfig;
  otlpMetrics: OtlpSignalConfig;
  otlpLogs: OtlpSignalConfig;
  metricsTemporality: TemporalityPreference;
  prometheus: { host: string; port: number };
  metricExportIntervalMillis: number;
  metricExportTimeoutMillis: number;
  sampler: SamplerName;
  samplerRatio: number;
  /** In the order given; empty for `none`. */
  propagators: Exclude<PropagatorName, 'none'>[];
  /** Limits of attributes anywhere (OTEL_ATTRIBUTE_*), refined for spans by OTEL_SPAN_*. */
  spanLimits: SpanLimits;
  /** The same general limits, refined for log records by OTEL_LOGRECORD_*, and the body's length. */
  logRecordLimits: LogRecordLimits;
  batchSpanProcessor: BatchProcessorConfig;
  batchLogRecordProcessor: BatchProcessorConfig;
  /** LOG_LEVEL: this library's logger. */
  logLevel: LogLevel;
  /** TELEMETRY_LOG_STDOUT (ours): the logger writes its JSON line on standard output too. */
  logStdout: boolean;
  /** OTEL_LOG_LEVEL: the OpenTelemetry diagnostic logger, when it is registered. */
  diagLogLevel: DiagLogLevelName;
  /** Values that were not understood, each with the default used instead (never in strict mode). */
  warnings: string[];
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

const show = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value));

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

  /** One problem: the variable, its value, what is allowed, and what is used instead. */
  problem(name: string, value: string, allowed: string, fallback: unknown): void {
    const problem = `${name}=${JSON.stringify(value)}: ${allowed}; using ${show(fallback)}`;
    // Variables shared by both signals are read twice; they are one problem.
    if (!this.problems.includes(problem)) this.problems.push(problem);
  }

  /** The first variable of `names` that is set, so that a per-signal one wins over the general one. */
  first(names: readonly string[]): string | undefined {
    return names.find((name) => this.raw(name) !== undefined);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const lower = value.toLowerCase();
    if ((allowed as readonly string[]).includes(lower)) return lower as T;
    this.problem(name, value, `allowed values are ${allowed.join(', ')}`, fallback);
    return fallback;
  }

  /**
   * A comma-separated list. Unknown items are left out with a warning and the rest is used, as
   * the specification asks of OTEL_PROPAGATORS and the exporter lists; `none` stands alone.
   */
  listOf<T extends string>(name: string, allowed: readonly T[], fallback: readonly T[]): T[] {
    const value = this.raw(name);
    if (value === undefined) return [...fallback];
    const items = value
      .split(',')
      .map((item) => item.trim().toLowerCase())
      .filter((item) => item !== '');
    const known = items.filter((item): item is T => (allowed as readonly string[]).includes(item));
    const unknown = items.filter((item) => !(allowed as readonly string[]).includes(item));
    const allowedText = `allowed values are ${allowed.join(', ')}, comma-separated`;
    if (known.includes('none' as T) && known.length > 1) {
      this.problem(name, value, `"none" cannot be combined with other values (${allowedText})`, fallback);
      return [...fallback];
    }
    if (unknown.length > 0) {
      const used = known.length > 0 ? known : fallback;
      this.problem(name, value, `${unknown.join(', ')} not known (${allowedText})`, used.join(','));
      return [...new Set(used)];
    }
    return [...new Set(known)];
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const lower = value.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    this.problem(name, value, 'allowed values are true, false', fallback);
    return fallback;
  }

  integer(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (Number.isInteger(parsed) && parsed >= min && parsed <= max) return parsed;
    this.problem(name, value, `expected an integer from ${min} to ${max}`, fallback);
    return fallback;
  }

  ratio(name: string, fallback: number): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (Number.isFinite(parsed) && parsed >= 0 && parsed <= 1) return parsed;
    this.problem(name, value, 'expected a number from 0 to 1', fallback);
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
        this.problem(name, pair, 'expected key=value', 'the other pairs');
        continue;
      }
      try {
        result[key] = decodeURIComponent(pair.slice(separator + 1).trim());
      } catch {
        this.problem(name, pair, `the value of ${key} is not valid percent-encoding`, 'the other pairs');
      }
    }
    return result;
  }

  /** The contents of the file a variable names, or undefined (with a warning) if it cannot be read. */
  file(name: string | undefined): Buffer | undefined {
    const path = name === undefined ? undefined : this.raw(name);
    if (name === undefined || path === undefined) return undefined;
    try {
      return readFileSync(resolve(path));
    } catch (error) {
      const reason = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
      this.problem(name, path, `expected a readable file (${reason})`, 'none');
      return undefined;
    }
  }
}

// 127.0.0.1 rather than the specification's localhost: Node resolves localhost to ::1 first,
// where a collector bound to IPv4 loopback does not listen.
const defaultEndpoints: Record<OtlpProtocol, string> = {
  grpc: 'http://127.0.0.1:4317',
  'http/protobuf': 'http://127.0.0.1:4318',
};

/** Spec default of the count limits. */
const defaultCountLimit = 128;
/**
 * The specification sets no default length limit. Ours bounds what one attribute can cost: a
 * request header or an error message of megabytes would otherwise be kept in memory with its
 * span until export, and sent (most backends truncate far below: Datadog at 5,000 characters).
 */
const defaultValueLengthLimit = 4096;
/**
 * The specification has no limit on a log record's body. Ours makes a record's size bounded
 * (body, plus the attribute limits): a message of megabytes, logged in a loop, would otherwise be
 * held in the batch processor's queue and the retry buffer, 2,048 records and more of it. 16 Ki
 * characters keep any message a person writes whole; an Error's stack is not in the body but in
 * `exception.stacktrace`, under the attribute limit.
 */
const defaultBodyLengthLimit = 16_384;

/** The signals that OTLP exports, as the variables name them. */
type OtlpSignal = 'TRACES' | 'METRICS' | 'LOGS';

/** The variables of a setting, the per-signal one first. */
const signalNames = (signal: OtlpSignal, setting: string) => [
  `OTEL_EXPORTER_OTLP_${signal}_${setting}`,
  `OTEL_EXPORTER_OTLP_${setting}`,
];

function otlpEndpoint(reader: EnvReader, signal: OtlpSignal, protocol: OtlpProtocol): string {
  const specific = `OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`;
  const name = reader.first([specific, 'OTEL_EXPORTER_OTLP_ENDPOINT']);
  const value = name === undefined ? undefined : reader.raw(name);
  const fallback =
    protocol === 'grpc' ? defaultEndpoints.grpc : `${defaultEndpoints[protocol]}/v1/${signal.toLowerCase()}`;
  if (name === undefined || value === undefined) return fallback;

  if (protocol === 'grpc' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    // gRPC endpoints may come without a scheme (`collector:4317`); then OTEL_EXPORTER_OTLP_INSECURE
    // decides between plaintext and TLS, TLS by default, as the specification says.
    const insecure = reader.boolean(
      reader.first(signalNames(signal, 'INSECURE')) ?? 'OTEL_EXPORTER_OTLP_INSECURE',
      false,
    );
    try {
      const url = new URL(`${insecure ? 'http' : 'https'}://${value}`);
      return url.origin;
    } catch {
      reader.problem(name, value, 'expected host:port or an http:// or https:// URL', fallback);
      return fallback;
    }
  }
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
  } catch {
    reader.problem(name, value, 'expected an http:// or https:// URL', fallback);
    return fallback;
  }
  // A per-signal endpoint is used as given, path included; the general one gets the signal's path.
  if (name === specific || protocol === 'grpc') return value;
  return `${value.replace(/\/+$/, '')}/v1/${signal.toLowerCase()}`;
}

function otlpTls(reader: EnvReader, signal: OtlpSignal): OtlpTls {
  const ca = reader.file(reader.first(signalNames(signal, 'CERTIFICATE')));
  const certName = reader.first(signalNames(signal, 'CLIENT_CERTIFICATE'));
  const keyName = reader.first(signalNames(signal, 'CLIENT_KEY'));
  const cert = reader.file(certName);
  const key = reader.file(keyName);
  const tls: OtlpTls = {};
  if (ca) tls.ca = ca;
  if (cert && key) {
    tls.cert = cert;
    tls.key = key;
  } else if (cert || key) {
    const given = (certName ?? keyName) as string;
    reader.problem(
      given,
      reader.raw(given) ?? '',
      'a client certificate needs its key and the key its certificate (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and _CLIENT_KEY)',
      'no client certificate',
    );
  }
  return tls;
}

function otlpSignal(reader: EnvReader, signal: OtlpSignal): OtlpSignalConfig {
  const protocol = reader.oneOf(
    `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`,
    otlpProtocols,
    reader.oneOf('OTEL_EXPORTER_OTLP_PROTOCOL', otlpProtocols, 'grpc'),
  );
  const timeoutName = reader.first(signalNames(signal, 'TIMEOUT')) ?? 'OTEL_EXPORTER_OTLP_TIMEOUT';
  const compressionName =
    reader.first(signalNames(signal, 'COMPRESSION')) ?? 'OTEL_EXPORTER_OTLP_COMPRESSION';
  return {
    url: otlpEndpoint(reader, signal, protocol),
    protocol,
    headers: {
      ...reader.keyValues('OTEL_EXPORTER_OTLP_HEADERS'),
      ...reader.keyValues(`OTEL_EXPORTER_OTLP_${signal}_HEADERS`),
    },
    timeoutMillis: reader.integer(timeoutName, 10_000, { min: 1 }),
    compression: reader.oneOf(compressionName, compressions, 'none'),
    tls: otlpTls(reader, signal),
  };
}

interface AttributeLimits {
  attributeCountLimit: number;
  attributeValueLengthLimit: number;
}

/** Counts may be 0 (none kept). */
const countLimit = (reader: EnvReader, name: string, fallback: number) => reader.integer(name, fallback);
/** A length of 0 is refused by the SDK, which then keeps no limit at all. */
const lengthLimit = (reader: EnvReader, name: string, fallback: number) =>
  reader.integer(name, fallback, { min: 1 });

/** OTEL_ATTRIBUTE_*: the limits of attributes anywhere, the defaults of the per-signal ones. */
function generalLimits(reader: EnvReader): AttributeLimits {
  return {
    attributeCountLimit: countLimit(reader, 'OTEL_ATTRIBUTE_COUNT_LIMIT', defaultCountLimit),
    attributeValueLengthLimit: lengthLimit(
      reader,
      'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
      defaultValueLengthLimit,
    ),
  };
}

function spanLimits(reader: EnvReader, general: AttributeLimits): SpanLimits {
  return {
    attributeCountLimit: countLimit(reader, 'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', general.attributeCountLimit),
    attributeValueLengthLimit: lengthLimit(
      reader,
      'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
      general.attributeValueLengthLimit,
    ),
    eventCountLimit: countLimit(reader, 'OTEL_SPAN_EVENT_COUNT_LIMIT', defaultCountLimit),
    linkCountLimit: countLimit(reader, 'OTEL_SPAN_LINK_COUNT_LIMIT', defaultCountLimit),
    attributePerEventCountLimit: countLimit(reader, 'OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT', defaultCountLimit),
    attributePerLinkCountLimit: countLimit(reader, 'OTEL_LINK_ATTRIBUTE_COUNT_LIMIT', defaultCountLimit),
  };
}

function logRecordLimits(reader: EnvReader, general: AttributeLimits): LogRecordLimits {
  return {
    attributeCountLimit: countLimit(
      reader,
      'OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT',
      general.attributeCountLimit,
    ),
    attributeValueLengthLimit: lengthLimit(
      reader,
      'OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT',
      general.attributeValueLengthLimit,
    ),
    bodyLengthLimit: lengthLimit(reader, 'TELEMETRY_LOG_BODY_LENGTH_LIMIT', defaultBodyLengthLimit),
  };
}

/**
 * OTEL_BSP_* or OTEL_BLRP_*: the specification gives both processors the same defaults but the
 * delay (5 s for spans, 1 s for log records); the batch is at most the queue.
 */
function batchProcessor(
  reader: EnvReader,
  prefix: 'OTEL_BSP' | 'OTEL_BLRP',
  scheduledDelayMillis: number,
): BatchProcessorConfig {
  const maxQueueSize = reader.integer(`${prefix}_MAX_QUEUE_SIZE`, 2048, { min: 1 });
  return {
    scheduledDelayMillis: reader.integer(`${prefix}_SCHEDULE_DELAY`, scheduledDelayMillis, { min: 1 }),
    exportTimeoutMillis: reader.integer(`${prefix}_EXPORT_TIMEOUT`, 30_000, { min: 1 }),
    maxQueueSize,
    maxExportBatchSize: reader.integer(`${prefix}_MAX_EXPORT_BATCH_SIZE`, Math.min(512, maxQueueSize), {
      min: 1,
      max: maxQueueSize,
    }),
  };
}

export interface ServiceIdentity {
  serviceName: string;
  serviceVersion: string;
}

export interface ReadConfigOptions {
  /** Stop at the first wrong value instead of warning; also TELEMETRY_CONFIG_STRICT=true. */
  strict?: boolean | undefined;
  /** Write log lines on standard output (default true); TELEMETRY_LOG_STDOUT overrides it. */
  logStdout?: boolean | undefined;
}

/**
 * Reads and validates the whole environment contract. Problems become `warnings` with the
 * defaults used; in strict mode one TelemetryConfigError lists them all instead.
 */
export function readTelemetryConfig(
  identity: ServiceIdentity,
  env: Env = process.env,
  options: ReadConfigOptions = {},
): TelemetryConfig {
  const reader = new EnvReader(env);
  const strict = reader.boolean('TELEMETRY_CONFIG_STRICT', options.strict ?? false);
  const resourceAttributes = reader.keyValues('OTEL_RESOURCE_ATTRIBUTES');
  const serviceName =
    reader.raw('OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'] ?? identity.serviceName;
  const serviceVersion = resourceAttributes['service.version'] ?? identity.serviceVersion;
  delete resourceAttributes['service.name'];
  delete resourceAttributes['service.version'];

  const sampler = reader.oneOf('OTEL_TRACES_SAMPLER', samplers, 'parentbased_always_on');
  const propagatorNames = reader.listOf('OTEL_PROPAGATORS', propagators, ['tracecontext', 'baggage']);
  const limits = generalLimits(reader);
  const config: TelemetryConfig = {
    disabled: reader.boolean('OTEL_SDK_DISABLED', false),
    serviceName,
    serviceVersion,
    resourceAttributes,
    metricsExporters: reader.listOf('OTEL_METRICS_EXPORTER', metricsExporters, ['otlp']),
    tracesExporters: reader.listOf('OTEL_TRACES_EXPORTER', tracesExporters, ['otlp']),
    logsExporters: reader.listOf('OTEL_LOGS_EXPORTER', logsExporters, ['otlp']),
    otlpTraces: otlpSignal(reader, 'TRACES'),
    otlpMetrics: otlpSignal(reader, 'METRICS'),
    otlpLogs: otlpSignal(reader, 'LOGS'),
    metricsTemporality: reader.oneOf(
      'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
      temporalityPreferences,
      'cumulative',
    ),
    prometheus: {
      host: reader.raw('OTEL_EXPORTER_PROMETHEUS_HOST') ?? '127.0.0.1',
      port: reader.integer('OTEL_EXPORTER_PROMETHEUS_PORT', 9464, { min: 1, max: 65_535 }),
    },
    metricExportIntervalMillis: reader.integer('OTEL_METRIC_EXPORT_INTERVAL', 60_000, { min: 100 }),
    metricExportTimeoutMillis: reader.integer('OTEL_METRIC_EXPORT_TIMEOUT', 30_000, { min: 1 }),
    sampler,
    samplerRatio: sampler.endsWith('traceidratio') ? reader.ratio('OTEL_TRACES_SAMPLER_ARG', 1) : 1,
    propagators: propagatorNames.filter((name) => name !== 'none'),
    spanLimits: spanLimits(reader, limits),
    logRecordLimits: logRecordLimits(reader, limits),
    batchSpanProcessor: batchProcessor(reader, 'OTEL_BSP', 5_000),
    batchLogRecordProcessor: batchProcessor(reader, 'OTEL_BLRP', 1_000),
    logLevel: reader.oneOf('LOG_LEVEL', logLevels, 'info'),
    logStdout: reader.boolean('TELEMETRY_LOG_STDOUT', options.logStdout ?? true),
    diagLogLevel: reader.oneOf('OTEL_LOG_LEVEL', diagLogLevels, 'info'),
    warnings: reader.problems,
  };
  if (serviceName.trim() === '') {
    // No default would mean anything here: the service could not be told from any other.
    throw new TelemetryConfigError([
      'the service name is empty: set it in initTelemetry() or OTEL_SERVICE_NAME',
    ]);
  }
  if (strict && reader.problems.length > 0) throw new TelemetryConfigError(reader.problems);
  return config;
}
