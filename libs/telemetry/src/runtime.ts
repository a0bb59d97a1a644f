/**
 * Process, V8 and Node.js runtime metrics, registered at start-up so that a service shows up in
 * Prometheus before its first request, not only once it is busy. Names, instrument types, units
 * and attributes are those of the OpenTelemetry semantic conventions (docs/runtime/v8js-metrics.md,
 * docs/runtime/nodejs-metrics.md, docs/system/process-metrics.md); test/runtime.test.ts checks
 * them against @opentelemetry/semantic-conventions, which stays a development dependency.
 *
 * Our own code rather than @opentelemetry/instrumentation-runtime-node (0.37.0), measured side by
 * side on the same kind of MeterProvider (bench/runtime-metrics/run.ts, docs/benchmarks.md,
 * 2 × AMD EPYC): a collection costs both the SDK's ~14 µs a data point (994 µs for our 73 points,
 * 894 µs for its 65: 1.11×, the difference being the process metrics it does not have); idle, its
 * event-loop delay monitor (10 ms by default) wakes the process 97 times a second to our 49 and
 * costs 8.3 ms of CPU a second to our 4.5 ms (0.54×). And it cannot match the conventions: it
 * creates v8js.memory.heap.used, .space.available_size and .space.physical_size as gauges where
 * the conventions have up-down counters (an instrument's type is fixed when it is created; no
 * view changes it), and it has no process metrics. The observable instruments share one batch
 * callback; GC pauses come from one performance observer.
 */
import {
  constants,
  type EventLoopUtilization,
  monitorEventLoopDelay,
  PerformanceObserver,
  performance,
} from 'node:perf_hooks';
import { getHeapSpaceStatistics, type HeapSpaceInfo } from 'node:v8';
import { type Attributes, type Meter, type ObservableUpDownCounter, ValueType } from '@opentelemetry/api';

/** The kinds of `gc` performance entries, by the names `v8js.gc.type` gives them. */
const gcTypes: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/**
 * The conventions' advised boundaries for `v8js.gc.duration` (those of
 * @opentelemetry/instrumentation-runtime-node); they replace ours (1 ms to 1 s, 7 boundaries).
 */
const gcDurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

type SpaceSize = Exclude<keyof HeapSpaceInfo, 'space_name'>;

/**
 * The per-space heap metrics, each from one field of `v8.getHeapSpaceStatistics()`, every space
 * with its `v8js.heap.space.name` (13 spaces on Node 24). `v8js.memory.heap.used` was the whole
 * heap without that attribute. `v8js.memory.heap.limit` (`heap_size_limit`) is gone: the
 * conventions renamed it to `v8js.memory.heap.space.size` and have no limit metric any more.
 */
const heapSpaceMetrics = [
  { name: 'v8js.memory.heap.used', field: 'space_used_size', description: 'Heap Memory size allocated.' },
  {
    name: 'v8js.memory.heap.space.size',
    field: 'space_size',
    description: 'Total heap memory size pre-allocated for a heap space.',
  },
  {
    name: 'v8js.memory.heap.space.available_size',
    field: 'space_available_size',
    description: 'Heap space available size.',
  },
  {
    name: 'v8js.memory.heap.space.physical_size',
    field: 'physical_space_size',
    description: 'Committed size of a heap space.',
  },
] as const satisfies readonly { name: string; field: SpaceSize; description: string }[];

/**
 * How often the event-loop delay monitor samples, in ms. Node records the time between two of
 * its ticks, so an idle loop reads this much (the dashboards' thresholds, 50 and 200 ms, allow for
 * it), and each tick is a wakeup: about 90 µs of CPU on the machine above, 4.5 ms a second.
 */
const delayResolutionMs = 20;

/**
 * Node's names for resources that the conventions name otherwise, where one of their well-known
 * values applies and so must be used: Node 24 calls an open TCP connection `TCPSocketWrap`. Every
 * other type keeps Node's name (`TCPServerWrap`, `Timeout`, `Immediate`, `TTYWrap` are theirs too).
 */
const resourceTypeNames: Record<string, string> = { TCPSocketWrap: 'TCPWrap' };

const user: Attributes = { 'cpu.mode': 'user' };
const system: Attributes = { 'cpu.mode': 'system' };
const voluntary: Attributes = { 'process.context_switch.type': 'voluntary' };
const involuntary: Attributes = { 'process.context_switch.type': 'involuntary' };
const majorFault: Attributes = { 'system.paging.fault.type': 'major' };
const minorFault: Attributes = { 'system.paging.fault.type': 'minor' };
const active: Attributes = { 'nodejs.eventloop.state': 'active' };
const idle: Attributes = { 'nodejs.eventloop.state': 'idle' };

