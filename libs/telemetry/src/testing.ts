/**
 * In-memory telemetry for tests: the library wired to exporters that a test can read. Services
 * use it to assert the spans, metrics and log lines their code produces.
 */
import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  type DataPoint,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { initTelemetry, type Telemetry } from './telemetry.ts';

export interface TestTelemetry {
  telemetry: Telemetry;
  spans: InMemorySpanExporter;
  logs: Record<string, unknown>[];
  /** Data points of one metric, collected now, from every scope that records it. */
  points: (name: string) => Promise<DataPoint<unknown>[]>;
  metricNames: () => Promise<string[]>;
}

/** The library with in-memory exporters only: what a unit test inspects. */
export function testTelemetry(env: Record<string, string> = {}): TestTelemetry {
  const spans = new InMemorySpanExporter();
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  const logs: Record<string, unknown>[] = [];
  const telemetry = initTelemetry({
    serviceName: 'unit-test',
    serviceVersion: '0.0.1',
    env: { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none', ...env },
    metricReaders: [reader],
    spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
    registerGlobal: false,
    handleSignals: false,
    logWrite: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
  });
  const collectAll = async () => {
    const { resourceMetrics } = await reader.collect();
    return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
  };
  return {
    telemetry,
    spans,
    logs,
    points: async (name) =>
      (await collectAll())
        .filter((m) => m.descriptor.name === name)
        .flatMap((m): DataPoint<unknown>[] => m.dataPoints),
    metricNames: async () => (await collectAll()).map((m) => m.descriptor.name),
  };
}

export function attributesOf(points: DataPoint<unknown>[]): Attributes[] {
  return points.map((p) => p.attributes);
}
