/**
 * Exporters and readers for the destinations that the environment names: the only place that
 * knows which package implements which protocol.
 */
import { Metadata } from '@grpc/grpc-js';
import type { MeterProvider } from '@opentelemetry/api';
import { OTLPMetricExporter as OtlpGrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as OtlpProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter as OtlpGrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OtlpProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
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
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import type { OtlpSignalConfig, TelemetryConfig } from './config.ts';
import type { Logger } from './logger.ts';
import { RetryingSpanExporter } from './retry-exporter.ts';

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

function otlpSpanExporter(otlp: OtlpSignalConfig): SpanExporter {
  const common = { url: otlp.url, timeoutMillis: otlp.timeoutMillis };
  return otlp.protocol === 'grpc'
    ? new OtlpGrpcTraceExporter({ ...common, metadata: grpcMetadata(otlp.headers) })
    : new OtlpProtoTraceExporter({ ...common, headers: otlp.headers });
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
 * `selfObservability` receives the processors' own metrics: spans processed, and dropped with
 * `error.type=queue_full` when the queue overflows, which would otherwise be a log line only.
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
        const exporter = new RetryingSpanExporter(otlpSpanExporter(config.otlpTraces), {
          // Ten queues' worth: a minute or more of our services' traffic during a collector outage.
          maxBufferedSpans: config.batchSpanProcessor.maxQueueSize * 10,
          warn: (message, fields) => logger.warn(message, { ...fields, endpoint: config.otlpTraces.url }),
        });
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
