/**
 * Exporters and readers for the destinations that the environment names: the only place that
 * knows which package implements which protocol.
 */
import { Metadata } from '@grpc/grpc-js';
import type { MeterProvider } from '@opentelemetry/api';
import { OTLPMetricExporter as OtlpGrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as OtlpProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
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
  AggregationTemporality,
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
import type { OtlpSignalConfig, TelemetryConfig } from './config.ts';
import type { Logger } from './logger.ts';
import { RetryingSpanExporter } from './retry-exporter.ts';
import { createSpanEncoder } from './span-encoder.ts';

function grpcMetadata(headers: Record<string, string>): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return metadata;
}

function otlpMetricExporter(otlp: OtlpSignalConfig): PushMetricExporter {
  // Cumulative: Prometheus' model, and a lost export is made good by the next one.
  const common = {
    url: otlp.url,
    timeoutMillis: otlp.timeoutMillis,
    temporalityPreference: AggregationTemporality.CUMULATIVE,
  };
  return otlp.protocol === 'grpc'
    ? new OtlpGrpcMetricExporter({ ...common, metadata: grpcMetadata(otlp.headers) })
    : new OtlpProtoMetricExporter({ ...common, headers: otlp.headers });
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
  const common = { url: otlp.url, timeoutMillis: otlp.timeoutMillis };
  // The "legacy" converters are deprecated, yet they are what the SDK's own exporter classes call
  // in this (pinned) version, and the only exported way to fill in its defaults and TLS options.
  /* eslint-disable @typescript-eslint/no-deprecated */
  const delegate =
    otlp.protocol === 'grpc'
      ? createOtlpGrpcExportDelegate(
          convertLegacyOtlpGrpcOptions({ ...common, metadata: grpcMetadata(otlp.headers) }, 'TRACES'),
          serializer,
          'otlp_grpc_span_exporter',
          TraceExporterMetricsHelper,
          selfObservability,
          'TraceExportService',
          '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
        )
      : createOtlpHttpExportDelegate(
          convertLegacyHttpOptions({ ...common, headers: otlp.headers }, 'TRACES', 'v1/traces', {
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
        return [periodic(otlpMetricExporter(config.otlpMetrics))];
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

export interface SpanPipeline {
  processors: SpanProcessor[];
  /** Span exporters that buffer and retry, for their statistics. */
  retrying: RetryingSpanExporter[];
}

/**
 * Spans the retrying exporter dropped after a long outage, beside those the batch processor
 * drops with a full queue: the same metric and `error.type` convention, so that one alert
 * (TelemetrySpansDroppedInService) covers every place a span can be lost inside a service.
 */
function observeDrops(exporter: RetryingSpanExporter, index: number, selfObservability: MeterProvider): void {
  const attributes = {
    'otel.component.type': 'retrying_span_exporter',
    'otel.component.name': `retrying_span_exporter/${index}`,
    'error.type': 'buffer_full',
  };
  selfObservability
    .getMeter('@tradeobs/telemetry')
    .createObservableCounter('otel.sdk.processor.span.processed', {
      unit: '{span}',
      description: 'Spans dropped by the retrying exporter when its buffer was full',
    })
    .addCallback((result) => result.observe(exporter.stats().droppedSpans, attributes));
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
): SpanPipeline {
  const retrying: RetryingSpanExporter[] = [];
  const batch = (exporter: SpanExporter) =>
    new BatchSpanProcessor({
      exporter,
      ...config.batchSpanProcessor,
      selfObsMeterProvider: selfObservability,
    });
  const processors = config.tracesExporters.flatMap((name): SpanProcessor[] => {
    switch (name) {
      case 'otlp': {
        const exporter = new RetryingSpanExporter(otlpSpanExporter(config.otlpTraces, selfObservability), {
          // Ten queues' worth: a minute or more of our services' traffic during a collector outage.
          maxBufferedSpans: config.batchSpanProcessor.maxQueueSize * 10,
          warn: (message, fields) => logger.warn(message, { ...fields, endpoint: config.otlpTraces.url }),
        });
        observeDrops(exporter, retrying.length, selfObservability);
        retrying.push(exporter);
        return [batch(exporter)];
      }
      case 'console':
        return [batch(new ConsoleSpanExporter())];
      case 'none':
        return [];
    }
  });
  return { processors, retrying };
}
