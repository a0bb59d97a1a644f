/**
 * In-memory telemetry for tests: the library wired to exporters that a test can read. Services
 * use it to assert the spans, metrics, log lines and log records their code produces.
 */
import { type Attributes, context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemoryLogRecordExporter,
  type ReadableLogRecord,
  SimpleLogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import {
  AggregationTemporality,
  type DataPoint,
  InMemoryMetricExporter,
  type MetricData,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { type Catalog, initTelemetry, type NoCatalog, type Telemetry } from './telemetry.ts';

export interface TestTelemetry<C extends Catalog = NoCatalog> {
  telemetry: Telemetry<C>;
  spans: InMemorySpanExporter;
  /** The JSON lines the logger wrote, parsed. */
  logs: Record<string, unknown>[];
  /** The log records emitted so far, as the exporters get them (with resource and trace context). */
  logRecords: () => ReadableLogRecord[];
  /** Data points of one metric, collected now, from every scope that records it. */
  points: (name: string) => Promise<DataPoint<unknown>[]>;
  metricNames: () => Promise<string[]>;
  /** Every metric collected now, with its descriptor, kind and points. */
  metrics: () => Promise<MetricData[]>;
}

let contextManager: AsyncLocalStorageContextManager | undefined;

/**
 * The library with in-memory exporters only: what a unit test inspects. Nothing global is
 * registered but an AsyncLocalStorage context manager (once per process), without which no span
 * would be active inside another; settings are read strictly, so a typo in a test fails it.
 */
export function testTelemetry<C extends Catalog = NoCatalog>(
  env: Record<string, string> = {},
  catalog?: C,
): TestTelemetry<C> {
  if (contextManager === undefined) {
    contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
  }
  const spans = new InMemorySpanExporter();
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  const logs: Record<string, unknown>[] = [];
  // Simple, not batched: each record is there as soon as it is emitted.
  const logRecords = new InMemoryLogRecordExporter();
  const telemetry = initTelemetry<C>({
    serviceName: 'unit-test',
    ...(catalog ? { catalog } : {}),
    strict: true,
    serviceVersion: '0.0.1',
    env: {
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      ...env,
    },
    metricReaders: [reader],
    spanProcessors: [new SimpleSpanProcessor({ exporter: spans })],
    logRecordProcessors: [new SimpleLogRecordProcessor({ exporter: logRecords })],
    registerGlobal: false,
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
    logRecords: () => logRecords.getFinishedLogRecords(),
    points: async (name) =>
      (await collectAll())
        .filter((m) => m.descriptor.name === name)
        .flatMap((m): DataPoint<unknown>[] => m.dataPoints),
    metricNames: async () => (await collectAll()).map((m) => m.descriptor.name),
    metrics: collectAll,
  };
}

export function attributesOf(points: DataPoint<unknown>[]): Attributes[] {
  return points.map((p) => p.attributes);
}
