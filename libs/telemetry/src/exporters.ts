/**
 * Exporters and readers for the destinations that the environment names: the only place that
 * knows which package implements which protocol.
 */
import { type ChannelCredentials, credentials, Metadata } from '@grpc/grpc-js';
import type { MeterProvider } from '@opentelemetry/api';
import { OTLPLogExporter as OtlpGrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as OtlpProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as OtlpGrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { CompressionAlgorithm, OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from '@opentelemetry/otlp-exporter-base/node-http';
import {
  convertLegacyOtlpGrpcOptions,
  createOtlpGrpcExportDelegate,
} from '@opentelemetry/otlp-grpc-exporter-base';
import {
  type IExportTraceServiceResponse,
  type ISerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
} from '@opentelemetry/otlp-transformer';
import {
  BatchLogRecordProcessor,
  ConsoleLogRecordExporter,
  type LogRecordExporter,
  type LogRecordProcessor,
  type ReadableLogRecord,
} from '@opentelemetry/sdk-logs';
import {
  ConsoleMetricExporter,
  type IMetricReader,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { OtlpSignalConfig, TelemetryConfig, TemporalityPreference } from './config.ts';
import type { Logger } from './logger.ts';
import { estimatedSize } from './logs.ts';
import {
  type BatchExporter,
  type ExportedSignal,
  RetryingExporter,
  type RetryingExporterOptions,
  type RetryingExporterStats,
} from './retry-exporter.ts';
import { createSpanEncoder } from './span-encoder.ts';

function grpcMetadata(headers: Record<string, string>): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return metadata;
}

/**
 * What both transports take from the signal's settings. Every field is given, so the SDK's
 * converters never fall back to reading `process.env` themselves: the environment that
 * initTelemetry() was handed is the only one that counts.
 */
function transportOptions(otlp: OtlpSignalConfig) {
  const compression = otlp.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE;
  const common = { url: otlp.url, timeoutMillis: otlp.timeoutMillis, compression };
  return {
    grpc: { ...common, metadata: grpcMetadata(otlp.headers), credentials: grpcCredentials(otlp) },
    http: { ...common, headers: otlp.headers, httpAgentOptions: { keepAlive: true, ...otlp.tls } },
  };
}

/** TLS for an https:// endpoint (with the CA and client certificate the environment names), plaintext for http://. */
function grpcCredentials(otlp: OtlpSignalConfig): ChannelCredentials {
  if (otlp.url.startsWith('http://')) return credentials.createInsecure();
  return credentials.createSsl(otlp.tls.ca ?? null, otlp.tls.key ?? null, otlp.tls.cert ?? null);
}

const temporalityPreference: Record<TemporalityPreference, AggregationTemporalityPreference> = {
  cumulative: AggregationTemporalityPreference.CUMULATIVE,
  delta: AggregationTemporalityPreference.DELTA,
  lowmemory: AggregationTemporalityPreference.LOWMEMORY,
};

function otlpMetricExporter(otlp: OtlpSignalConfig, temporality: TemporalityPreference): PushMetricExporter {
  // Cumulative by default: Prometheus' model, and a lost export is made good by the next one.
  const options = transportOptions(otlp);
  const preference = { temporalityPreference: temporalityPreference[temporality] };
  return otlp.protocol === 'grpc'
    ? new OtlpGrpcMetricExporter({ ...options.grpc, ...preference })
    : new OtlpProtoMetricExporter({ ...options.http, ...preference });
}

/**
 * The SDK's OTLP trace exporters (transport, TLS, headers, compression, timeouts), built the way
 * its own OTLPTraceExporter classes build them, with our encoder in place of its serializer:
 * the same bytes at a third of the CPU (span-encoder.ts).
 */
function otlpSpanExporter(otlp: OtlpSignalConfig, selfObservability: MeterProvider): SpanExporter {
  const encoder = createSpanEncoder();
  const serializer: ISerializer<ReadableSpan[], IExportTraceServiceResponse> = {
    serializeRequest: (spans) => encoder.encode(spans),
    deserializeResponse: (bytes) => ProtobufTraceSerializer.deserializeResponse(bytes),
  };
  const options = transportOptions(otlp);
  // The "legacy" converters are deprecated, yet they are what the SDK's own exporter classes call
  // in this (pinned) version, and the only exported way to fill in its defaults and TLS options.
  /* eslint-disable @typescript-eslint/no-deprecated */
  const delegate =
    otlp.protocol === 'grpc'
      ? createOtlpGrpcExportDelegate(
          convertLegacyOtlpGrpcOptions(options.grpc, 'TRACES'),
          serializer,
          'otlp_grpc_span_exporter',
          TraceExporterMetricsHelper,
          selfObservability,
          'TraceExportService',
          '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
        )
      : createOtlpHttpExportDelegate(
          convertLegacyHttpOptions(options.http, 'TRACES', 'v1/traces', {
            'Content-Type': 'application/x-protobuf',
          }),
          serializer,
          'otlp_http_span_exporter',
          TraceExporterMetricsHelper,
          selfObservability,
        );
  /* eslint-enable @typescript-eslint/no-deprecated */
  return new OTLPExporterBase<ReadableSpan[]>(delegate);
}

/** The SDK's OTLP log exporters as they are; their own metrics go to `selfObservability`. */
function otlpLogExporter(otlp: OtlpSignalConfig, selfObservability: MeterProvider): LogRecordExporter {
  const options = transportOptions(otlp);
  return otlp.protocol === 'grpc'
    ? new OtlpGrpcLogExporter({ ...options.grpc, selfObsMeterProvider: selfObservability })
    : new OtlpProtoLogExporter({ ...options.http, selfObsMeterProvider: selfObservability });
}

export function metricReaders(config: TelemetryConfig, logger: Logger): IMetricReader[] {
  const periodic = (exporter: PushMetricExporter) =>
    new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: config.metricExportIntervalMillis,
      exportTimeoutMillis: Math.min(config.metricExportTimeoutMillis, config.metricExportIntervalMillis),
    });
  return config.metricsExporters.flatMap((name): IMetricReader[] => {
    switch (name) {
      case 'otlp':
        return [periodic(otlpMetricExporter(config.otlpMetrics, config.metricsTemporality))];
      case 'console':
        return [periodic(new ConsoleMetricExporter())];
      case 'prometheus':
        return [
          new PrometheusExporter({ host: config.prometheus.host, port: config.prometheus.port }, (error) => {
            if (error) logger.error('cannot serve /metrics for Prometheus', { error, ...config.prometheus });
          }),
        ];
      case 'none':
        return [];
    }
  });
}

