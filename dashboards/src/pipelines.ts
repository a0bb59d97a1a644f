/**
 * Pipelines and Signals (seed 000): pipeline executions, signal generation and its publishing
 * on NATS (Kafka in the seed), the trigger dispatcher between them, and the end-to-end
 * signal-to-execution latency that one of the SLOs is about.
 */
import { buildDashboard, type DashboardModel } from './dashboard.ts';
import { stat, timeseries } from './panels.ts';
import { orZero, quantile, serviceSelector, shared, sumRate } from './promql.ts';

const selected = serviceSelector();
const jobTraces = { service: '${__field.labels.job}' };

export function pipelines(): DashboardModel {
  return buildDashboard({
    uid: 'pipelines',
    title: 'Pipelines and Signals',
    description:
      'Signals from generation to pipeline execution: rates, latencies, the dispatcher and its backlog.',
    rows: [
      {
        title: 'Pipeline executions',
        panels: [
          timeseries({
            title: 'Executions by status',
            description: 'Pipeline executions per second by outcome and trigger mode.',
            unit: 'ops',
            queries: [
              {
                expr: sumRate('pipeline_executions_total', selected, ['job', 'status', 'trigger_mode']),
                legend: '{{status}} ({{trigger_mode}})',
              },
            ],
            stacked: true,
            seriesTraces: jobTraces,
          }),
          timeseries({
            title: 'Execution duration',
            description: '95th percentile of a pipeline execution, end to end, by outcome.',
            unit: 's',
            queries: [
              {
                expr: quantile(0.95, 'pipeline_execution_duration_seconds', selected, ['job', 'status']),
                legend: 'p95 {{status}}',
              },
            ],
            seriesTraces: jobTraces,
          }),
          timeseries({
            title: 'Signal to execution',
            description:
              'Time from a signal to its execution. The SLO: 99% within 1 s (SignalToExecutionLatencyErrorBudgetBurn).',
            unit: 's',
            queries: [
              { expr: quantile(0.5, 'trade_execution_duration_seconds', selected), legend: 'p50' },
              { expr: quantile(0.95, 'trade_execution_duration_seconds', selected), legend: 'p95' },
              { expr: quantile(0.99, 'trade_execution_duration_seconds', selected), legend: 'p99' },
            ],
            thresholds: [
              [null, 'green'],
              [1, 'red'],
            ],
            width: 24,
          }),
        ],
      },
      {
        title: 'Signals',
        panels: [
          timeseries({
            title: 'Signals generated',
            description: 'Signals per second by type and source strategy.',
            unit: 'ops',
            queries: [
              {
                expr: sumRate('signals_generated_total', selected, ['job', 'signal_type', 'source']),
                legend: '{{signal_type}} {{source}}',
              },
            ],
            seriesTraces: jobTraces,
          }),
          timeseries({
            title: 'Signal generation time',
            description: '95th percentile of the time a generator takes to evaluate its market data.',
            unit: 's',
            queries: [
              {
                expr: quantile(0.95, 'signal_generation_duration_seconds', selected, ['generator']),
                legend: 'p95 {{generator}}',
              },
            ],
          }),
          timeseries({
            title: 'Signal confidence',
            description: 'Median confidence of generated signals, by type.',
            unit: 'percentunit',
            queries: [
              {
                expr: quantile(0.5, 'signal_confidence', selected, ['signal_type']),
                legend: 'median {{signal_type}}',
              },
            ],
            min: 0,
            max: 1,
          }),
          timeseries({
            title: 'Signals published to NATS',
            description: 'Signals acknowledged by JetStream, and failed publishes by error.',
            unit: 'mps',
            queries: [
              {
                expr: sumRate('nats_publish_success_total', selected, ['signal_type']),
                legend: 'acknowledged {{signal_type}}',
              },
              {
                expr: orZero(
                  sumRate('nats_publish_failure_total', selected, ['signal_type', 'error_type']),
                  sumRate('nats_publish_success_total', selected, ['signal_type']),
                  ['error_type'],
                ),
                legend: 'failed {{signal_type}} {{error_type}}',
              },
            ],
          }),
          timeseries({
            title: 'Publish latency',
            description: '95th percentile of publishing a signal until JetStream acknowledges it.',
            unit: 's',
            queries: [
              {
                expr: quantile(0.95, 'nats_publish_duration_seconds', selected, ['signal_type']),
                legend: 'p95 {{signal_type}}',
              },
            ],
            width: 24,
          }),
        ],
      },
      {
        title: 'Trigger dispatcher',
        panels: [
          timeseries({
            title: 'Dispatcher flow',
            description:
              'Signals taken from the stream, pipelines matched, executions enqueued, and matches skipped because the pipeline was running.',
            unit: 'ops',
            queries: [
              { expr: sumRate('signals_consumed_total', selected), legend: 'signals consumed' },
              { expr: sumRate('pipelines_matched_total', selected), legend: 'pipelines matched' },
              { expr: sumRate('pipelines_enqueued_total', selected), legend: 'executions enqueued' },
              {
                expr: sumRate('pipelines_skipped_running_total', selected),
                legend: 'skipped, already running',
              },
            ],
          }),
          timeseries({
            title: 'Consumer backlog',
            description:
              'Messages in each JetStream stream not yet delivered to its consumer, as the instances of the consuming service report it.',
            unit: 'short',
            queries: [
              {
                expr: shared('jetstream_consumer_pending', selected, ['stream', 'consumer']),
                legend: '{{stream}} → {{consumer}}',
              },
            ],
          }),
          timeseries({
            title: 'Batch size',
            description: 'Signals per dispatcher batch.',
            unit: 'short',
            queries: [
              { expr: quantile(0.5, 'batch_size', selected), legend: 'p50' },
              { expr: quantile(0.95, 'batch_size', selected), legend: 'p95' },
            ],
            width: 9,
          }),
          timeseries({
            title: 'Batch processing time',
            description: '95th percentile of matching and enqueueing one batch.',
            unit: 's',
            queries: [{ expr: quantile(0.95, 'batch_processing_duration_seconds', selected), legend: 'p95' }],
            width: 9,
          }),
          stat({
            title: 'Pipelines cached',
            description:
              'Pipelines in the dispatcher cache. Every dispatcher instance mirrors all pipelines: the highest of their counts.',
            unit: 'short',
            queries: [{ expr: shared('pipeline_cache_size', selected), legend: 'pipelines' }],
            height: 8,
          }),
        ],
      },
    ],
  });
}
