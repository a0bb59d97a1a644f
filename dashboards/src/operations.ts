/**
 * Operations (seed 002): request duration, request rate, status codes and service health, with
 * the SLOs next to them: their remaining error budget and burn rates. HTTP metrics are the
 * library's semantic-convention ones.
 */
import { buildDashboard, type DashboardModel } from './dashboard.ts';
import { logs, pieChart, type SizedPanel, stat, timeseries } from './panels.ts';
import { failureRatio, jobSelector, quantile, serviceSelector, sumRate } from './promql.ts';

const requests = 'http_server_request_duration_seconds_count';
const duration = 'http_server_request_duration_seconds';
const all = serviceSelector();
const failed = serviceSelector('http_response_status_code=~"5.."');

/** 0.25 s is the api latency objective's threshold (infra/prometheus/rules/slo.yml). */
const latencySteps = [
  [null, 'green'],
  [0.25, 'yellow'],
  [1, 'red'],
] as const;
/** The SLO recording rules have no instance label (they sum the instances), only job and slo. */
const sloSelected = jobSelector();

/** The SLOs of infra/prometheus/rules/slo.yml, with what their budget counts. */
const slos = [
  { slo: 'api-availability', objective: '99.5% of requests to api answer without a 5xx status' },
  { slo: 'api-latency', objective: '99% of requests to api complete within 250 ms' },
  {
    slo: 'signal-to-execution-latency',
    objective: '99% of signals are executed within 1 s of being generated (worker)',
  },
] as const;

/**
 * What is left of an SLO's 30-day error budget, if the last 3 days are what the 30 days hold.
 * The longest window the rules record is 3 days (slo:sli_error:ratio_rate3d), and no query can
 * see 30: Prometheus keeps 15 days (--storage.tsdb.retention.time=15d, infra/runner), and a
 * rate over [30d] of the raw counters, at every step of the graph, would read 15 days of samples
 * to say less than its window promises. So the panel states its window instead.
 */
function budgetRemaining({ slo, objective }: (typeof slos)[number]): SizedPanel {
  return stat({
    title: `Budget remaining: ${slo}`,
    description:
      `Objective: ${objective}. Share of the 30-day error budget left if the error ratio of the last ` +
      '3 days held for all 30: 1 − (error ratio over 3 days ÷ error budget). The window is 3 days, ' +
      'the longest the recording rules keep (slo:sli_error:ratio_rate3d), not 30: Prometheus keeps ' +
      '15 days of data. On a stack younger than 3 days the window is its age. Below 0, the budget ' +
      'is spent at this rate. Not filtered by the service and instance variables: the SLO counts ' +
      'every instance of its service.',
    unit: 'percentunit',
    queries: [
      {
        expr: `1 - (slo:sli_error:ratio_rate3d{slo="${slo}"} / on (slo) group_left () slo:error_budget:ratio)`,
        legend: '{{slo}}',
      },
    ],
    thresholds: [
      [null, 'red'],
      [0, 'yellow'],
      [0.25, 'green'],
    ],
    width: 8,
  });
}

/** 5% is HighErrorRate's threshold. */
const errorSteps = [
  [null, 'green'],
  [0.01, 'yellow'],
  [0.05, 'red'],
] as const;

