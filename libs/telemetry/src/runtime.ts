/**
 * Process and Node.js runtime metrics, registered at start-up so that a service shows up in
 * Prometheus before its first request, not only once it is busy. Names follow the
 * OpenTelemetry semantic conventions for process, V8 and Node.js metrics.
 */
import {
  constants,
  type EventLoopUtilization,
  monitorEventLoopDelay,
  PerformanceObserver,
  performance,
} from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { Meter } from '@opentelemetry/api';

const gcTypes: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** Starts collecting; the returned function stops the event-loop and GC observers. */
export function startRuntimeMetrics(meter: Meter): () => void {
  const uptime = meter.createObservableGauge('process.uptime', {
    unit: 's',
    description: 'Time since the process started',
  });
  const cpuTime = meter.createObservableCounter('process.cpu.time', {
    unit: 's',
    description: 'CPU time used by the process',
  });
  const memory = meter.createObservableGauge('process.memory.usage', {
    unit: 'By',
    description: 'Resident set size of the process',
  });
  const heapUsed = meter.createObservableGauge('v8js.memory.heap.used', {
    unit: 'By',
    description: 'V8 heap in use',
  });
  const heapLimit = meter.createObservableGauge('v8js.memory.heap.limit', {
    unit: 'By',
    description: 'V8 heap size limit',
  });
  const loopUtilization = meter.createObservableGauge('nodejs.eventloop.utilization', {
    unit: '1',
    description: 'Fraction of time the event loop was busy since the last collection',
  });
  const delay = {
    p50: meter.createObservableGauge('nodejs.eventloop.delay.p50', {
      unit: 's',
      description: 'Event loop delay, median',
    }),
    p99: meter.createObservableGauge('nodejs.eventloop.delay.p99', {
      unit: 's',
      description: 'Event loop delay, 99th percentile',
    }),
    max: meter.createObservableGauge('nodejs.eventloop.delay.max', {
      unit: 's',
      description: 'Event loop delay, maximum',
    }),
  };
  const gcDuration = meter.createHistogram('v8js.gc.duration', {
    unit: 's',
    description: 'Garbage collection pauses',
    advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1] },
  });

  const histogram = monitorEventLoopDelay({ resolution: 20 });
  histogram.enable();
  let lastUtilization: EventLoopUtilization = performance.eventLoopUtilization();

  meter.addBatchObservableCallback(
    (result) => {
      result.observe(uptime, process.uptime());
      const cpu = process.cpuUsage();
      result.observe(cpuTime, cpu.user / 1e6, { 'cpu.mode': 'user' });
      result.observe(cpuTime, cpu.system / 1e6, { 'cpu.mode': 'system' });
      result.observe(memory, process.memoryUsage.rss());
      const heap = getHeapStatistics();
      result.observe(heapUsed, heap.used_heap_size);
      result.observe(heapLimit, heap.heap_size_limit);
      const now = performance.eventLoopUtilization();
      result.observe(loopUtilization, performance.eventLoopUtilization(now, lastUtilization).utilization);
      lastUtilization = now;
      // Percentiles since the previous collection; the histogram reports nanoseconds.
      if (histogram.count > 0) {
        result.observe(delay.p50, histogram.percentile(50) / 1e9);
        result.observe(delay.p99, histogram.percentile(99) / 1e9);
        result.observe(delay.max, histogram.max / 1e9);
      }
      histogram.reset();
    },
    [uptime, cpuTime, memory, heapUsed, heapLimit, loopUtilization, delay.p50, delay.p99, delay.max],
  );

  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? -1;
      gcDuration.record(entry.duration / 1000, { 'v8js.gc.type': gcTypes[kind] ?? 'other' });
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });

  return () => {
    histogram.disable();
    gcObserver.disconnect();
  };
}
