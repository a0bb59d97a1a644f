/**
 * Runtime: memory, CPU, event loop and garbage collection of each Node.js service, from the
 * library's runtime metrics (libs/telemetry/src/runtime.ts).
 */
import { buildDashboard, type DashboardModel } from './dashboard.ts';
import { stat, timeseries } from './panels.ts';
import { quantile, serviceSelector, sumRate } from './promql.ts';

const selected = serviceSelector();

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
            description: 'Time since each service process started; a drop is a restart.',
            unit: 'dtdurations',
            queries: [{ expr: 'max by (job) (process_uptime_seconds{job=~"$service"})', legend: '{{job}}' }],
            width: 24,
          }),
          timeseries({
            title: 'CPU',
            description: 'CPU time per second of wall time, user and system: 100% is one core.',
            unit: 'percentunit',
            queries: [
              {
                expr: sumRate('process_cpu_time_seconds_total', selected, ['job', 'cpu_mode']),
                legend: '{{job}} {{cpu_mode}}',
              },
            ],
            stacked: true,
          }),
          timeseries({
            title: 'Resident memory',
            description: 'Resident set size of each service.',
            unit: 'bytes',
            queries: [
              { expr: 'sum by (job) (process_memory_usage_bytes{job=~"$service"})', legend: '{{job}}' },
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
                expr: 'max by (job) (nodejs_eventloop_utilization_ratio{job=~"$service"})',
                legend: '{{job}}',
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
                expr: 'max by (job) (nodejs_eventloop_delay_p50_seconds{job=~"$service"})',
                legend: '{{job}} p50',
              },
              {
                expr: 'max by (job) (nodejs_eventloop_delay_p99_seconds{job=~"$service"})',
                legend: '{{job}} p99',
              },
              {
                expr: 'max by (job) (nodejs_eventloop_delay_max_seconds{job=~"$service"})',
                legend: '{{job}} max',
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
                expr: 'sum by (job, v8js_resource_type) (v8js_resource_active{job=~"$service"})',
                legend: '{{job}} {{v8js_resource_type}}',
              },
            ],
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
              { expr: 'sum by (job) (v8js_memory_heap_used_bytes{job=~"$service"})', legend: '{{job}} used' },
              {
                expr: 'sum by (job) (v8js_memory_heap_space_size_bytes{job=~"$service"})',
                legend: '{{job}} size',
              },
              {
                expr: 'sum by (job) (v8js_memory_heap_space_physical_size_bytes{job=~"$service"})',
                legend: '{{job}} committed',
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
                  'sum by (job, v8js_heap_space_name) (v8js_memory_heap_used_bytes{job=~"$service"})' +
                  ' / (sum by (job, v8js_heap_space_name) (v8js_memory_heap_space_size_bytes{job=~"$service"}) > 0)',
                legend: '{{job}} {{v8js_heap_space_name}}',
              },
            ],
            min: 0,
            max: 1,
          }),
          timeseries({
            title: 'Time in garbage collection',
            description: 'Share of wall time spent in GC pauses, by kind of collection.',
            unit: 'percentunit',
            queries: [
              {
                expr: sumRate('v8js_gc_duration_seconds_sum', selected, ['job', 'v8js_gc_type']),
                legend: '{{job}} {{v8js_gc_type}}',
              },
            ],
            stacked: true,
            width: 8,
          }),
          timeseries({
            title: 'GC pauses',
            description: '99th percentile of a garbage-collection pause.',
            unit: 's',
            queries: [
              { expr: quantile(0.99, 'v8js_gc_duration_seconds', selected, ['job']), legend: '{{job}} p99' },
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
                expr: sumRate('v8js_gc_duration_seconds_count', selected, ['job', 'v8js_gc_type']),
                legend: '{{job}} {{v8js_gc_type}}',
              },
            ],
            width: 8,
          }),
        ],
      },
    ],
  });
}
