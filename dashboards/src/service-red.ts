/**
 * Service RED: rate, errors and duration of every operation, from the collector's span
 * metrics (collector/config/profiles/local.yaml). Their duration histograms carry trace ids as
 * exemplars, so a point on a latency graph opens the trace that produced it.
 */
import { buildDashboard, type DashboardModel } from './dashboard.ts';
import type { TraceSearch } from './traces.ts';
import { timeseries } from './panels.ts';
import { failureRatio, quantile, sumRate } from './promql.ts';

const calls = 'traces_span_metrics_calls_total';
const duration = 'traces_span_metrics_duration_seconds';
const byOperation = ['service_name', 'span_name'];
const operationTraces: TraceSearch = {
  service: '${__field.labels.service_name}',
  operation: '${__field.labels.span_name:percentencode}',
};
const errorSteps = [
  [null, 'green'],
  [0.01, 'yellow'],
  [0.05, 'red'],
] as const;

/**
 * Span metrics name the service `service_name`; the variable's values are the same names. They
 * keep the `instance` of the process that made the spans, as the process's own metrics do.
 */
function spans(kinds: string, ...matchers: readonly string[]): string {
  return `{${['service_name=~"$service"', 'instance=~"$instance"', `span_kind=~"${kinds}"`, ...matchers].join(', ')}}`;
}

/** Operations grow with routes and subjects: each graph draws the ten largest. */
const topOperations = { count: 10, by: 'value' } as const;

function redRow(title: string, kinds: string, what: string) {
  const all = spans(kinds);
  const failed = spans(kinds, 'status_code="STATUS_CODE_ERROR"');
  return {
    title,
    panels: [
      timeseries({
        title: 'Rate',
        description: `${what} per second, by service and operation.`,
        unit: 'ops',
        queries: [{ expr: sumRate(calls, all, byOperation), legend: '{{service_name}} {{span_name}}' }],
        seriesTraces: operationTraces,
        top: topOperations,
        width: 8,
      }),
      timeseries({
        title: 'Errors',
        description: `Share of ${what.toLowerCase()} whose span status is error.`,
        unit: 'percentunit',
        queries: [
          {
            expr: failureRatio(sumRate(calls, failed, byOperation), sumRate(calls, all, byOperation)),
            legend: '{{service_name}} {{span_name}}',
          },
        ],
        thresholds: errorSteps,
        seriesTraces: operationTraces,
        top: topOperations,
        width: 8,
      }),
      timeseries({
        title: 'Duration',
        description: `95th percentile duration of ${what.toLowerCase()}; the dots are exemplars, each a trace.`,
        unit: 's',
        queries: [
          {
            expr: quantile(0.95, duration, all, byOperation),
            legend: 'p95 {{service_name}} {{span_name}}',
            exemplars: true,
          },
        ],
        seriesTraces: operationTraces,
        top: topOperations,
        width: 8,
      }),
    ],
  };
}

export function serviceRed(): DashboardModel {
  return buildDashboard({
    uid: 'service-red',
    title: 'Service RED',
    description:
      'Rate, errors and duration per operation from span metrics, with exemplars linking to traces.',
    rows: [
      redRow(
        'Incoming: requests and messages handled',
        'SPAN_KIND_SERVER|SPAN_KIND_CONSUMER',
        'Requests and messages',
      ),
      redRow('Outgoing: calls and messages sent', 'SPAN_KIND_CLIENT|SPAN_KIND_PRODUCER', 'Calls and sends'),
      {
        title: 'Latency distribution',
        panels: [
          timeseries({
            title: 'Duration percentiles by service',
            description: 'p50, p95 and p99 of incoming requests and messages, with exemplars.',
            unit: 's',
            queries: [0.5, 0.95, 0.99].map((q) => ({
              expr: quantile(q, duration, spans('SPAN_KIND_SERVER|SPAN_KIND_CONSUMER'), ['service_name']),
              legend: `p${Math.round(q * 100)} {{service_name}}`,
              exemplars: true,
            })),
            seriesTraces: { service: '${__field.labels.service_name}' },
            width: 24,
          }),
        ],
      },
    ],
  });
}
