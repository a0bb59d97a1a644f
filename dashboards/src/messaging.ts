/**
 * Messaging: NATS publish and consume rates from the library's messaging semantic-convention
 * metrics, JetStream consumer backlogs, redeliveries and dead letters, the NATS connection,
 * and the key-value store (seed 001's Redis and database panels, for NATS KV).
 */
import { buildDashboard, type DashboardModel } from './dashboard.ts';
import { timeseries } from './panels.ts';
import { failureRatio, orZero, quantile, serviceSelector, shared, sumRate } from './promql.ts';

const sent = 'messaging_client_sent_messages_total';
const consumed = 'messaging_client_consumed_messages_total';
/** Handled messages: a failed handler is here with its error.type, a delivery never fails. */
const processed = 'messaging_process_duration_seconds_count';
const selected = serviceSelector();
const failed = serviceSelector('error_type!=""');
/** The subject template: the messaging metrics never carry the concrete subject. */
const byDestination = ['job', 'messaging_destination_template'];
/**
 * Span names are `{messaging.operation.name} {template}`: `publish <template>` and
 * `process <template>` (libs/telemetry/src/nats.ts).
 */
const destinationTraces = (operation: 'publish' | 'process') => ({
  service: '${__field.labels.job}',
  operation: `${operation} \${__field.labels.messaging_destination_template:percentencode}`,
});