export interface ExportPipeline<Processor, Item> {
  processors: Processor[];
  /** Exporters that buffer and retry, for their statistics. */
  retrying: RetryingExporter<Item>[];
}

const droppedMetrics: Record<ExportedSignal, { name: string; unit: string; description: string }> = {
  span: {
    name: 'otel.sdk.processor.span.processed',
    unit: '{span}',
    description: 'Spans dropped by the retrying exporter, by the reason',
  },
  log: {
    name: 'otel.sdk.processor.log.processed',
    unit: '{log_record}',
    description: 'Log records dropped by the retrying exporter, by the reason',
  },
};

/**
 * What the retrying exporter dropped, beside what the batch processor drops with a full queue:
 * the same metric and `error.type` convention, so that one alert per signal
 * (TelemetrySpansDroppedInService, and its logs twin) covers every place an item can be lost
 * inside a service. `buffer_full` after a long outage (reported from start-up, at 0), or the
 * error type of an answer that no retry can change (`400`, `INVALID_ARGUMENT`, …).
 */
function observeDrops(
  exporter: { stats(): RetryingExporterStats },
  signal: ExportedSignal,
  index: number,
  selfObservability: MeterProvider,
): void {
  const component = {
    'otel.component.type': `retrying_${signal}_exporter`,
    'otel.component.name': `retrying_${signal}_exporter/${index}`,
  };
  const { name, ...metric } = droppedMetrics[signal];
  selfObservability
    .getMeter('@tradeobs/telemetry')
    .createObservableCounter(name, metric)
    .addCallback((result) => {
      const dropped = exporter.stats().droppedByErrorType;
      if (!dropped.has('buffer_full')) result.observe(0, { ...component, 'error.type': 'buffer_full' });
      for (const [errorType, items] of dropped)
        result.observe(items, { ...component, 'error.type': errorType });
    });
}