/** Starts collecting; the returned function stops the event-loop and GC observers. */
export function startRuntimeMetrics(meter: Meter): () => void {
  // Process: one getrusage(2) call gives CPU time, page faults and context switches. Of the
  // conventions' other process metrics, memory.virtual, thread.count and
  // unix.file_descriptor.count need /proc reads, and disk.io and network.io have no Node source.
  const uptime = meter.createObservableGauge('process.uptime', {
    unit: 's',
    description: 'The time the process has been running.',
  });
  const cpuTime = meter.createObservableCounter('process.cpu.time', {
    unit: 's',
    description: 'Total CPU seconds broken down by different CPU modes.',
  });
  const memory = meter.createObservableUpDownCounter('process.memory.usage', {
    unit: 'By',
    description: 'The amount of physical memory in use.',
    valueType: ValueType.INT,
  });
  const contextSwitches = meter.createObservableCounter('process.context_switches', {
    unit: '{context_switch}',
    description: 'Number of times the process has been context switched.',
    valueType: ValueType.INT,
  });
  const pageFaults = meter.createObservableCounter('process.paging.faults', {
    unit: '{fault}',
    description: 'Number of page faults the process has made.',
    valueType: ValueType.INT,
  });

  // V8.
  const heap = heapSpaceMetrics.map(({ name, field, description }): [SpaceSize, ObservableUpDownCounter] => [
    field,
    meter.createObservableUpDownCounter(name, { unit: 'By', description, valueType: ValueType.INT }),
  ]);
  const resources = meter.createObservableGauge('v8js.resource.active', {
    unit: '{resource}',
    description: 'Gauge of the active resources that are currently keeping the event loop alive.',
    valueType: ValueType.INT,
  });
  const gcDuration = meter.createHistogram('v8js.gc.duration', {
    unit: 's',
    description: 'Garbage collection duration.',
    advice: { explicitBucketBoundaries: gcDurationBuckets },
  });

  // Node.js event loop.
  const loopUtilization = meter.createObservableGauge('nodejs.eventloop.utilization', {
    unit: '1',
    description: 'Event loop utilization.',
  });
  const loopTime = meter.createObservableCounter('nodejs.eventloop.time', {
    unit: 's',
    description: 'Cumulative duration of time the event loop has been in each state.',
  });
  const delayGauge = (statistic: string, description: string) =>
    meter.createObservableGauge(`nodejs.eventloop.delay.${statistic}`, { unit: 's', description });
  const delay = {
    min: delayGauge('min', 'Event loop minimum delay.'),
    max: delayGauge('max', 'Event loop maximum delay.'),
    mean: delayGauge('mean', 'Event loop mean delay.'),
    stddev: delayGauge('stddev', 'Event loop standard deviation delay.'),
    p50: delayGauge('p50', 'Event loop 50 percentile delay.'),
    p90: delayGauge('p90', 'Event loop 90 percentile delay.'),
    p99: delayGauge('p99', 'Event loop 99 percentile delay.'),
  };

  const delayHistogram = monitorEventLoopDelay({ resolution: delayResolutionMs });
  delayHistogram.enable();
  let lastUtilization: EventLoopUtilization = performance.eventLoopUtilization();
  // A resource type that was active once reports 0 when none is left, instead of its last count.
  const resourceTypes = new Set<string>();

  meter.addBatchObservableCallback(
    (result) => {
      result.observe(uptime, process.uptime());
      const usage = process.resourceUsage();
      result.observe(cpuTime, usage.userCPUTime / 1e6, user);
      result.observe(cpuTime, usage.systemCPUTime / 1e6, system);
      result.observe(contextSwitches, usage.voluntaryContextSwitches, voluntary);
      result.observe(contextSwitches, usage.involuntaryContextSwitches, involuntary);
      result.observe(pageFaults, usage.majorPageFault, majorFault);
      result.observe(pageFaults, usage.minorPageFault, minorFault);
      result.observe(memory, process.memoryUsage.rss());

      for (const space of getHeapSpaceStatistics()) {
        const attributes = { 'v8js.heap.space.name': space.space_name };
        for (const [field, instrument] of heap) result.observe(instrument, space[field], attributes);
      }
      const counts = new Map<string, number>();
      for (const info of process.getActiveResourcesInfo()) {
        const type = resourceTypeNames[info] ?? info;
        counts.set(type, (counts.get(type) ?? 0) + 1);
        resourceTypes.add(type);
      }
      for (const type of resourceTypes) {
        result.observe(resources, counts.get(type) ?? 0, { 'v8js.resource.type': type });
      }

      // Utilization since the previous collection; time in each state since the loop started.
      const now = performance.eventLoopUtilization();
      result.observe(loopUtilization, performance.eventLoopUtilization(now, lastUtilization).utilization);
      lastUtilization = now;
      result.observe(loopTime, now.active / 1000, active);
      result.observe(loopTime, now.idle / 1000, idle);
      // Delay statistics since the previous collection; the histogram reports nanoseconds and has
      // no statistics before its first sample, one resolution after start.
      if (delayHistogram.count > 0) {
        result.observe(delay.min, delayHistogram.min / 1e9);
        result.observe(delay.max, delayHistogram.max / 1e9);
        result.observe(delay.mean, delayHistogram.mean / 1e9);
        result.observe(delay.stddev, delayHistogram.stddev / 1e9);
        result.observe(delay.p50, delayHistogram.percentile(50) / 1e9);
        result.observe(delay.p90, delayHistogram.percentile(90) / 1e9);
        result.observe(delay.p99, delayHistogram.percentile(99) / 1e9);
      }
      delayHistogram.reset();
    },
    [
      uptime,
      cpuTime,
      memory,
      contextSwitches,
      pageFaults,
      ...heap.map(([, instrument]) => instrument),
      resources,
      loopUtilization,
      loopTime,
      ...Object.values(delay),
    ],
  );

  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind ?? -1;
      // Node 24 reports only the four kinds the conventions name (V8's minor mark-sweep, behind
      // --minor-ms, has no Node constant); a custom value, as the conventions allow, for any other.
      gcDuration.record(entry.duration / 1000, { 'v8js.gc.type': gcTypes[kind] ?? 'other' });
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });

  return () => {
    delayHistogram.disable();
    gcObserver.disconnect();
  };
}
