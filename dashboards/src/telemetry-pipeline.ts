/**
 * Telemetry Pipeline: the collector (accepted, refused, sent, failed, queues), Prometheus'
 * remote-write ingestion, Jaeger's and VictoriaLogs' ingestion, and which services are sending. Prometheus
 * scrapes these components itself (infra/prometheus/prometheus.yml); the collector's own
 * counters carry no `_total` suffix, and Jaeger, a collector too, has the same names.
 */
import { buildDashboard, type DashboardModel } from './dashboard.ts';
import { stat, timeseries } from './panels.ts';
import { orZero, serviceSelector, sumRate } from './promql.ts';

const collector = '{job="otel-collector"}';
const jaegerJob = '{job="jaeger"}';
const prometheusWrites = '{job="prometheus", handler="/api/v1/write"}';
const prometheusSelf = '{job="prometheus"}';
const victoriaLogsJob = '{job="victorialogs"}';

type Signal = 'spans' | 'metric_points' | 'log_records';

/** Received and refused items of one signal, by receiver. */
function received(selector: string, signal: Signal) {
  const accepted = sumRate(`otelcol_receiver_accepted_${signal}`, selector, ['receiver']);
  return [
    { expr: accepted, legend: 'accepted ({{receiver}})' },
    {
      expr: orZero(sumRate(`otelcol_receiver_refused_${signal}`, selector, ['receiver']), accepted),
      legend: 'refused ({{receiver}})',
    },
  ];
}

/** Sent, failed and dropped (queue full) items of one signal, by exporter. */
function exported(selector: string, signal: Signal) {
  const sent = sumRate(`otelcol_exporter_sent_${signal}`, selector, ['exporter']);
  return [
    { expr: sent, legend: 'sent ({{exporter}})' },
    {
      expr: orZero(sumRate(`otelcol_exporter_send_failed_${signal}`, selector, ['exporter']), sent),
      legend: 'failed ({{exporter}})',
    },
    {
      expr: orZero(sumRate(`otelcol_exporter_enqueue_failed_${signal}`, selector, ['exporter']), sent),
      legend: 'dropped, queue full ({{exporter}})',
    },
  ];
}

/**
 * The first hop, inside each service: what its batch processor handed on, and what was dropped
 * there (a full processor queue, or an exporter whose retry buffer overflowed in a long outage).
 */
function serviceProcessors(signal: 'span' | 'log', alert: string) {
  const processed = `otel_sdk_processor_${signal}_processed_total`;
  const handedOn = sumRate(processed, serviceSelector('error_type=""'), ['job']);
  const items = signal === 'span' ? 'Spans' : 'Log records';
  return timeseries({
    title: `${items} leaving services`,
    description: `${items} each service's batch processor handed to its exporter per second, and dropped inside the service: by the processor when its queue was full, or by the exporter when a long collector outage filled its retry buffer (${alert}).`,
    unit: 'cps',
    queries: [
      { expr: handedOn, legend: '{{job}}' },
      {
        expr: orZero(
          sumRate(processed, serviceSelector('error_type=~"queue_full|buffer_full"'), ['job']),
          handedOn,
        ),
        legend: 'dropped ({{job}})',
      },
    ],
  });
}