/**
 * The processors that the exporter names of one signal ask for: OTLP through the retrying
 * exporter (its drops observed), the console, or nothing; each behind the signal's batch
 * processor, whose own metrics count what it processed and what it dropped with a full queue.
 */
function exportPipeline<Processor, Item>(pipeline: {
  names: readonly ('otlp' | 'console' | 'none')[];
  // Required<…>: the log processor calls forceFlush unconditionally; the retrying exporter has it.
  batch: (exporter: Required<BatchExporter<Item>>) => Processor;
  otlp: () => BatchExporter<Item>;
  console: () => Required<BatchExporter<Item>>;
  retry: RetryingExporterOptions<Item>;
  selfObservability: MeterProvider;
}): ExportPipeline<Processor, Item> {
  const retrying: RetryingExporter<Item>[] = [];
  const processors = pipeline.names.flatMap((name): Processor[] => {
    switch (name) {
      case 'otlp': {
        const exporter = new RetryingExporter(pipeline.otlp(), pipeline.retry);
        observeDrops(exporter, pipeline.retry.signal, retrying.length, pipeline.selfObservability);
        retrying.push(exporter);
        return [pipeline.batch(exporter)];
      }
      case 'console':
        return [pipeline.batch(pipeline.console())];
      case 'none':
        return [];
    }
  });
  return { processors, retrying };
}

/**
 * `selfObservability` receives the processors' and exporters' own metrics: spans processed, and dropped with
 * `error.type=queue_full` when the queue overflows, which would otherwise be a log line only;
 * spans exported, in flight, and how long each export took.
 */
export function spanProcessors(
  config: TelemetryConfig,
  logger: Logger,
  selfObservability: MeterProvider,
): ExportPipeline<SpanProcessor, ReadableSpan> {
  return exportPipeline<SpanProcessor, ReadableSpan>({
    names: config.tracesExporters,
    batch: (exporter) =>
      new BatchSpanProcessor({
        exporter,
        ...config.batchSpanProcessor,
        selfObsMeterProvider: selfObservability,
      }),
    otlp: () => otlpSpanExporter(config.otlpTraces, selfObservability),
    console: () => new ConsoleSpanExporter(),
    retry: {
      signal: 'span',
      // Ten queues' worth: a minute or more of our services' traffic during a collector outage.
      maxBufferedItems: config.batchSpanProcessor.maxQueueSize * 10,
      warn: (message, fields) => logger.warn(message, { ...fields, endpoint: config.otlpTraces.url }),
    },
    selfObservability,
  });
}

/**
 * Log records as spans are sent: a batch processor with its bounded queue (OTEL_BLRP_*) in front
 * of the retrying exporter for OTLP. The processor alone would drop every batch exported while
 * the collector restarts. Console output is batched too, unlike the SDK's own setup from the
 * environment (a simple processor): then no record is written on the request's path either.
 */
export function logRecordProcessors(
  config: TelemetryConfig,
  logger: Logger,
  selfObservability: MeterProvider,
): ExportPipeline<LogRecordProcessor, ReadableLogRecord> {
  return exportPipeline<LogRecordProcessor, ReadableLogRecord>({
    names: config.logsExporters,
    batch: (exporter) =>
      new BatchLogRecordProcessor({
        exporter,
        ...config.batchLogRecordProcessor,
        selfObsMeterProvider: selfObservability,
      }),
    otlp: () => otlpLogExporter(config.otlpLogs, selfObservability),
    console: () => new ConsoleLogRecordExporter(),
    retry: {
      signal: 'log',
      maxBufferedItems: config.batchLogRecordProcessor.maxQueueSize * 10,
      // A record weighs from a hundred bytes to the body and attribute limits (16 KiB and
      // 128 × 4 KiB by default): 32 MiB are ten queues of records of 1.6 KiB, and a flood of
      // huge lines during an outage costs no more than that.
      maxBufferedBytes: 32 * 1024 * 1024,
      sizeOf: estimatedSize,
      warn: (message, fields) => logger.warn(message, { ...fields, endpoint: config.otlpLogs.url }),
    },
    selfObservability,
  });
}
