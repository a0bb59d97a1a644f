/**
 * Messaging: NATS publish and consume rates from the library's messaging semantic-convention
 * metrics, JetStream consumer backlogs, redeliveries and dead letters, the NATS connection,
 * and the key-value store (seed 001's Redis and database panels, for NATS KV); then the NATS
 * servers themselves, from the NATS exporter.
 *
 * The services' panels follow $service and $instance: counters summed over the selected
 * instances, values every instance reports alike (a consumer's backlog) their max. The NATS
 * cluster row is the servers' own view (job "nats", one target per node, scraped from the
 * exporter, not pushed through the collector), so it ignores both variables.
 */
import { buildDashboard, type DashboardModel } from './dashboard.ts';
import { stat, timeseries } from './panels.ts';
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

/** The NATS exporter's targets: one per node, `instance` its monitoring address. */
const nats = '{job="nats"}';
/**
 * Every node reports each stream and consumer it holds a replica of; the leader's view is the one
 * that counts (an R3 stream would otherwise count three times), and the max by stream or consumer
 * keeps it once while an old and a new leader both report during an election.
 */
const streamLeader = '{job="nats", is_stream_leader="true"}';
const consumerLeader = '{job="nats", is_consumer_leader="true"}';
/** Zeros by stream for panels whose series exist in a cluster only (NATS_CLUSTER=3): a single node shows 0. */
const everyStream = `max by (stream_name) (jetstream_stream_total_messages${streamLeader})`;

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
      {
        title: 'NATS cluster',
        panels: [
          stat({
            title: 'Nodes up',
            description:
              'NATS nodes that answer the exporter, and how many Prometheus scrapes. Below a majority of them JetStream stops (NatsJetStreamQuorumLost pages); one node fewer is NatsNodeDown. Bring a node back with npm run stack -- up.',
            unit: 'short',
            queries: [
              { expr: `sum(up${nats})`, legend: 'up' },
              { expr: `count(up${nats})`, legend: 'configured' },
            ],
          }),
          stat({
            title: 'JetStream meta cluster size',
            description:
              "The nodes JetStream's meta group counts, as each node sees it: 3 for NATS_CLUSTER=3. A node that reports fewer is cut off from the others (its routes). 0 on a single server, which has no meta group.",
            unit: 'short',
            queries: [
              {
                expr: orZero(
                  `max by (server_id) (jetstream_meta_cluster_size${nats})`,
                  `max by (server_id) (gnatsd_varz_connections${nats})`,
                ),
                legend: '{{server_id}}',
              },
            ],
          }),
          timeseries({
            title: 'Routes per node',
            description:
              'Route connections of each node to the other nodes of the cluster: each of N nodes should have N - 1. A node with fewer is cut off from some of them; see its log (npm run stack -- logs nats-2). 0 on a single server.',
            unit: 'short',
            queries: [{ expr: `max by (server_id) (gnatsd_varz_routes${nats})`, legend: '{{server_id}}' }],
          }),
          timeseries({
            title: 'Client connections per node',
            description:
              'Clients connected to each node: every instance of every service holds one connection, to any node of the cluster. After a node restarts its clients stay on the others until they reconnect for another reason.',
            unit: 'short',
            queries: [
              { expr: `max by (server_id) (gnatsd_varz_connections${nats})`, legend: '{{server_id}}' },
            ],
          }),
          timeseries({
            title: 'Messages in and out per node',
            description:
              "Messages each node receives and sends per second, from clients and from the other nodes' routes alike, so the nodes' sum counts a message once per hop; JetStream's replication traffic is in it.",
            unit: 'mps',
            queries: [
              { expr: sumRate('gnatsd_varz_in_msgs', nats, ['server_id']), legend: '{{server_id}} in' },
              { expr: sumRate('gnatsd_varz_out_msgs', nats, ['server_id']), legend: '{{server_id}} out' },
            ],
          }),
          timeseries({
            title: 'Slow consumers per node',
            description:
              'Clients each node disconnected because they did not read their messages fast enough, counted since the node started: a step up is a service too busy to keep up (see the Runtime dashboard, event loop) and reconnecting.',
            unit: 'short',
            queries: [
              { expr: `max by (server_id) (gnatsd_varz_slow_consumers${nats})`, legend: '{{server_id}}' },
            ],
          }),
          timeseries({
            title: 'Stream messages',
            description:
              "Messages in each stream as its leader counts them: SIGNALS, EXECUTIONS, DEADLETTER and the KV buckets' streams (KV_<bucket>). Retention trims them; a DEADLETTER that grows is messages no retry handles (MessagesDeadLettered).",
            unit: 'short',
            queries: [
              {
                expr: `max by (stream_name) (jetstream_stream_total_messages${streamLeader})`,
                legend: '{{stream_name}}',
              },
            ],
          }),
          timeseries({
            title: 'Consumer backlog (server)',
            description:
              "Each consumer's backlog as the leader of the consumer counts it: pending, not yet delivered; ack pending, delivered and not acknowledged. The same as the services report in the row above, and still there when no instance of the consumer reports; JetStreamConsumerLagGrowing fires on pending that grows for 10 minutes.",
            unit: 'short',
            queries: [
              {
                expr: `max by (stream_name, consumer_name) (jetstream_consumer_num_pending${consumerLeader})`,
                legend: '{{stream_name}} → {{consumer_name}} pending',
              },
              {
                expr: `max by (stream_name, consumer_name) (jetstream_consumer_num_ack_pending${consumerLeader})`,
                legend: '{{stream_name}} → {{consumer_name}} ack pending',
              },
            ],
          }),
          timeseries({
            title: 'Replicas not current',
            description:
              "Replicas of each stream (KV buckets included) that the stream's leader reports as not current: 0 is healthy. Above 0 for a minute is NatsStreamReplicaNotCurrent: a node down, cut off, or catching up. 0 on a single server, which has no replicas.",
            unit: 'short',
            queries: [
              {
                expr: orZero(
                  `sum by (stream_name) (1 - max by (stream_name, replica_name) (jetstream_stream_replica_current${streamLeader}))`,
                  everyStream,
                ),
                legend: '{{stream_name}}',
              },
            ],
            thresholds: [
              [null, 'green'],
              [1, 'red'],
            ],
          }),
          timeseries({
            title: 'Replica lag',
            description:
              "How many operations each replica is behind its stream's leader, by stream and replica: a lag that shrinks is a replica catching up (after a node restart), one that grows is a replica that cannot keep up or is cut off. None on a single server.",
            unit: 'short',
            queries: [
              {
                expr: orZero(
                  `max by (stream_name, replica_name) (jetstream_stream_replica_lag${streamLeader})`,
                  everyStream,
                  ['replica_name'],
                ),
                legend: '{{stream_name}} on {{replica_name}}',
              },
            ],
            top: { count: 10, by: 'value' },
          }),
        ],
      },
    ],
  });
}