export function messaging(): DashboardModel {
  return buildDashboard({
    uid: 'messaging',
    title: 'Messaging',
    description:
      'NATS publish and consume rates and failures, JetStream backlogs, redeliveries, dead letters and KV.',
    rows: [
      {
        title: 'Publish and consume',
        panels: [
          timeseries({
            title: 'Published',
            description: 'Messages sent per second by service and destination (subject template).',
            unit: 'mps',
            queries: [
              {
                expr: sumRate(sent, selected, byDestination),
                legend: '{{job}} → {{messaging_destination_template}}',
              },
            ],
            seriesTraces: destinationTraces('publish'),
          }),
          timeseries({
            title: 'Consumed',
            description: 'Messages delivered to the handler per second by service and destination.',
            unit: 'mps',
            queries: [
              {
                expr: sumRate(consumed, selected, byDestination),
                legend: '{{messaging_destination_template}} → {{job}}',
              },
            ],
            seriesTraces: destinationTraces('process'),
          }),
          timeseries({
            title: 'Publish failures',
            description: 'Share of sends that failed, by destination.',
            unit: 'percentunit',
            queries: [
              {
                expr: failureRatio(
                  sumRate(sent, failed, byDestination),
                  sumRate(sent, selected, byDestination),
                ),
                legend: '{{job}} → {{messaging_destination_template}}',
              },
            ],
            thresholds: [
              [null, 'green'],
              [0.01, 'red'],
            ],
            seriesTraces: destinationTraces('publish'),
          }),
          timeseries({
            title: 'Processing failures',
            description: 'Share of received messages whose handler failed, by destination.',
            unit: 'percentunit',
            queries: [
              {
                expr: failureRatio(
                  sumRate(processed, failed, byDestination),
                  sumRate(processed, selected, byDestination),
                ),
                legend: '{{messaging_destination_template}} → {{job}}',
              },
            ],
            thresholds: [
              [null, 'green'],
              [0.01, 'red'],
            ],
            seriesTraces: destinationTraces('process'),
          }),
          timeseries({
            title: 'Publish latency',
            description: '95th percentile of a send, until JetStream acknowledges it.',
            unit: 's',
            queries: [
              {
                expr: quantile(0.95, 'messaging_client_operation_duration_seconds', selected, byDestination),
                legend: 'p95 {{job}} → {{messaging_destination_template}}',
              },
            ],
            seriesTraces: destinationTraces('publish'),
          }),
          timeseries({
            title: 'Processing time',
            description: '95th percentile of handling a received message.',
            unit: 's',
            queries: [
              {
                expr: quantile(0.95, 'messaging_process_duration_seconds', selected, byDestination),
                legend: 'p95 {{messaging_destination_template}} → {{job}}',
              },
            ],
            seriesTraces: destinationTraces('process'),
          }),
        ],
      },
      {
        title: 'JetStream consumers',
        panels: [
          timeseries({
            title: 'Pending',
            description: 'Messages in the stream not yet delivered to the consumer.',
            unit: 'short',
            queries: [
              {
                expr: shared('jetstream_consumer_pending', selected, ['stream', 'consumer']),
                legend: '{{stream}} → {{consumer}}',
              },
            ],
          }),
          timeseries({
            title: 'Awaiting acknowledgement',
            description: 'Messages delivered to the consumer and not yet acknowledged.',
            unit: 'short',
            queries: [
              {
                expr: shared('jetstream_consumer_ack_pending', selected, ['stream', 'consumer']),
                legend: '{{stream}} → {{consumer}}',
              },
            ],
          }),
          timeseries({
            title: 'Redeliveries',
            description: 'Messages received again after a missed or negative acknowledgement, per second.',
            unit: 'mps',
            queries: [
              {
                expr: orZero(
                  sumRate('messages_redelivered_total', selected, ['job', 'destination']),
                  sumRate(consumed, selected, ['job']),
                  ['destination'],
                ),
                legend: '{{job}} {{destination}}',
              },
            ],
          }),
          timeseries({
            title: 'Dead letters',
            description: 'Malformed or unprocessable messages moved to the dead-letter subject, per second.',
            unit: 'mps',
            queries: [
              {
                expr: orZero(
                  sumRate('messages_dead_lettered_total', selected, ['job', 'destination', 'reason']),
                  sumRate(consumed, selected, ['job']),
                  ['destination', 'reason'],
                ),
                legend: '{{job}} {{destination}} {{reason}}',
              },
            ],
          }),
        ],
      },
      {
        title: 'Connection and key-value store',
        panels: [
          timeseries({
            title: 'NATS connection errors',
            description:
              'Disconnections, errors and stale connections per second; NatsConnectionErrors fires on any.',
            unit: 'ops',
            queries: [
              {
                expr: orZero(
                  sumRate('nats_connection_errors_total', selected, ['job', 'kind']),
                  `sum by (job) (process_uptime_seconds${selected})`,
                  ['kind'],
                ),
                legend: '{{job}} {{kind}}',
              },
            ],
          }),
          timeseries({
            title: 'KV operations',
            description: 'Key-value operations per second by bucket and outcome (ok, conflict, error).',
            unit: 'ops',
            queries: [
              {
                expr: sumRate('kv_operations_total', selected, ['bucket', 'status']),
                legend: '{{bucket}} {{status}}',
              },
            ],
          }),
          timeseries({
            title: 'KV error ratio',
            description:
              'Share of KV operations that failed (conflicts excluded); HighKvErrorRate fires above 5%.',
            unit: 'percentunit',
            queries: [
              {
                expr: failureRatio(
                  sumRate('kv_operations_total', serviceSelector('status="error"'), ['job', 'bucket']),
                  sumRate('kv_operations_total', selected, ['job', 'bucket']),
                ),
                legend: '{{job}} {{bucket}}',
              },
            ],
            thresholds: [
              [null, 'green'],
              [0.05, 'red'],
            ],
            seriesTraces: { service: '${__field.labels.job}' },
          }),
          timeseries({
            title: 'KV latency',
            description: '95th percentile of a key-value operation by bucket and operation.',
            unit: 's',
            queries: [
              {
                expr: quantile(0.95, 'kv_operation_duration_seconds', selected, ['bucket', 'operation']),
                legend: 'p95 {{operation}} {{bucket}}',
              },
            ],
          }),
        ],
      },
    ],
  });
}