export function operations(): DashboardModel {
  return buildDashboard({
    uid: 'operations',
    title: 'Operations',
    description: 'Health, request rate, latency and status codes of every service; SLO burn rates.',
    rows: [
      {
        title: 'Service health',
        panels: [
          stat({
            title: 'Service health',
            description:
              'UP: the service sent metrics in the last minute. DOWN: it did in the last hour, not since (ServiceDown).',
            unit: 'none',
            queries: [
              {
                expr:
                  `max by (job) (max_over_time(process_uptime_seconds${all}[1m])) > bool 0` +
                  ` or max by (job) (max_over_time(process_uptime_seconds${all}[1h])) * 0`,
                legend: '{{job}}',
              },
            ],
            valueText: { '1': ['UP', 'green'], '0': ['DOWN', 'red'] },
            thresholds: [
              [null, 'red'],
              [1, 'green'],
            ],
            width: 12,
          }),
          stat({
            title: 'Request rate',
            description: 'HTTP requests per second, all selected services and instances.',
            unit: 'reqps',
            queries: [{ expr: sumRate(requests, all), legend: 'requests' }],
            width: 4,
          }),
          stat({
            title: '5xx ratio',
            description: 'Share of requests answered with a 5xx status.',
            unit: 'percentunit',
            queries: [
              { expr: failureRatio(sumRate(requests, failed), sumRate(requests, all)), legend: '5xx' },
            ],
            thresholds: errorSteps,
            width: 4,
          }),
          stat({
            title: 'Latency p95',
            description: '95th percentile of HTTP request duration.',
            unit: 's',
            queries: [{ expr: quantile(0.95, duration, all), legend: 'p95' }],
            thresholds: latencySteps,
            width: 4,
          }),
        ],
      },
      {
        title: 'HTTP',
        panels: [
          timeseries({
            title: 'Request rate by service',
            description: 'HTTP requests per second.',
            unit: 'reqps',
            queries: [{ expr: sumRate(requests, all, ['job']), legend: '{{job}}' }],
            seriesTraces: { service: '${__field.labels.job}' },
          }),
          timeseries({
            title: 'Request duration',
            description: '95th percentile and mean of HTTP request duration by service.',
            unit: 's',
            queries: [
              { expr: quantile(0.95, duration, all, ['job']), legend: '{{job}} p95' },
              {
                expr: `${sumRate(`${duration}_sum`, all, ['job'])} / ${sumRate(requests, all, ['job'])}`,
                legend: '{{job}} mean',
              },
            ],
            thresholds: latencySteps,
            seriesTraces: { service: '${__field.labels.job}' },
          }),
          pieChart({
            title: 'Status codes',
            description: 'Requests per second by HTTP status code.',
            unit: 'reqps',
            queries: [
              {
                expr: sumRate(requests, all, ['http_response_status_code']),
                legend: '{{http_response_status_code}}',
              },
            ],
          }),
          timeseries({
            title: '5xx ratio by service',
            description:
              'Share of requests answered with a 5xx status; HighErrorRate fires above 5% for 2 minutes.',
            unit: 'percentunit',
            queries: [
              {
                expr: failureRatio(sumRate(requests, failed, ['job']), sumRate(requests, all, ['job'])),
                legend: '{{job}}',
              },
            ],
            thresholds: errorSteps,
            seriesTraces: { service: '${__field.labels.job}' },
            width: 18,
          }),
          timeseries({
            title: 'Requests by route',
            description: 'Requests per second by service, route and method.',
            top: { count: 10, by: 'value' },
            unit: 'reqps',
            queries: [
              {
                expr: sumRate(requests, all, ['job', 'http_request_method', 'http_route']),
                legend: '{{job}} {{http_request_method}} {{http_route}}',
              },
            ],
            seriesTraces: {
              service: '${__field.labels.job}',
              operation: '${__field.labels.http_request_method} ${__field.labels.http_route:percentencode}',
            },
          }),
          timeseries({
            title: 'Requests in flight',
            description: 'Requests being served, over the selected instances of each service.',
            unit: 'short',
            queries: [{ expr: `sum by (job) (http_server_active_requests${all})`, legend: '{{job}}' }],
          }),
        ],
      },
      {
        title: 'Logs',
        panels: [
          logs({
            title: 'Log records',
            description:
              'What the selected services logged, newest first, from VictoriaLogs: open a record for its ' +
              'fields, and its trace_id for the trace in Jaeger.',
            query: '_stream:{service.name=~"$service"}',
          }),
        ],
      },
      {
        title: 'Service level objectives',
        panels: [
          ...slos.map(budgetRemaining),
          timeseries({
            title: 'Error budget burn rate, 1 h',
            description:
              'How many times faster than sustainable each SLO spends its 30-day error budget. ' +
              'The fast-burn alert pages at 14.4 (with the 5-minute rate), or 6 over 6 hours.',
            unit: 'suffix:×',
            queries: [
              {
                expr: `slo:sli_error:ratio_rate1h${sloSelected} / on (slo) group_left () slo:error_budget:ratio`,
                legend: '{{slo}}',
              },
            ],
            thresholds: [
              [null, 'green'],
              [6, 'yellow'],
              [14.4, 'red'],
            ],
          }),
          timeseries({
            title: 'SLI error ratio, 5 min',
            description:
              'Share of bad events per SLO: 5xx answers, requests over 250 ms, signals executed after 1 s.',
            unit: 'percentunit',
            queries: [{ expr: `slo:sli_error:ratio_rate5m${sloSelected}`, legend: '{{slo}}' }],
          }),
        ],
      },
    ],
  });
}