export function telemetryPipeline(): DashboardModel {
  return buildDashboard({
    uid: 'telemetry-pipeline',
    title: 'Telemetry Pipeline',
    description:
      'Collector accepted, refused, sent and failed; sending queues; Prometheus remote-write, Jaeger and VictoriaLogs ingestion.',
    rows: [
      {
        title: 'Collector',
        panels: [
          timeseries({
            title: 'Spans received',
            description: 'Spans accepted and refused per second; refusals come from the memory limiter.',
            unit: 'cps',
            queries: received(collector, 'spans'),
          }),
          timeseries({
            title: 'Metric points received',
            description: 'Metric points accepted and refused per second.',
            unit: 'cps',
            queries: received(collector, 'metric_points'),
          }),
          timeseries({
            title: 'Spans exported',
            description:
              'Spans sent per second by exporter, failed after retries, and dropped because the queue was full.',
            unit: 'cps',
            queries: exported(collector, 'spans'),
          }),
          timeseries({
            title: 'Metric points exported',
            description:
              'Metric points sent per second; for remote write, sent means written to its write-ahead log, not yet taken by Prometheus.',
            unit: 'cps',
            queries: exported(collector, 'metric_points'),
          }),
          timeseries({
            title: 'Log records received',
            description: 'Log records accepted and refused per second.',
            unit: 'cps',
            queries: received(collector, 'log_records'),
          }),
          timeseries({
            title: 'Log records exported',
            description:
              'Log records sent per second by exporter, failed after retries, and dropped because the queue was full.',
            unit: 'cps',
            queries: exported(collector, 'log_records'),
          }),
          timeseries({
            title: 'Sending queues',
            description: 'How full each exporter queue is; TelemetryExporterQueueNearlyFull fires above 80%.',
            unit: 'percentunit',
            queries: [
              {
                expr:
                  'max by (job, exporter) (otelcol_exporter_queue_size{job=~"otel-collector|jaeger"})' +
                  ' / max by (job, exporter) (otelcol_exporter_queue_capacity{job=~"otel-collector|jaeger"})',
                legend: '{{job}} {{exporter}}',
              },
            ],
            thresholds: [
              [null, 'green'],
              [0.8, 'red'],
            ],
            min: 0,
            max: 1,
            width: 8,
          }),
          timeseries({
            title: 'Collector memory',
            description: 'Resident memory of the collector; the memory limiter refuses data near its limit.',
            unit: 'bytes',
            queries: [{ expr: 'otelcol_process_memory_rss{job="otel-collector"}', legend: 'rss' }],
            width: 8,
          }),
          timeseries({
            title: 'Collector CPU',
            description: 'CPU time per second: 100% is one core.',
            unit: 'percentunit',
            queries: [{ expr: sumRate('otelcol_process_cpu_seconds', collector), legend: 'cpu' }],
            width: 8,
          }),
        ],
      },
      {
        // The gateway tier samples (collector/config/profiles/gateway.yaml), and so does the local
        // collector with COLLECTOR_TAIL_SAMPLING=true; elsewhere these read 0.
        title: 'Tail sampling',
        panels: [
          timeseries({
            title: 'Sampling decisions',
            description:
              'Traces decided per second, kept and dropped, and which policy kept them (errors, slow, share). Span metrics count every span before this.',
            unit: 'cps',
            queries: [
              {
                expr: orZero(
                  sumRate('otelcol_processor_tail_sampling_global_count_traces_sampled', collector, [
                    'sampled',
                  ]),
                  sumRate('otelcol_receiver_accepted_spans', collector),
                  ['sampled'],
                ),
                legend: 'kept={{sampled}}',
              },
              {
                expr: orZero(
                  sumRate(
                    'otelcol_processor_tail_sampling_count_traces_sampled',
                    '{job="otel-collector", sampled="true"}',
                    ['policy'],
                  ),
                  sumRate('otelcol_receiver_accepted_spans', collector),
                  ['policy'],
                ),
                legend: 'kept by {{policy}}',
              },
            ],
            width: 12,
          }),
          timeseries({
            title: 'Traces awaiting a decision',
            description:
              'Traces held in memory for their decision wait (bounded by num_traces; when full, the receiver waits), and traces dropped before their decision.',
            unit: 'short',
            queries: [
              {
                expr: orZero(
                  `sum(otelcol_processor_tail_sampling_sampling_traces_on_memory${collector})`,
                  sumRate('otelcol_receiver_accepted_spans', collector),
                ),
                legend: 'held',
              },
              {
                expr: orZero(
                  sumRate('otelcol_processor_tail_sampling_sampling_trace_dropped_too_early', collector),
                  sumRate('otelcol_receiver_accepted_spans', collector),
                ),
                legend: 'dropped undecided /s',
              },
            ],
            width: 12,
          }),
        ],
      },
      {
        title: 'Prometheus remote write',
        panels: [
          timeseries({
            title: 'Remote-write backlog',
            description:
              'Write requests waiting in the collector WAL for Prometheus; TelemetryRemoteWriteFallingBehind fires above 10.',
            unit: 'short',
            queries: [
              {
                expr: 'max by (job) (otelcol_exporter_prometheusremotewrite_wal_lag{job="otel-collector"})',
                legend: 'requests waiting',
              },
            ],
            thresholds: [
              [null, 'green'],
              [10, 'red'],
            ],
            width: 8,
          }),
          timeseries({
            title: 'Remote-write requests',
            description:
              'Write requests Prometheus answered, by status code: 204 taken, 4xx rejected, 5xx failed.',
            unit: 'reqps',
            queries: [
              {
                expr: sumRate('prometheus_http_requests_total', prometheusWrites, ['code']),
                legend: '{{code}}',
              },
            ],
            width: 8,
          }),
          timeseries({
            title: 'Samples and exemplars ingested',
            description:
              'Samples appended to the head block (remote write and scrapes), and exemplars stored.',
            unit: 'cps',
            queries: [
              {
                expr: sumRate('prometheus_tsdb_head_samples_appended_total', prometheusSelf),
                legend: 'samples',
              },
              {
                expr: sumRate('prometheus_tsdb_exemplar_exemplars_appended_total', prometheusSelf),
                legend: 'exemplars',
              },
            ],
            width: 8,
          }),
          timeseries({
            title: 'Samples rejected',
            description:
              'Samples Prometheus would not store: out of order, too old, or outside the head block.',
            unit: 'cps',
            queries: [
              {
                expr: sumRate('prometheus_tsdb_out_of_order_samples_total', prometheusSelf),
                legend: 'out of order',
              },
              { expr: sumRate('prometheus_tsdb_too_old_samples_total', prometheusSelf), legend: 'too old' },
              {
                expr: sumRate('prometheus_tsdb_out_of_bound_samples_total', prometheusSelf),
                legend: 'out of bounds',
              },
            ],
          }),
          timeseries({
            title: 'Series in memory',
            description: "Series in the head block: what the services' label cardinality costs.",
            unit: 'short',
            queries: [{ expr: 'prometheus_tsdb_head_series{job="prometheus"}', legend: 'series' }],
          }),
        ],
      },
      {
        title: 'Jaeger',
        panels: [
          timeseries({
            title: 'Spans received by Jaeger',
            description: 'Spans Jaeger accepted from the collector, and refused.',
            unit: 'cps',
            queries: received(jaegerJob, 'spans'),
          }),
          timeseries({
            title: 'Spans stored by Jaeger',
            description: "Spans written to Jaeger's storage, and failures.",
            unit: 'cps',
            queries: exported(jaegerJob, 'spans'),
          }),
        ],
      },
      {
        title: 'VictoriaLogs',
        panels: [
          timeseries({
            title: 'Log records stored by VictoriaLogs',
            description:
              'Rows VictoriaLogs ingested per second, by protocol, and rows it dropped, by reason (TelemetryLogsBackendNotStoring).',
            unit: 'cps',
            queries: [
              {
                expr: sumRate('vl_rows_ingested_total', victoriaLogsJob, ['type']),
                legend: 'stored ({{type}})',
              },
              {
                expr: orZero(
                  sumRate('vl_rows_dropped_total', '{job="victorialogs", reason!="debug"}', ['reason']),
                  sumRate('vl_rows_ingested_total', victoriaLogsJob),
                  ['reason'],
                ),
                legend: 'dropped ({{reason}})',
              },
            ],
          }),
          timeseries({
            title: 'VictoriaLogs storage',
            description:
              'Log data on disk (compressed) and free disk space; at 2 GiB (-retention.maxDiskSpaceUsageBytes) the oldest days go.',
            unit: 'bytes',
            queries: [
              {
                expr: 'sum(vl_compressed_data_size_bytes{job="victorialogs"})',
                legend: 'stored, compressed',
              },
              { expr: 'min(vl_free_disk_space_bytes{job="victorialogs"})', legend: 'free disk' },
            ],
          }),
        ],
      },
      {
        title: 'Services sending',
        panels: [
          stat({
            title: 'Last metrics received',
            description: 'Seconds since each service last sent metrics; it exports every 10 s.',
            unit: 's',
            queries: [
              {
                expr: `time() - max by (job) (timestamp(process_uptime_seconds${serviceSelector()}))`,
                legend: '{{job}}',
              },
            ],
            thresholds: [
              [null, 'green'],
              [30, 'yellow'],
              [60, 'red'],
            ],
            width: 12,
            height: 8,
          }),
          timeseries({
            title: 'Spans by service',
            description: 'Spans per second reaching the span_metrics connector, by service.',
            unit: 'cps',
            queries: [
              {
                expr: sumRate(
                  'traces_span_metrics_calls_total',
                  '{service_name=~"$service", instance=~"$instance"}',
                  ['service_name'],
                ),
                legend: '{{service_name}}',
              },
            ],
            seriesTraces: { service: '${__field.labels.service_name}' },
          }),
          serviceProcessors('span', 'TelemetrySpansDroppedInService'),
          serviceProcessors('log', 'TelemetryLogRecordsDroppedInService'),
        ],
      },
    ],
  });
}
