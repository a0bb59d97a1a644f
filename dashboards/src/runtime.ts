/**
 * Runtime: memory, CPU, event loop and garbage collection of each Node.js process, from the
 * library's runtime metrics (libs/telemetry/src/runtime.ts).
 *
 * Every series is per process (`job` and `instance`), never added up over a service's
 * instances: the memory of two workers is not one worker's memory, and after a restart the old
 * process's last sample stays within Prometheus' lookback for 5 minutes, which a sum would add
 * to the new one's.
 */
import { buildDashboard, type DashboardModel } from './dashboard.ts';
import { stat, timeseries } from './panels.ts';
import { quantile, serviceSelector, sumRate } from './promql.ts';

const selected = serviceSelector();
const process = ['job', 'instance'];
const byProcess = process.join(', ');
/** Instance ids are long: the service first, so the legend table sorts and reads by it. */
const processLegend = '{{job}} {{instance}}';

export function runtime(): DashboardModel {
  return buildDashboard({
    uid: 'runtime',
    title: 'Runtime',
    description: 'Memory, CPU, event loop and garbage collection of the Node.js services.',
    rows: [
      {
        title: 'Process',
        panels: [
          stat({
            title: 'Uptime',
            description:
              'Time since each process started. A restart is a new instance with a short uptime; the old one stays for up to 5 minutes with its last value.',
            unit: 'dtdurations',
            queries: [
              { expr: `max by (${byProcess}) (process_uptime_seconds${selected})`, legend: processLegend },
            ],
            width: 24,
          }),
          timeseries({
            title: 'CPU',
            description: 'CPU time per second of wall time, user and system: 100% is one core.',
            unit: 'percentunit',
            queries: [
              {
                expr: sumRate('process_cpu_time_seconds_total', selected, [...process, 'cpu_mode']),
                legend: `${processLegend} {{cpu_mode}}`,
              },
            ],
            stacked: true,
          }),
          timeseries({
            title: 'Resident memory',
            description: 'Resident set size of each process.',
            unit: 'bytes',
            queries: [
              {
                expr: `max by (${byProcess}) (process_memory_usage_bytes${selected})`,
                legend: processLegend,
              },
            ],
          }),
        ],
      },
      {
        title: 'Event loop',
        panels: [
          timeseries({
            title: 'Event loop utilisation',
            description:
              'Share of time the event loop was busy: near 100%, requests queue behind each other.',
            unit: 'percentunit',
            queries: [
              {
                expr: `max by (${byProcess}) (nodejs_eventloop_utilization_ratio${selected})`,
                legend: processLegend,
              },
            ],
            thresholds: [
              [null, 'green'],
              [0.7, 'yellow'],
              [0.9, 'red'],
            ],
            min: 0,
            max: 1,
            width: 8,
          }),
          timeseries({
            title: 'Event loop delay',
            description:
              'Time between two ticks of a timer that the runtime arms every 20 ms, since the previous ' +
              'export: an idle loop reads 20 ms; what is above that, callbacks waited behind the ones running.',
            unit: 's',
            queries: [
              {
                expr: `max by (${byProcess}) (nodejs_eventloop_delay_p50_seconds${selected})`,
                legend: `${processLegend} p50`,
              },
              {
                expr: `max by (${byProcess}) (nodejs_eventloop_delay_p99_seconds${selected})`,
                legend: `${processLegend} p99`,
              },
              {
                expr: `max by (${byProcess}) (nodejs_eventloop_delay_max_seconds${selected})`,
                legend: `${processLegend} max`,
              },
            ],
            thresholds: [
              [null, 'green'],
              [0.05, 'yellow'],
              [0.2, 'red'],
            ],
            width: 8,
          }),
          timeseries({
            title: 'Active resources',
            description:
              'What keeps the event loop alive, by type: TCPWrap is an open TCP connection, Timeout a timer. ' +
              'A count that only grows is a leak of handles.',
            unit: 'short',
            queries: [
              {
                expr: `sum by (${byProcess}, v8js_resource_type) (v8js_resource_active${selected})`,
                legend: `${processLegend} {{v8js_resource_type}}`,
              },
            ],
            top: { count: 10, by: 'value' },
            width: 8,
          }),
        ],
      },
      {
        title: 'V8 heap and garbage collection',
        panels: [
          timeseries({
            title: 'Heap used',
            description:
              'V8 heap in use, over all spaces, against what V8 has reserved for them and what of that is ' +
              'committed in memory.',
            unit: 'bytes',
            queries: [
              // Summed over the heap spaces of each process, which are parts of its heap.
              {
                expr: `sum by (${byProcess}) (v8js_memory_heap_used_bytes${selected})`,
                legend: `${processLegend} used`,
              },
              {
                expr: `sum by (${byProcess}) (v8js_memory_heap_space_size_bytes${selected})`,
                legend: `${processLegend} size`,
              },
              {
                expr: `sum by (${byProcess}) (v8js_memory_heap_space_physical_size_bytes${selected})`,
                legend: `${processLegend} committed`,
              },
            ],
          }),
          timeseries({
            title: 'Heap used of its size, by space',
            description:
              'How full each heap space is: V8 collects garbage in a space that fills, then grows it. Old ' +
              'space near 100% with a size that keeps growing is a leak. (The conventions have no heap ' +
              'limit metric since v8js.memory.heap.limit became the per-space size.)',
            unit: 'percentunit',
            queries: [
              {
                expr:
                  `max by (${byProcess}, v8js_heap_space_name) (v8js_memory_heap_used_bytes${selected})` +
                  ` / (max by (${byProcess}, v8js_heap_space_name) (v8js_memory_heap_space_size_bytes${selected}) > 0)`,
                legend: `${processLegend} {{v8js_heap_space_name}}`,
              },
            ],
            top: { count: 10, by: 'value' },
            min: 0,
            max: 1,
          }),
          timeseries({
            title: 'Time in garbage collection',
            description:
              'Share of wall time each process spent in GC pauses, all kinds of collection together (Collections has them by kind). ' +
              'Not stacked: the shares of different processes do not add up to anything.',
            unit: 'percentunit',
            queries: [
              {
                expr: sumRate('v8js_gc_duration_seconds_sum', selected, process),
                legend: processLegend,
              },
            ],
            width: 8,
          }),
          timeseries({
            title: 'GC pauses',
            description: '99th percentile of a garbage-collection pause.',
            unit: 's',
            queries: [
              {
                expr: quantile(0.99, 'v8js_gc_duration_seconds', selected, process),
                legend: `${processLegend} p99`,
              },
            ],
            thresholds: [
              [null, 'green'],
              [0.05, 'yellow'],
              [0.1, 'red'],
            ],
            width: 8,
          }),
          timeseries({
            title: 'Collections',
            description: 'Garbage collections per second, by kind.',
            unit: 'ops',
            queries: [
              {
                expr: sumRate('v8js_gc_duration_seconds_count', selected, [...process, 'v8js_gc_type']),
                legend: `${processLegend} {{v8js_gc_type}}`,
              },
            ],
            width: 8,
          }),
        ],
      },
    ],
  });
}
