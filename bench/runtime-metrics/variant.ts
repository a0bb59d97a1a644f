/**
 * One process of bench/runtime-metrics/run.ts: a MeterProvider with one reader, the runtime
 * metrics of one variant registered on it, then
 *   1. idle: nothing collected for `--idle` seconds; the process's CPU time and voluntary context
 *      switches (each one a wakeup of a thread that had gone to sleep) over that window;
 *   2. collections: `--collections` of them, 100 ms apart (enough for the event-loop delay monitors
 *      to take samples between two), each timed on its own: the collection, then its OTLP
 *      protobuf encoding, as a push exporter pays them;
 *   3. the series of the last collection, as OTLP data points and as Prometheus series.
 * It prints one JSON line.
 *   node --expose-gc bench/runtime-metrics/variant.ts --variant ours --idle 10 --collections 100
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { startRuntimeMetrics } from '../../libs/telemetry/src/runtime.ts';
import { median } from '../report.ts';

export const variants = [
  'none',
  'ours',
  'instrumentation-runtime-node',
  'instrumentation-runtime-node-20ms',
] as const;
export type Variant = (typeof variants)[number];

export interface VariantResult {
  variant: Variant;
  idleCpuMicrosPerSecond: number;
  idleWakeupsPerSecond: number;
  collectMicros: number;
  encodeMicros: number;
  metrics: number;
  dataPoints: number;
  prometheusSeries: number;
}

function register(variant: Variant, provider: MeterProvider): void {
  if (variant === 'ours') startRuntimeMetrics(provider.getMeter('bench-runtime-metrics'));
  if (variant === 'instrumentation-runtime-node') {
    // As its README sets it up: the defaults, which sample the event-loop delay every 10 ms.
    new RuntimeNodeInstrumentation().setMeterProvider(provider);
  }
  if (variant === 'instrumentation-runtime-node-20ms') {
    new RuntimeNodeInstrumentation({ monitoringPrecision: 20 }).setMeterProvider(provider);
  }
}

/** Prometheus series of one collection: a histogram point is its buckets (with +Inf), _sum and _count. */
function series(
  resourceMetrics: ResourceMetrics,
): Pick<VariantResult, 'metrics' | 'dataPoints' | 'prometheusSeries'> {
  const all = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
  let dataPoints = 0;
  let prometheusSeries = 0;
  for (const metric of all) {
    dataPoints += metric.dataPoints.length;
    if (metric.dataPointType === DataPointType.HISTOGRAM) {
      for (const point of metric.dataPoints)
        prometheusSeries += point.value.buckets.boundaries.length + 1 + 2;
    } else {
      prometheusSeries += metric.dataPoints.length;
    }
  }
  return { metrics: all.length, dataPoints, prometheusSeries };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      variant: { type: 'string' },
      idle: { type: 'string', default: '10' },
      collections: { type: 'string', default: '100' },
    },
  });
  const variant = variants.find((name) => name === values.variant);
  if (variant === undefined) throw new Error(`--variant: one of ${variants.join(', ')}`);
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  const provider = new MeterProvider({ readers: [reader] });
  register(variant, provider);

  // A collection and a garbage collection first, so that every variant has its GC series and
  // warm code before anything is measured.
  (globalThis as { gc?: () => void }).gc?.();
  await reader.collect();
  await sleep(1_000);

  const idleSeconds = Number(values.idle);
  const before = process.resourceUsage();
  await sleep(idleSeconds * 1000);
  const after = process.resourceUsage();
  const idleCpu = after.userCPUTime + after.systemCPUTime - before.userCPUTime - before.systemCPUTime;
  const wakeups = after.voluntaryContextSwitches - before.voluntaryContextSwitches;

  const collect: number[] = [];
  const encode: number[] = [];
  let last: ResourceMetrics | undefined;
  for (let i = 0; i < Number(values.collections); i += 1) {
    await sleep(100);
    const started = process.cpuUsage();
    const { resourceMetrics } = await reader.collect();
    const collected = process.cpuUsage(started);
    ProtobufMetricsSerializer.serializeRequest(resourceMetrics);
    const encoded = process.cpuUsage(started);
    collect.push(collected.user + collected.system);
    encode.push(encoded.user + encoded.system - collected.user - collected.system);
    last = resourceMetrics;
  }
  await provider.shutdown();

  const result: VariantResult = {
    variant,
    idleCpuMicrosPerSecond: idleCpu / idleSeconds,
    idleWakeupsPerSecond: wakeups / idleSeconds,
    collectMicros: median(collect),
    encodeMicros: median(encode),
    ...(last ? series(last) : { metrics: 0, dataPoints: 0, prometheusSeries: 0 }),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (import.meta.main) await main();
